"""/healthz, /readyz, /metrics, the try-it page and the OpenAPI document."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import MakeClient
from fastapi.testclient import TestClient
from service_testing import TICKET


# The tests that take ``client`` send requests that change nothing a later test reads: one
# started app per module serves them all, instead of an app per test (tests/service/conftest.py).
@pytest.fixture(scope="module")
def client(make_module_client: MakeClient) -> TestClient:
    """No keys configured (open, as on loopback)."""
    return make_module_client()


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_the_model_version(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"
    assert response.json()["model"] == {"name": "default", "version": "v1"}


def test_without_a_model_readyz_is_503_and_classify_is_503(
    make_client: object, tmp_path: Path
) -> None:
    client = make_client(models_dir=tmp_path / "empty")  # type: ignore[operator]
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "loading"
    assert "no active version" in response.json()["reason"]
    response = client.post("/v1/classify", json={"text": TICKET})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "model_unavailable"
    assert client.post("/v1/classify/batch", json={"items": []}).status_code == 503


def _sample(text: str, metric: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(metric + "{") and line.split(" ")[0] != metric:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_labels_reviews_and_model_version(make_client: object) -> None:
    client = make_client(min_confidence=1.0)  # type: ignore[operator]
    before = client.get("/metrics").text
    label = client.post("/v1/classify", json={"text": TICKET}).json()["label"]
    client.post("/v1/classify", json={"text": ""})
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    requests = "appeals_http_requests_total"
    ok = {"route": "/v1/classify", "method": "POST", "status": "200"}
    bad = {"route": "/v1/classify", "method": "POST", "status": "422"}
    assert _sample(after, requests, **ok) == _sample(before, requests, **ok) + 1
    assert _sample(after, requests, **bad) == _sample(before, requests, **bad) + 1
    predictions = "appeals_predictions_total"
    assert _sample(after, predictions, label=label) == _sample(before, predictions, label=label) + 1
    review = "appeals_needs_review_total"
    assert _sample(after, review) == _sample(before, review) + 1
    assert "appeals_http_request_duration_seconds_bucket" in after
    assert _sample(after, "appeals_model_info", name="default", version="v1") == 1


def test_unknown_routes_share_one_metrics_label(client: TestClient) -> None:
    client.get("/no/such/route/12345")
    assert 'route="/no/such/route/12345"' not in client.get("/metrics").text


def test_try_it_page_uses_the_api(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "工单" in page.text
    assert "/static/app.js" in page.text
    script = client.get("/static/app.js")
    assert script.status_code == 200
    assert "/v1/classify" in script.text
    assert "<mark>" not in script.text
    assert '"mark"' in script.text  # highlights explanation terms


def test_openapi_has_chinese_examples_and_documents_errors(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    request = schema["components"]["schemas"]["ClassifyRequest"]
    assert "烧烤摊" in request["examples"][0]["text"]
    assert {"type": "string", "maxLength": 20_000} in request["properties"]["text"]["anyOf"]
    responses = schema["paths"]["/v1/classify"]["post"]["responses"]
    assert {"200", "401", "413", "422", "503"} <= set(responses)
    assert responses["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorResponse"
    )
    assert "X-API-Key" in str(schema["components"]["securitySchemes"])
    assert client.get("/docs").status_code == 200
