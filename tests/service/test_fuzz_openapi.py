"""Fuzzing, in process, seeded (the same requests on every run):

- driven by the app's own OpenAPI document (schemathesis): over 1,000 generated requests
  across every operation, no 5xx, and every response matches the status codes, content
  types and schemas the document declares;
- 10,500 hostile bodies no schema describes (hypothesis) for the classify, batch and models
  endpoints: no 5xx, every error in the JSON error shape, every valid id echoed exactly.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from service_testing import add_version

from nlp.registry import Registry
from service.app import create_app
from service.settings import Settings, get_settings

pytestmark = pytest.mark.timeout(600)

EXAMPLES_PER_OPERATION = 100  # about 1,500 requests in all (the test below asks 1,000)
SENT: dict[str, int] = {}


# The app is built at import, since schemathesis parametrizes from its schema; its settings
# are looked up when its lifespan starts (at the first generated request), after the fixture
# below has made the registry it serves.
REGISTRY: dict[str, Path] = {}
APP = create_app()
APP.dependency_overrides[get_settings] = lambda: Settings(models_dir=REGISTRY["root"])
schema = schemathesis.openapi.from_dict(APP.openapi())
schema.app = APP


@pytest.fixture(scope="module", autouse=True)
def fuzzed_registry(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A private registry with two versions: activate and rollback are fuzzed too."""
    root = tmp_path_factory.mktemp("fuzz") / "models"
    shutil.copytree(models_dir, root)
    add_version(Registry(root))
    REGISTRY["root"] = root


@pytest.fixture(autouse=True)
def model_loaded(fuzzed_registry: None) -> None:
    """schemathesis starts the app's lifespan at a test's first request and ends it with the
    test; the model loads in the background (classify answers 503 "loading" meanwhile), so
    each test starts the app and waits for the model before fuzzing."""
    readyz = schema["/readyz"]["GET"]
    deadline = time.monotonic() + 120
    while readyz.Case().call().status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_responses_match_the_schema(case: Any) -> None:
    case.call_and_validate(
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ]
    )
    key = f"{case.operation.method.upper()} {case.operation.path}"
    SENT[key] = SENT.get(key, 0) + 1


def test_fuzzing_sent_over_a_thousand_requests() -> None:
    """Runs after the fuzz test above (pytest keeps file order)."""
    if not SENT:
        pytest.skip("the fuzz test was deselected")
    assert len(SENT) >= 7, SENT
    assert sum(SENT.values()) >= 1_000, SENT


# --------------------------------------------------------------------------- hostile bodies
# Bodies no schema would generate: lone surrogates (escaped, and raw as invalid UTF-8), NUL
# and other control characters, nesting to the parser's limit and past it, numbers past a
# float (1e309) and past the int conversion limit, wrong types everywhere, broken JSON and
# random bytes. Each example sends a list of requests, so that ten thousand cost seconds.


@dataclass(frozen=True)
class Raw:
    """JSON text that goes into a body as is: what ``json.dumps`` would never write."""

    text: str


def _dump(value: Any, *, ascii_only: bool) -> str:
    """JSON text of ``value``; with ``ascii_only=False`` a lone surrogate stays raw (and
    becomes invalid UTF-8 bytes when encoded with ``surrogatepass``)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        pairs = (
            f"{_dump(str(k), ascii_only=ascii_only)}:{_dump(v, ascii_only=ascii_only)}"
            for k, v in value.items()
        )
        return "{" + ",".join(pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(v, ascii_only=ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


NASTY_CHARACTERS = ["\udfff", "\ud800", "\udbff", "\x00", "\x1f", "\u3000", "\u200b"]
NASTY_CHARACTERS += ["\ufeff", "\u2028", "\n", " ", "😀", "停", "水", "油", "烟", "1", "@"]
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(NASTY_CHARACTERS),
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=()),
        st.characters(),
    ),
    max_size=40,
)
HUGE_NUMBERS = st.sampled_from(
    [
        Raw("1e309"),
        Raw("-1e309"),
        Raw("1E400"),
        Raw("1e-400"),
        Raw("NaN"),
        Raw("-Infinity"),
        Raw("-0"),
        Raw("1.0"),
        Raw("9" * 5_000),  # past Python's int conversion limit: the body cannot be read
        10**400,
        -(10**400),
        10**128,
        10**128 - 1,
        2**53 + 1,
        2**63,
        -(2**64),
    ]
)


def _deep(depth: int, kind: str) -> Raw:
    if kind == "list":
        return Raw("[" * depth + "]" * depth)
    return Raw('{"a":' * depth + "1" + "}" * depth)


DEEP = st.builds(
    _deep,
    st.sampled_from([50, 500, 900, 990, 1_000, 1_100, 5_000, 20_000]),
    st.sampled_from(["list", "object"]),
)
KEYS = (
    st.sampled_from(["text", "title", "id", "items", "explain", "version", "label", "note", "x"])
    | TEXT
)
LEAF = st.none() | st.booleans() | st.integers() | st.floats() | TEXT | HUGE_NUMBERS
JUNK = st.recursive(
    LEAF,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=8,
)
TICKET_TEXT = st.sampled_from(["小区停水三天了没人管", "油烟扰民", "", "   "]) | TEXT
TICKET_ID = st.integers() | HUGE_NUMBERS | TEXT | st.sampled_from(["a1", "\udfff", "x" * 129])
TICKET = st.fixed_dictionaries(
    {},
    optional={
        "text": TICKET_TEXT | JUNK | DEEP,
        "title": TICKET_TEXT | JUNK,
        "id": TICKET_ID | JUNK | DEEP,
        "x": JUNK,
    },
)
BODIES = {
    "/v1/classify": TICKET | JUNK | DEEP,
    "/v1/classify/batch": st.fixed_dictionaries(
        {"items": st.lists(TICKET | JUNK | DEEP, max_size=6)},
        optional={"explain": st.integers(-2, 25) | LEAF, "x": JUNK},
    )
    | JUNK
    | DEEP,
    "/v1/models/activate": st.fixed_dictionaries(
        {"version": st.sampled_from(["v1", "v2", "v0", "v01", "V1", "../v1"]) | TEXT | JUNK}
    )
    | JUNK
    | DEEP,
    "/v1/models/rollback": JUNK,
    # Ids the classify bodies may have sent (a1, integers), labels known and not.
    "/v1/feedback": st.fixed_dictionaries(
        {
            "id": TICKET_ID | JUNK,
            "label": st.sampled_from(["水务", "市场监管", "新部门", "", " "]) | TEXT | JUNK,
        },
        optional={"note": TEXT | JUNK, "by": TEXT | JUNK, "allow_new_label": LEAF, "x": JUNK},
    )
    | JUNK
    | DEEP,
}
# Bytes as sent: escaped JSON, JSON with raw lone surrogates (invalid UTF-8), cut-off JSON,
# or random bytes.
ENCODINGS = st.sampled_from(["ascii", "raw", "truncated"])


def _request(path: str) -> st.SearchStrategy[tuple[str, bytes | None]]:
    """A request to ``path``: the path and the body's bytes (None: a GET)."""
    if path == "/v1/models":
        return st.tuples(st.just(path), st.none())
    body = st.tuples(BODIES[path], ENCODINGS).map(lambda pair: _encode(*pair)) | st.binary()
    return st.tuples(st.just(path), body)


# One branch per entry, each picked as often (the first ones a little more: the two ticket
# endpoints alternate). The branches are built once: a flatmap building a strategy at every
# draw made generating the bodies take about 1.7 times as long.
REQUEST = st.one_of(
    [
        _request(path)
        for path in ["/v1/classify", "/v1/classify/batch"] * 9
        + ["/v1/models/activate", "/v1/models/activate", "/v1/models/rollback", "/v1/models"]
        + ["/v1/feedback"] * 2
    ]
)
STATUSES = {
    "/v1/classify": {200, 422},
    "/v1/classify/batch": {200, 422},
    "/v1/models": {200},
    "/v1/models/activate": {200, 404, 409, 422},
    "/v1/models/rollback": {200, 404, 409},
    "/v1/feedback": {200, 404, 422},
}
REQUESTS_PER_EXAMPLE = 25
EXAMPLES = 420  # 10,500 requests


def _encode(value: Any, encoding: str) -> bytes:
    text = _dump(value, ascii_only=encoding == "ascii")
    if encoding == "truncated":
        text = text[: len(text) // 2]
    return text.encode("utf-8", "surrogatepass")


def _expected_id(item: Any) -> str | int | None:
    """The id an answer must echo: a string of valid Unicode up to 128 characters or an
    integer of up to 128 digits, exactly as sent; anything else is not echoed."""
    value = item.get("id") if isinstance(item, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**128:
        return value
    if isinstance(value, str) and len(value) <= 128:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return None
        return value
    return None


def _assert_id(given: Any, expected: str | int | None, *, answered: bool) -> None:
    """The id sent, exactly; a ticket answered without one gets one from the ticket store."""
    if expected is None and answered:
        assert isinstance(given, str), given
        assert re.fullmatch(r"[0-9a-f]{32}", given), given
    else:
        assert (type(given), given) == (type(expected), expected)


def _assert_error(error: Any) -> None:
    assert set(error) == {"code", "message", "fields"}, error
    assert isinstance(error["code"], str)
    assert isinstance(error["message"], str)
    assert error["message"]
    for field in error["fields"]:
        assert set(field) == {"path", "message"}, field
        assert isinstance(field["path"], str)
        assert isinstance(field["message"], str)


def _sent(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _check(path: str, body: bytes | None, response: Any) -> None:
    assert response.status_code in STATUSES[path], (path, body, response.text)
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    if response.status_code != 200:
        assert set(answer) == {"error", "request_id"}, answer
        _assert_error(answer["error"])
        return
    sent = _sent(body) if body is not None else None
    if path == "/v1/classify":
        _assert_id(answer["id"], _expected_id(sent), answered=True)
    elif path == "/v1/classify/batch":
        items = sent["items"]
        assert [item["index"] for item in answer["items"]] == list(range(len(items)))
        for raw, item in zip(items, answer["items"], strict=True):
            _assert_id(item["id"], _expected_id(raw), answered=item["error"] is None)
            if item["error"] is not None:
                _assert_error(item["error"])
                assert item["label"] is None
            else:
                assert item["label"]


def test_ten_thousand_hostile_bodies_get_no_server_error(
    make_client: Any, registry_copy: Registry
) -> None:
    """Every endpoint that reads a body, 10,500 hostile bodies: no 5xx, every error in the
    JSON error shape (per item in a batch), and every valid id echoed exactly (type kept,
    integers past a float's precision too)."""
    client = make_client(models_dir=registry_copy.root)  # activations stay in the copy
    sent: Counter[str] = Counter()

    @given(st.lists(REQUEST, min_size=REQUESTS_PER_EXAMPLE, max_size=REQUESTS_PER_EXAMPLE))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same bodies on every run and machine
        suppress_health_check=list(HealthCheck),
    )
    def send(requests: list[tuple[str, bytes | None]]) -> None:
        for path, body in requests:
            if body is None:
                response = client.get(path)
            else:
                headers = {"Content-Type": "application/json"}
                response = client.post(path, content=body, headers=headers)
            _check(path, body, response)
            sent[path] += 1

    send()
    assert sum(sent.values()) >= 10_000, sent
    assert sent["/v1/classify"] >= 3_000, sent
    assert sent["/v1/classify/batch"] >= 3_000, sent
    assert sent["/v1/feedback"] >= 500, sent
