"""What to label next: the stored tickets whose department, once a person gives it, would teach
the model the most, and not fifty copies of one problem.

:func:`label_queue` reads the ticket store's answers (:meth:`nlp.store.TicketStore.tickets`)
and ranks the tickets nobody has given a department yet by three parts, each in [0, 1]:

- ``uncertainty``: 1 - margin (the top department's probability minus the runner-up's): the
  model could not tell two departments apart;
- ``out_of_scope``: 1 when the answer was flagged ``out_of_scope`` (too little known content,
  or unlike anything in training: a new problem);
- ``disagreement``: how often dispatchers moved tickets the model gave this department to
  another one (the corrected rows of the same frame), shrunk toward the overall rate so that
  one correction does not make a department look hopeless.

``score`` is their weighted sum. The ranked tickets are then taken greedily, best first,
skipping any ticket too similar to one already taken (cosine of character n-gram TF-IDF over
the masked title and text, at least ``max_similarity``); each kept ticket counts the skipped
ones it stands for (``similar``). ``why`` says it in words.

The text in the queue is the store's: masked when it was stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from nlp.errors import DataError

__all__ = ["QUEUE_COLUMNS", "label_queue"]

#: The columns :func:`label_queue` returns, in order. ``label`` is left empty for the
#: dispatcher's department: the file goes back through ``appeals feedback import``.
QUEUE_COLUMNS = (
    "rank",
    "id",
    "answered_at",
    "model_version",
    "predicted",
    "confidence",
    "margin",
    "runner_up",
    "review_codes",
    "score",
    "uncertainty",
    "out_of_scope",
    "disagreement",
    "similar",
    "why",
    "title",
    "text",
    "label",
)

_REQUIRED = (
    "id",
    "answered_at",
    "text",
    "title",
    "model_version",
    "label",
    "confidence",
    "margin",
    "top_k",
    "review_codes",
    "final_label",
)

#: Two tickets at least this similar (cosine of character 1-3-gram TF-IDF over the masked
#: title and text) count as one problem. On the training split of the shared train.csv
#: (``bench/label_queue.py``), 99.99 % of pairs of different bodies of one department stay
#: under 0.26, while the pairs from 0.5 up are, but for the odd one, one complaint sent
#: again, reworded or not (115 of 11 million pairs).
DEFAULT_MAX_SIMILARITY = 0.5
#: How many corrections a department's own rate weighs against the overall rate: with fewer
#: than this many corrections of a department, its disagreement stays near the overall rate.
DEFAULT_PRIOR_CORRECTIONS = 5.0
#: Only this many times ``limit`` best-scored tickets are compared for similarity: enough to
#: fill the queue after skipping near-duplicates, without vectorising the whole store.
_POOL_FACTOR = 20


def label_queue(
    tickets: pd.DataFrame,
    *,
    limit: int = 50,
    since: datetime | None = None,
    max_similarity: float = DEFAULT_MAX_SIMILARITY,
    uncertainty_weight: float = 1.0,
    scope_weight: float = 0.5,
    disagreement_weight: float = 1.0,
    prior_corrections: float = DEFAULT_PRIOR_CORRECTIONS,
) -> pd.DataFrame:
    """The ``limit`` uncorrected tickets of ``tickets`` (the store's
    :meth:`~nlp.store.TicketStore.tickets` frame) most worth a person's label, best first
    (:data:`QUEUE_COLUMNS`).

    ``since``: only tickets answered from then on are candidates; the dispatchers' past
    corrections (``disagreement``) are read from every row of ``tickets``. Near-duplicates
    (cosine similarity at least ``max_similarity``; 1.0 keeps them all but exact copies) are
    skipped. The weights say how much each part counts in ``score``.

    ``attrs["considered"]`` of the result: how many uncorrected tickets were ranked.
    """
    missing = [column for column in _REQUIRED if column not in tickets.columns]
    if missing:
        raise DataError(
            f"the stored tickets lack the column(s) {', '.join(missing)}; pass the frame "
            "TicketStore.tickets() returns"
        )
    if isinstance(limit, bool) or not isinstance(limit, int | np.integer) or limit < 1:
        raise DataError(f"limit must be a whole number of at least 1, not {limit!r}")
    if not 0.0 < max_similarity <= 1.0:
        raise DataError(f"max_similarity is a cosine in (0, 1], not {max_similarity!r}")
    weights = (uncertainty_weight, scope_weight, disagreement_weight)
    if any(not np.isfinite(w) or w < 0 for w in weights) or not any(weights):
        raise DataError(f"the weights must be non-negative and not all zero, not {weights}")
    if not prior_corrections >= 0:
        raise DataError(f"prior_corrections must be 0 or more, not {prior_corrections!r}")

    corrected = tickets["final_label"].notna()
    rates, counts = _correction_rates(tickets[corrected], prior=prior_corrections)
    candidates = tickets[~corrected]
    if since is not None:
        if since.tzinfo is not None:  # the store keeps UTC without a zone
            since = since.astimezone(UTC).replace(tzinfo=None)
        candidates = candidates[pd.to_datetime(candidates["answered_at"]) >= since]
    if candidates.empty:
        return _queue_frame([], considered=0)

    margin = candidates["margin"].astype(float).clip(0.0, 1.0).to_numpy()
    codes = candidates["review_codes"].map(_codes)
    parts = pd.DataFrame(
        {
            "uncertainty": 1.0 - margin,
            "out_of_scope": codes.map(lambda c: float("out_of_scope" in c)).to_numpy(),
            "disagreement": candidates["label"].map(lambda lab: rates.get(lab, rates[None])),
        },
        index=candidates.index,
    )
    score = (
        uncertainty_weight * parts["uncertainty"]
        + scope_weight * parts["out_of_scope"]
        + disagreement_weight * parts["disagreement"]
    )
    # Best first; ties go to the newer ticket (what is happening now), then the id.
    order = pd.DataFrame(
        {"score": score, "answered_at": candidates["answered_at"], "id": candidates["id"]}
    ).sort_values(["score", "answered_at", "id"], ascending=[False, False, True], kind="stable")
    pool = order.index[: limit * _POOL_FACTOR]
    documents = [
        _document(title, text)
        for title, text in zip(
            candidates.loc[pool, "title"], candidates.loc[pool, "text"], strict=True
        )
    ]
    kept, similar = _diverse(documents, limit=limit, max_similarity=max_similarity)

    rows = []
    for rank, (position, count) in enumerate(zip(kept, similar, strict=True), start=1):
        index = pool[position]
        ticket = candidates.loc[index]
        part = parts.loc[index]
        runner_up = _runner_up(ticket["top_k"])
        label = ticket["label"]
        rows.append(
            {
                "rank": rank,
                "id": ticket["id"],
                "answered_at": ticket["answered_at"],
                "model_version": ticket["model_version"],
                "predicted": label,
                "confidence": round(float(ticket["confidence"]), 4),
                "margin": round(float(ticket["margin"]), 4),
                "runner_up": runner_up,
                "review_codes": list(codes.loc[index]),
                "score": round(float(score.loc[index]), 4),
                "uncertainty": round(float(part["uncertainty"]), 4),
                "out_of_scope": bool(part["out_of_scope"]),
                "disagreement": round(float(part["disagreement"]), 4),
                "similar": count,
                "why": _why(ticket, runner_up, part, counts.get(label), count),
                "title": ticket["title"] if isinstance(ticket["title"], str) else "",
                "text": ticket["text"] if isinstance(ticket["text"], str) else "",
                "label": "",
            }
        )
    return _queue_frame(rows, considered=len(candidates))


def _queue_frame(rows: list[dict[str, Any]], *, considered: int) -> pd.DataFrame:
    queue = pd.DataFrame(rows, columns=list(QUEUE_COLUMNS))
    queue.attrs["considered"] = considered
    return queue


def _correction_rates(
    corrected: pd.DataFrame, *, prior: float
) -> tuple[dict[str | None, float], dict[str, tuple[int, int]]]:
    """Per answered department: the share of its corrected tickets a person moved to another
    department, shrunk toward the overall share (``None`` holds the overall share, for a
    department nobody corrected); and (moved, corrected) counts."""
    if corrected.empty:
        return {None: 0.0}, {}
    moved = corrected["final_label"].astype(str) != corrected["label"].astype(str)
    overall = float(moved.mean())
    rates: dict[str | None, float] = {None: overall}
    counts: dict[str, tuple[int, int]] = {}
    for label, group in moved.groupby(corrected["label"].astype(str)):
        n, wrong = len(group), int(group.sum())
        rates[str(label)] = (wrong + prior * overall) / (n + prior) if n + prior else overall
        counts[str(label)] = (wrong, n)
    return rates, counts


def _diverse(
    documents: Sequence[str], *, limit: int, max_similarity: float
) -> tuple[list[int], list[int]]:
    """Greedy selection in the given order: the positions kept (at most ``limit``) and, for
    each, how many later documents were skipped as too similar to it."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not documents:
        return [], []
    try:
        vectors = TfidfVectorizer(
            analyzer="char", ngram_range=(1, 3), sublinear_tf=True
        ).fit_transform(documents)
    except ValueError:  # every document empty: nothing to compare, keep them in order
        first = list(range(min(limit, len(documents))))
        return first, [0] * len(first)
    kept: list[int] = []
    similar: list[int] = []
    for position in range(vectors.shape[0]):
        if kept:
            cosines = (vectors[kept] @ vectors[position].T).toarray().ravel()
            closest = int(cosines.argmax())
            if cosines[closest] >= max_similarity:
                similar[closest] += 1
                continue
        if len(kept) < limit:
            kept.append(position)
            similar.append(0)
    return kept, similar


def _document(title: object, text: object) -> str:
    parts = [value for value in (title, text) if isinstance(value, str) and value]
    return "\n".join(parts)


def _codes(value: Any) -> list[str]:
    if isinstance(value, list | tuple | np.ndarray):
        return [str(code) for code in value]
    if isinstance(value, str) and value:
        return [value]
    return []


def _runner_up(top_k: Any) -> str | None:
    if isinstance(top_k, list | tuple | np.ndarray) and len(top_k) > 1:
        second = top_k[1]
        if isinstance(second, dict):
            return str(second.get("label")) if second.get("label") is not None else None
        if isinstance(second, list | tuple) and second:
            return str(second[0])
    return None


def _why(
    ticket: pd.Series,
    runner_up: str | None,
    part: pd.Series,
    counts: tuple[int, int] | None,
    similar: int,
) -> str:
    label = ticket["label"]
    reasons = []
    margin = float(ticket["margin"])
    confidence = float(ticket["confidence"])
    if runner_up is not None:
        reasons.append(f"{label} at {confidence:.2f}, {runner_up} {margin:.2f} behind")
    else:
        reasons.append(f"{label} at {confidence:.2f}")
    if part["out_of_scope"]:
        reasons.append("out of scope: unlike the training data (a new problem?)")
    if counts is not None and counts[0]:
        wrong, n = counts
        reasons.append(
            f"dispatchers moved {wrong} of {n} corrected {label} tickets elsewhere "
            f"({wrong / n:.0%})"
        )
    if similar:
        reasons.append(f"stands for {similar} similar ticket(s) left out of the queue")
    return "; ".join(reasons)
