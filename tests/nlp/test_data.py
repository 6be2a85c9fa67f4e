"""Reading every supported format (nlp.io); validating columns and composing documents
(nlp.documents)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nlp.documents import compose_document, prepare_rows
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


def _csv_utf8(path: Path) -> Path:
    target = path / "tickets.csv"
    ROWS.to_csv(target, index=False, encoding="utf-8")
    return target


def _csv_utf8_bom(path: Path) -> Path:
    target = path / "tickets.csv"
    ROWS.to_csv(target, index=False, encoding="utf-8-sig")
    return target


def _csv_gb18030(path: Path) -> Path:
    target = path / "tickets.csv"
    ROWS.to_csv(target, index=False, encoding="gb18030")
    return target


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
    pytest.param(_csv_utf8, id="csv-utf8"),
    pytest.param(_csv_utf8_bom, id="csv-utf8-bom"),
    pytest.param(_csv_gb18030, id="csv-gb18030"),
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


@pytest.mark.parametrize(
    ("frame", "options", "missing"),
    [
        pytest.param(
            pd.DataFrame({"body": ["停水"], "label": ["水务"]}),
            {"text_col": "text", "title_col": "title", "label_col": "label"},
            "'text'",
            id="no-text-no-title",
        ),
        pytest.param(
            pd.DataFrame({"text": ["停水"], "dept": ["水务"]}),
            {"text_col": "text", "label_col": "label"},
            "'label'",
            id="no-label",
        ),
    ],
)
def test_a_missing_column_error_names_the_existing_columns(
    frame: pd.DataFrame, options: dict[str, str], missing: str
) -> None:
    with pytest.raises(DataError) as raised:
        prepare_rows(frame, **options)
    message = str(raised.value)
    assert missing in message
    for column in frame.columns:
        assert repr(column) in message


# --------------------------------------------------------------------------- documents

COMPOSE_CASES = [
    pytest.param("楼下油烟太大", None, "楼下油烟太大", id="body-only"),
    pytest.param(None, "油烟扰民", "油烟扰民", id="title-only"),
    pytest.param("楼下油烟太大", "油烟扰民", "油烟扰民\n楼下油烟太大", id="title-then-body"),
    pytest.param("  楼下油烟太大 ", " 油烟扰民\n", "油烟扰民\n楼下油烟太大", id="stripped"),
    pytest.param("", "", None, id="both-empty"),
    pytest.param("   ", None, None, id="whitespace-only"),
    pytest.param(float("nan"), "停水", "停水", id="nan-body"),
    pytest.param(None, None, None, id="both-none"),
    pytest.param(12345, None, None, id="number-is-not-text"),
]


@pytest.mark.parametrize(("text", "title", "expected"), COMPOSE_CASES)
def test_compose_document(text: object, title: object, expected: str | None) -> None:
    assert compose_document(text, title) == expected


def test_body_only_and_title_only_files_combine(tmp_path: Path) -> None:
    bodies = tmp_path / "bodies.csv"
    titles = tmp_path / "titles.csv"
    pd.DataFrame(
        {"text": ["楼下烧烤油烟太大", "小区停水三天"], "label": ["城管执法", "水务"]}
    ).to_csv(bodies, index=False)
    pd.DataFrame({"title": ["供电不稳", "噪音扰民"], "label": ["供电", "生态环境"]}).to_csv(
        titles, index=False
    )
    rows = prepare_rows(read_tables([bodies, titles]), label_col="label")
    assert rows.documents == ["楼下烧烤油烟太大", "小区停水三天", "供电不稳", "噪音扰民"]
    assert rows.labels == ["城管执法", "水务", "供电", "生态环境"]
    assert rows.skipped == {}


def test_title_only_frame_without_a_text_column() -> None:
    frame = pd.DataFrame({"title": ["供电不稳"], "label": ["供电"]})
    rows = prepare_rows(frame, label_col="label")
    assert rows.documents == ["供电不稳"]


def test_empty_and_non_text_rows_are_counted_and_skipped() -> None:
    frame = pd.DataFrame(
        {
            "text": ["停水三天", "", "   ", None, np.nan, 42, "路灯不亮", "井盖丢了"],
            "label": ["水务", "水务", "水务", "水务", "水务", "水务", "", None],
        }
    )
    rows = prepare_rows(frame, title_col=None, label_col="label")
    assert rows.documents == ["停水三天"]
    assert rows.labels == ["水务"]
    # 42 is not text: the same reason tag_frame gives such a row (one document rule)
    assert rows.skipped == {"empty_text": 4, "not_text": 1, "missing_label": 2}
    assert rows.n_skipped == 7
    assert list(rows.kept_index) == [0]


def test_unlabelled_rows_keep_their_index() -> None:
    frame = pd.DataFrame({"text": ["", "停水", None, "停电"]}, index=[10, 11, 12, 13])
    rows = prepare_rows(frame)
    assert rows.documents == ["停水", "停电"]
    assert rows.labels is None
    assert list(rows.kept_index) == [11, 13]
    assert rows.skipped == {"empty_text": 2}


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param(pd.array([1, pd.NA, 2], dtype="Int64"), id="nullable-integers"),
        pytest.param(pd.Series(["水务", None, "市政"], dtype=object), id="none-in-text"),
        pytest.param(pd.Series([1.0, float("nan"), 2.0]), id="float-nan"),
    ],
)
def test_a_missing_label_is_skipped_whatever_the_column_type(labels: object) -> None:
    """JSON Lines and Parquet columns keep their types (nlp.io), so a missing label may be
    pd.NA or None as well as NaN: never a label "<NA>" or "None"."""
    frame = pd.DataFrame({"text": ["停水了", "路灯坏了", "噪音扰民"], "label": labels})
    rows = prepare_rows(frame, label_col="label")
    assert rows.skipped == {"missing_label": 1}
    assert rows.kept_index.tolist() == [0, 2]
    assert rows.labels == [str(labels[0]).strip(), str(labels[2]).strip()]
