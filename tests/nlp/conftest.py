"""Fixtures of the library's tests."""

from __future__ import annotations

from typing import Any

import pytest

import nlp.similar


@pytest.fixture
def scored(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many rows each call of nlp.similar._scores scores (appended as they come): what a
    similar-ticket lookup pays for."""
    counts: list[int] = []
    original = nlp.similar._scores

    def counted(matrix: Any, query: Any, rows: Any = None) -> Any:
        counts.append(matrix.shape[0] if rows is None else len(rows))
        return original(matrix, query, rows)

    monkeypatch.setattr(nlp.similar, "_scores", counted)
    return counts
