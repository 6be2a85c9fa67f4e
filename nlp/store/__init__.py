"""The ticket store: what the service answered and what people corrected (SQLite by default,
PostgreSQL by URL), its background writer, and the corrections that flow back into training."""

from nlp.store.feedback import ImportReport, import_corrections
from nlp.store.store import (
    ANSWER_COLUMNS,
    CORRECTION_COLUMNS,
    Answer,
    TicketStore,
    UnknownLabelError,
    check_label,
    check_ticket_id,
    describe_url,
    utc_now,
)
from nlp.store.writer import StoreWriter

__all__ = [
    "ANSWER_COLUMNS",
    "CORRECTION_COLUMNS",
    "Answer",
    "ImportReport",
    "StoreWriter",
    "TicketStore",
    "UnknownLabelError",
    "check_label",
    "check_ticket_id",
    "describe_url",
    "import_corrections",
    "utc_now",
]
