"""Repeats and hot spots through the API: ``POST /v1/similar``, ``repeat_of`` in classify
answers (single and batch), ``GET /v1/hotspots``; the per-worker index built from the ticket
store, fed with each answer and refreshed with other workers' tickets."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import MakeClient
from fastapi.testclient import TestClient
from service_testing import ADMIN_KEY, CLASSIFY_KEY

from nlp.model import RoutingModel
from nlp.store import Answer, TicketStore, utc_now
from service.logs import JsonFormatter

PHONE = "13812345678"
FIRST = f"锦绣华庭小区北门的烧烤摊天天占道经营，晚上油烟和噪音太大，联系电话{PHONE}"
REPEAT = "锦绣华庭小区北门烧烤摊占道经营，油烟噪音扰民到半夜，请城管处理"
ELSEWHERE = "梧桐苑小区门口的烧烤摊占道经营，油烟噪音扰民"
OTHER = "红星路口红绿灯坏了三天了，没有交警来指挥，早高峰堵得动不了"


# The tests that take ``client`` send requests that change nothing a later test reads: one
# started app per module serves them all, instead of an app per test (tests/service/conftest.py).
@pytest.fixture(scope="module")
def client(make_module_client: MakeClient) -> TestClient:
    """No keys configured (open, as on loopback)."""
    return make_module_client()


def _settled(client: Any) -> None:
    """Wait until the app's index is built and holds every ticket answered so far, and the
    store holds them too (the hand-offs are asynchronous)."""
    state = client.app.state
    deadline = time.monotonic() + 30
    while not state.similar.ready and time.monotonic() < deadline:
        time.sleep(0.02)
    assert state.similar.ready
    if state.writer is not None:
        assert state.writer.flush(10)
    assert state.similar.flush(10)


def _classify(client: Any, text: str, ticket_id: str, **headers: str) -> dict[str, Any]:
    response = client.post("/v1/classify", json={"text": text, "id": ticket_id}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_repeat_of_names_the_earlier_ticket_across_requests(make_client: MakeClient) -> None:
    client = make_client(repeats=True)
    _settled(client)
    assert _classify(client, FIRST, "r1")["repeat_of"] is None
    _classify(client, OTHER, "r2")
    _settled(client)

    assert _classify(client, REPEAT, "r3")["repeat_of"] == "r1"
    # the same problem at another estate is similar, but not a repeat
    assert _classify(client, ELSEWHERE, "r4")["repeat_of"] is None
    _settled(client)

    batch = client.post(
        "/v1/classify/batch",
        json={
            "items": [{"text": REPEAT, "id": "b1"}, {"text": OTHER + "，还是没人修", "id": "b2"}]
        },
    )
    assert batch.status_code == 200, batch.text
    items = batch.json()["items"]
    assert items[0]["repeat_of"] in ("r1", "r3")
    assert items[1]["repeat_of"] == "r2"


def test_repeat_of_is_null_when_repeats_are_off(make_client: MakeClient) -> None:
    client = make_client()  # APPEALS_REPEATS defaults to false
    _settled(client)
    _classify(client, FIRST, "r1")
    _settled(client)
    assert _classify(client, REPEAT, "r2")["repeat_of"] is None
    batch = client.post("/v1/classify/batch", json={"items": [{"text": REPEAT, "id": "b1"}]})
    assert batch.json()["items"][0]["repeat_of"] is None
    _settled(client)
    # the index is kept all the same: /v1/similar finds it
    matches = client.post("/v1/similar", json={"text": FIRST, "id": "r1"}).json()["matches"]
    assert {m["id"] for m in matches} == {"r2", "b1"}
    assert all(m["repeat"] for m in matches)


def test_similar_answers_ids_scores_and_leaves_the_ticket_itself_out(
    make_client: MakeClient,
) -> None:
    client = make_client()
    _settled(client)
    for ticket_id, text in (("s1", FIRST), ("s2", OTHER), ("s3", ELSEWHERE)):
        _classify(client, text, ticket_id)
    _settled(client)

    response = client.post("/v1/similar", json={"text": REPEAT, "k": 5})
    assert response.status_code == 200, response.text
    matches = response.json()["matches"]
    assert sorted(m["id"] for m in matches) == ["s1", "s3"]  # not the traffic light
    scores = [m["score"] for m in matches]
    assert scores == sorted(scores, reverse=True)
    assert scores[-1] > 0
    first = next(m for m in matches if m["id"] == "s1")
    elsewhere = next(m for m in matches if m["id"] == "s3")
    assert first["repeat"] is True
    assert first["same_place"] is True
    assert elsewhere["repeat"] is False
    assert elsewhere["same_place"] is False
    assert first["time"].endswith("Z")
    assert set(first) == {"id", "time", "score", "repeat", "same_place"}

    itself = client.post("/v1/similar", json={"text": FIRST, "id": "s1"}).json()["matches"]
    assert "s1" not in [m["id"] for m in itself]
    assert client.post("/v1/similar", json={"text": REPEAT, "k": 1}).json()["matches"] == [
        matches[0]
    ]
    # before the tickets were answered, or a window that ends before them: nothing
    past = (utc_now() - timedelta(days=1)).isoformat()
    assert client.post("/v1/similar", json={"text": REPEAT, "time": past}).json() == {"matches": []}


def test_the_index_is_rebuilt_from_the_store_after_a_restart(
    make_client: MakeClient, tmp_path: Path
) -> None:
    store_url = f"sqlite:///{tmp_path / 'shared.db'}"
    before = make_client(store_url=store_url, repeats=True)
    _settled(before)
    _classify(before, FIRST, "r1")
    _settled(before)
    before.__exit__(None, None, None)  # the worker stops; its index is gone

    after = make_client(store_url=store_url, repeats=True)
    _settled(after)
    assert "1 ticket(s) of the last 30d" in after.get("/readyz").json()["similar"]
    assert _classify(after, REPEAT, "r2")["repeat_of"] == "r1"


def test_two_workers_sharing_a_store_see_each_others_tickets_after_a_refresh(
    make_client: MakeClient, tmp_path: Path
) -> None:
    store_url = f"sqlite:///{tmp_path / 'shared.db'}"
    one = make_client(store_url=store_url, repeats=True, similar_refresh=0.2)
    two = make_client(store_url=store_url, repeats=True, similar_refresh=0.2)
    _settled(one)
    _settled(two)
    _classify(one, FIRST, "r1")
    _settled(one)  # written to the store by worker one

    deadline = time.monotonic() + 20
    found: list[dict[str, Any]] = []
    while not found and time.monotonic() < deadline:
        found = two.post("/v1/similar", json={"text": REPEAT}).json()["matches"]
        time.sleep(0.1)
    assert [m["id"] for m in found] == ["r1"]
    assert _classify(two, REPEAT, "r2")["repeat_of"] == "r1"
    # later refreshes read r1 and r2 again (their overlap) but hold each once
    _settled(two)
    time.sleep(1.0)
    assert len(two.app.state.similar) == 2


def test_with_the_store_off_the_index_holds_this_workers_tickets(
    make_client: MakeClient,
) -> None:
    client = make_client(store_url="off", repeats=True)
    _settled(client)
    _classify(client, FIRST, "r1")
    _settled(client)
    assert _classify(client, REPEAT, "r2")["repeat_of"] == "r1"
    assert "this worker's tickets since it started" in client.get("/readyz").json()["similar"]
    response = client.get("/v1/hotspots")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_off"


def test_a_purged_ticket_is_never_named_again(make_client: MakeClient) -> None:
    client = make_client(
        repeats=True, classify_keys=frozenset({CLASSIFY_KEY}), admin_keys=frozenset({ADMIN_KEY})
    )
    _settled(client)
    _classify(client, FIRST, "r1", **{"X-API-Key": CLASSIFY_KEY})
    _settled(client)
    denied = client.delete("/v1/tickets/r1", headers={"X-API-Key": CLASSIFY_KEY})
    assert denied.status_code == 403
    deleted = client.delete("/v1/tickets/r1", headers={"X-API-Key": ADMIN_KEY})
    assert deleted.status_code == 200, deleted.text
    headers = {"X-API-Key": CLASSIFY_KEY}
    assert client.post("/v1/similar", json={"text": REPEAT}, headers=headers).json() == {
        "matches": []
    }
    assert _classify(client, REPEAT, "r2", **headers)["repeat_of"] is None


def test_the_endpoints_need_a_key(make_client: MakeClient) -> None:
    client = make_client(classify_keys=frozenset({CLASSIFY_KEY}), admin_keys=frozenset({ADMIN_KEY}))
    for method, path, body in (
        ("POST", "/v1/similar", {"text": REPEAT}),
        ("GET", "/v1/hotspots", None),
    ):
        for headers, status in (({}, 401), ({"X-API-Key": "wrong"}, 401)):
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == status, (path, response.text)
            assert response.json()["error"]["code"] == "unauthorized"
        for key in (CLASSIFY_KEY, ADMIN_KEY):
            response = client.request(method, path, json=body, headers={"X-API-Key": key})
            assert response.status_code == 200, (path, response.text)


@pytest.mark.parametrize(
    ("body", "path", "says"),
    [
        ({"text": REPEAT, "window": "soon"}, "body.window", "7d, 36h or 2w"),
        ({"text": REPEAT, "window": "0d"}, "body.window", "longer than zero"),
        ({"text": REPEAT, "window": "99999999999d"}, "body.window", "too long"),
        ({"text": REPEAT, "window": "60d"}, "body", "at most 30d"),
        ({"text": REPEAT, "time": "yesterday"}, "body.time", ""),
        ({"text": REPEAT, "time": "1066-10-14T09:00:00"}, "body.time", "between 1970 and 2200"),
        ({"text": REPEAT, "k": 0}, "body.k", ""),
        ({"text": REPEAT, "k": 51}, "body.k", ""),
        ({"title": "  "}, "body.text", "a text or a title"),
        ({"text": REPEAT, "extra": 1}, "body.extra", ""),
    ],
    ids=[
        "window-words",
        "window-zero",
        "window-overflow",
        "window-over-index",
        "time-words",
        "time-too-early",
        "k-zero",
        "k-over-50",
        "no-text",
        "unknown-field",
    ],
)
def test_bad_similar_requests_get_a_422_that_says_what_is_wrong(
    client: Any, body: dict[str, Any], path: str, says: str
) -> None:
    response = client.post("/v1/similar", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith(path), error
    assert says in error["message"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"window": "a week"}, "query.window"),
        ({"window": "-1d"}, "query.window"),
        ({"top": 0}, "query.top"),
        ({"top": 51}, "query.top"),
        ({"min_size": 1}, "query.min_size"),
        ({"since": "last monday"}, "query.since"),
        ({"since": "2026-12-01", "until": "2026-11-01"}, "must be before"),
        ({"until": "3000-01-01"}, "between 1970 and 2200"),
    ],
)
def test_bad_hotspot_requests_get_a_422(client: Any, params: dict[str, Any], says: str) -> None:
    response = client.get("/v1/hotspots", params=params)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert says in error["message"]


#: Residents writing about one problem at one place, and a few unrelated tickets.
PLANT = (
    "丽发新城小区旁边的搅拌站半夜还在开工，噪音太大，粉尘满天飞，电话13812345678",
    "丽发新城小区旁边的搅拌站夜里施工，噪音扰民，粉尘污染严重",
    "投诉丽发新城小区附近搅拌站噪音和粉尘，晚上根本睡不着",
    "丽发新城小区边上的搅拌站天天夜间施工，粉尘噪音严重影响居民生活",
)


def test_hotspots_of_the_stored_tickets(
    make_client: MakeClient, tmp_path: Path, tiny_model: RoutingModel
) -> None:
    store_url = f"sqlite:///{tmp_path / 'hot.db'}"
    store = TicketStore(store_url).open()
    now = utc_now()
    texts = [*PLANT, OTHER, "孩子学校乱收补课费，每个学期要交两千块"]
    predictions = tiny_model.classify(texts)
    store.record(
        [
            Answer(f"h{i}", text, None, "default", "v1", p, now - timedelta(hours=30 - i))
            for i, (text, p) in enumerate(zip(texts, predictions, strict=True))
        ]
        # an old ticket about the same plant, outside the default period (30 days)
        + [Answer("old", PLANT[0], None, "default", "v1", predictions[0], now - timedelta(40))]
    )
    store.close()
    client = make_client(store_url=store_url)

    response = client.get("/v1/hotspots", params={"window": "7d", "top": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["considered"] == len(texts)
    [problem] = body["problems"]
    assert problem["rank"] == 1
    assert problem["problem_id"] == 1
    assert problem["ids"] == ["h0", "h1", "h2", "h3"]
    assert problem["tickets"] == 4
    assert "丽发新城" in problem["place"]
    assert problem["heat"] > 0
    assert "至" in problem["time_range"]
    assert PHONE not in response.text

    since = (now - timedelta(90)).isoformat()
    wider = client.get("/v1/hotspots", params={"since": since, "window": "60d"})
    assert wider.json()["problems"][0]["ids"] == ["old", "h0", "h1", "h2", "h3"]
    empty = client.get("/v1/hotspots", params={"until": "2020-01-01"}).json()
    assert empty["problems"] == []
    assert empty["considered"] == 0
    assert empty["notes"][0].startswith("no stored tickets between")
    assert client.get("/v1/hotspots", params={"min_size": 5}).json()["problems"] == []


def test_a_phone_in_a_ticket_never_leaves_unmasked(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(repeats=True, log_text=True)
    _settled(client)
    with caplog.at_level(logging.DEBUG):
        _classify(client, FIRST, "p1")
        _settled(client)
        response = client.post("/v1/similar", json={"text": FIRST + "，还是没人管"})
        bad = client.post("/v1/similar", json={"text": FIRST, "window": PHONE})
    assert response.json()["matches"][0]["id"] == "p1"
    assert PHONE not in response.text
    assert bad.status_code == 422
    assert PHONE not in bad.text
    logged = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    assert PHONE not in logged
