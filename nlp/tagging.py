"""Batch tagging of ticket files: streamed in chunks, resumable, on any engine.

:func:`tag_file` reads the input in chunks, has an engine (:mod:`nlp.engines`) run
:func:`nlp.batch.tag_frame` on each, and writes every finished chunk atomically (a temporary
file, then a rename) into a work folder beside the output, ``OUTPUT.parts/``, recording it in
a journal. When all chunks are done, the output is assembled from the parts in order
(again temp then rename) and the work folder is removed. A run that is killed keeps its
finished chunks; the same command with ``resume=True`` tags only the rest.

Formats (by extension). Input: CSV (UTF-8 or GB18030), JSON Lines, Parquet (a file or a
folder of ``*.parquet``), Excel ``.xlsx`` (read whole, then chunked: the format cannot be
streamed). Output: Parquet, CSV (``top_k`` as JSON text; UTF-8 with a BOM by default, so
that Excel reads Chinese, or plain UTF-8) or JSON Lines.

Values come out exactly as they went in. CSV and Excel cells are text and stay text (an id
``007`` keeps its zeros). Parquet columns keep their types (integers and booleans with
missing values included). JSON Lines numbers keep theirs: integers stay integers, those
beyond 64 bits become exact decimals of scale 0 (``decimal128(38, 0)``, then
``decimal256(76, 0)``; longer ones digits as text), written back to JSON Lines as integers
and to CSV as their digits; a column mixing integers and fractions is a float column when
every integer fits a float exactly, otherwise text, and so is a column mixing numbers and
text.
"""

from __future__ import annotations

import codecs
import contextlib
import decimal
import json
import logging
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from nlp.batch import OUTPUT_COLUMNS
from nlp.documents import require_columns
from nlp.engines import (
    DaskEngine,
    Engine,
    LocalEngine,
    ModelSource,
    ProcessEngine,
    TagOptions,
    WorkerLostError,
    resolve_source,
)
from nlp.errors import DataError, UnsupportedFormatError
from nlp.model import RoutingModel
from nlp.text import replace_surrogates

__all__ = [
    "CSV_ENCODINGS",
    "DEFAULT_CHUNK_SIZE",
    "INPUT_FORMATS",
    "OUTPUT_FORMATS",
    "Kept",
    "TagInterrupted",
    "TagSummary",
    "TagWorkerLostError",
    "count_rows",
    "input_format",
    "iter_chunks",
    "output_format",
    "read_output",
    "tag_file",
    "work_dir",
]

logger = logging.getLogger(__name__)

InputFormat = Literal["csv", "jsonl", "parquet", "xlsx"]
OutputFormat = Literal["csv", "jsonl", "parquet"]
EngineName = Literal["local", "dask"]
CsvEncoding = Literal["utf-8-sig", "utf-8"]

#: CSV output encodings: UTF-8 with a byte order mark (the default: Excel needs it to read
#: UTF-8, without it Chinese shows as mojibake), or plain UTF-8 for other tools.
CSV_ENCODINGS: tuple[CsvEncoding, ...] = ("utf-8-sig", "utf-8")

INPUT_FORMATS: dict[str, InputFormat] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".xlsx": "xlsx",
}
OUTPUT_FORMATS: dict[str, OutputFormat] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}
#: Rows per chunk: large enough to amortise per-chunk costs, small enough that a worker's
#: feature matrices stay near 200 MB on long tickets (10,000 rows took about 1 GB).
DEFAULT_CHUNK_SIZE = 2_000
#: ``error`` value of a JSON Lines row that is not a JSON object (the row is kept, empty).
UNREADABLE = "unreadable"

_TOP_K_TYPE = pa.list_(pa.struct([("label", pa.string()), ("score", pa.float64())]))
_OUTPUT_TYPES: dict[str, pa.DataType] = {
    "label": pa.string(),
    "confidence": pa.float64(),
    "top_k": _TOP_K_TYPE,
    "needs_review": pa.bool_(),
    "review_reason": pa.string(),
    "model_version": pa.string(),
    "error": pa.string(),
}
_STATE_FILE = "run.json"
_JOURNAL_FILE = "chunks.jsonl"

_NULLABLE: dict[pa.DataType, Any] = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def _pandas_type(kind: pa.DataType) -> Any:
    """The pandas type that holds an Arrow column's values exactly (``types_mapper``):
    integers and booleans with missing values stay integers and booleans (numpy's would be
    floats and objects), decimals stay Arrow decimals; None: pandas' default."""
    if pa.types.is_decimal(kind):
        return pd.ArrowDtype(kind)
    return _NULLABLE.get(kind)


# --------------------------------------------------------------------------- formats
def input_format(path: str | Path) -> InputFormat:
    """The input's format from its extension (a folder is a Parquet dataset)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; check the INPUT path")
    if path.is_dir():
        if not any(path.glob("*.parquet")):
            raise DataError(f"{path}: a folder must hold .parquet files; it holds none")
        return "parquet"
    found = INPUT_FORMATS.get(path.suffix.lower())
    if found is None:
        raise UnsupportedFormatError(
            f"{path}: unknown input format {path.suffix!r}; use one of "
            f"{', '.join(INPUT_FORMATS)} or a folder of .parquet files"
        )
    return found


def output_format(path: str | Path) -> OutputFormat:
    """The output's format from its extension."""
    found = OUTPUT_FORMATS.get(Path(path).suffix.lower())
    if found is None:
        raise UnsupportedFormatError(
            f"{path}: unknown output format {Path(path).suffix!r}; end --out with one of "
            f"{', '.join(OUTPUT_FORMATS)}"
        )
    return found


# --------------------------------------------------------------------------- readers
def iter_chunks(
    path: str | Path, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[pd.DataFrame]:
    """The rows of ``path`` as frames of at most ``chunk_size`` rows, in order.

    Each frame's index continues the previous one (row 0, 1, ... of the file). At least one
    frame is yielded: a file without rows gives one empty frame with the file's columns.
    CSV and Excel cells are strings (empty cells are ``""``); Parquet and JSON Lines keep
    their types exactly (integers and booleans with missing values as pandas' nullable
    types, integers beyond int64 as Arrow decimals; see the module docstring). A JSON Lines
    row that is not a JSON object is kept as an empty row and listed in the frame's
    ``attrs["unreadable"]``.
    """
    if chunk_size < 1:
        raise DataError(f"--chunk-size must be at least 1, not {chunk_size}")
    path = Path(path)
    kind = input_format(path)
    readers = {"csv": _csv_chunks, "jsonl": _jsonl_chunks, "parquet": _parquet_chunks}
    chunks = readers[kind](path, chunk_size) if kind in readers else _xlsx_chunks(path, chunk_size)
    start = 0
    try:
        for frame in chunks:
            frame.index = pd.RangeIndex(start, start + len(frame))
            start += len(frame)
            yield frame
    except (ValueError, OSError, UnicodeDecodeError, pa.ArrowException) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(
            f"{path}: cannot be read as {kind} after row {start}: {error}. Fix or remove the "
            "broken record (a tagged part is kept: rerun with --resume afterwards)"
        ) from error


def _sniff_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) unless the first megabyte does not decode: GB18030.

    Plain "utf-8" when there is no BOM: pandas' C reader decodes it natively, while
    "utf-8-sig" goes through a Python codec with a larger buffer."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
        block = head
        try:
            for _ in range(16):  # the first megabyte, 64 KiB at a time
                decoder.decode(block, final=False)
                block = handle.read(1 << 16)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"


def _csv_chunks(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    encoding = _sniff_encoding(path)
    options: dict[str, Any] = {"dtype": str, "keep_default_na": False, "encoding": encoding}
    try:
        header = pd.read_csv(path, nrows=0, **options)
    except pd.errors.EmptyDataError as error:
        raise DataError(f"{path}: the file is empty (not even a header row)") from error
    produced = False
    with pd.read_csv(path, chunksize=chunk_size, **options) as reader:
        for frame in reader:
            produced = True
            yield frame
    if not produced:
        yield header


def _jsonl_chunks(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
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
                yield _records_frame(records, unreadable)
                produced = True
                records, unreadable = [], []
    if records or not produced:
        yield _records_frame(records, unreadable)


# A JSON escape of a lone UTF-16 surrogate ("\udfff"): valid JSON, but no character that
# UTF-8, Arrow or a tokenizer can take.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


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


def _records_frame(records: list[dict[str, Any]], unreadable: list[int]) -> pd.DataFrame:
    """JSON objects as a frame, column by column (keys in first-seen order), every value
    as it was read (see :func:`_json_column`); a key a record lacks is a missing value."""
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    frame = pd.DataFrame(
        {name: _json_column([r.get(name) for r in records]) for name in names},
        index=pd.RangeIndex(len(records)),
    )
    frame.attrs["unreadable"] = list(unreadable)
    return frame


def _json_column(values: list[Any]) -> Any:
    """One JSON Lines column, its values exact: integers (with missing values) as nullable
    integers, not floats; integers beyond int64 as exact decimals; numbers that are not all
    exactly floats, text mixed with numbers, and nested values as the objects they are."""
    try:
        array = pa.array(values)
    except (OverflowError, pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        big = _big_integers(values)
        if big is None:
            return pd.Series(values, dtype=object)
        array = big
    if pa.types.is_nested(array.type):  # a struct would add the keys other rows have
        return pd.Series(values, dtype=object)
    return array.to_pandas(types_mapper=_pandas_type)


def _big_integers(values: list[Any]) -> pa.Array | None:
    """Integers some of which int64 cannot hold, as an exact decimal column (or, beyond 76
    digits, their digits as text); None when the values are not all integers."""
    if not all(v is None or type(v) is int for v in values):  # bool is an int: excluded
        return None
    widest = max(abs(v) for v in values if v is not None)
    if widest < 10**38:
        return pa.array(values, type=pa.decimal128(38, 0))
    if widest < 10**76:
        return pa.array(values, type=pa.decimal256(76, 0))
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _parquet_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.parquet")) if path.is_dir() else [path]


def _parquet_chunks(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    """Record batches re-cut to exactly ``chunk_size`` rows across files of a folder."""
    buffered: list[pa.Table] = []
    rows = 0
    schema: pa.Schema | None = None
    for file in _parquet_files(path):
        parquet = pq.ParquetFile(file)
        schema = schema or parquet.schema_arrow
        for batch in parquet.iter_batches(batch_size=chunk_size):
            buffered.append(pa.Table.from_batches([batch]))
            rows += batch.num_rows
            while rows >= chunk_size:
                table = pa.concat_tables(buffered, promote_options="permissive")
                yield _arrow_to_pandas(table.slice(0, chunk_size))
                rest = table.slice(chunk_size)
                buffered, rows = ([rest] if rest.num_rows else []), rest.num_rows
    if rows:
        yield _arrow_to_pandas(pa.concat_tables(buffered, promote_options="permissive"))
    elif schema is not None and not rows and _parquet_total(path) == 0:
        yield _arrow_to_pandas(schema.empty_table())


def _arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    return table.replace_schema_metadata(None).to_pandas(types_mapper=_pandas_type)


def _xlsx_chunks(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    from nlp.data import read_table

    whole = read_table(path)  # .xlsx cannot be streamed: read whole, hand out in chunks
    if whole.empty:
        yield whole
    for start in range(0, len(whole), chunk_size):
        yield whole.iloc[start : start + chunk_size].copy()


def _parquet_total(path: Path) -> int:
    return sum(pq.ParquetFile(f).metadata.num_rows for f in _parquet_files(path))


def _csv_total(path: Path, chunk_size: int) -> int:
    """Rows of a CSV file. Arrow's parser converts only the first column (ten times faster
    than pandas reading it, in 1 MiB blocks); pandas counts when Arrow refuses the file
    (ragged rows)."""
    encoding = _sniff_encoding(path)
    first = pd.read_csv(path, nrows=0, dtype=str, encoding=encoding).columns[0]
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(
                use_threads=False, block_size=1 << 20, encoding=encoding
            ),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                include_columns=[first], column_types={first: pa.string()}
            ),
        )
        with reader:
            return sum(batch.num_rows for batch in reader)
    except (pa.ArrowInvalid, pa.ArrowKeyError):
        pass
    total = 0
    with pd.read_csv(
        path,
        usecols=[0],
        dtype=str,
        keep_default_na=False,
        encoding=encoding,
        chunksize=chunk_size,
    ) as reader:
        for frame in reader:
            total += len(frame)
    return total


def count_rows(path: str | Path, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    """How many rows :func:`iter_chunks` will yield (for progress and ETA).

    Parquet: from the footers. CSV: one fast parse of the first column. JSON Lines: the
    non-blank lines. Excel: the sheet's rows.
    """
    path = Path(path)
    kind = input_format(path)
    try:
        if kind == "parquet":
            return _parquet_total(path)
        if kind == "jsonl":
            with path.open("rb") as handle:
                return sum(1 for line in handle if line.strip())
        if kind == "csv":
            return _csv_total(path, chunk_size)
        from nlp.data import read_table

        return len(read_table(path))
    except pd.errors.EmptyDataError:
        return 0
    except (ValueError, OSError, UnicodeDecodeError, pa.ArrowException) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path}: cannot be read as {kind}: {error}") from error


# --------------------------------------------------------------------------- parts, output
def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    """A tagged frame as an Arrow table: input columns as they are (a column Arrow cannot
    hold, e.g. mixed numbers and text from JSON Lines, as text), output columns typed."""
    arrays: list[pa.Array] = []
    names: list[str] = []
    for name in frame.columns:
        series = frame[name]
        if name in _OUTPUT_TYPES:
            values = series.tolist() if name == "top_k" else series.array
            array = pa.array(values, type=_OUTPUT_TYPES[name], from_pandas=True)
        else:
            try:
                array = pa.array(series, from_pandas=True)
            except (
                OverflowError,
                pa.ArrowInvalid,
                pa.ArrowTypeError,
                pa.ArrowNotImplementedError,
            ):
                array = pa.array([_as_text(v) for v in series.tolist()], type=pa.string())
            if pa.types.is_large_string(array.type):
                array = array.cast(pa.string())
        arrays.append(array)
        names.append(str(name))
    return pa.Table.from_arrays(arrays, names=names)


def _as_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    """What JSON cannot hold as it is: a decimal of scale 0 (an integer beyond int64) as
    that integer, anything else (dates, other decimals) as its text."""
    if isinstance(value, decimal.Decimal) and value.as_tuple().exponent == 0:
        return int(value)
    return str(value)


def _write_part(table: pa.Table, path: Path) -> None:
    """A finished chunk, read once more when the output is assembled: uncompressed and
    without dictionaries, which writes three times faster than Snappy (the parts take
    about as much disk as the input until the run ends)."""
    pq.write_table(table, path, compression="none", use_dictionary=False)


def _fsync_write(path: Path, write: Any) -> None:
    """Write with ``write(temp_path)``, fsync, then rename over ``path`` (atomic)."""
    temp = path.with_name(f".{path.name}.tmp")
    try:
        write(temp)
        with temp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:  # Ctrl-C or a full disk: no half-written file left behind
        temp.unlink(missing_ok=True)
        raise


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns and types (missing columns are null)."""
    columns: list[Any] = []
    for field in schema:
        if field.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, type=field.type))
            continue
        column = table.column(field.name)
        if column.type != field.type:
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                column = pa.array([_as_text(v) for v in column.to_pylist()], type=pa.string())
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def _unify(schemas: list[pa.Schema]) -> pa.Schema:
    """One schema for all parts: columns in first-seen order, types promoted (a column that
    was all-null in one chunk and text in another is text). A column whose chunks disagree
    beyond promotion (numbers in one JSON Lines chunk, text in the next) becomes text."""
    fields: dict[str, list[pa.DataType]] = {}
    for schema in schemas:
        for field in schema:
            fields.setdefault(field.name, []).append(field.type)
    unified = []
    for name, types in fields.items():
        try:
            kind = (
                pa.unify_schemas(
                    [pa.schema([(name, t)]) for t in types], promote_options="permissive"
                )
                .field(name)
                .type
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            kind = pa.string()
        unified.append(pa.field(name, pa.string() if pa.types.is_null(kind) else kind))
    return pa.schema(unified)


def _write_output(
    parts: list[Path], output: Path, kind: OutputFormat, encoding: CsvEncoding = "utf-8-sig"
) -> None:
    """Concatenate the parts, in order, into ``output``, one part in memory at a time
    (``encoding``: a CSV output's)."""
    schema = _unify([pq.read_schema(part).remove_metadata() for part in parts])

    def write(temp: Path) -> None:
        if kind == "parquet":
            with pq.ParquetWriter(temp, schema) as writer:
                for part in parts:
                    writer.write_table(_conform(pq.read_table(part), schema))
            return
        text_encoding = encoding if kind == "csv" else "utf-8"  # JSON Lines: never a BOM
        with temp.open("w", encoding=text_encoding, newline="") as handle:
            for number, part in enumerate(parts):
                table = _conform(pq.read_table(part), schema)
                if kind == "jsonl":
                    for row in table.to_pylist():
                        line = json.dumps(row, ensure_ascii=False, default=_json_default)
                        handle.write(line + "\n")
                    continue
                frame = table.drop_columns(["top_k"]).to_pandas(types_mapper=_pandas_type)
                frame.insert(
                    table.column_names.index("top_k"),
                    "top_k",
                    [_as_text(v) for v in table.column("top_k").to_pylist()],
                )
                frame.to_csv(handle, index=False, header=number == 0)

    _fsync_write(output, write)


class _Assembler:
    """Writes a Parquet output while the run goes, so that no serial pass over the parts
    is left for the end: each part, in chunk order, as soon as it and every part before it
    are finished, in the schema of the first.

    A part whose columns differ beyond what the first schema holds (JSON Lines chunks can)
    stops it, and so do CSV and JSON Lines outputs: :func:`_write_output` then assembles the
    output from the parts at the end. Nothing is lost either way: the parts stay until the
    output is complete.
    """

    def __init__(self, output: Path, kind: OutputFormat, folder: Path) -> None:
        self.output, self.folder = output, folder
        self.temp = output.with_name(f".{output.name}.tmp")
        self.active = kind == "parquet"
        self.next = 0
        self.ready: dict[int, pa.Table | None] = {}
        self.schema: pa.Schema | None = None
        self.writer: pq.ParquetWriter | None = None

    def add(self, number: int, table: pa.Table | None = None) -> None:
        """Chunk ``number`` is finished (``table`` in hand, or None: read its part)."""
        if not self.active:
            return
        self.ready[number] = table
        while self.active and self.next in self.ready:
            table = self.ready.pop(self.next)
            if table is None:
                table = pq.read_table(_part_path(self.folder, self.next))
            self._write(table.replace_schema_metadata())
            self.next += 1

    def _write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.schema = _unify([table.schema])
            self.writer = pq.ParquetWriter(self.temp, self.schema)
        assert self.schema is not None
        if table.schema != self.schema:
            if _unify([self.schema, table.schema]) != self.schema:
                self._stop()
                return
            table = _conform(table, self.schema)
        self.writer.write_table(table)

    def _stop(self) -> None:
        self.active = False
        self.ready.clear()
        if self.writer is not None:
            self.writer.close()
        self.temp.unlink(missing_ok=True)

    def finish(self, n_chunks: int) -> bool:
        """Close the output; True when it holds every chunk and is now in place."""
        if not self.active or self.writer is None or self.next != n_chunks:
            self._stop()
            return False
        self.writer.close()
        with self.temp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(self.temp, self.output)
        return True

    def abandon(self) -> None:
        self._stop()


def read_output(path: str | Path) -> pd.DataFrame:
    """Read a file :func:`tag_file` wrote, whole (for checks and notebooks): ``top_k`` as
    lists of ``{"label", "score"}`` whatever the format; values as :func:`tag_file` keeps
    them (integers as nullable integers, CSV cells as text)."""
    path = Path(path)
    kind = output_format(path)
    if kind == "parquet":
        frame = _arrow_to_pandas(pq.read_table(path))
        frame["top_k"] = pq.read_table(path, columns=["top_k"]).column("top_k").to_pylist()
        return frame
    if kind == "jsonl":
        with path.open(encoding="utf-8-sig") as handle:
            records = [json.loads(line) for line in handle if line.strip()]
        return _records_frame(records, []) if records else pd.DataFrame()
    # With or without the BOM written for Excel.
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame["top_k"] = [json.loads(v) if v else None for v in frame["top_k"]]
    return frame


# --------------------------------------------------------------------------- work folder
def work_dir(output: str | Path) -> Path:
    """Where a run keeps its finished chunks until the output is assembled."""
    output = Path(output)
    return output.with_name(output.name + ".parts")


def _part_path(folder: Path, number: int) -> Path:
    return folder / f"part-{number:06d}.parquet"


@dataclass(frozen=True)
class _Finished:
    """A tagged chunk, as its journal line records it."""

    rows: int
    errors: dict[str, int]  # error value -> rows with it


def _finished_chunks(folder: Path) -> dict[int, _Finished]:
    """Every chunk the journal records and whose part is whole, by chunk number.

    A journal line torn by a kill, or a part renamed into place just before the kill but
    not yet recorded, simply means that chunk is tagged again.
    """
    journal = folder / _JOURNAL_FILE
    done: dict[int, _Finished] = {}
    if not journal.is_file():
        return done
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
            number, rows = int(entry["chunk"]), int(entry["rows"])
            errors = {str(k): int(v) for k, v in entry["errors"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        part = _part_path(folder, number)
        try:
            if pq.read_metadata(part).num_rows == rows:
                done[number] = _Finished(rows, errors)
        except (OSError, pa.ArrowException):
            continue
    return done


def _error_counts(table: pa.Table) -> dict[str, int]:
    counts = table.column("error").value_counts().to_pylist()
    return {entry["values"]: entry["counts"] for entry in counts if entry["values"] is not None}


def _record(folder: Path, number: int, finished: _Finished) -> None:
    """Journal a chunk whose part is in place, with its rows and errors: the summary at
    the end adds these up instead of reading every part again."""
    line = {"chunk": number, "rows": finished.rows, "errors": finished.errors}
    with (folder / _JOURNAL_FILE).open("a", encoding="utf-8") as journal:
        journal.write(json.dumps(line, ensure_ascii=False) + "\n")
        journal.flush()
        os.fsync(journal.fileno())


def _input_identity(path: Path) -> dict[str, Any]:
    files = _parquet_files(path) if path.is_dir() else [path]
    stats = [f.stat() for f in files]
    return {
        "input": str(path.resolve()),
        "input_bytes": sum(s.st_size for s in stats),
        "input_mtime_ns": max(s.st_mtime_ns for s in stats),
    }


def _start_or_resume(folder: Path, output: Path, state: dict[str, Any], resume: bool) -> None:
    saved_path = folder / _STATE_FILE
    if folder.is_dir() and saved_path.is_file():
        if not resume:
            raise DataError(
                f"{folder} holds an unfinished run for {output}: add --resume to continue "
                f"it, or delete {folder} to start over"
            )
        saved = json.loads(saved_path.read_text(encoding="utf-8"))
        changed = [key for key in state if saved.get(key) != state[key]]
        if changed:
            listed = ", ".join(f"{k}: {saved.get(k)!r} then, {state[k]!r} now" for k in changed)
            raise DataError(
                f"cannot resume {output}: the unfinished run in {folder} differs ({listed}). "
                f"Rerun with the same input and options, or delete {folder} to start over."
            )
        return
    if output.exists():
        raise DataError(
            f"{output} already exists; choose another --out or delete it"
            + (" (there is no unfinished run to resume)" if resume else "")
        )
    folder.mkdir(parents=True, exist_ok=True)
    _fsync_write(
        saved_path, lambda temp: temp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    )


# --------------------------------------------------------------------------- progress
class _Progress:
    """tqdm on a terminal; otherwise a plain log line every ``interval`` seconds."""

    def __init__(self, total: int, done: int, *, enabled: bool, interval: float = 30.0) -> None:
        self.total, self.done, self.interval = total, done, interval
        self.started = self.last = time.monotonic()
        self.at_start = done
        self.bar: Any = None
        self.enabled = enabled
        if enabled and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=done, unit="rows", unit_scale=True, smoothing=0.1)

    def update(self, rows: int) -> None:
        self.done += rows
        if self.bar is not None:
            self.bar.update(rows)
            return
        now = time.monotonic()
        if self.enabled and (now - self.last >= self.interval or self.done >= self.total):
            self.last = now
            rate = (self.done - self.at_start) / max(now - self.started, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            logger.info(
                "tagged %d/%d rows (%.0f rows/s, ETA %s)",
                self.done,
                self.total,
                rate,
                "?" if eta == float("inf") else time.strftime("%H:%M:%S", time.gmtime(eta)),
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- tag_file
@dataclass(frozen=True)
class TagSummary:
    """What a finished run did."""

    output: str
    rows: int
    chunks: int
    resumed_chunks: int
    errors: dict[str, int]
    model: str
    engine: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Kept:
    """What a stopped run keeps for ``resume=True``: its finished chunks."""

    chunks: int
    rows: int
    total_chunks: int | None  # None: stopped before the rows were counted
    total_rows: int | None
    folder: str

    def __str__(self) -> str:
        if not self.chunks:
            return "no chunk was finished, nothing kept"
        if self.total_chunks is None or self.total_rows is None:
            return f"kept {self.chunks} chunks ({self.rows:,} rows) in {self.folder}"
        return (
            f"kept {self.chunks} of {self.total_chunks} chunks ({self.rows:,} of "
            f"{self.total_rows:,} rows) in {self.folder}"
        )


class TagInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped :func:`tag_file`; ``kept`` says what ``resume=True`` keeps.
    A KeyboardInterrupt still, so callers that stop on one keep doing so."""

    def __init__(self, kept: Kept) -> None:
        super().__init__(f"interrupted; {kept}")
        self.kept = kept


class TagWorkerLostError(WorkerLostError):
    """A worker process died during :func:`tag_file`; ``kept`` says what ``resume=True``
    keeps."""

    def __init__(self, message: str, kept: Kept) -> None:
        super().__init__(f"{message}; {kept}")
        self.kept = kept


def tag_file(
    input_path: str | Path,
    output: str | Path,
    *,
    model: RoutingModel | ModelSource | None = None,
    models_dir: str | Path = "models",
    model_name: str = "default",
    model_version: str | None = None,
    text_col: str = "text",
    title_col: str | None = "title",
    title_required: bool = False,
    top_k: int = 3,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    jobs: int = 1,
    engine: EngineName = "local",
    scheduler: str | None = None,
    dask_processes: bool = True,
    resume: bool = False,
    progress: bool = True,
    csv_encoding: CsvEncoding = "utf-8-sig",
    signing_key: bytes | str | None = None,
) -> TagSummary:
    """Tag every row of ``input_path`` into ``output``; every input column, row and the
    row order are kept. See the module docstring for formats, chunks and resuming.

    The model is ``model`` when given (a loaded model: the local engine with one job only),
    else ``model_name@model_version`` from ``models_dir`` (version None: the active one,
    pinned when the run starts; a resumed run keeps the version it started with).
    ``title_col`` is used when the input has that column; with ``title_required`` its
    absence is an error. ``engine="local"`` uses ``jobs`` processes (1: this process);
    ``engine="dask"`` a ``LocalCluster`` of ``jobs`` workers, or the cluster at
    ``scheduler``. A CSV output is written in ``csv_encoding``: ``"utf-8-sig"`` (with a
    BOM, for Excel) or ``"utf-8"``. With ``signing_key`` the version must carry its signature
    (checked once here; workers check the files against the manifest verified here).

    Stopped part-way, the run keeps its finished chunks: Ctrl-C raises
    :class:`TagInterrupted`, a worker process that dies :class:`TagWorkerLostError`, each
    with ``kept``; the same call with ``resume=True`` continues.
    """
    started = time.monotonic()
    input_path, output = Path(input_path), Path(output)
    out_kind = output_format(output)
    input_format(input_path)
    if engine not in ("local", "dask"):
        raise DataError(f"unknown engine {engine!r}; use 'local' or 'dask'")
    if jobs < 1:
        raise DataError(f"--jobs must be at least 1, not {jobs}")
    if chunk_size < 1:
        raise DataError(f"--chunk-size must be at least 1, not {chunk_size}")
    if scheduler is not None and engine != "dask":
        raise DataError("--scheduler needs --engine dask")
    if csv_encoding not in CSV_ENCODINGS:
        raise DataError(f"unknown CSV encoding {csv_encoding!r}; use {' or '.join(CSV_ENCODINGS)}")
    if input_path.resolve() == output.resolve():
        raise DataError(f"--out {output} is the input file; choose another output path")

    folder = work_dir(output)
    saved_version = _saved_model_version(folder) if resume else None
    source: RoutingModel | ModelSource
    if model is not None:
        source = model
        if not isinstance(model, ModelSource) and (jobs > 1 or engine == "dask"):
            raise DataError("a loaded model runs in this process only: pass a ModelSource")
        ref = model.ref if isinstance(model, ModelSource) else f"{model.name}@{model.version}"
    else:
        source = resolve_source(
            models_dir, model_name, model_version or saved_version, signing_key=signing_key
        )
        ref = source.ref

    chunks = iter_chunks(input_path, chunk_size=chunk_size)
    first = next(chunks)
    if len(first.columns) or len(first):  # an empty JSON Lines file has no columns to check
        require_columns(first, [text_col, title_col if title_required else None], what="input")
    use_title = title_col if title_col is not None and title_col in first.columns else None
    options = TagOptions(text_col=text_col, title_col=use_title, top_k=top_k)

    state = {
        **_input_identity(input_path),
        "chunk_size": chunk_size,
        "text_col": text_col,
        "title_col": use_title,
        "top_k": top_k,
        "model": ref,
    }
    _start_or_resume(folder, output, state, resume)
    done = _finished_chunks(folder)
    resumed = len(done)
    pending: dict[int, pd.DataFrame] = {}
    n_chunks = 0

    def to_tag() -> Iterator[tuple[int, pd.DataFrame]]:
        nonlocal n_chunks
        for number, frame in enumerate(_chain(first, chunks)):
            n_chunks = number + 1
            if number in done:
                continue
            pending[number] = frame
            yield number, _model_columns(frame, options)

    runner = _engine(engine, source, options, jobs=jobs, scheduler=scheduler, dask=dask_processes)
    assembler = _Assembler(output, out_kind, folder)
    tracker: _Progress | None = None
    total: int | None = None
    try:
        # Workers start (and load the model) while the rows are counted for the progress.
        with _ctrl_c_noted() as ctrl_c, runner:
            total = count_rows(input_path, chunk_size=chunk_size)
            logger.info(
                "tagging %s (%d rows) with %s on %s; %d chunk(s) already done",
                input_path,
                total,
                ref,
                engine,
                len(done),
            )
            tracker = _Progress(total, sum(f.rows for f in done.values()), enabled=progress)
            for number in sorted(done):
                assembler.add(number)
            for number, tagged in runner.run(to_tag()):
                if ctrl_c.is_set():  # its KeyboardInterrupt was dropped by a finaliser
                    raise KeyboardInterrupt
                frame = pending.pop(number)
                result = pd.concat(
                    [frame.drop(columns=list(OUTPUT_COLUMNS), errors="ignore"), tagged], axis=1
                )
                unreadable = frame.attrs.get("unreadable")
                if unreadable:
                    marked = result["error"].copy()
                    marked.iloc[unreadable] = UNREADABLE
                    result["error"] = marked
                table = _to_arrow(result)
                _fsync_write(_part_path(folder, number), partial(_write_part, table))
                done[number] = _Finished(len(result), _error_counts(table))
                _record(folder, number, done[number])
                assembler.add(number, table)
                tracker.update(len(result))
        if tracker is not None:
            tracker.close()
            tracker = None
        missing = [n for n in range(n_chunks) if n not in done]
        if missing:  # cannot happen unless the input changed under us
            raise DataError(f"chunks {missing[:5]} of {input_path} were not tagged; rerun --resume")
        parts = [_part_path(folder, n) for n in range(n_chunks)]
        if not assembler.finish(n_chunks):
            _write_output(parts, output, out_kind, csv_encoding)
    except BaseException as error:
        if tracker is not None:
            tracker.close()
        assembler.abandon()
        # What the journal holds, exactly: a Ctrl-C may come between a chunk's journal
        # line and this process noting it.
        done = _finished_chunks(folder)
        if not done:  # nothing finished: leave no work folder that would demand --resume
            shutil.rmtree(folder, ignore_errors=True)
        if isinstance(error, KeyboardInterrupt | WorkerLostError):
            kept = Kept(
                chunks=len(done),
                rows=sum(f.rows for f in done.values()),
                total_chunks=None if total is None else max(1, -(-total // chunk_size)),
                total_rows=total,
                folder=str(folder),
            )
            if isinstance(error, KeyboardInterrupt):
                raise TagInterrupted(kept) from error
            raise TagWorkerLostError(str(error), kept) from error
        raise

    errors: Counter[str] = Counter()
    for n in range(n_chunks):
        errors.update(done[n].errors)
    shutil.rmtree(folder)
    rows = sum(done[n].rows for n in range(n_chunks))
    return TagSummary(
        output=str(output),
        rows=rows,
        chunks=n_chunks,
        resumed_chunks=resumed,
        errors=dict(errors),
        model=ref,
        engine=_describe_engine(engine, jobs, scheduler),
        seconds=round(time.monotonic() - started, 3),
    )


@contextlib.contextmanager
def _ctrl_c_noted() -> Iterator[threading.Event]:
    """Ctrl-C noted as well as raised while a run goes on. Python raises KeyboardInterrupt
    wherever the main thread is; when that is a finaliser (a ``__del__``, a weakref
    callback, run by the garbage collector), it is printed and dropped, and the run would
    go on to the end. The run checks the note after every chunk. Only where Ctrl-C has its
    usual meaning: in the main thread, with Python's default handler (not, say, ignored in a
    background job)."""
    noted = threading.Event()
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield noted
        return

    def note(signum: int, frame: Any) -> None:
        noted.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, note)
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _describe_engine(engine: EngineName, jobs: int, scheduler: str | None) -> str:
    if engine == "dask":
        return f"dask at {scheduler}" if scheduler else f"dask LocalCluster({jobs} workers)"
    return "local, this process" if jobs == 1 else f"local, {jobs} processes"


def _saved_model_version(folder: Path) -> str | None:
    try:
        saved = json.loads((folder / _STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    _, _, version = str(saved.get("model", "")).partition("@")
    return version or None


def _chain(first: pd.DataFrame, rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    yield first
    yield from rest


def _model_columns(frame: pd.DataFrame, options: TagOptions) -> pd.DataFrame:
    """Only what the model reads travels to a worker; a column absent from this chunk (a
    JSON Lines chunk whose records all lack it) is empty, so its rows get an error."""
    columns = [c for c in (options.text_col, options.title_col) if c is not None]
    subset = pd.DataFrame(index=frame.index)
    for column in columns:
        subset[column] = frame[column] if column in frame.columns else None
    return subset


def _engine(
    name: EngineName,
    source: RoutingModel | ModelSource,
    options: TagOptions,
    *,
    jobs: int,
    scheduler: str | None,
    dask: bool,
) -> Engine:
    if name == "dask":
        assert isinstance(source, ModelSource)
        return DaskEngine(source, options, scheduler=scheduler, workers=jobs, processes=dask)
    if jobs > 1:
        assert isinstance(source, ModelSource)
        return ProcessEngine(source, options, jobs=jobs)
    return LocalEngine(source, options)
