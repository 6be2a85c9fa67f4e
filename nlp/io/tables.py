"""Reading a table in chunks (for tagging) or whole (for training and evaluation): the
whole read is the chunks put together, so every client sees the same values."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa

from nlp.errors import DataError
from nlp.io.csv_reader import csv_chunks, csv_rows
from nlp.io.excel_reader import excel_chunks, excel_rows
from nlp.io.formats import InputFormat, input_format
from nlp.io.jsonl_reader import jsonl_chunks, jsonl_rows
from nlp.io.parquet_reader import parquet_chunks, parquet_rows

__all__ = ["DEFAULT_CHUNK_SIZE", "count_rows", "iter_chunks", "read_table", "read_tables"]

#: Rows per chunk: large enough to amortise per-chunk costs, small enough that a worker's
#: feature matrices stay small on long tickets (``bench/batch.py --chunk-size N`` prints the
#: peak memory of a run).
DEFAULT_CHUNK_SIZE = 2_000
#: Rows per chunk of a whole read: only memory for a moment, so fewer, larger chunks.
_WHOLE_CHUNK_SIZE = 100_000

_READERS: dict[InputFormat, Callable[[Path, int], Iterator[pd.DataFrame]]] = {
    "csv": csv_chunks,
    "jsonl": jsonl_chunks,
    "parquet": parquet_chunks,
    "excel": excel_chunks,
}
_READ_ERRORS = (ValueError, OSError, UnicodeDecodeError, pa.ArrowException)


def iter_chunks(
    path: str | Path, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[pd.DataFrame]:
    """The rows of ``path`` as frames of at most ``chunk_size`` rows, in order.

    Each frame's index continues the previous one (row 0, 1, ... of the file). At least one
    frame is yielded: a file without rows gives one empty frame with the file's columns.
    CSV and Excel cells are strings (empty cells are ``""``); Parquet and JSON Lines keep
    their types exactly (see :mod:`nlp.io.values`). A JSON Lines row that is not a JSON
    object is kept as an empty row and listed in the frame's ``attrs["unreadable"]``.
    """
    if chunk_size < 1:
        raise DataError(f"--chunk-size must be at least 1, not {chunk_size}")
    path = Path(path)
    kind = input_format(path)
    chunks = _READERS[kind](path, chunk_size)
    start = 0
    try:
        for frame in chunks:
            frame.index = pd.RangeIndex(start, start + len(frame))
            start += len(frame)
            yield frame
    except _READ_ERRORS as error:
        if isinstance(error, DataError):
            raise
        if isinstance(error, UnicodeDecodeError):
            raise DataError(_undecodable(path, kind, start, error)) from error
        raise DataError(
            f"{path}: cannot be read as {kind} after row {start}: {error}. "
            "Fix or remove the broken record"
        ) from error


def _undecodable(path: Path, kind: str, start: int, error: UnicodeDecodeError) -> str:
    """What is wrong with a text file in no encoding we read, and what to do."""
    head = error.object[:2] if isinstance(error.object, bytes) else b""
    what = (
        "it is UTF-16 text (Excel's 'Unicode Text'), not UTF-8 or GB18030"
        if head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
        else "it is neither UTF-8 nor GB18030 text"
    )
    return (
        f"{path}: cannot be read as {kind}: {what}: byte(s) "
        f"{error.object[error.start : error.start + 4]!r} after row {start} do not decode "
        f"as {error.encoding.upper()}. Save the file as UTF-8 (Excel: 'CSV UTF-8'), or "
        "remove the broken bytes"
    )


def count_rows(path: str | Path, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    """How many rows :func:`iter_chunks` will yield (for progress and ETA).

    Parquet: from the footers. CSV: one fast parse of the first column. JSON Lines: the
    non-blank lines. Excel: the sheet's rows.
    """
    path = Path(path)
    kind = input_format(path)
    try:
        if kind == "parquet":
            return parquet_rows(path)
        if kind == "jsonl":
            return jsonl_rows(path)
        if kind == "csv":
            return csv_rows(path, chunk_size)
        return excel_rows(path)
    except pd.errors.EmptyDataError:
        return 0
    except _READ_ERRORS as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path}: cannot be read as {kind}: {error}") from error


def read_table(path: str | Path) -> pd.DataFrame:
    """Every row of ``path``: the chunks of :func:`iter_chunks` put together, so training
    and evaluation read exactly what tagging reads. A JSON Lines line that is not a JSON
    object is an error here (tagging keeps it as a row marked unreadable)."""
    frames = list(iter_chunks(path, chunk_size=_WHOLE_CHUNK_SIZE))
    unreadable = [
        int(frame.index[position])
        for frame in frames
        for position in frame.attrs.get("unreadable", ())
    ]
    if unreadable:
        listed = ", ".join(str(row + 1) for row in unreadable[:5])
        more = f" and {len(unreadable) - 5} more" if len(unreadable) > 5 else ""
        raise DataError(
            f"{path}: cannot be read as jsonl: record(s) {listed}{more} (counting non-blank "
            "lines from 1) are not JSON objects; fix or remove those lines"
        )
    whole = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True, sort=False)
    whole.attrs.clear()
    return whole


def read_tables(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Read and stack several files; columns missing from a file are empty for its rows."""
    if not paths:
        raise DataError("no input files given")
    frames = [read_table(p) for p in paths]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True, sort=False)
