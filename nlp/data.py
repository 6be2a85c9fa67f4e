"""Turning rows of tickets into documents (files are read by :mod:`nlp.io`).

A ticket's document is its title and its body, whichever exist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from nlp.errors import DataError

__all__ = [
    "PreparedRows",
    "compose_document",
    "frame_sha256",
    "prepare_rows",
    "require_columns",
]


def require_columns(frame: pd.DataFrame, columns: Sequence[str | None], *, what: str) -> None:
    """Raise a :class:`DataError` naming the columns that do exist when one is missing."""
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        raise DataError(
            f"{what}: column(s) {', '.join(map(repr, missing))} not found; the data has "
            f"{', '.join(map(repr, map(str, frame.columns)))}. Name the right one with "
            "--text-col / --title-col / --label-col."
        )


def _as_text(value: object) -> str | None:
    """The value as stripped text, or None when it is missing, empty or not text."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def compose_document(text: object, title: object = None) -> str | None:
    """A ticket's document: title and body joined, whichever exist; None when neither does."""
    parts = [p for p in (_as_text(title), _as_text(text)) if p]
    return "\n".join(parts) if parts else None


@dataclass
class PreparedRows:
    """Documents ready for the model, with what was skipped and why."""

    documents: list[str]
    labels: list[str] | None
    kept_index: pd.Index
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())


def prepare_rows(
    frame: pd.DataFrame,
    *,
    text_col: str = "text",
    title_col: str | None = "title",
    label_col: str | None = None,
) -> PreparedRows:
    """Documents (and labels) of every usable row; empty or non-text rows are counted.

    ``title_col`` is optional in the data: when the frame has no such column, bodies alone
    are used. ``text_col`` may be absent too when titles are present (a title-only file).
    """
    has_text = text_col in frame.columns
    has_title = title_col is not None and title_col in frame.columns
    if not has_text and not has_title:
        require_columns(frame, [text_col], what="input")
    if label_col is not None:
        require_columns(frame, [label_col], what="training data")
    texts = frame[text_col] if has_text else pd.Series(None, index=frame.index, dtype=object)
    titles = frame[title_col] if has_title else pd.Series(None, index=frame.index, dtype=object)
    documents: list[str] = []
    labels: list[str] = []
    kept: list[int] = []
    skipped = {"empty_text": 0, "missing_label": 0}
    label_values = frame[label_col] if label_col is not None else None
    for position, (text, title) in enumerate(zip(texts.array, titles.array, strict=True)):
        document = compose_document(text, title)
        if document is None:
            skipped["empty_text"] += 1
            continue
        if label_values is not None:
            label = label_values.iat[position]
            missing = (
                label is None or label is pd.NA or (isinstance(label, float) and pd.isna(label))
            )
            if missing or str(label).strip() == "":
                skipped["missing_label"] += 1
                continue
            labels.append(str(label).strip())
        documents.append(document)
        kept.append(position)
    return PreparedRows(
        documents=documents,
        labels=labels if label_col is not None else None,
        kept_index=frame.index[kept],
        skipped={k: v for k, v in skipped.items() if v},
    )


def frame_sha256(documents: Sequence[str], labels: Sequence[str] | None = None) -> str:
    """A fingerprint of the training rows as the model saw them (documents and labels)."""
    digest = hashlib.sha256()
    for i, document in enumerate(documents):
        digest.update(document.encode("utf-8"))
        digest.update(b"\x1f")
        if labels is not None:
            digest.update(labels[i].encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()
