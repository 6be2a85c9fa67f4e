"""nlp.io: one reader for every client. A whole read (train, evaluate, notebooks) is the
chunks a tagging run reads, put together, for every format."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nlp.errors import DataError, UnsupportedFormatError
from nlp.io import INPUT_FORMATS, count_rows, input_format, iter_chunks, read_table

ROWS = pd.DataFrame(
    {
        "id": ["007", "a2", "a3", "a4", "a5"],
        "title": ["油烟扰民", "", "停水", "路灯", "噪音"],
        "text": ["楼下烧烤摊天天占道经营", "小区门口垃圾三天没人清", "12345", "NA", "夜里施工"],
        "label": ["城管执法", "街道社区/物业", "水务", "市政", "环保"],
    }
)


def _csv(encoding: str) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        target = folder / "tickets.csv"
        ROWS.to_csv(target, index=False, encoding=encoding)
        return target

    return write


def _jsonl_with_dates(folder: Path) -> Path:
    """A column named like a date, which pandas.read_json would turn into timestamps."""
    target = folder / "tickets.jsonl"
    lines = []
    for i, row in enumerate(ROWS.to_dict(orient="records"), start=1):
        record = {**row, "created_at": f"2024-05-0{i}"}
        if i != 4:  # the fourth record has no "n"
            record["n"] = i
        lines.append(json.dumps(record, ensure_ascii=False))
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def _xlsx(folder: Path) -> Path:
    target = folder / "tickets.xlsx"
    ROWS.to_excel(target, index=False, engine="openpyxl")
    return target


def _parquet_folder(folder: Path) -> Path:
    """Two files written by a tool other than pandas (no pandas metadata to restore types
    from): an integer column with a missing value stays integer, not float."""
    parts = folder / "parts"
    parts.mkdir()
    table = pa.Table.from_pydict({**ROWS.to_dict(orient="list"), "n": [1, None, 3, 4, 5]})
    pq.write_table(table.slice(0, 3), parts / "part-0.parquet")
    pq.write_table(table.slice(3), parts / "part-1.parquet")
    return parts


WRITERS = [
    pytest.param(_csv("utf-8"), id="csv-utf8"),
    pytest.param(_csv("utf-8-sig"), id="csv-utf8-bom"),
    pytest.param(_csv("gb18030"), id="csv-gb18030"),
    pytest.param(_jsonl_with_dates, id="jsonl-date-column"),
    pytest.param(_xlsx, id="xlsx"),
    pytest.param(_parquet_folder, id="parquet-folder"),
]


@pytest.mark.parametrize("write", WRITERS)
def test_a_whole_read_is_the_chunks_put_together(
    write: Callable[[Path], Path], tmp_path: Path
) -> None:
    source = write(tmp_path)
    whole = read_table(source)
    chunks = list(iter_chunks(source, chunk_size=2))
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    pd.testing.assert_frame_equal(whole, pd.concat(chunks, ignore_index=True))
    assert count_rows(source) == len(whole) == len(ROWS)
    # Text stays text, exactly: leading zeros, digits, "NA" are not numbers or missing.
    assert whole["id"].tolist()[0] == "007"
    assert whole["text"].tolist() == ROWS["text"].tolist()


def test_json_lines_dates_stay_text_and_integers_stay_integers(tmp_path: Path) -> None:
    whole = read_table(_jsonl_with_dates(tmp_path))
    assert whole["created_at"].tolist() == [f"2024-05-0{i}" for i in range(1, 6)]
    assert str(whole["n"].dtype) == "Int64"
    assert whole["n"].isna().tolist() == [False, False, False, True, False]


def test_parquet_integers_with_missing_values_stay_integers(tmp_path: Path) -> None:
    whole = read_table(_parquet_folder(tmp_path))
    assert str(whole["n"].dtype) == "Int64"
    assert whole["n"].tolist()[2:] == [3, 4, 5]


def test_json_lines_lone_surrogates_are_replaced_in_a_whole_read(tmp_path: Path) -> None:
    source = tmp_path / "tickets.jsonl"
    source.write_text('{"text": "路灯\\udfff坏了", "label": "市政"}\n', encoding="utf-8")
    assert read_table(source)["text"].tolist() == ["路灯\ufffd坏了"]


def test_a_broken_json_lines_record_is_named_by_a_whole_read(tmp_path: Path) -> None:
    """Tagging keeps the row (marked unreadable); training must not learn from a blank."""
    source = tmp_path / "tickets.jsonl"
    source.write_text('{"text": "停水"}\n\n[1, 2]\n{"text": "停电"}\n', encoding="utf-8")
    (chunk,) = iter_chunks(source)
    assert len(chunk) == 3
    assert chunk.attrs["unreadable"] == [1]
    with pytest.raises(DataError, match=r"record\(s\) 2 .* not JSON objects"):
        read_table(source)


def test_xls_is_one_format_for_every_client(tmp_path: Path) -> None:
    """``.xls`` goes to the Excel reader (python-calamine reads it) for tagging as for
    training: a damaged workbook is a read error, not an unknown format."""
    assert INPUT_FORMATS[".xls"] == INPUT_FORMATS[".xlsx"] == "excel"
    source = tmp_path / "tickets.xls"
    source.write_bytes(b"not a workbook")
    assert input_format(source) == "excel"
    with pytest.raises(DataError, match="cannot be read as excel") as raised:
        list(iter_chunks(source))
    assert not isinstance(raised.value, UnsupportedFormatError)
    with pytest.raises(DataError, match="cannot be read as excel"):
        read_table(source)


def test_a_header_only_csv_reads_as_no_rows_with_its_columns(tmp_path: Path) -> None:
    source = tmp_path / "tickets.csv"
    source.write_text("id,text\n", encoding="utf-8")
    whole = read_table(source)
    assert list(whole.columns) == ["id", "text"]
    assert len(whole) == count_rows(source) == 0


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(b"\xff\xfe bad\n", id="neither-in-the-first-megabyte"),
        pytest.param(b"x" * (1 << 21) + b"\xff\xfe bad\n", id="utf-8-then-broken"),
    ],
)
def test_text_in_no_known_encoding_is_named_with_what_to_do(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "tickets.csv"
    path.write_bytes("id,text\n1,停水三天了\n2,".encode() + tail)
    with pytest.raises(
        DataError, match=r"cannot be read as csv: it is neither UTF-8 nor GB18030 .* Save the"
    ):
        read_table(path)


def test_a_utf16_file_is_named_as_utf16(tmp_path: Path) -> None:
    path = tmp_path / "tickets.csv"
    path.write_bytes("id,text\n1,停水三天了\n".encode("utf-16"))
    with pytest.raises(DataError, match=r"it is UTF-16 text .* Save the file as UTF-8"):
        read_table(path)
