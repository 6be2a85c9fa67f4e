"""The endpoints.

CPU-bound routes that can take a while (batches, activation, which loads a model) are plain
``def``: FastAPI runs them in its thread pool, so they never stall the event loop that
accepts other requests. The single-ticket route is the exception: its work is short (its
in-process latency is the "in-process single ticket" line of ``bench/serve.py``), so the hop
to the pool and back would be a large share of each request, and each worker is one process
with one GIL, so the pool adds no parallelism for it either.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import ValidationError

from nlp.documents import compose_documents
from nlp.errors import DataError, ModelIntegrityError, UnknownTicketError
from nlp.live_similar import LiveSimilarIndex
from nlp.model import Prediction
from nlp.registry import Registry
from nlp.similar import Prepared
from nlp.store import Answer, StoreWriter, utc_now
from nlp.store.store import ticket_key
from service import metrics
from service.dependencies import (
    AdminKey,
    ClassifyKey,
    DispatcherDep,
    HolderDep,
    HotspotsCacheDep,
    ModelDep,
    OptionalSimilarDep,
    OptionalWriterDep,
    RegistryDep,
    SettingsDep,
    SimilarDep,
    WriterDep,
)
from service.docs import MetricsAccess
from service.errors import InvalidInputError, error_body, field_errors, public_message
from service.schemas import (
    ActivateRequest,
    ActivateResponse,
    BatchRequest,
    BatchResponse,
    ClassifyRequest,
    ClassifyResponse,
    ErrorResponse,
    FeedbackRequest,
    FeedbackResponse,
    HealthResponse,
    HotspotsResponse,
    ModelsResponse,
    PurgeResponse,
    QueueResponse,
    ReadyResponse,
    SimilarRequest,
    SimilarResponse,
    ticket_id_or_none,
)
from service.settings import Settings

__all__ = ["router"]

router = APIRouter()

logger = logging.getLogger("service.routes")

STATIC_DIR = Path(__file__).parent / "static"


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        401: "no or unknown API key",
        403: "the key lacks the right (admin endpoints)",
        404: "unknown model version, or nothing to roll back to; with tickets: no stored "
        "ticket has that id",
        409: "the version failed verification (damaged manifest, hash mismatch, missing file, "
        "missing or wrong signature, library version) or cannot be loaded and run; or the "
        "registry is read-only for the service",
        413: "request body over the limit (1 MiB by default)",
        422: "invalid input; `fields` names each field path",
        503: "no model loaded yet, the worker is busy, or the ticket store is off or "
        "unreachable; retry after `Retry-After` seconds",
    }
    return {code: {"model": ErrorResponse, "description": descriptions[code]} for code in codes}


_CLASSIFY_ERRORS = _errors(401, 413, 422, 503)
_TICKET_ERRORS = _errors(401, 404, 413, 422, 503)


def _new_ticket_id() -> str:
    """An id for a ticket sent without one, so that feedback can name it."""
    return uuid.uuid4().hex


def _hand_off(
    writer: StoreWriter | None,
    similar: LiveSimilarIndex | None,
    model: Any,
    tickets: list[tuple[str | int | None, str | None, str | None, Prediction]],
    now: datetime,
    prepared: Sequence[Prepared | None] | None = None,
) -> list[str | int | None]:
    """Hand the answers to the store's writer and the tickets to the similar-ticket index
    (neither waits nor fails); the ids, with one given to each ticket sent without one when
    the store is on. A ticket without an id (store off) is not indexed: nobody could name it;
    no ticket is when the index is off. ``prepared``: the tickets as the index sees them,
    when the repeat lookups computed that already."""
    ids = _store(writer, model, tickets, now)
    if similar is None:
        return ids
    ready = list(prepared) if prepared is not None else [None] * len(tickets)
    kept = [i for i, key in enumerate(ids) if key is not None]
    similar.submit(
        [(ticket_key(ids[i]), now, tickets[i][1], tickets[i][2]) for i in kept],
        prepared=[ready[i] for i in kept],
    )
    return ids


def _repeat_of(
    similar: LiveSimilarIndex | None,
    settings: Settings,
    text: str | None,
    title: str | None,
    ticket_id: str | int | None,
    now: datetime,
) -> tuple[str | None, Prepared | None]:
    """The likely repeat of a ticket among the recent ones (None when repeats are off; the
    settings refuse repeats without the index): a lookup that never fails the answer. With
    it, the ticket as the index sees it, for :func:`_hand_off` (None when not computed)."""
    if not settings.repeats or similar is None:
        return None, None
    try:
        prepared = similar.prepare(text, title)
        repeat = similar.repeat_of(
            text,
            title,
            time=now,
            exclude_id=None if ticket_id is None else ticket_key(ticket_id),
            prepared=prepared,
        )
    except Exception as error:  # an answer without repeat_of beats no answer
        logger.warning(
            "repeat lookup failed", extra={"event": "repeat_error", "reason": str(error)}
        )
        return None, None
    return repeat, prepared


def _store(
    writer: StoreWriter | None,
    model: Any,
    tickets: list[tuple[str | int | None, str | None, str | None, Prediction]],
    now: datetime,
) -> list[str | int | None]:
    """Hand the answers to the store's writer (never waits, never fails); the ids, with one
    given to each ticket sent without one. Unchanged when the store is off."""
    if writer is None:
        return [ticket_id for ticket_id, *_ in tickets]
    ids: list[str | int | None] = []
    answers = []
    for ticket_id, text, title, prediction in tickets:
        key = _new_ticket_id() if ticket_id is None else ticket_id
        ids.append(key)
        answers.append(
            Answer(str(key), text, title, model.name, model.version or "", _stored(prediction), now)
        )
    writer.submit(answers)
    return ids


def _stored(prediction: Prediction) -> Prediction:
    """What the store keeps of an answer: not its explanation. The answer waits in the
    writer's queue for a moment; its explanation (several objects a term) would survive the
    garbage collector's young collections with it and make every one of them longer."""
    return Prediction(
        prediction.label,
        prediction.confidence,
        prediction.top_k,
        prediction.needs_review,
        None,
        prediction.review_codes,
    )


_ADMIN_ERRORS = _errors(401, 403, 404, 409, 413, 422, 503)


# --------------------------------------------------------------------------- classify
@router.post(
    "/v1/classify",
    response_model=ClassifyResponse,
    dependencies=[ClassifyKey],
    responses=_CLASSIFY_ERRORS,
    tags=["classify"],
    summary="Route one ticket (派单)",
)
async def classify(
    ticket: ClassifyRequest,
    model: ModelDep,
    dispatcher: DispatcherDep,
    settings: SettingsDep,
    writer: OptionalWriterDep,
    similar: OptionalSimilarDep,
    request: Request,
) -> dict[str, Any]:
    """The department, its confidence, the runners-up, whether a person must check, the
    ticket's terms that decided it, and, as configured, its urgency, where it happened, the
    lead and assisting units, its separate problems, and the recent ticket it likely repeats
    (null when not configured)."""
    [prediction] = model.classify(
        [ticket.text],
        [ticket.title],
        top_k=settings.top_k,
        policy=settings.policy,
        explain=settings.explain_terms,
        dispatcher=dispatcher,
    )
    metrics.observe_answers(model.version, [prediction])
    state = request.state
    state.label, state.model_version = prediction.label, model.version
    state.needs_review = prediction.needs_review
    if settings.log_text:
        state.text = ticket.text or ticket.title  # masked by the log formatter
    now = utc_now()
    repeat_of, prepared = _repeat_of(similar, settings, ticket.text, ticket.title, ticket.id, now)
    [ticket_id] = _hand_off(
        writer,
        similar,
        model,
        [(ticket.id, ticket.text, ticket.title, prediction)],
        now,
        prepared=[prepared],
    )
    return {
        "id": ticket_id,
        **prediction.to_dict(),
        "repeat_of": repeat_of,
        "model": {"name": model.name, "version": model.version},
    }


@router.post(
    "/v1/classify/batch",
    response_model=BatchResponse,
    dependencies=[ClassifyKey],
    responses=_CLASSIFY_ERRORS,
    tags=["classify"],
    summary="Route many tickets at once",
)
def classify_batch(
    batch: BatchRequest,
    model: ModelDep,
    dispatcher: DispatcherDep,
    settings: SettingsDep,
    writer: OptionalWriterDep,
    similar: OptionalSimilarDep,
    request: Request,
) -> dict[str, Any]:
    """Results in input order. An invalid item gets an ``error`` entry in its place; the
    others are still answered, each with the same answer record as a single ticket."""
    if len(batch.items) > settings.max_batch_items:
        raise InvalidInputError(
            f"body.items: at most {settings.max_batch_items} items per batch "
            f"(got {len(batch.items)}); split the batch"
        )
    results: list[dict[str, Any]] = [{} for _ in batch.items]
    valid: list[tuple[int, ClassifyRequest]] = []
    for index, raw in enumerate(batch.items):
        try:
            valid.append((index, ClassifyRequest.model_validate(raw)))
        except ValidationError as error:
            fields = [
                {"path": f"body.items.{index}.{f['path']}".rstrip("."), "message": f["message"]}
                for f in field_errors(error.errors())
            ]
            summary = "; ".join(f"{f['path']}: {f['message']}" for f in fields[:3])
            results[index] = {
                "index": index,
                "id": ticket_id_or_none(raw.get("id")) if isinstance(raw, dict) else None,
                "error": error_body("invalid_item", summary, fields),
            }
    if valid:
        found = compose_documents(
            [item.text for _, item in valid], [item.title for _, item in valid]
        )
        answers = model.answer(
            found,
            top_k=settings.top_k,
            policy=settings.policy,
            explain=batch.explain,
            dispatcher=dispatcher,
        )
        routed: list[tuple[int, ClassifyRequest, Prediction]] = []
        for (index, item), answer in zip(valid, answers, strict=True):
            if isinstance(answer, Prediction):
                routed.append((index, item, answer))
            else:
                problem = error_body(answer, "the ticket has no usable text")
                results[index] = {"index": index, "id": item.id, "error": problem}
        now = utc_now()
        looked = [_repeat_of(similar, settings, i.text, i.title, i.id, now) for _, i, _ in routed]
        repeats = [repeat for repeat, _ in looked]
        tickets = [(i.id, i.text, i.title, p) for _, i, p in routed]
        ids = _hand_off(writer, similar, model, tickets, now, [ready for _, ready in looked])
        for (index, _, answer), ticket_id, repeat_of in zip(routed, ids, repeats, strict=True):
            results[index] = {
                "index": index,
                "id": ticket_id,
                **answer.to_dict(),
                "repeat_of": repeat_of,
            }
        metrics.observe_answers(model.version, [p for *_, p in routed])
    state = request.state
    state.model_version, state.items = model.version, len(batch.items)
    return {"model": {"name": model.name, "version": model.version}, "items": results}


# --------------------------------------------------------------------------- feedback
#: Seconds a feedback request waits for the answers still queued for the store (a ticket
#: answered a moment ago may not be written yet).
_FLUSH_SECONDS = 2.0
#: Pauses before looking an unknown id up again: with several workers, the one that answered
#: the ticket a moment ago may not have written it yet (its writer needs milliseconds).
_OTHER_WORKERS = (0.1, 0.4)


@router.post(
    "/v1/feedback",
    response_model=FeedbackResponse,
    dependencies=[ClassifyKey],
    responses=_TICKET_ERRORS,
    tags=["feedback"],
    summary="Record the department a person gave a ticket (派单结果)",
)
def feedback(body: FeedbackRequest, model: ModelDep, writer: WriterDep) -> dict[str, Any]:
    """The dispatcher's final department for a ticket the service answered: the training
    data of the next model. 404 for an id the store does not hold; 422 for a department the
    serving model does not know, unless ``allow_new_label``."""
    writer.flush(_FLUSH_SECONDS)
    store = writer.opened_store()
    for wait in (*_OTHER_WORKERS, None):
        try:
            row = store.set_final(
                str(body.id),
                body.label,
                source="api",
                by=body.by,
                note=body.note,
                known_labels=model.labels,
                allow_new_label=body.allow_new_label,
            )
            break
        except UnknownTicketError:
            if wait is None:
                raise
            time.sleep(wait)  # another worker may have answered it a moment ago
    agreed = row["final_label"] == row["label"]
    metrics.observe_feedback(row["model_version"], agreed=agreed)
    return {
        "id": body.id,
        "label": row["final_label"],
        "predicted": row["label"],
        "agreed": agreed,
        "model": {"name": row["model_name"], "version": row["model_version"]},
        "corrected_at": row["corrected_at"].isoformat(timespec="seconds") + "Z",
    }


#: The most tickets one queue request returns.
MAX_QUEUE = 500


@router.get(
    "/v1/feedback/queue",
    response_model=QueueResponse,
    dependencies=[ClassifyKey],
    responses=_errors(401, 422, 503),
    tags=["feedback"],
    summary="What to label next: stored tickets whose department would teach the model most",
)
def feedback_queue(
    writer: WriterDep,
    limit: Annotated[int, Query(ge=1, le=MAX_QUEUE, description="how many tickets")] = 50,
    since: Annotated[
        datetime | None,
        Query(description="only tickets answered from then on (UTC), e.g. 2026-12-01"),
    ] = None,
) -> dict[str, Any]:
    """Tickets nobody has given a department yet, best first: low margin, out of scope, or
    answered with a department dispatchers often correct; near-duplicates left out (each
    item counts those it stands for). Text and title are masked. Give each its department
    with ``POST /v1/feedback``."""
    from nlp.analysis.labelling import label_queue

    writer.flush(_FLUSH_SECONDS)  # include the tickets answered a moment ago
    tickets = writer.opened_store().tickets()
    queue = label_queue(tickets, limit=limit, since=since)
    items = queue.drop(columns="label").to_dict(orient="records")
    for item in items:
        item["id"] = str(item["id"])
        item["answered_at"] = item["answered_at"].isoformat(timespec="seconds") + "Z"
    return {"considered": queue.attrs["considered"], "items": items}


@router.delete(
    "/v1/tickets/{ticket_id:path}",
    response_model=PurgeResponse,
    dependencies=[AdminKey],
    responses=_errors(401, 403, 404, 503),
    tags=["feedback"],
    summary="Delete everything stored of a ticket (admin; a resident's deletion request)",
)
def purge_ticket(
    ticket_id: str, writer: WriterDep, similar: OptionalSimilarDep, hotspots: HotspotsCacheDep
) -> dict[str, Any]:
    writer.flush(_FLUSH_SECONDS)  # an answer still queued would come back after the purge
    if similar is not None:  # never named by /v1/similar or repeat_of again
        similar.forget([ticket_key(ticket_id)])
    if not writer.opened_store().purge([ticket_id]):
        raise UnknownTicketError(f"no stored ticket has id {ticket_id!r}; nothing to delete")
    hotspots.clear()  # a kept hot-spot table may name it
    return {"id": ticket_id, "deleted": True}


# --------------------------------------------------------------------------- repeats
#: Times accepted for /v1/similar and /v1/hotspots: what the index and the store can hold.
_EARLIEST, _LATEST = datetime(1970, 1, 1), datetime(2200, 1, 1)


def _utc(value: datetime | None, what: str) -> datetime | None:
    """``value`` in UTC without a zone (how the store keeps times); 422 outside 1970-2200."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    if not _EARLIEST <= value < _LATEST:
        raise InvalidInputError(
            f"{what}: {value:%Y-%m-%d} is outside the times the service keeps; "
            "send a time between 1970 and 2200, e.g. 2026-12-01T08:30:00Z"
        )
    return value


def _iso(value: Any) -> str:
    return f"{value:%Y-%m-%dT%H:%M:%S}Z"


def _window(value: str | None, what: str) -> timedelta | None:
    from nlp.similar import parse_window

    try:
        return parse_window(value)
    except (DataError, OverflowError, ValueError) as error:
        message = str(error) if isinstance(error, DataError) else "too long"
        raise InvalidInputError(f"{what}: {message}; write it as 7d, 36h or 2w") from None


@router.post(
    "/v1/similar",
    response_model=SimilarResponse,
    dependencies=[ClassifyKey],
    responses=_CLASSIFY_ERRORS,
    tags=["repeats"],
    summary="A ticket's most similar recent tickets and its likely repeats (重复件)",
)
def similar_tickets(body: SimilarRequest, similar: SimilarDep) -> dict[str, Any]:
    """The ``k`` tickets most similar to this one among those the service answered before
    ``time`` within ``window``, best first, each with its score and whether it is a likely
    repeat (similar and not at another place). The ticket itself is left out when it sends
    its ``id``. Only ids and scores are answered, never text. Each worker's index holds the
    tickets of APPEALS_SIMILAR_WINDOW from the ticket store (every worker's, refreshed every
    APPEALS_SIMILAR_REFRESH seconds) and those it answered; with the store off, only the
    tickets this worker answered since it started (``/readyz`` says which). 503 similar_off
    when the index is off (APPEALS_SIMILAR=false)."""
    at = _utc(body.time, "body.time") or utc_now()
    span = _window(body.window, "body.window")
    try:
        found = similar.similar(
            body.text,
            body.title,
            time=at,
            window=span,
            k=body.k,
            exclude_id=None if body.id is None else ticket_key(body.id),
        )
    except DataError as error:
        raise InvalidInputError(f"body: {error}") from None
    matches = [
        {
            "id": match.id,
            "time": _iso(match.time),
            "score": round(match.score, 4),
            "repeat": match.repeat,
            "same_place": match.same_place,
        }
        for match in found
    ]
    return {"matches": matches}


#: The period /v1/hotspots looks at when ``since`` is not given: this long before ``until``.
_HOTSPOT_PERIOD = timedelta(days=30)


@router.get(
    "/v1/hotspots",
    response_model=HotspotsResponse,
    dependencies=[ClassifyKey],
    responses=_errors(401, 422, 503),
    tags=["repeats"],
    summary="Hot spots (热点问题表): stored tickets about one problem at one place, by heat",
)
def hotspot_table(
    writer: WriterDep,
    cache: HotspotsCacheDep,
    window: Annotated[
        str,
        Query(
            max_length=32,
            description="link window: 7d, 36h, 2w (tickets further apart are not linked directly)",
        ),
    ] = "7d",
    top: Annotated[int, Query(ge=1, le=50, description="how many hot spots")] = 5,
    min_size: Annotated[int, Query(ge=2, le=1000, description="fewest tickets of a hot spot")] = 3,
    since: Annotated[
        datetime | None,
        Query(
            description="start of the period (UTC), e.g. 2026-11-01; default 30 days before until"
        ),
    ] = None,
    until: Annotated[
        datetime | None,
        Query(description="end of the period, excluded (UTC); default now"),
    ] = None,
) -> dict[str, Any]:
    """The 热点问题表 of the tickets the service stored in [since, until) (``nlp.hotspots``:
    groups of tickets about the same problem at the same place, ranked by the heat index of
    README "Repeats and hot spots"), each row with its group's ticket ids. Text is masked.
    503 when the ticket store is off or unreachable. Each worker keeps an answer for
    APPEALS_HOTSPOTS_CACHE seconds (60) and gives it again for the same query (its ``until``
    says when it was computed); deleting a ticket drops the kept answers."""
    return cache.get_or_compute(
        (window, top, min_size, since, until),
        lambda: _hotspot_answer(
            writer, window=window, top=top, min_size=min_size, since=since, until=until
        ),
    )


def _hotspot_answer(
    writer: StoreWriter,
    *,
    window: str,
    top: int,
    min_size: int,
    since: datetime | None,
    until: datetime | None,
) -> dict[str, Any]:
    """What :func:`hotspot_table` answers, computed from the store."""
    from nlp.hotspots import hotspots

    span = _window(window, "query.window")
    end = _utc(until, "query.until") or utc_now()
    start = _utc(since, "query.since") or end - _HOTSPOT_PERIOD
    if start >= end:
        raise InvalidInputError(
            f"query.since ({_iso(start)}) must be before query.until ({_iso(end)})"
        )
    writer.flush(_FLUSH_SECONDS)  # include the tickets answered a moment ago
    frame = writer.opened_store().tickets(since=start, until=end)
    answer: dict[str, Any] = {
        "since": _iso(start),
        "until": _iso(end),
        "window": window.strip(),
        "considered": len(frame),
        "problems": [],
        "notes": [],
    }
    if frame.empty:
        answer["notes"] = [f"no stored tickets between {_iso(start)} and {_iso(end)}"]
        return answer
    try:
        report = hotspots(
            frame,
            time_col="answered_at",
            user_col=None,
            likes_col=None,
            dislikes_col=None,
            since=start,
            until=end,
            window=span,
            top=top,
            min_size=min_size,
        )
    except DataError as error:
        raise InvalidInputError(f"query: {error}") from None
    members = dict(zip(report.groups["problem_id"], report.groups["members"], strict=True))
    answer["problems"] = [
        {
            "rank": int(row["热度排名"]),
            "problem_id": int(row["问题ID"]),
            "heat": float(row["热度指数"]),
            "time_range": row["时间范围"],
            "place": row["地点/人群"],
            "description": row["问题描述"],
            "tickets": len(members[row["问题ID"]]),
            "ids": list(members[row["问题ID"]]),
        }
        for row in report.problems.to_dict(orient="records")
    ]
    answer["notes"] = list(report.notes)
    return answer


# --------------------------------------------------------------------------- models
@router.get(
    "/v1/models",
    response_model=ModelsResponse,
    dependencies=[ClassifyKey],
    responses=_errors(401, 503),
    tags=["models"],
    summary="Versions with their metrics; which is active",
)
def list_models(registry: RegistryDep, holder: HolderDep) -> dict[str, Any]:
    serving = holder.model.version if holder.model else None
    listing = registry.listing(holder.name)
    versions = [{**row, "serving": row["version"] == serving} for row in listing.versions]
    return {
        "name": holder.name,
        "active": listing.active.version if listing.active else None,
        "serving": serving,
        "versions": versions,
        "error": listing.error,
    }


def _active_version(registry: Registry, name: str) -> str | None:
    """The active version before a change; None when there is none or the pointer is
    damaged (activation rewrites it; rollback says why it cannot)."""
    try:
        pointer = registry.active(name)
    except ModelIntegrityError:
        return None
    return pointer.version if pointer else None


@router.post(
    "/v1/models/activate",
    response_model=ActivateResponse,
    dependencies=[AdminKey],
    responses=_ADMIN_ERRORS,
    tags=["models"],
    summary="Activate a version (admin): verified, loaded and tried first, then every worker "
    "swaps to it",
)
def activate_model(
    body: ActivateRequest, registry: RegistryDep, holder: HolderDep
) -> dict[str, Any]:
    before = _active_version(registry, holder.name)
    pointer = holder.activate(body.version)  # the model it loads and tries is the one served
    serving = holder.model
    return {
        "name": holder.name,
        "active": pointer.version,
        "previous": before,
        "serving": serving.version if serving else None,
    }


@router.post(
    "/v1/models/rollback",
    response_model=ActivateResponse,
    dependencies=[AdminKey],
    responses=_ADMIN_ERRORS,
    tags=["models"],
    summary="Re-activate the version active before (admin)",
)
def rollback_model(registry: RegistryDep, holder: HolderDep) -> dict[str, Any]:
    before = _active_version(registry, holder.name)
    pointer = holder.rollback()
    serving = holder.model
    return {
        "name": holder.name,
        "active": pointer.version,
        "previous": before,
        "serving": serving.version if serving else None,
    }


# --------------------------------------------------------------------------- operations
@router.get("/healthz", response_model=HealthResponse, tags=["operations"], summary="Alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=ReadyResponse,
    responses={503: {"model": ReadyResponse, "description": "no model loaded yet"}},
    tags=["operations"],
    summary="Ready: 200 with the model version once it is loaded and warmed up, else 503",
)
async def readyz(holder: HolderDep, writer: OptionalWriterDep, similar: OptionalSimilarDep) -> Any:
    model, failure = holder.model, holder.last_failure
    reason = f"{failure.version or 'active version'} refused: {failure.reason}" if failure else None
    if reason is not None:
        reason = public_message(reason, holder.registry.root)
    store = "off"
    if writer is not None:
        store = public_message(writer.problem, holder.registry.root) if writer.problem else "ok"
    if model is None:
        body = {
            "status": "loading",
            "model": None,
            "reason": reason or "loading the model",
            "store": store,
            "similar": _similar_state(similar, holder),
        }
        return JSONResponse(body, status_code=503)
    return {
        "status": "ready",
        "model": {"name": model.name, "version": model.version},
        "reason": reason,
        "store": store,
        "similar": _similar_state(similar, holder),
    }


def _similar_state(similar: LiveSimilarIndex | None, holder: Any) -> str:
    if similar is None:
        return "off (APPEALS_SIMILAR=false): no similar-ticket index, no /v1/similar"
    return public_message(similar.describe(), holder.registry.root)


@router.get("/metrics", include_in_schema=False, dependencies=[MetricsAccess])
def prometheus_metrics(settings: SettingsDep) -> Response:
    body = metrics.render(settings.prometheus_multiproc_dir)
    return Response(body, media_type=metrics.CONTENT_TYPE_LATEST)


@router.get("/", include_in_schema=False)
def try_it_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")
