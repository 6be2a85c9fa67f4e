"""Every request that carries one ticket (classify, similar) checks its title and text in
one place, :class:`service.schemas.TextOrTitleRequest`: the same inputs get the same errors
from each, at the same paths, with the same messages."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from service.schemas import (
    NO_TEXT_MESSAGE,
    ClassifyRequest,
    SimilarRequest,
    TextOrTitleRequest,
)
from service.settings import MAX_TEXT_CHARS, MAX_TITLE_CHARS

REQUESTS = [
    pytest.param(ClassifyRequest, id="classify"),
    pytest.param(SimilarRequest, id="similar"),
]


def _errors(model: type[BaseModel], body: dict[str, Any]) -> list[tuple[tuple[Any, ...], str, str]]:
    try:
        model.model_validate(body)
    except ValidationError as error:
        return [(e["loc"], e["type"], e["msg"]) for e in error.errors()]
    return []


@pytest.mark.parametrize("model", REQUESTS)
def test_each_ticket_request_is_a_text_or_title_request(model: type[BaseModel]) -> None:
    assert issubclass(model, TextOrTitleRequest)
    # Its validators are the base's, not a copy of them.
    assert "_text_or_title" not in vars(model)
    assert "_title_is_unicode" not in vars(model)
    assert list(model.model_fields)[:2] == ["title", "text"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({}, [(("text",), "text_or_title", NO_TEXT_MESSAGE)], id="neither"),
        pytest.param(
            {"title": " ", "text": "\n\t"},
            [(("text",), "text_or_title", NO_TEXT_MESSAGE)],
            id="both-blank",
        ),
        pytest.param({"title": "油烟扰民"}, [], id="title-only"),
        pytest.param({"text": "烧烤摊占道经营"}, [], id="text-only"),
        pytest.param(
            {"title": 5},
            [(("title",), "string_type", "Input should be a valid string")],
            id="title-not-a-string",
        ),
    ],
)
@pytest.mark.parametrize("model", REQUESTS)
def test_the_same_ticket_gets_the_same_errors(
    model: type[BaseModel], body: dict[str, Any], expected: list[tuple[Any, ...]]
) -> None:
    assert _errors(model, body) == expected


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"title": "\udfff", "text": "烧烤摊"}, id="surrogate-title"),
        pytest.param({"text": "\ud800"}, id="surrogate-text"),
        pytest.param({"title": "\udfff"}, id="surrogate-title-no-text"),
        pytest.param({"title": "x" * (MAX_TITLE_CHARS + 1)}, id="title-too-long"),
        pytest.param({"title": "", "text": "x" * (MAX_TEXT_CHARS + 1)}, id="text-too-long"),
    ],
)
def test_classify_and_similar_refuse_a_bad_ticket_alike(body: dict[str, Any]) -> None:
    errors = _errors(ClassifyRequest, body)
    assert errors
    assert _errors(SimilarRequest, body) == errors
