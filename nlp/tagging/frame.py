"""tag_frame(frame, model) -> frame: the one function every batch engine and the notebooks
call to tag a frame of tickets.

Every input row comes back, in order, with every input column. A row with no usable text
gets an ``error`` value and empty predictions instead of disappearing. The added columns are
the model's answer record (:meth:`nlp.model.Prediction.to_dict`), one column per field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from nlp.dispatch import DISPATCH_FIELDS
from nlp.documents import frame_documents
from nlp.model import ANSWER_FIELDS, Prediction, ReviewPolicy, RoutingModel

if TYPE_CHECKING:
    from nlp.dispatch import Dispatcher

__all__ = ["DISPATCH_COLUMNS", "EXPLANATION_COLUMN", "OUTPUT_COLUMNS", "tag_frame"]

#: The answer's field that :func:`tag_frame` adds only when asked to explain.
EXPLANATION_COLUMN = "explanation"
#: The answer's fields that :func:`tag_frame` adds only with a dispatcher that fills them
#: (``urgency``, ``location``, ``dispatch``, ``problems``), after :data:`OUTPUT_COLUMNS`.
DISPATCH_COLUMNS = DISPATCH_FIELDS
#: Columns :func:`tag_frame` always adds (an input column of the same name is replaced):
#: the answer's fields, then the model's version and the row's error.
OUTPUT_COLUMNS = (
    *(
        name
        for name in ANSWER_FIELDS
        if name != EXPLANATION_COLUMN and name not in DISPATCH_COLUMNS
    ),
    "model_version",
    "error",
)

#: pandas types of the answer's columns (missing where a row has no answer); a field not
#: named here (lists, records) is a column of Python objects.
_COLUMN_TYPES: dict[str, Any] = {
    "label": "string",
    "confidence": "Float64",
    "needs_review": "boolean",
    "review_reason": "string",
    "model_version": "string",
    "error": "string",
}


def tag_frame(
    frame: pd.DataFrame,
    model: RoutingModel,
    *,
    text_col: str = "text",
    title_col: str | None = None,
    top_k: int = 3,
    policy: ReviewPolicy | None = None,
    explain: int = 0,
    dispatcher: Dispatcher | None = None,
) -> pd.DataFrame:
    """Route every row of ``frame``; return a copy with the :data:`OUTPUT_COLUMNS` added.

    ``top_k`` holds a list ``[{"label": ..., "score": ...}, ...]`` per row (``None`` for a
    row with an error), ``review_codes`` the list of :data:`~nlp.model.REVIEW_CODES` that
    apply; writers that need text (CSV) serialise both as JSON. With ``explain=n``, an
    ``explanation`` column lists each ticket's n deciding terms, as typed, with where they
    stand in the title or text columns
    (``[{"term": ..., "weight": ..., "spans": [{"field": ..., "start": ..., "end": ...}]}]``).
    With ``dispatcher`` (:class:`nlp.dispatch.Dispatcher`), the fields it fills are columns
    too (:data:`DISPATCH_COLUMNS`, records as :meth:`~nlp.model.Prediction.to_dict` gives
    them), and a 紧急 ticket's ``needs_review`` and ``review_codes`` say ``urgent``.
    """
    found = frame_documents(frame, text_col=text_col, title_col=title_col)
    answers = model.answer(
        found, top_k=top_k, policy=policy, explain=explain, dispatcher=dispatcher
    )
    records = [a.to_dict() if isinstance(a, Prediction) else None for a in answers]
    extra = (
        *([EXPLANATION_COLUMN] if explain else []),
        *(dispatcher.fields if dispatcher is not None else ()),
    )
    columns: dict[str, list[Any]] = {
        name: [None if r is None else r[name] for r in records]
        for name in ANSWER_FIELDS
        if name in OUTPUT_COLUMNS or name in extra
    }
    columns["model_version"] = [model.version or ""] * len(frame)
    columns["error"] = list(found.errors)
    out = frame.copy()
    for name in (*OUTPUT_COLUMNS, *extra):
        dtype = _COLUMN_TYPES.get(name)
        out[name] = (
            pd.array(columns[name], dtype=dtype)
            if dtype is not None
            else pd.Series(columns[name], index=frame.index, dtype=object)
        )
    return out
