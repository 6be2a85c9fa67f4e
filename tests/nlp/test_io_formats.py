"""nlp.io: every supported format read whole, and the errors of files that cannot be."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from nlp.errors import DataError, UnsupportedFormatError
from nlp.io import INPUT_FORMATS, read_table, read_tables

ROWS = pd.DataFrame(
    {
        "id": ["a1", "a2", "a3"],
        "title": ["油烟扰民", "", "停水"],
        "text": ["楼下烧烤摊天天占道经营，油烟太大了", "小区门口垃圾三天没人清", "12345"],
        "label": ["城管执法", "街道社区/物业", "水务"],
    }
)


def _csv(encoding: str) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        target = path / "tickets.csv"
        ROWS.to_csv(target, index=False, encoding=encoding)
        return target

    return write


def _xlsx(path: Path) -> Path:
    target = path / "tickets.xlsx"
    ROWS.to_excel(target, index=False, engine="openpyxl")
    return target


def _parquet(path: Path) -> Path:
    target = path / "tickets.parquet"
    ROWS.to_parquet(target, index=False)
    return target


def _jsonl(path: Path) -> Path:
    target = path / "tickets.jsonl"
    lines = [json.dumps(row, ensure_ascii=False) for row in ROWS.to_dict(orient="records")]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def _parquet_folder(path: Path) -> Path:
    folder = path / "parts"
    folder.mkdir()
    ROWS.iloc[:2].to_parquet(folder / "part-0.parquet", index=False)
    ROWS.iloc[2:].to_parquet(folder / "part-1.parquet", index=False)
    return folder


WRITERS = [
    pytest.param(_csv("utf-8"), id="csv-utf8"),
    pytest.param(_csv("utf-8-sig"), id="csv-utf8-bom"),
    pytest.param(_csv("gb18030"), id="csv-gb18030"),
    pytest.param(_xlsx, id="xlsx"),
    pytest.param(_parquet, id="parquet"),
    pytest.param(_jsonl, id="jsonl"),
    pytest.param(_parquet_folder, id="parquet-folder"),
]


@pytest.mark.parametrize("write", WRITERS)
def test_read_table(write: Callable[[Path], Path], tmp_path: Path) -> None:
    frame = read_table(write(tmp_path))
    assert list(frame.columns) == list(ROWS.columns)
    for column in ROWS.columns:
        assert frame[column].fillna("").astype(str).tolist() == ROWS[column].tolist(), column
    # The text "12345" stays text: no format turns it into a number.
    assert frame["text"].iloc[2] == "12345"


def test_read_formats_are_the_documented_ones() -> None:
    assert {".csv", ".xlsx", ".parquet", ".jsonl"} <= set(INPUT_FORMATS)


def test_unknown_extension_names_the_formats(tmp_path: Path) -> None:
    path = tmp_path / "tickets.txt"
    path.write_text("text,label\n停水,水务\n", encoding="utf-8")
    with pytest.raises(UnsupportedFormatError) as raised:
        read_table(path)
    message = str(raised.value)
    assert "'.txt'" in message
    for suffix in (".csv", ".xlsx", ".parquet", ".jsonl"):
        assert suffix in message
    assert isinstance(raised.value, DataError)
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param("missing.csv", None, "no such file", id="missing-file"),
        pytest.param("empty-folder", "folder", "holds none", id="folder-without-parquet"),
        pytest.param("broken.parquet", b"not parquet", "cannot be read", id="broken-parquet"),
        pytest.param("broken.jsonl", b"{not json", "cannot be read", id="broken-jsonl"),
    ],
)
def test_unreadable_input_is_a_data_error(
    tmp_path: Path, name: str, content: bytes | str | None, message: str
) -> None:
    path = tmp_path / name
    if content == "folder":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_table(path)


def test_read_tables_needs_at_least_one_file() -> None:
    with pytest.raises(DataError, match="no input files"):
        read_tables([])


# --------------------------------------------------------------------------- columns
