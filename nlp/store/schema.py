"""The ticket store's tables (SQLAlchemy Core), as the newest migration leaves them.

One row per ticket the service answered: what it was sent (masked: never the raw text), what
it answered, and, once a person has dispatched it, the department they gave it and who or what
gave it. Times are UTC, stored without a zone (SQLite keeps none).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = ["MAX_ID_CHARS", "MAX_LABEL_CHARS", "metadata", "tickets"]

#: The longest ticket id (characters): the API's 128 characters, or an integer of 128 digits
#: and its sign.
MAX_ID_CHARS = 160
#: The longest department name a person may give (characters); a model's own labels are
#: stored whatever their length.
MAX_LABEL_CHARS = 128

metadata = MetaData()

# Each column's meaning: id (the caller's ticket id), answered_at, text and title (masked),
# the model that answered, its label, confidence, margin (confidence minus the runner-up's),
# top_k ([{"label", "score"}]), needs_review and review_codes; then what a person gave:
# final_label, final_source ("api", or "import:FILE"), final_by (the dispatcher, as the
# caller names them), final_note (masked) and corrected_at.
tickets = Table(
    "tickets",
    metadata,
    Column("id", String(MAX_ID_CHARS), primary_key=True),
    Column("answered_at", DateTime, nullable=False),
    Column("text", Text, nullable=False),
    Column("title", Text, nullable=True),
    Column("model_name", String(64), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("label", Text, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("margin", Float, nullable=False),
    Column("top_k", JSON, nullable=False),
    Column("needs_review", Boolean, nullable=False),
    Column("review_codes", JSON, nullable=False),
    Column("final_label", Text, nullable=True),
    Column("final_source", String(128), nullable=True),
    Column("final_by", String(128), nullable=True),
    Column("final_note", Text, nullable=True),
    Column("corrected_at", DateTime, nullable=True),
)
Index("ix_tickets_answered_at", tickets.c.answered_at)
Index("ix_tickets_corrected_at", tickets.c.corrected_at)
