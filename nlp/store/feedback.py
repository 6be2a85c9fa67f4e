"""Corrections from a dispatch platform's export: each row a ticket id and the department the
ticket finally went to (派单结果), recorded in the store in one go.

Nothing is lost quietly: every row is either stored or returned among the rejected rows with
the reason (no id, no department, a department the model does not know, an id the store does
not hold, the same id again further down the file).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import pandas as pd

from nlp.documents import require_columns
from nlp.errors import DataError
from nlp.store.store import TicketStore, check_label, check_ticket_id

__all__ = ["ImportReport", "import_corrections"]


@dataclass(frozen=True)
class ImportReport:
    """What an import did: ``rows`` read, ``stored`` recorded, and the ``rejected`` rows (the
    input's own columns, its 1-based ``row`` number and the ``reason``)."""

    rows: int
    stored: int
    rejected: pd.DataFrame


def import_corrections(
    store: TicketStore,
    frame: pd.DataFrame,
    *,
    id_col: str = "id",
    label_col: str = "label",
    known_labels: Collection[str] | None = None,
    allow_new_label: bool = False,
    source: str = "import",
) -> ImportReport:
    """Record the final department of each row of ``frame`` (``id_col``, ``label_col``)."""
    require_columns(frame, [id_col, label_col], what="corrections")
    if id_col == label_col:
        raise DataError("the id and the department must be two different columns")
    reasons: dict[int, str] = {}
    latest: dict[str, int] = {}
    finals: dict[str, str] = {}
    for position, (ticket_id, label) in enumerate(
        zip(frame[id_col].tolist(), frame[label_col].tolist(), strict=True)
    ):
        try:
            if ticket_id is None or (isinstance(ticket_id, float) and pd.isna(ticket_id)):
                raise DataError(f"no ticket id in column {id_col!r}")
            key = check_ticket_id(_integral(ticket_id))
            finals_label = check_label(
                None if _missing(label) else label,
                known_labels=known_labels,
                allow_new_label=allow_new_label,
            )
        except DataError as error:
            reasons[position] = str(error)
            continue
        if key in latest:
            reasons[latest[key]] = "the same ticket id comes again further down; that row counts"
        latest[key] = position
        finals[key] = finals_label
    stored, unknown = store.set_finals(finals.items(), source=source)
    for key in unknown:
        reasons[latest[key]] = (
            "no stored ticket has this id (never answered by the service, or purged)"
        )
    rejected = frame.iloc[sorted(reasons)].copy()
    rejected.insert(0, "row", [position + 1 for position in sorted(reasons)])
    rejected["reason"] = [reasons[position] for position in sorted(reasons)]
    return ImportReport(rows=len(frame), stored=stored, rejected=rejected.reset_index(drop=True))


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA


def _integral(value: object) -> object:
    """An id read as a float (an Excel number cell) as the integer it names."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
