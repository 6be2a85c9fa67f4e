"""POST /v1/classify and /v1/classify/batch: the answer's shape and meaning."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from service_testing import TICKET

from nlp.model import RoutingModel
from service.settings import Settings


def test_classify_answers_department_confidence_runners_up_and_terms(
    client: TestClient, tiny_model: RoutingModel
) -> None:
    response = client.post("/v1/classify", json={"text": TICKET, "title": "油烟扰民", "id": "t-1"})
    assert response.status_code == 200
    body = response.json()
    [expected] = tiny_model.classify([TICKET], ["油烟扰民"], top_k=3, explain=8)
    assert body["id"] == "t-1"
    assert body["label"] == expected.label
    assert body["confidence"] == pytest.approx(expected.confidence)
    assert [item["label"] for item in body["top_k"]] == [label for label, _ in expected.top_k]
    assert len(body["top_k"]) == 3
    assert body["top_k"][0]["score"] >= body["top_k"][1]["score"] >= body["top_k"][2]["score"]
    assert body["needs_review"] is expected.needs_review
    assert body["model"] == {"name": "default", "version": "v1"}
    terms = [t["term"] for t in body["explanation"]]
    assert terms == [t.term for t in expected.explanation]
    assert all(t["weight"] > 0 for t in body["explanation"])
    assert response.headers["x-request-id"]


def test_classify_without_title_or_id(client: TestClient) -> None:
    body = client.post("/v1/classify", json={"text": "孩子学校乱收补课费"}).json()
    assert body["id"] is None
    assert body["label"]


@pytest.mark.parametrize(
    ("policy", "needs_review", "reason_starts"),
    [
        pytest.param({"min_confidence": 1.0, "min_margin": 0.0}, True, "confidence", id="low-conf"),
        pytest.param({"min_confidence": 0.0, "min_margin": 1.0}, True, "top two", id="close-call"),
        pytest.param({"min_confidence": 0.0, "min_margin": 0.0}, False, None, id="never"),
    ],
)
def test_review_policy_comes_from_settings(
    make_client: object, policy: dict[str, float], needs_review: bool, reason_starts: str | None
) -> None:
    client = make_client(**policy)  # type: ignore[operator]
    body = client.post("/v1/classify", json={"text": TICKET}).json()
    assert body["needs_review"] is needs_review
    if reason_starts is None:
        assert body["review_reason"] is None
    else:
        assert body["review_reason"].startswith(reason_starts)


def test_review_policy_defaults_are_the_library_defaults() -> None:
    from nlp.model import ReviewPolicy

    assert Settings().policy == ReviewPolicy()


def test_batch_answers_in_input_order_with_errors_in_place(
    client: TestClient, tiny_model: RoutingModel
) -> None:
    items = [
        {"text": "小区停水三天了没人管", "id": "a"},
        {"text": "   ", "id": "blank"},
        {"text": "孩子学校乱收补课费", "title": "乱收费"},
        "not an object",
        {"text": 42, "id": "wrong-type"},
        {"text": "医院看病排队太久", "id": "d", "extra": 1},
        {"text": "医院看病排队太久", "id": "e"},
    ]
    response = client.post("/v1/classify/batch", json={"items": items, "explain": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == {"name": "default", "version": "v1"}
    results = body["items"]
    assert [r["index"] for r in results] == list(range(len(items)))
    assert [r["id"] for r in results] == ["a", "blank", None, None, "wrong-type", "d", "e"]
    failed = {r["index"]: r["error"] for r in results if r["error"] is not None}
    assert set(failed) == {1, 3, 4, 5}
    assert failed[1]["fields"][0]["path"] == "body.items.1.text"
    assert failed[4]["fields"][0]["path"] == "body.items.4.text"
    assert failed[5]["fields"][0]["path"] == "body.items.5.extra"
    for index in (0, 2, 6):
        assert results[index]["label"] in tiny_model.labels
        assert len(results[index]["top_k"]) == 3
        assert len(results[index]["explanation"]) <= 3
    for index in failed:
        assert results[index]["label"] is None
        assert results[index]["top_k"] == []
    single = client.post("/v1/classify", json={"text": "孩子学校乱收补课费", "title": "乱收费"})
    assert results[2]["label"] == single.json()["label"]
    assert results[2]["confidence"] == pytest.approx(single.json()["confidence"], abs=1e-6)


def test_batch_review_reason_matches_needs_review(make_client: object) -> None:
    client = make_client(min_confidence=1.0)  # type: ignore[operator]
    results = client.post("/v1/classify/batch", json={"items": [{"text": TICKET}]}).json()["items"]
    assert results[0]["needs_review"] is True
    assert results[0]["review_reason"].startswith("confidence")


def test_batch_without_explain_has_no_terms(client: TestClient) -> None:
    results = client.post("/v1/classify/batch", json={"items": [{"text": TICKET}]}).json()["items"]
    assert results[0]["explanation"] == []


def test_batch_of_only_invalid_items(client: TestClient) -> None:
    response = client.post("/v1/classify/batch", json={"items": [{"text": ""}, None]})
    assert response.status_code == 200
    assert all(item["error"] for item in response.json()["items"])


def test_empty_batch(client: TestClient) -> None:
    response = client.post("/v1/classify/batch", json={"items": []})
    assert response.status_code == 200
    assert response.json()["items"] == []


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Ｈｅｌｌｏ　１２３４５", id="full-width"),
        pytest.param("<p>&nbsp;停水&amp;停电</p>", id="markup"),
        pytest.param("\x01\x02", id="control-only"),
        pytest.param("😀" * 50, id="emoji"),
        pytest.param("x" * 20_000, id="at-limit"),
        pytest.param("請問醫院掛號怎麼這麼難", id="traditional"),
    ],
)
def test_odd_but_valid_text_is_answered(client: TestClient, text: str) -> None:
    response = client.post("/v1/classify", json={"text": text})
    assert response.status_code == 200, response.text
