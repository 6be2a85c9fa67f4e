"""The endpoints.

CPU-bound routes that can take a while (batches, activation, which loads a model) are plain
``def``: FastAPI runs them in its thread pool, so they never stall the event loop that
accepts other requests. The single-ticket route is the exception: its work is short (its
in-process latency is the "in-process single ticket" line of ``bench/serve.py``), so the hop
to the pool and back would be a large share of each request, and each worker is one process
with one GIL, so the pool adds no parallelism for it either.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import ValidationError

from nlp.documents import compose_documents
from nlp.errors import ModelIntegrityError, UnknownTicketError
from nlp.model import Prediction
from nlp.registry import Registry
from nlp.store import Answer, StoreWriter, utc_now
from service import metrics
from service.dependencies import (
    AdminKey,
    ClassifyKey,
    DispatcherDep,
    HolderDep,
    ModelDep,
    OptionalWriterDep,
    RegistryDep,
    SettingsDep,
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
    ModelsResponse,
    PurgeResponse,
    QueueResponse,
    ReadyResponse,
    ticket_id_or_none,
)

__all__ = ["router"]

router = APIRouter()

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


def _store(
    writer: StoreWriter | None,
    model: Any,
    tickets: list[tuple[str | int | None, str | None, str | None, Prediction]],
) -> list[str | int | None]:
    """Hand the answers to the store's writer (never waits, never fails); the ids, with one
    given to each ticket sent without one. Unchanged when the store is off."""
    if writer is None:
        return [ticket_id for ticket_id, *_ in tickets]
    now = utc_now()
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
    request: Request,
) -> dict[str, Any]:
    """The department, its confidence, the runners-up, whether a person must check, the
    ticket's terms that decided it, and, as configured, its urgency, where it happened, the
    lead and assisting units, and its separate problems (null when not configured)."""
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
    [ticket_id] = _store(writer, model, [(ticket.id, ticket.text, ticket.title, prediction)])
    return {
        "id": ticket_id,
        **prediction.to_dict(),
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
        ids = _store(writer, model, [(i.id, i.text, i.title, p) for _, i, p in routed])
        for (index, _, answer), ticket_id in zip(routed, ids, strict=True):
            results[index] = {"index": index, "id": ticket_id, **answer.to_dict()}
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
def purge_ticket(ticket_id: str, writer: WriterDep) -> dict[str, Any]:
    writer.flush(_FLUSH_SECONDS)  # an answer still queued would come back after the purge
    if not writer.opened_store().purge([ticket_id]):
        raise UnknownTicketError(f"no stored ticket has id {ticket_id!r}; nothing to delete")
    return {"id": ticket_id, "deleted": True}


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
async def readyz(holder: HolderDep, writer: OptionalWriterDep) -> Any:
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
        }
        return JSONResponse(body, status_code=503)
    return {
        "status": "ready",
        "model": {"name": model.name, "version": model.version},
        "reason": reason,
        "store": store,
    }


@router.get("/metrics", include_in_schema=False, dependencies=[MetricsAccess])
def prometheus_metrics(settings: SettingsDep) -> Response:
    body = metrics.render(settings.prometheus_multiproc_dir)
    return Response(body, media_type=metrics.CONTENT_TYPE_LATEST)


@router.get("/", include_in_schema=False)
def try_it_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")
