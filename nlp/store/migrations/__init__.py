"""Alembic migrations of the ticket store (``appeals store upgrade`` runs them)."""
