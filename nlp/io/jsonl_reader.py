"""JSON Lines: one object per line, every value as it was written (see
:mod:`nlp.io.values`); a line that is not a JSON object is kept as an empty row, so that a
tagging run marks it instead of stopping."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from nlp.io.values import records_frame
from nlp.text import replace_surrogates

__all__ = ["jsonl_chunks", "jsonl_rows"]

# A JSON escape of a lone UTF-16 surrogate ("\udfff"): valid JSON, but no character that
# UTF-8, Arrow or a tokenizer can take.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def jsonl_chunks(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    """Frames of at most ``chunk_size`` records; the positions of unreadable lines (not
    JSON, or not an object) in each frame's ``attrs["unreadable"]``."""
    # One json.loads per line rather than pandas.read_json(lines=True): a broken line must
    # become a kept row with an error, not fail the whole chunk, and read_json would turn
    # columns named like dates (created_at, ...) into timestamps.
    records: list[dict[str, Any]] = []
    unreadable: list[int] = []
    produced = False
    with path.open(encoding="utf-8-sig") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):  # not JSON, over 4,300 digits, too deep
                record = None
            if not isinstance(record, dict):
                unreadable.append(len(records))
                record = {}
            elif "\\u" in line and _SURROGATE_ESCAPE.search(line):
                record = _without_surrogates(record)
            records.append(record)
            if len(records) == chunk_size:
                yield records_frame(records, unreadable)
                produced = True
                records, unreadable = [], []
    if records or not produced:
        yield records_frame(records, unreadable)


def jsonl_rows(path: Path) -> int:
    """Rows of a JSON Lines file: its non-blank lines."""
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def _without_surrogates(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (keys too) replaced by U+FFFD, the
    replacement character, so the row is kept and tagged rather than stopping the run. A
    surrogate pair written as two escapes decodes to one character and is not touched."""
    if isinstance(value, str):
        return replace_surrogates(value)
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    return value
