"""The ticket store through the API: answers stored masked, POST /v1/feedback, DELETE
/v1/tickets/{id}, the store's metrics, and classification that goes on when the store is down
(on SQLite and on a real PostgreSQL server: ``store_url``)."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from conftest import MakeClient
from fastapi.testclient import TestClient
from service_testing import ADMIN_KEY, CLASSIFY_KEY

from nlp.registry import Registry
from nlp.store import TicketStore

PHONE = "13812345678"
CORRECTED = 'appeals_feedback_total{model_version="v1",outcome="corrected"}'
AGREED = 'appeals_feedback_total{model_version="v1",outcome="agreed"}'
DROPPED = 'appeals_store_dropped_total{reason="store_error"}'
UNREACHABLE = "postgresql+psycopg://appeals:secret@127.0.0.1:9/none"


@pytest.fixture
def store_client(make_client: MakeClient, store_url: str) -> TestClient:
    return make_client(store_url=store_url)


@pytest.fixture(scope="module")
def refusing_client(make_module_client: MakeClient, module_store_url: str) -> TestClient:
    """One app and store for the module's tests of refused feedback (they store nothing)."""
    return make_module_client(store_url=module_store_url)


def _classify(client: TestClient, **body: object) -> dict:
    response = client.post("/v1/classify", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _stored(client: TestClient, ticket_id: str) -> dict | None:
    writer = client.app.state.writer  # type: ignore[attr-defined]
    assert writer.flush(10)
    return writer.store.get(ticket_id)


def _metric(client: TestClient, name: str) -> float:
    text = client.get("/metrics").text
    found = re.findall(rf"^{re.escape(name)} ([0-9.e+]+)$", text, flags=re.MULTILINE)
    return sum(float(value) for value in found)


def test_answers_are_stored_masked_with_what_was_answered(store_client: TestClient) -> None:
    written_before = _metric(store_client, "appeals_store_written_total")
    body = _classify(store_client, text=f"路灯坏了，电话{PHONE}", title="路灯", id="t-1")
    batch = store_client.post(
        "/v1/classify/batch", json={"items": [{"text": "小区停水", "id": 7}, {"text": "噪音"}]}
    ).json()
    row = _stored(store_client, "t-1")
    assert row is not None
    assert PHONE not in row["text"]
    assert "<PHONE>" in row["text"]
    assert (row["label"], row["confidence"]) == (body["label"], body["confidence"])
    assert row["top_k"] == body["top_k"]
    assert row["model_version"] == "v1"
    assert _stored(store_client, "7") is not None  # an integer id, kept as its digits
    assert _stored(store_client, batch["items"][1]["id"]) is not None  # an id the store gave
    assert _metric(store_client, "appeals_store_written_total") - written_before == 3


def test_feedback_records_the_dispatchers_department(store_client: TestClient) -> None:
    corrected_before = _metric(store_client, CORRECTED)
    agreed_before = _metric(store_client, AGREED)
    answered = _classify(store_client, text="小区楼下烧烤摊油烟扰民", id="t-1")
    other = next(s["label"] for s in answered["top_k"] if s["label"] != answered["label"])
    # Right after classify: the answer may still be queued for the store; feedback waits.
    response = store_client.post(
        "/v1/feedback",
        json={"id": "t-1", "label": other, "note": f"回电{PHONE}", "by": "dispatcher-07"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "t-1"
    assert (body["label"], body["predicted"], body["agreed"]) == (other, answered["label"], False)
    assert body["model"] == {"name": "default", "version": "v1"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["corrected_at"])
    row = _stored(store_client, "t-1")
    assert row is not None
    assert (row["final_label"], row["final_by"], row["final_source"]) == (
        other,
        "dispatcher-07",
        "api",
    )
    assert PHONE not in row["final_note"]
    agreed = store_client.post("/v1/feedback", json={"id": "t-1", "label": answered["label"]})
    assert agreed.json()["agreed"] is True
    assert _metric(store_client, CORRECTED) - corrected_before == 1
    assert _metric(store_client, AGREED) - agreed_before == 1


def test_feedback_for_an_integer_id_and_a_new_department(store_client: TestClient) -> None:
    _classify(store_client, text="小区停水三天了", id=202401150001)
    refused = store_client.post("/v1/feedback", json={"id": 202401150001, "label": "应急管理局"})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "unknown_label"
    assert "应急管理局" in refused.json()["error"]["message"]
    accepted = store_client.post(
        "/v1/feedback", json={"id": 202401150001, "label": "应急管理局", "allow_new_label": True}
    )
    assert accepted.status_code == 200
    assert accepted.json()["id"] == 202401150001


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param({"id": "never-seen", "label": "水务"}, 404, "ticket_not_found", id="unknown"),
        pytest.param({"label": "水务"}, 422, "invalid_request", id="no-id"),
        pytest.param({"id": None, "label": "水务"}, 422, "invalid_request", id="null-id"),
        pytest.param({"id": "t", "label": ""}, 422, "invalid_request", id="empty-label"),
        pytest.param({"id": "t", "label": 5}, 422, "invalid_request", id="number-label"),
        pytest.param({"id": "t", "label": "水务", "x": 1}, 422, "invalid_request", id="extra"),
        pytest.param('{"id": "t", "label": "\\udfff"}', 422, "invalid_request", id="surrogate"),
        pytest.param({"id": "t", "label": "水" * 200}, 422, "invalid_request", id="long-label"),
        pytest.param({"id": "t", "label": "水务", "note": "n" * 3000}, 422, None, id="long-note"),
    ],
)
def test_bad_feedback_is_a_clear_error(
    refusing_client: TestClient, body: dict | str, status: int, code: str | None
) -> None:
    if isinstance(body, str):  # JSON as sent, e.g. with an escaped lone surrogate
        headers = {"Content-Type": "application/json"}
        response = refusing_client.post("/v1/feedback", content=body.encode(), headers=headers)
    else:
        response = refusing_client.post("/v1/feedback", json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["message"]
    if code is not None:
        assert error["code"] == code


def test_feedback_needs_a_key_when_keys_are_set(make_client: MakeClient) -> None:
    client = make_client(classify_keys=frozenset({CLASSIFY_KEY}), admin_keys=frozenset({ADMIN_KEY}))
    answered = client.post(
        "/v1/classify", json={"text": "小区停水", "id": "k1"}, headers={"X-API-Key": CLASSIFY_KEY}
    )
    assert answered.status_code == 200
    body = {"id": "k1", "label": answered.json()["label"]}
    assert client.post("/v1/feedback", json=body).status_code == 401
    with_key = client.post("/v1/feedback", json=body, headers={"X-API-Key": CLASSIFY_KEY})
    assert with_key.status_code == 200


def test_purge_deletes_a_ticket_for_admins_only(make_client: MakeClient, store_url: str) -> None:
    client = make_client(
        store_url=store_url,
        classify_keys=frozenset({CLASSIFY_KEY}),
        admin_keys=frozenset({ADMIN_KEY}),
    )
    classify_key, admin_key = {"X-API-Key": CLASSIFY_KEY}, {"X-API-Key": ADMIN_KEY}
    client.post("/v1/classify", json={"text": f"电话{PHONE}", "id": "p1"}, headers=classify_key)
    assert client.delete("/v1/tickets/p1", headers=classify_key).status_code == 403
    response = client.delete("/v1/tickets/p1", headers=admin_key)
    assert response.status_code == 200
    assert response.json() == {"id": "p1", "deleted": True}
    assert _stored(client, "p1") is None
    again = client.delete("/v1/tickets/p1", headers=admin_key)
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "ticket_not_found"
    feedback = client.post("/v1/feedback", json={"id": "p1", "label": "水务"}, headers=classify_key)
    assert feedback.status_code == 404


def test_the_store_off_keeps_no_tickets_and_says_so(make_client: MakeClient) -> None:
    client = make_client(store_url="off")
    assert client.app.state.writer is None  # type: ignore[attr-defined]
    _classify(client, text="小区停水", id="o1")
    response = client.post("/v1/feedback", json={"id": "o1", "label": "水务"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_off"
    assert "APPEALS_STORE_URL" in response.json()["error"]["message"]


def test_classification_goes_on_when_the_store_is_down(make_client: MakeClient) -> None:
    """Every classify request is answered while the store cannot be reached; the answers
    are counted as dropped, feedback answers 503, and no message shows the password."""
    client = make_client(store_url=UNREACHABLE)
    dropped_before = _metric(client, DROPPED)
    for number in range(30):
        _classify(client, text="小区停水三天了没人管", id=f"d{number}")
    batch = client.post("/v1/classify/batch", json={"items": [{"text": "噪音扰民"}] * 20})
    assert batch.status_code == 200
    assert all(item["label"] for item in batch.json()["items"])
    writer = client.app.state.writer  # type: ignore[attr-defined]
    assert writer.flush(60)
    assert writer.dropped == 50
    assert _metric(client, DROPPED) - dropped_before == 50
    response = client.post("/v1/feedback", json={"id": "d1", "label": "水务"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_unavailable"
    assert "secret" not in response.text
    assert client.get("/readyz").status_code == 200


def test_the_default_store_is_a_file_beside_the_models(
    make_client: MakeClient, registry_copy: Registry
) -> None:
    models = registry_copy.root
    client = make_client(models_dir=models, store_url=None)
    _classify(client, text="小区停水", id="f1")
    assert client.app.state.writer.flush(10)  # type: ignore[attr-defined]
    with TicketStore(f"sqlite:///{models / 'tickets.db'}") as store:
        assert store.get("f1") is not None


def test_purge_takes_any_id_the_api_accepts(make_client: MakeClient) -> None:
    client = make_client()
    for ticket_id in ("工单/2026/0001", "a b?c#d", "12"):
        _classify(client, text="小区停水", id=ticket_id)
        path = "/v1/tickets/" + quote(ticket_id, safe="")
        response = client.delete(path)
        assert response.status_code == 200, (ticket_id, response.text)
        assert response.json()["id"] == ticket_id
        assert _stored(client, ticket_id) is None
