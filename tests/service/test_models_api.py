"""GET /v1/models, POST /v1/models/activate and /v1/models/rollback."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_testing import ADMIN_KEY, add_version

from nlp import registry as registry_module
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


def test_activate_and_rollback_load_the_version_once(
    make_client: Any, two_versions: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model an activation loads and tries is the model the worker serves: one load."""
    client = make_client(models_dir=two_versions.root, watch_interval=0.05)
    loads: list[str | None] = []
    real_load = Registry.load

    def load(self: Registry, name: str = "default", version: str | None = None, **kw: Any) -> Any:
        loads.append(version)
        return real_load(self, name, version, **kw)

    monkeypatch.setattr(Registry, "load", load)
    assert client.post("/v1/models/activate", json={"version": "v2"}).json()["serving"] == "v2"
    time.sleep(0.3)  # a few rounds of the watcher, which sees the pointer move
    assert client.post("/v1/classify", json={"text": "停水"}).json()["model"]["version"] == "v2"
    assert loads == ["v2"]
    assert client.post("/v1/models/rollback").json()["serving"] == "v1"
    time.sleep(0.3)
    assert loads == ["v2", "v1"]


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


# --------------------------------------------------------------------------- damaged registries


def _edit_manifest(registry: Registry, version: str, edit: Callable[[Any], Any]) -> None:
    path = registry.root / "default" / version / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(edit(manifest)), encoding="utf-8")


def _rehash(registry: Registry, version: str) -> None:
    folder = registry.root / "default" / version
    _edit_manifest(
        registry,
        version,
        lambda m: {
            **m,
            "files": {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in m["files"]},
        },
    )


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda m: {**m, "libraries": None}, id="libraries-null"),
        pytest.param(lambda m: {**m, "libraries": []}, id="libraries-list"),
        pytest.param(lambda m: [m], id="manifest-list"),
    ],
)
def test_a_damaged_manifest_is_listed_with_its_error_and_refused_with_409(
    make_client: Any, two_versions: Registry, edit: Callable[[Any], Any]
) -> None:
    _edit_manifest(two_versions, "v2", edit)
    client = make_client(models_dir=two_versions.root)
    response = client.get("/v1/models")
    assert response.status_code == 200
    v1, v2 = response.json()["versions"]
    assert v1["error"] is None
    assert "macro_f1" in v1["metrics"]
    assert "manifest.json is damaged" in v2["error"]

    response = client.post("/v1/models/activate", json={"version": "v2"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "model_integrity"
    assert "manifest.json is damaged" in response.json()["error"]["message"]
    assert two_versions.active("default").version == "v1"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("v2\n", id="hand-written"),
        pytest.param('{"history": []}', id="no-version"),
        pytest.param("[]", id="list"),
    ],
)
def test_a_damaged_pointer_is_listed_around_and_repaired_by_activate(
    make_client: Any, two_versions: Registry, content: str
) -> None:
    client = make_client(models_dir=two_versions.root)  # serves v1, loaded before the damage
    (two_versions.root / "default" / "ACTIVE").write_text(content, encoding="utf-8")

    listed = client.get("/v1/models")
    assert listed.status_code == 200
    assert listed.json()["active"] is None
    assert "pointer of model 'default'" in listed.json()["error"]
    assert [v["version"] for v in listed.json()["versions"]] == ["v1", "v2"]

    response = client.post("/v1/models/rollback")
    assert response.status_code == 409
    assert "cannot roll back" in response.json()["error"]["message"]

    response = client.post("/v1/models/activate", json={"version": "v2"})
    assert response.status_code == 200
    assert response.json() == {"name": "default", "active": "v2", "previous": None, "serving": "v2"}
    assert client.get("/v1/models").json()["error"] is None


def test_activating_a_version_that_cannot_be_loaded_is_refused_with_409(
    make_client: Any, two_versions: Registry
) -> None:
    """Hashes that match prove nothing about loading: activation loads and tries it first."""
    (two_versions.root / "default" / "v2" / "model.joblib").write_bytes(b"not a pickle")
    _rehash(two_versions, "v2")
    client = make_client(models_dir=two_versions.root)
    response = client.post("/v1/models/activate", json={"version": "v2"})
    assert response.status_code == 409
    assert "cannot be loaded" in response.json()["error"]["message"]
    assert two_versions.active("default").version == "v1"  # type: ignore[union-attr]
    assert client.post("/v1/classify", json={"text": "停水"}).json()["model"]["version"] == "v1"


def test_a_registry_the_service_cannot_write_answers_409(
    make_client: Any, two_versions: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(path: Path, text: str) -> None:
        raise PermissionError(13, "Permission denied", str(path.with_name(".ACTIVE.x1")))

    monkeypatch.setattr(registry_module, "_write_atomic", denied)
    client = make_client(models_dir=two_versions.root)
    response = client.post("/v1/models/activate", json={"version": "v2"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "registry_read_only"
    assert "write access" in error["message"]
    assert str(two_versions.root) not in error["message"]


def test_a_registry_the_service_cannot_read_answers_503(
    make_client: Any, two_versions: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(models_dir=two_versions.root)
    real_read_text = Path.read_text

    def read_text(self: Path, *args: Any, **kwargs: Any) -> str:
        if self.name == "ACTIVE":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    for response in (
        client.get("/v1/models"),
        client.post("/v1/models/activate", json={"version": "v2"}),
    ):
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "registry_unreadable"
        assert "cannot read default/ACTIVE" in error["message"]
        assert str(two_versions.root) not in error["message"]


# --------------------------------------------------------------------------- signing

SIGNING_KEY = "service-signing-key-for-tests-0123456789"


def test_with_a_signing_key_unsigned_versions_are_not_served(
    make_client: Any, two_versions: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        client = make_client(models_dir=two_versions.root, signing_key=SIGNING_KEY)
    assert "no signing key" not in caplog.text
    assert SIGNING_KEY not in caplog.text
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "is not signed" in ready.json()["reason"]
    response = client.post("/v1/models/activate", json={"version": "v2"})
    assert response.status_code == 409
    assert "is not signed" in response.json()["error"]["message"]

    Registry(two_versions.root, signing_key=SIGNING_KEY).sign("default", "v2")
    response = client.post("/v1/models/activate", json={"version": "v2"})
    assert response.status_code == 200
    assert response.json()["serving"] == "v2"


def test_without_a_signing_key_the_service_says_so_at_start_up(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="service.app"):
        client = make_client()
    warnings = [r for r in caplog.records if getattr(r, "event", None) == "unsigned_models"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "APPEALS_SIGNING_KEY" in warnings[0].getMessage()
    assert client.get("/readyz").json()["model"]["version"] == "v1"  # and serves unsigned
