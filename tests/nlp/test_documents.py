"""nlp.documents: the one rule from a ticket's fields to the model's document, and the
three clients (training, classification, tagging) reading the same answer from it."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from nlp.documents import compose_documents, frame_documents, prepare_rows
from nlp.errors import DataError
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
