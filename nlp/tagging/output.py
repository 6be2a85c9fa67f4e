"""Tagged chunks as Arrow tables, and the output assembled from them, in order.

Every finished chunk becomes a Parquet part (see :mod:`nlp.tagging.runstate`); the output is
the parts in chunk order: a Parquet output is written while the run goes
(:class:`Assembler`), CSV and JSON Lines outputs at the end (:func:`write_output`).
Formats by extension: Parquet, CSV (``top_k`` and ``review_codes`` as JSON text; UTF-8 with
a BOM by default, so that Excel reads Chinese, or plain UTF-8) or JSON Lines.

Values come out exactly as they went in: input columns keep their types (see
:mod:`nlp.io.values`), integers beyond int64 are written back to JSON Lines as integers
and to CSV as their digits; a column Arrow cannot hold (numbers mixed with text) is text.
"""

from __future__ import annotations

import decimal
import json
import os
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from nlp.errors import UnsupportedFormatError
from nlp.io.values import arrow_to_pandas, pandas_type, records_frame
from nlp.tagging.runstate import fsync_write, part_path

__all__ = [
    "CSV_ENCODINGS",
    "OUTPUT_FORMATS",
    "Assembler",
    "CsvEncoding",
    "OutputFormat",
    "output_format",
    "read_output",
    "to_arrow",
    "write_frame",
    "write_output",
    "write_part",
]

OutputFormat = Literal["csv", "jsonl", "parquet"]
CsvEncoding = Literal["utf-8-sig", "utf-8"]

#: CSV output encodings: UTF-8 with a byte order mark (the default: Excel needs it to read
#: UTF-8, without it Chinese shows as mojibake), or plain UTF-8 for other tools.
CSV_ENCODINGS: tuple[CsvEncoding, ...] = ("utf-8-sig", "utf-8")

OUTPUT_FORMATS: dict[str, OutputFormat] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}

_TOP_K_TYPE = pa.list_(pa.struct([("label", pa.string()), ("score", pa.float64())]))
_UNIT_TYPE = pa.struct([("unit", pa.string()), ("role", pa.string()), ("template", pa.string())])
#: The answer's dispatch fields (nlp.dispatch), typed so that every chunk has one schema
#: whatever its values (an all-null chunk, a chunk without a single mention).
_DISPATCH_TYPES: dict[str, pa.DataType] = {
    "urgency": pa.struct(
        [("level", pa.string()), ("reason", pa.string()), ("terms", pa.list_(pa.string()))]
    ),
    "location": pa.struct(
        [
            ("district", pa.string()),
            ("street", pa.string()),
            ("community", pa.string()),
            ("grid", pa.string()),
            ("place", pa.string()),
            (
                "mentions",
                pa.list_(
                    pa.struct(
                        [
                            ("text", pa.string()),
                            ("start", pa.int64()),
                            ("end", pa.int64()),
                            ("kind", pa.string()),
                            ("field", pa.string()),
                            ("place", pa.string()),
                            ("problem", pa.bool_()),
                        ]
                    )
                ),
            ),
        ]
    ),
    "dispatch": pa.struct(
        [
            ("lead", _UNIT_TYPE),
            ("assist", pa.list_(_UNIT_TYPE)),
            ("rule", pa.string()),
            ("unresolved", pa.list_(pa.string())),
        ]
    ),
    "problems": pa.list_(
        pa.struct(
            [
                ("text", pa.string()),
                ("label", pa.string()),
                ("confidence", pa.float64()),
                ("start", pa.int64()),
                ("end", pa.int64()),
                ("field", pa.string()),
                ("lead", pa.string()),
            ]
        )
    ),
}
#: Output columns of lists and records: JSON text in a CSV.
_LIST_COLUMNS = ("top_k", "review_codes", *_DISPATCH_TYPES)
_OUTPUT_TYPES: dict[str, pa.DataType] = {
    "label": pa.string(),
    "confidence": pa.float64(),
    "top_k": _TOP_K_TYPE,
    "needs_review": pa.bool_(),
    "review_reason": pa.string(),
    "review_codes": pa.list_(pa.string()),
    "model_version": pa.string(),
    "error": pa.string(),
    **_DISPATCH_TYPES,
}


def output_format(path: str | Path) -> OutputFormat:
    """The output's format from its extension."""
    found = OUTPUT_FORMATS.get(Path(path).suffix.lower())
    if found is None:
        raise UnsupportedFormatError(
            f"{path}: unknown output format {Path(path).suffix!r}; end --out with one of "
            f"{', '.join(OUTPUT_FORMATS)}"
        )
    return found


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """A tagged frame as an Arrow table: input columns as they are (a column Arrow cannot
    hold, e.g. mixed numbers and text from JSON Lines, as text), output columns typed."""
    arrays: list[pa.Array] = []
    names: list[str] = []
    for name in frame.columns:
        series = frame[name]
        if name in _OUTPUT_TYPES:
            values = series.tolist() if name in _LIST_COLUMNS else series.array
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


def write_frame(
    frame: pd.DataFrame, path: str | Path, *, csv_encoding: CsvEncoding = "utf-8-sig"
) -> Path:
    """Write a whole frame (an export, a queue) as ``path``'s extension says: CSV (with a BOM
    by default, for Excel; lists as JSON text), JSON Lines or Parquet. Written to a
    temporary file first, so a failed write leaves no half file."""
    output = Path(path)
    kind = output_format(output)
    table = to_arrow(frame)

    def write(temp: Path) -> None:
        if kind == "parquet":
            pq.write_table(table, temp)
            return
        encoding = csv_encoding if kind == "csv" else "utf-8"
        with temp.open("w", encoding=encoding, newline="") as handle:
            if kind == "jsonl":
                for row in table.to_pylist():
                    handle.write(json.dumps(row, ensure_ascii=False, default=_json_default) + "\n")
                return
            text = frame.copy()
            for name in text.columns:
                if text[name].map(lambda v: isinstance(v, list | dict)).any():
                    text[name] = [_as_text(v) for v in text[name].tolist()]
            text.to_csv(handle, index=False)

    fsync_write(output, write)
    return output


def write_part(table: pa.Table, path: Path) -> None:
    """A finished chunk, read once more when the output is assembled: uncompressed and
    without dictionaries, the cheapest to write (the parts take about as much disk as the
    input until the run ends)."""
    pq.write_table(table, path, compression="none", use_dictionary=False)


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


def write_output(
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
                lists = [name for name in _LIST_COLUMNS if name in table.column_names]
                frame = table.drop_columns(lists).to_pandas(types_mapper=pandas_type)
                for name in lists:
                    frame.insert(
                        table.column_names.index(name),
                        name,
                        [_as_text(v) for v in table.column(name).to_pylist()],
                    )
                frame.to_csv(handle, index=False, header=number == 0)

    fsync_write(output, write)


class Assembler:
    """Writes a Parquet output while the run goes, so that no serial pass over the parts
    is left for the end: each part, in chunk order, as soon as it and every part before it
    are finished, in the schema of the first.

    A part whose columns differ beyond what the first schema holds (JSON Lines chunks can)
    stops it, and so do CSV and JSON Lines outputs: :func:`write_output` then assembles the
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
                table = pq.read_table(part_path(self.folder, self.next))
            self._write(table.replace_schema_metadata())
            self.next += 1

    def _write(self, table: pa.Table) -> None:
        if self.writer is None or self.schema is None:
            self.schema = _unify([table.schema])
            self.writer = pq.ParquetWriter(self.temp, self.schema)
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
        table = pq.read_table(path)
        frame = arrow_to_pandas(table)
        for name in _LIST_COLUMNS:
            if name in table.column_names:
                frame[name] = table.column(name).to_pylist()
        return frame
    if kind == "jsonl":
        with path.open(encoding="utf-8-sig") as handle:
            records = [json.loads(line) for line in handle if line.strip()]
        return records_frame(records, []) if records else pd.DataFrame()
    # With or without the BOM written for Excel.
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    for name in _LIST_COLUMNS:
        if name in frame.columns:
            frame[name] = [json.loads(v) if v else None for v in frame[name]]
    return frame
