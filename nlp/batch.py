"""tag_frame(frame, model) -> frame: the one function every batch engine, the API's batch
endpoint and the notebooks call to tag tickets.

Every input row comes back, in order, with every input column. A row with no usable text
gets an ``error`` value and empty predictions instead of disappearing.
"""

from __future__ import annotations

import pandas as pd

from nlp.data import compose_document, require_columns
from nlp.model import ReviewPolicy, RoutingModel

__all__ = ["EXPLANATION_COLUMN", "OUTPUT_COLUMNS", "tag_frame"]

#: Columns :func:`tag_frame` adds (an input column of the same name is replaced).
OUTPUT_COLUMNS = (
    "label",
    "confidence",
    "top_k",
    "needs_review",
    "review_reason",
    "model_version",
    "error",
)
#: Added too when ``explain`` > 0.
EXPLANATION_COLUMN = "explanation"


def tag_frame(
    frame: pd.DataFrame,
    model: RoutingModel,
    *,
    text_col: str = "text",
    title_col: str | None = None,
    top_k: int = 3,
    policy: ReviewPolicy | None = None,
    explain: int = 0,
) -> pd.DataFrame:
    """Route every row of ``frame``; return a copy with the :data:`OUTPUT_COLUMNS` added.

    ``top_k`` holds a list ``[{"label": ..., "score": ...}, ...]`` per row (``None`` for a
    row with an error); writers that need text (CSV) serialise it as JSON. With
    ``explain=n``, an ``explanation`` column lists each ticket's n deciding terms
    (``[{"term": ..., "weight": ...}]``).
    """
    require_columns(frame, [text_col, title_col], what="input")
    texts = frame[text_col].array
    titles = frame[title_col].array if title_col is not None else [None] * len(frame)
    documents: list[str] = []
    positions: list[int] = []
    errors: list[str | None] = [None] * len(frame)
    for position, (text, title) in enumerate(zip(texts, titles, strict=True)):
        document = compose_document(text, title)
        if document is None:
            errors[position] = "empty_text" if _is_blank(text) and _is_blank(title) else "not_text"
        else:
            documents.append(document)
            positions.append(position)

    labels: list[str | None] = [None] * len(frame)
    confidences: list[float | None] = [None] * len(frame)
    ranked: list[list[dict[str, object]] | None] = [None] * len(frame)
    explained: list[list[dict[str, object]] | None] = [None] * len(frame)
    review: list[bool | None] = [None] * len(frame)
    reasons: list[str | None] = [None] * len(frame)
    if documents:
        predictions = model.classify_documents(
            documents, top_k=top_k, policy=policy, explain=explain
        )
        for position, prediction in zip(positions, predictions, strict=True):
            labels[position] = prediction.label
            confidences[position] = round(prediction.confidence, 6)
            ranked[position] = [
                {"label": label, "score": round(score, 6)} for label, score in prediction.top_k
            ]
            review[position] = prediction.needs_review
            reasons[position] = prediction.review_reason
            if explain:
                explained[position] = [
                    {"term": t.term, "weight": round(t.weight, 6)} for t in prediction.explanation
                ]

    out = frame.copy()
    out["label"] = pd.array(labels, dtype="string")
    out["confidence"] = pd.array(confidences, dtype="Float64")
    out["top_k"] = pd.Series(ranked, index=frame.index, dtype=object)
    out["needs_review"] = pd.array(review, dtype="boolean")
    out["review_reason"] = pd.array(reasons, dtype="string")
    out["model_version"] = pd.array([model.version or ""] * len(frame), dtype="string")
    out["error"] = pd.array(errors, dtype="string")
    if explain:
        out[EXPLANATION_COLUMN] = pd.Series(explained, index=frame.index, dtype=object)
    return out


def _is_blank(value: object) -> bool:
    return (
        value is None
        or (isinstance(value, float) and pd.isna(value))
        or (isinstance(value, str) and not value.strip())
    )
