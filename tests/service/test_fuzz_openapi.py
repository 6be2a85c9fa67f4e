"""Fuzzing driven by the app's own OpenAPI document (schemathesis, in-process ASGI):
over 1,000 generated requests across every operation, no 5xx, and every response matches
the status codes, content types and schemas the document declares."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
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

EXAMPLES_PER_OPERATION = 200
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


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["text", "title", "id", "items", "x"]), children, max_size=4
        )
    ),
    max_leaves=12,
)


@given(
    path=st.sampled_from(["/v1/classify", "/v1/classify/batch"]),
    body=JSON | st.fixed_dictionaries({"items": st.lists(JSON, max_size=5)}),
)
@settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_arbitrary_json_never_produces_a_server_error(
    client: TestClient, path: str, body: Any
) -> None:
    response = client.post(
        path, content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (200, 422), response.text
    assert "error" in response.json() or response.status_code == 200
