"""GET /v1/models, POST /v1/models/activate and /v1/models/rollback."""

from __future__ import annotations

from fastapi.testclient import TestClient
from service_testing import ADMIN_KEY, add_version

from nlp.registry import Registry


def test_models_lists_versions_metrics_active_and_serving(client: TestClient) -> None:
    body = client.get("/v1/models").json()
    assert body["name"] == "default"
    assert body["active"] == body["serving"] == "v1"
    [version] = body["versions"]
    assert version["version"] == "v1"
    assert version["active"] is True
    assert version["serving"] is True
    assert "macro_f1" in version["metrics"]
    assert version["labels"]


def test_activate_then_rollback(make_client: object, two_versions: Registry) -> None:
    client = make_client(models_dir=two_versions.root)  # type: ignore[operator]
    response = client.post("/v1/models/activate", json={"version": "v2"})
    assert response.status_code == 200
    assert response.json() == {"name": "default", "active": "v2", "previous": "v1", "serving": "v2"}
    assert two_versions.active("default").version == "v2"  # type: ignore[union-attr]
    assert client.post("/v1/classify", json={"text": "停水"}).json()["model"]["version"] == "v2"
    listed = client.get("/v1/models").json()
    assert [v["version"] for v in listed["versions"] if v["active"]] == ["v2"]

    response = client.post("/v1/models/rollback")
    assert response.status_code == 200
    assert response.json() == {"name": "default", "active": "v1", "previous": "v2", "serving": "v1"}
    assert client.post("/v1/classify", json={"text": "停水"}).json()["model"]["version"] == "v1"


def test_activating_the_active_version_is_a_no_op(
    make_client: object, two_versions: Registry
) -> None:
    client = make_client(models_dir=two_versions.root)  # type: ignore[operator]
    response = client.post("/v1/models/activate", json={"version": "v1"})
    assert response.status_code == 200
    assert response.json()["active"] == "v1"


def test_activate_unknown_version_is_404(make_client: object, two_versions: Registry) -> None:
    client = make_client(models_dir=two_versions.root)  # type: ignore[operator]
    response = client.post("/v1/models/activate", json={"version": "v99"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    assert "v99" in response.json()["error"]["message"]


def test_activate_corrupt_version_is_refused_and_old_keeps_serving(
    make_client: object, registry_copy: Registry
) -> None:
    bad = add_version(registry_copy, corrupt=True)
    client = make_client(models_dir=registry_copy.root)  # type: ignore[operator]
    response = client.post("/v1/models/activate", json={"version": bad})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "model_integrity"
    assert "sha256" in response.json()["error"]["message"]
    assert registry_copy.active("default").version == "v1"  # type: ignore[union-attr]
    assert client.post("/v1/classify", json={"text": "停水"}).json()["model"]["version"] == "v1"


def test_rollback_without_history_is_404(make_client: object, registry_copy: Registry) -> None:
    client = make_client(models_dir=registry_copy.root)  # type: ignore[operator]
    response = client.post("/v1/models/rollback")
    assert response.status_code == 404
    assert "roll back" in response.json()["error"]["message"]


def test_admin_endpoints_accept_the_admin_key(make_client: object, two_versions: Registry) -> None:
    client = make_client(  # type: ignore[operator]
        models_dir=two_versions.root, admin_keys=frozenset({ADMIN_KEY})
    )
    response = client.post(
        "/v1/models/activate", json={"version": "v2"}, headers={"X-API-Key": ADMIN_KEY}
    )
    assert response.status_code == 200
