"""The tickets table: each answer the service gave, masked, and the department a person gave.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(160), primary_key=True),
        sa.Column("answered_at", sa.DateTime, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=True),
        sa.Column("model_name", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("margin", sa.Float, nullable=False),
        sa.Column("top_k", sa.JSON, nullable=False),
        sa.Column("needs_review", sa.Boolean, nullable=False),
        sa.Column("review_codes", sa.JSON, nullable=False),
        sa.Column("final_label", sa.Text, nullable=True),
        sa.Column("final_source", sa.String(128), nullable=True),
        sa.Column("final_by", sa.String(128), nullable=True),
        sa.Column("final_note", sa.Text, nullable=True),
        sa.Column("corrected_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_tickets_answered_at", "tickets", ["answered_at"])
    op.create_index("ix_tickets_corrected_at", "tickets", ["corrected_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_corrected_at", table_name="tickets")
    op.drop_index("ix_tickets_answered_at", table_name="tickets")
    op.drop_table("tickets")
