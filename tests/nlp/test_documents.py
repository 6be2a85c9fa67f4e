"""nlp.documents: the one rule from a ticket's fields to the model's document, and the
three clients (training, classification, tagging) reading the same answer from it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nlp.documents import (
    compose_document,
    compose_documents,
    frame_documents,
    layout,
    prepare_rows,
)
from nlp.errors import DataError
from nlp.io import read_tables
from nlp.model import Prediction, RoutingModel
from nlp.tagging.frame import tag_frame

# (text, title) -> the reason the ticket has no document (None: it has one)
TICKETS: list[tuple[object, object, str | None]] = [
    ("停水三天了", None, None),
    ("", "停电", None),
    (None, "路灯坏了", None),
    ("  井盖丢了 ", "  ", None),
    ("", "", "empty_text"),
    ("   \n\t", None, "empty_text"),
    (None, None, "empty_text"),
    (np.nan, np.nan, "empty_text"),
    (pd.NA, None, "empty_text"),
    (42, None, "not_text"),
    (3.5, "", "not_text"),
    (None, 7, "not_text"),
    (["停水"], None, "not_text"),
]


def test_reasons() -> None:
    found = compose_documents([t for t, _, _ in TICKETS], [h for _, h, _ in TICKETS])
    assert found.errors == [reason for _, _, reason in TICKETS]
    assert found.positions == [i for i, (_, _, reason) in enumerate(TICKETS) if reason is None]
    assert found.documents == ["停水三天了", "停电", "路灯坏了", "井盖丢了"]


def test_titles_must_match_texts() -> None:
    with pytest.raises(DataError, match="2 texts but 1 titles"):
        compose_documents(["a", "b"], ["t"])


def test_a_named_column_must_exist() -> None:
    with pytest.raises(DataError, match="'body'"):
        frame_documents(pd.DataFrame({"text": ["停水"]}), text_col="body")


def test_training_classification_and_tagging_read_the_same_documents(
    tiny_model: RoutingModel,
) -> None:
    """Before there was one rule, training called a number 'empty_text', tagging called it
    'not_text', and pandas' NA was 'not_text' in tagging."""
    frame = pd.DataFrame(
        {"text": [t for t, _, _ in TICKETS], "title": [h for _, h, _ in TICKETS]}, dtype=object
    )
    frame["label"] = "水务"
    wanted = [i for i, (_, _, reason) in enumerate(TICKETS) if reason is None]
    reasons = Counter(reason for _, _, reason in TICKETS if reason is not None)

    trained = prepare_rows(frame, label_col="label")
    assert list(trained.kept_index) == wanted
    assert trained.skipped == dict(reasons)

    tagged = tag_frame(frame, tiny_model, title_col="title")
    assert tagged["error"].tolist() == [
        pd.NA if reason is None else reason for _, _, reason in TICKETS
    ]

    answers = tiny_model.answer(compose_documents(frame["text"].array, frame["title"].array))
    assert [i for i, a in enumerate(answers) if isinstance(a, Prediction)] == wanted

    for position, (text, title, reason) in enumerate(TICKETS):
        if reason is None:
            [prediction] = tiny_model.classify([text], [title])  # type: ignore[list-item]
            assert prediction == answers[position]
        else:
            with pytest.raises(DataError, match="no text and no title"):
                tiny_model.classify([text], [title])  # type: ignore[list-item]


# --------------------------------------------------------------------------- prepare_rows


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


@pytest.mark.parametrize(
    ("text", "title", "word", "expected"),
    [
        pytest.param("停水三天了", None, "停水", ("text", 0, 2), id="body-only"),
        pytest.param("  井盖丢了 ", None, "井盖", ("text", 2, 4), id="body-with-spaces"),
        pytest.param("停水三天了", " 停水 ", "停水", ("title", 1, 3), id="title"),
        pytest.param("\n停水三天了", "紧急", "三天", ("text", 3, 5), id="body-after-title"),
        pytest.param(None, "  路灯坏了", "坏了", ("title", 4, 6), id="title-only"),
    ],
)
def test_layout_locates_document_characters_in_the_fields_as_sent(
    text: str | None, title: str | None, word: str, expected: tuple[str, int, int]
) -> None:
    document = compose_document(text, title)
    assert document is not None
    start = document.rindex(word)  # the body's occurrence, when the title has it too
    if expected[0] == "title":
        start = document.index(word)
    located = layout(text, title).locate(start, start + len(word))
    assert located == expected
    field, begin, end = expected
    assert {"text": text, "title": title}[field][begin:end] == word  # type: ignore[index]


def test_layout_refuses_a_span_across_title_and_body() -> None:
    assert layout("停水", "紧急").locate(1, 4) is None


def test_documents_give_layouts_only_for_rows_with_a_document() -> None:
    found = compose_documents(["停水", "", " 停电"], ["紧急", None, None])
    assert [(lay.title_start, lay.text_start) for lay in found.layouts()] == [(0, 0), (None, 1)]
