"""Every error the API answers: 401, 403, 404, 405, 413, 422, as JSON with the same shape."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from pydantic.warnings import UnsupportedFieldAttributeWarning
from service_testing import ADMIN_KEY, CLASSIFY_KEY, TICKET
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY

MakeClient = Callable[..., TestClient]


# Every test here sends requests that the API refuses, or answers without changing what a
# later test sees (activating the version already active): one started app per module
# serves them all, instead of an app per test (tests/service/conftest.py).
@pytest.fixture(scope="module")
def client(make_module_client: MakeClient) -> TestClient:
    """No keys configured (open, as on loopback)."""
    return make_module_client()


@pytest.fixture(scope="module")
def keyed_client(make_module_client: MakeClient) -> TestClient:
    return make_module_client(
        classify_keys=frozenset({CLASSIFY_KEY}), admin_keys=frozenset({ADMIN_KEY})
    )


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"]["code"] == code
    assert body["request_id"] == response.headers["x-request-id"]
    error: dict[str, Any] = body["error"]
    return error


# --------------------------------------------------------------------------- auth
CLASSIFY = ("POST", "/v1/classify", {"text": TICKET})
BATCH = ("POST", "/v1/classify/batch", {"items": [{"text": TICKET}]})
MODELS = ("GET", "/v1/models", None)
ACTIVATE = ("POST", "/v1/models/activate", {"version": "v1"})
ROLLBACK = ("POST", "/v1/models/rollback", None)


@pytest.mark.parametrize(
    ("endpoint", "key", "status"),
    [
        pytest.param(CLASSIFY, None, 401, id="classify-no-key"),
        pytest.param(CLASSIFY, "wrong", 401, id="classify-wrong-key"),
        pytest.param(CLASSIFY, CLASSIFY_KEY, 200, id="classify-classify-key"),
        pytest.param(CLASSIFY, ADMIN_KEY, 200, id="classify-admin-key"),
        pytest.param(BATCH, None, 401, id="batch-no-key"),
        pytest.param(BATCH, CLASSIFY_KEY, 200, id="batch-classify-key"),
        pytest.param(MODELS, None, 401, id="models-no-key"),
        pytest.param(MODELS, CLASSIFY_KEY, 200, id="models-classify-key"),
        pytest.param(ACTIVATE, None, 401, id="activate-no-key"),
        pytest.param(ACTIVATE, "wrong", 401, id="activate-wrong-key"),
        pytest.param(ACTIVATE, CLASSIFY_KEY, 403, id="activate-classify-key"),
        pytest.param(ACTIVATE, ADMIN_KEY, 200, id="activate-admin-key"),
        pytest.param(ROLLBACK, None, 401, id="rollback-no-key"),
        pytest.param(ROLLBACK, CLASSIFY_KEY, 403, id="rollback-classify-key"),
    ],
)
def test_api_keys(
    keyed_client: TestClient, endpoint: tuple[str, str, Any], key: str | None, status: int
) -> None:
    method, path, body = endpoint
    headers = {"X-API-Key": key} if key else {}
    response = keyed_client.request(method, path, json=body, headers=headers)
    if status == 200:
        assert response.status_code == 200, response.text
    else:
        _error(response, status, {401: "unauthorized", 403: "forbidden"}[status])


def test_missing_key_says_which_header(keyed_client: TestClient) -> None:
    error = _error(keyed_client.post("/v1/classify", json={"text": TICKET}), 401, "unauthorized")
    assert "X-API-Key" in error["message"]


def test_open_endpoints_need_no_key(keyed_client: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/", "/openapi.json", "/docs", "/redoc"):
        assert keyed_client.get(path).status_code == 200, path


def test_admin_endpoints_refuse_everyone_when_only_classify_keys_exist(
    make_client: Any,
) -> None:
    client = make_client(classify_keys=frozenset({CLASSIFY_KEY}))
    response = client.post("/v1/models/rollback", headers={"X-API-Key": CLASSIFY_KEY})
    _error(response, 403, "forbidden")


# --------------------------------------------------------------------------- 413
def test_body_over_limit_by_content_length_is_413(client: TestClient) -> None:
    body = b'{"text": "' + b"a" * (1 << 20) + b'"}'
    response = client.post(
        "/v1/classify", content=body, headers={"Content-Type": "application/json"}
    )
    error = _error(response, 413, "body_too_large")
    assert "1,048,576 bytes" in error["message"]


def test_chunked_body_over_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"items": ['
        for _ in range(300):
            yield b'{"text": "' + b"a" * 4000 + b'"},'
        yield b'{"text": "a"}]}'

    response = client.post(
        "/v1/classify/batch", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in {k.lower() for k in response.request.headers}
    _error(response, 413, "body_too_large")


def test_fastapis_lazy_alias_warning_is_no_error_whatever_thread_races_it() -> None:
    """FastAPI silences this pydantic warning, raised when it builds a route's query
    parameters at the route's first request, with a catch_warnings() that another thread can
    undo; the suite's own filters (pyproject.toml) ignore it, so the first request to
    /v1/feedback/queue never fails a test by the luck of its threads."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.warn(
            "The 'alias' attribute with value 'limit' was provided to the `Field()` function, "
            "which has no effect in the context it was used.",
            UnsupportedFieldAttributeWarning,
            stacklevel=1,
        )
    assert caught == []


def test_body_limit_comes_from_settings(make_client: Any) -> None:
    client = make_client(max_body_bytes=2048)
    response = client.post("/v1/classify", json={"text": "停水" * 1000})
    _error(response, 413, "body_too_large")
    assert client.post("/v1/classify", json={"text": "停水"}).status_code == 200


def test_the_body_limit_in_force_is_starlette_s_set_from_the_settings(make_client: Any) -> None:
    """Starlette counts the bytes of a chunked body (its RequestBodyLimitMiddleware, which
    also bounds what FastAPI parses); the service gives it the limit of its settings and its
    JSON answer. A body with Content-Length within the limit needs no counting: the server
    never hands over more than that."""
    client = make_client(max_body_bytes=4096)

    async def limit_in_force(request: Request) -> dict[str, Any]:
        return {"limit": request.scope.get(MAX_BODY_SIZE_SCOPE_KEY)}

    client.app.add_api_route("/probe-limit", limit_in_force, methods=["POST"])
    chunked = client.post("/probe-limit", content=iter([b"{}"]))
    assert chunked.json() == {"limit": 4096}
    assert client.post("/probe-limit", json={}).json() == {"limit": None}

    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(5):
            yield b"a" * 1000
        yield b'"}'

    response = client.post(
        "/v1/classify", content=chunks(), headers={"Content-Type": "application/json"}
    )
    error = _error(response, 413, "body_too_large")
    assert error["message"] == "request body over the limit of 4,096 bytes"


def test_body_just_under_limit_is_read(client: TestClient) -> None:
    response = client.post("/v1/classify", json={"text": "水" * 20_001})
    _error(response, 422, "invalid_request")  # read in full, then refused for its length


# --------------------------------------------------------------------------- 422
@pytest.mark.parametrize(
    ("payload", "path", "says"),
    [
        pytest.param({"text": ""}, "body.text", "a text or a title", id="empty"),
        pytest.param({"text": " \n\t\u3000 "}, "body.text", "white space", id="white-space"),
        pytest.param({"text": "停" * 20_001}, "body.text", "20000", id="too-long"),
        pytest.param({}, "body.text", "a text or a title", id="missing"),
        pytest.param({"id": 7}, "body.text", "a text or a title", id="id-only"),
        pytest.param({"text": "", "title": "  "}, "body.text", "both", id="both-blank"),
        pytest.param({"text": None}, "body.text", "a text or a title", id="null"),
        pytest.param({"text": 123}, "body.text", "string", id="number"),
        pytest.param({"text": ["停水"]}, "body.text", "string", id="list"),
        pytest.param({"text": "停水", "title": 5}, "body.title", "string", id="title-type"),
        pytest.param({"title": "停" * 1_001}, "body.title", "1000", id="title-too-long"),
        pytest.param(
            {"text": "停水", "id": {"a": 1}}, "body.id", "string or an integer", id="id-dict"
        ),
        pytest.param({"text": "停水", "id": 1.5}, "body.id", "integer", id="id-fraction"),
        pytest.param({"text": "停水", "id": 1.0}, "body.id", "integer", id="id-float"),
        pytest.param({"text": "停水", "id": True}, "body.id", "integer", id="id-bool"),
        pytest.param({"text": "停水", "id": 10**128}, "body.id", "128 digits", id="id-huge"),
        pytest.param({"text": "停水", "id": "x" * 129}, "body.id", "128 char", id="id-long"),
        pytest.param({"text": "停水", "id": "\udfff"}, "body.id", "Unicode", id="id-surrogate"),
        pytest.param({"text": "停水", "extra": 1}, "body.extra", "not permitted", id="extra"),
        pytest.param({"text": "\ud800"}, "body.text", "Unicode", id="lone-surrogate"),
        pytest.param({"title": "\udfff油烟"}, "body.title", "Unicode", id="title-surrogate"),
        pytest.param(["停水"], "body", "dictionary", id="array-body"),
    ],
)
def test_invalid_single_ticket_is_422_with_field_path(
    client: TestClient, payload: Any, path: str, says: str
) -> None:
    # json.dumps escapes non-ASCII, so a lone surrogate travels as the JSON text "\ud800".
    response = client.post(
        "/v1/classify", content=json.dumps(payload), headers={"Content-Type": "application/json"}
    )
    error = _error(response, 422, "invalid_request")
    assert error["fields"][0]["path"] == path
    assert says.lower() in (error["fields"][0]["message"] + error["message"]).lower()


def test_a_ticket_without_text_or_title_is_told_to_send_one(client: TestClient) -> None:
    error = _error(client.post("/v1/classify", json={"id": "t-1"}), 422, "invalid_request")
    assert error["message"] == (
        "body.text: a ticket needs a text or a title: both are missing, empty or white space; "
        "send the body (text), the title, or both"
    )


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"text": "\\udfff"}', id="escaped-surrogate"),
        pytest.param(b'{"text": "\xed\xbf\xbf"}', id="raw-surrogate-bytes"),
        pytest.param(b'{"text": "a", "id": ' + b"9" * 5_000 + b"}", id="int-past-the-limit"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deep-nesting"),
        pytest.param(b'{"text": "a", "id": 1e309}', id="float-overflow"),
        pytest.param(b'{"text": NaN}', id="nan"),
    ],
)
def test_bodies_the_parser_chokes_on_are_422(client: TestClient, raw: bytes) -> None:
    response = client.post(
        "/v1/classify", content=raw, headers={"Content-Type": "application/json"}
    )
    _error(response, 422, "invalid_request")


def test_text_limit_is_named(client: TestClient) -> None:
    error = _error(
        client.post("/v1/classify", json={"text": "停" * 20_001}), 422, "invalid_request"
    )
    assert "20000" in error["message"]


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"{not json", id="broken-json"),
        pytest.param(b"", id="empty-body"),
        pytest.param(b"\xff\xfe\x00", id="not-utf8"),
        pytest.param(b'"just a string"', id="string-body"),
    ],
)
def test_unparseable_body_is_422(client: TestClient, raw: bytes) -> None:
    response = client.post(
        "/v1/classify", content=raw, headers={"Content-Type": "application/json"}
    )
    _error(response, 422, "invalid_request")


def test_batch_over_item_limit_is_422_naming_it(make_client: Any) -> None:
    client = make_client(max_batch_items=4)
    response = client.post("/v1/classify/batch", json={"items": [{"text": "停水"}] * 5})
    error = _error(response, 422, "invalid_request")
    assert "at most 4 items" in error["message"]


def test_batch_default_item_limit_is_256(client: TestClient) -> None:
    items = [{"text": "停水"}] * 257
    _error(client.post("/v1/classify/batch", json={"items": items}), 422, "invalid_request")
    assert client.post("/v1/classify/batch", json={"items": items[:256]}).status_code == 200


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        pytest.param({"items": "x"}, "body.items", id="items-not-list"),
        pytest.param({}, "body.items", id="items-missing"),
        pytest.param({"items": [], "explain": -1}, "body.explain", id="explain-negative"),
    ],
)
def test_invalid_batch_envelope_is_422(client: TestClient, payload: Any, path: str) -> None:
    error = _error(client.post("/v1/classify/batch", json=payload), 422, "invalid_request")
    assert error["fields"][0]["path"] == path


@pytest.mark.parametrize("version", ["2", "v", "../v1", "v1/../../etc", "v-1", "V1", "", "v1 "])
def test_activate_invalid_version_is_422(client: TestClient, version: str) -> None:
    response = client.post("/v1/models/activate", json={"version": version})
    error = _error(response, 422, "invalid_request")
    assert error["fields"][0]["path"] == "body.version"


def test_errors_never_echo_personal_data(client: TestClient) -> None:
    response = client.post("/v1/classify", json={"text": "电话13812345678", "x": 1})
    assert "13812345678" not in response.text


def test_unknown_field_names_are_masked_too(client: TestClient) -> None:
    """An unknown field is named in the error's path: a phone number used as a key is not."""
    response = client.post("/v1/classify", json={"text": "停水", "电话13812345678": 1})
    error = _error(response, 422, "invalid_request")
    assert "13812345678" not in response.text
    assert error["fields"][0]["path"].startswith("body.电话")


# --------------------------------------------------------------------------- 404, 405
def test_unknown_route_is_404_json(client: TestClient) -> None:
    _error(client.get("/v2/classify"), 404, "not_found")


def test_wrong_method_is_405_json(client: TestClient) -> None:
    _error(client.get("/v1/classify"), 405, "method_not_allowed")
