"""tag_frame(frame, model) -> frame: the one function every batch engine, the API's batch
endpoint and the notebooks call to tag tickets.

Every input row comes back, in order, with every input column. A row with no usable text
gets an ``error`` value and empty predictions instead of disappearing.
"""

from __future__ import annotations

import numpy as np
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

    out = frame.copy()
    n = len(frame)
    kept = np.asarray(positions, dtype=np.int64)
    labels = np.full(n, None, dtype=object)
    confidences = np.full(n, np.nan)
    ranked: list[object] = [None] * n
    reasons = np.full(n, None, dtype=object)
    explained: list[object] = [None] * n
    if documents:
        ranking = model.rank(documents, top_k=top_k, policy=policy, explain=explain)
        names = np.asarray(ranking.labels, dtype=object)
        scores = np.round(ranking.scores, 6)
        labels[kept] = names[ranking.order[:, 0]]
        confidences[kept] = scores[:, 0]
        lists = _top_k_lists(names[ranking.order].tolist(), scores.tolist())
        for position, value in zip(positions, lists, strict=True):
            ranked[position] = value
        reasons[kept] = ranking.review_reasons
        for position, terms in zip(positions, ranking.explanations or [], strict=False):
            explained[position] = [{"term": t.term, "weight": round(t.weight, 6)} for t in terms]
    has_answer = np.zeros(n, dtype=bool)
    has_answer[kept] = True
    out["label"] = pd.array(labels, dtype="string")
    out["confidence"] = pd.arrays.FloatingArray(np.nan_to_num(confidences), ~has_answer)
    out["top_k"] = pd.Series(ranked, index=frame.index, dtype=object)
    out["needs_review"] = pd.arrays.BooleanArray(pd.notna(reasons) & has_answer, ~has_answer)
    out["review_reason"] = pd.array(reasons, dtype="string")
    out["model_version"] = pd.array([model.version or ""] * n, dtype="string")
    out["error"] = pd.array(errors, dtype="string")
    if explain:
        out[EXPLANATION_COLUMN] = pd.Series(explained, index=frame.index, dtype=object)
    return out


def _top_k_lists(
    labels: list[list[str]], scores: list[list[float]]
) -> list[list[dict[str, object]]]:
    return [
        [
            {"label": label, "score": score}
            for label, score in zip(row_labels, row_scores, strict=True)
        ]
        for row_labels, row_scores in zip(labels, scores, strict=True)
    ]


def _is_blank(value: object) -> bool:
    return (
        value is None
        or (isinstance(value, float) and pd.isna(value))
        or (isinstance(value, str) and not value.strip())
    )
