"""The one rule that turns a ticket's fields into the document the model reads.

A ticket's document is its title and its body joined by a line break, whichever of the two
exist. A field is missing when it is ``None``, not text (a number where text goes, ``NaN``)
or white space only. A row with neither has no document, and :func:`compose_documents` says
why: ``"empty_text"`` when both fields are missing or blank, ``"not_text"`` when a field holds
something other than text. Training skips such a row (and counts it), classification of a
single ticket refuses it, batch tagging keeps it with that error: all three read the same
answer from here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from nlp.errors import DataError

__all__ = [
    "Documents",
    "Layout",
    "PreparedRows",
    "RowError",
    "compose_document",
    "compose_documents",
    "frame_documents",
    "frame_sha256",
    "layout",
    "prepare_rows",
    "require_columns",
]

#: A field of a ticket as sent.
Field = Literal["title", "text"]

#: Why a row has no document.
RowError = Literal["empty_text", "not_text"]


def require_columns(frame: pd.DataFrame, columns: Sequence[str | None], *, what: str) -> None:
    """Raise a :class:`DataError` naming the columns that do exist when one is missing."""
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        present = ", ".join(map(repr, map(str, frame.columns))) or "no columns at all"
        raise DataError(
            f"{what}: column(s) {', '.join(map(repr, missing))} not found; the data has "
            f"{present}. Name the right one with --text-col / --title-col / --label-col."
        )


def _is_blank(value: object) -> bool:
    """Missing (None, NaN, pandas' NA) or white space only."""
    return (
        value is None
        or value is pd.NA
        or (isinstance(value, float) and value != value)  # NaN
        or (isinstance(value, str) and not value.strip())
    )


def compose_document(text: object, title: object = None) -> str | None:
    """A ticket's document: title and body joined, whichever exist; None when neither does."""
    body = text.strip() if isinstance(text, str) else ""
    head = title.strip() if isinstance(title, str) else ""
    if body and head:
        return f"{head}\n{body}"
    return body or head or None


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the characters of a ticket's document are in its fields as sent (see
    :func:`compose_document`): the document is the title without its surrounding white space
    (``title_length`` characters from ``title_start``; None: no title), a line break, and the
    body likewise from ``text_start`` (None: no body)."""

    title_start: int | None
    title_length: int
    text_start: int | None

    def locate(self, start: int, end: int) -> tuple[Field, int, int] | None:
        """The field, and the span in it as sent, of the document's characters
        ``[start, end)``; None when they are not all in one field."""
        body = 0
        if self.title_start is not None:
            if end <= self.title_length:
                return "title", start + self.title_start, end + self.title_start
            body = self.title_length + 1
        if self.text_start is None or start < body:
            return None
        return "text", start - body + self.text_start, end - body + self.text_start


#: The layout of a document read as a body alone: its offsets are the body's.
BODY_ONLY = Layout(title_start=None, title_length=0, text_start=0)


def _lead(value: str) -> int:
    return len(value) - len(value.lstrip())


def layout(text: object, title: object = None) -> Layout:
    """The :class:`Layout` of :func:`compose_document` ``(text, title)``."""
    body = text if isinstance(text, str) and text.strip() else None
    head = title if isinstance(title, str) and title.strip() else None
    return Layout(
        title_start=None if head is None else _lead(head),
        title_length=0 if head is None else len(head.strip()),
        text_start=None if body is None else _lead(body),
    )


@dataclass(frozen=True)
class Documents:
    """The documents of a run of tickets: ``documents[i]`` is row ``positions[i]``'s; every
    row without one has its reason in ``errors`` (None for the rows that have one).
    ``texts`` and ``titles`` are the fields they were composed of, for :meth:`layouts`."""

    documents: list[str]
    positions: list[int]
    errors: list[RowError | None]
    texts: Sequence[object] = ()
    titles: Sequence[object] | None = None

    def layouts(self) -> list[Layout]:
        """The :class:`Layout` of each document (built on demand: only explanations, which
        say where their words are, need them)."""
        titles = self.titles
        if not self.texts:
            return [BODY_ONLY] * len(self.documents)
        return [
            layout(self.texts[i], None if titles is None else titles[i]) for i in self.positions
        ]


def compose_documents(texts: Sequence[object], titles: Sequence[object] | None = None) -> Documents:
    """The document of every ticket given as bodies and titles (``titles`` None: bodies
    alone), with the reason of each ticket that has none (see the module docstring)."""
    if titles is None:
        titles = [None] * len(texts)
    elif len(titles) != len(texts):
        raise DataError(f"{len(texts)} texts but {len(titles)} titles: give one title per text")
    documents: list[str] = []
    positions: list[int] = []
    errors: list[RowError | None] = [None] * len(texts)
    for position, (text, title) in enumerate(zip(texts, titles, strict=True)):
        document = compose_document(text, title)
        if document is None:
            errors[position] = "empty_text" if _is_blank(text) and _is_blank(title) else "not_text"
        else:
            documents.append(document)
            positions.append(position)
    return Documents(documents, positions, errors, texts, titles)


def frame_documents(
    frame: pd.DataFrame, *, text_col: str | None = "text", title_col: str | None = None
) -> Documents:
    """:func:`compose_documents` of a frame's ``text_col`` and ``title_col`` (None: the
    ticket has no such field); a named column the frame lacks is a :class:`DataError`."""
    require_columns(frame, [text_col, title_col], what="input")
    texts = frame[text_col].tolist() if text_col is not None else [None] * len(frame)
    titles = frame[title_col].tolist() if title_col is not None else None
    return compose_documents(texts, titles)


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
    """Documents (and labels) of every usable row; rows without a document (see the module
    docstring) or without a label are counted by reason and skipped.

    ``title_col`` is optional in the data: when the frame has no such column, bodies alone
    are used. ``text_col`` may be absent too when titles are present (a title-only file).
    """
    has_text = text_col in frame.columns
    has_title = title_col is not None and title_col in frame.columns
    if not has_text and not has_title:
        require_columns(frame, [text_col], what="input")
    if label_col is not None:
        require_columns(frame, [label_col], what="labelled data")
    found = frame_documents(
        frame, text_col=text_col if has_text else None, title_col=title_col if has_title else None
    )
    skipped: dict[str, int] = {}
    for error in found.errors:
        if error is not None:
            skipped[error] = skipped.get(error, 0) + 1
    documents, kept = found.documents, found.positions
    labels: list[str] | None = None
    if label_col is not None:
        values = frame[label_col].array
        labelled = [i for i, position in enumerate(kept) if not _is_blank(values[position])]
        if len(labelled) < len(kept):
            skipped["missing_label"] = len(kept) - len(labelled)
            documents = [documents[i] for i in labelled]
            kept = [kept[i] for i in labelled]
        labels = [str(values[position]).strip() for position in kept]
    return PreparedRows(
        documents=documents,
        labels=labels,
        kept_index=frame.index[kept],
        skipped=skipped,
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
