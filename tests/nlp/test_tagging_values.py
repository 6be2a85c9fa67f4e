"""Batch tagging keeps every value exactly: ids of 1 to 30 digits through every input and
output format and engine, with and without bad lines; column types; the CSV encoding."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nlp.errors import DataError
from nlp.tagging.output import read_output
from nlp.tagging.run import tag_file

#: Ids of 1 to 30 digits, all different: 19 digits and more pass int64's range.
IDS = [int(("9876543210" * 3)[:digits]) for digits in range(1, 31)]
TEXTS = ["楼下烧烤摊油烟太大", "路灯坏了，晚上很黑", "小区停水三天了"]
INPUTS = ["csv", "jsonl", "parquet", "xlsx"]
OUTPUTS = ["csv", "jsonl", "parquet"]


def _rows(bad: bool) -> list[dict[str, Any]]:
    """One ticket per id; with ``bad``, rows without usable text between them."""
    rows: list[dict[str, Any]] = []
    for number, ticket in enumerate(IDS):
        rows.append({"id": ticket, "text": TEXTS[number % 3]})
        if bad and number % 7 == 3:
            rows.append({"id": None, "text": ""})
    return rows


def _write(kind: str, rows: list[dict[str, Any]], path: Path, *, bad: bool) -> list[Any]:
    """``rows`` in format ``kind``; the ids as the output must give them back (None: a row
    whose id is missing). CSV and Excel hold text: their ids are digits ("" when missing),
    and 7 is written ``007``."""
    if kind == "jsonl":
        lines = [json.dumps(row, ensure_ascii=False) for row in rows]
        expected: list[Any] = [row["id"] for row in rows]
        if bad:  # unreadable lines: kept as rows without an id
            for at, junk in [(2, "{not json"), (9, "[1, 2]"), (20, '{"id": 1' + "0" * 5000 + "}")]:
                lines.insert(at, junk)
                expected.insert(at, None)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return expected
    if kind == "parquet":
        table = pa.table(
            {
                "id": pa.array([row["id"] for row in rows], type=pa.decimal128(38, 0)),
                "text": [row["text"] for row in rows],
            }
        )
        pq.write_table(table, path)
        return [row["id"] for row in rows]
    texts = [
        {"id": "007" if row["id"] == 7 else ("" if row["id"] is None else str(row["id"]))}
        | {"text": row["text"]}
        for row in rows
    ]
    frame = pd.DataFrame(texts, dtype=str)
    if kind == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_excel(path, index=False)
    return [t["id"] for t in texts]


def _output_ids(path: Path) -> list[Any]:
    """The ``id`` column of an output, read without the library (None: missing)."""
    if path.suffix == ".jsonl":
        return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return [row["id"] for row in csv.DictReader(handle)]
    column = pq.read_table(path).column("id")
    kind = column.type
    if pa.types.is_string(kind):
        return column.to_pylist()
    assert pa.types.is_integer(kind) or (pa.types.is_decimal(kind) and kind.scale == 0), kind
    return [None if v is None else int(v) for v in column.to_pylist()]


def _assert_ids(out: Path, expected: list[Any]) -> None:
    got = _output_ids(out)
    assert len(got) == len(expected)
    for position, (have, want) in enumerate(zip(got, expected, strict=True)):
        if out.suffix == ".csv":
            want = "" if want is None else str(want)  # a CSV cell is text: the same digits
        assert have == want, (position, have, want)
        assert type(have) is type(want), (position, have, want)


@pytest.mark.parametrize("bad", [False, True], ids=["clean", "bad-lines"])
@pytest.mark.parametrize("out_kind", OUTPUTS)
@pytest.mark.parametrize("in_kind", INPUTS)
def test_ids_of_1_to_30_digits_come_out_exactly(
    in_kind: str, out_kind: str, bad: bool, models_dir: Path, tmp_path: Path
) -> None:
    """Ints stay ints (none becomes a float: two 19-digit ids were once one), longer ones
    stay exact, text stays text (007), in chunks of 7 so that chunks differ in width."""
    source = tmp_path / f"in.{in_kind}"
    expected = _write(in_kind, _rows(bad), source, bad=bad)
    out = tmp_path / f"out.{out_kind}"
    summary = tag_file(source, out, models_dir=models_dir, chunk_size=7, progress=False)
    assert summary.rows == len(expected)
    assert sum(summary.errors.values()) == len(expected) - len(IDS)  # every ticket tagged
    _assert_ids(out, expected)


@pytest.mark.parametrize(
    ("options", "out_kind"),
    [
        pytest.param({"jobs": 2}, "jsonl", id="jobs-2"),
        pytest.param({"engine": "dask", "jobs": 1, "dask_processes": False}, "csv", id="dask"),
    ],
)
@pytest.mark.parametrize("in_kind", INPUTS)
def test_every_engine_keeps_the_ids(
    in_kind: str, options: dict[str, Any], out_kind: str, models_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / f"in.{in_kind}"
    expected = _write(in_kind, _rows(True), source, bad=True)
    for kind in (out_kind, "parquet"):
        out = tmp_path / f"out.{kind}"
        tag_file(source, out, models_dir=models_dir, chunk_size=7, progress=False, **options)
        _assert_ids(out, expected)


def test_read_output_keeps_integers(models_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    expected = _write("jsonl", _rows(True), source, bad=True)
    for kind in ("jsonl", "parquet"):
        out = tmp_path / f"out.{kind}"
        tag_file(source, out, models_dir=models_dir, progress=False)
        ids = read_output(out)["id"].tolist()
        assert [None if pd.isna(v) else int(v) for v in ids] == expected
        assert all(not isinstance(v, float) for v in ids)


# --------------------------------------------------------------------------- types
PARQUET_TYPES = pa.table(
    {
        "id": pa.array([1, None, 2**62 + 1], pa.int64()),
        "small": pa.array([1, 2, None], pa.int16()),
        "unsigned": pa.array([1, 2, 2**64 - 1], pa.uint64()),
        "amount": pa.array([0.1, None, 1e300]),
        "urgent": pa.array([True, None, False]),
        "day": pa.array([dt.date(2024, 1, 2), None, dt.date(1, 1, 1)]),
        "at": pa.array(
            [dt.datetime(2024, 1, 2, 3, 4, 5, 6), None, dt.datetime(2999, 1, 1)],
            pa.timestamp("us", tz="Asia/Shanghai"),
        ),
        "at_ms": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5), None, None], pa.timestamp("ms")),
        "fee": pa.array(
            [decimal.Decimal("1.50"), None, decimal.Decimal("-99999999.99")], pa.decimal128(10, 2)
        ),
        "code": pa.array(["007", None, ""]),
        "text": ["路灯坏了", "", "小区停水三天了"],
    }
)


@pytest.mark.parametrize("chunk_size", [1, 2, 10])
def test_parquet_output_keeps_the_input_types(
    chunk_size: int, models_dir: Path, tmp_path: Path
) -> None:
    """Every column keeps its Arrow type and values, missing values included."""
    source = tmp_path / "in.parquet"
    pq.write_table(PARQUET_TYPES, source)
    out = tmp_path / "out.parquet"
    tag_file(source, out, models_dir=models_dir, chunk_size=chunk_size, progress=False)
    tagged = pq.read_table(out)
    for field in PARQUET_TYPES.schema:
        assert tagged.schema.field(field.name).type == field.type, field.name
        assert tagged.column(field.name).to_pylist() == PARQUET_TYPES.column(field.name).to_pylist()


def test_parquet_values_in_text_outputs(models_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    pq.write_table(PARQUET_TYPES, source)
    tag_file(source, tmp_path / "out.jsonl", models_dir=models_dir, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [1, None, 2**62 + 1]
    assert [r["unsigned"] for r in rows] == [1, 2, 2**64 - 1]
    assert [r["urgent"] for r in rows] == [True, None, False]
    assert [r["fee"] for r in rows] == ["1.50", None, "-99999999.99"]
    tag_file(source, tmp_path / "out.csv", models_dir=models_dir, progress=False)
    cells = read_output(tmp_path / "out.csv")
    assert cells["id"].tolist() == ["1", "", str(2**62 + 1)]
    assert cells["urgent"].tolist() == ["True", "", "False"]
    assert cells["code"].tolist() == ["007", "", ""]


def test_csv_input_stays_text(models_dir: Path, tmp_path: Path) -> None:
    """CSV has no types: cells stay text, so a leading zero or a long id keeps its digits."""
    source = tmp_path / "in.csv"
    source.write_text(
        "id,when,text\n007,2024-01-02,路灯坏了\n12345678901234567890123,,停水\n", encoding="utf-8"
    )
    out = tmp_path / "out.parquet"
    tag_file(source, out, models_dir=models_dir, progress=False)
    tagged = pq.read_table(out)
    assert tagged.column("id").to_pylist() == ["007", "12345678901234567890123"]
    assert tagged.schema.field("id").type == pa.string()
    assert tagged.column("when").to_pylist() == ["2024-01-02", ""]


# --------------------------------------------------------------------------- CSV encoding
@pytest.mark.parametrize(
    ("options", "bom"),
    [({}, True), ({"csv_encoding": "utf-8-sig"}, True), ({"csv_encoding": "utf-8"}, False)],
    ids=["default", "utf-8-sig", "utf-8"],
)
def test_csv_output_has_a_bom_for_excel_unless_asked(
    options: dict[str, Any], bom: bool, models_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,楼下烧烤摊油烟太大\n2,路灯坏了\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    tag_file(source, out, models_dir=models_dir, progress=False, chunk_size=1, **options)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfid,") is bom
    assert raw.count(b"\xef\xbb\xbf") == int(bom)  # one BOM, not one per chunk
    assert raw.decode("utf-8-sig").startswith("id,text,label,")
    # Our own output reads back, and tags again: the BOM is not part of the first name.
    assert read_output(out)["id"].tolist() == ["1", "2"]
    again = tmp_path / "again.jsonl"
    tag_file(out, again, models_dir=models_dir, progress=False)
    rows = [json.loads(line) for line in again.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["1", "2"]
    assert not again.read_bytes().startswith(b"\xef\xbb\xbf")  # JSON Lines: never a BOM


def test_unknown_csv_encoding_is_a_clear_error(models_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("text\n路灯坏了\n", encoding="utf-8")
    with pytest.raises(DataError, match="unknown CSV encoding 'gbk'; use utf-8-sig or utf-8"):
        tag_file(source, tmp_path / "out.csv", models_dir=models_dir, csv_encoding="gbk")  # type: ignore[arg-type]
