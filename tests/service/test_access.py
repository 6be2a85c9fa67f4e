"""What unauthenticated callers may see: no filesystem paths in any answer, /metrics only for
loopback clients and key holders (unless opened), the documentation open unless closed, and
the documentation pages working without the internet."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import MakeClient
from fastapi.testclient import TestClient
from service_testing import ADMIN_KEY, CLASSIFY_KEY, corrupt_version

from nlp.registry import Registry

KEYS = {"classify_keys": frozenset({CLASSIFY_KEY}), "admin_keys": frozenset({ADMIN_KEY})}
LOOPBACK = ("127.0.0.1", 50000)
DOC_PAGES = ("/docs", "/redoc", "/openapi.json")


# The tests that take ``client`` only read: one started app per module serves them all,
# instead of an app per test (tests/service/conftest.py).
@pytest.fixture(scope="module")
def client(make_module_client: MakeClient) -> TestClient:
    """No keys configured (open, as on loopback)."""
    return make_module_client()


# --------------------------------------------------------------------------- no paths
def _assert_no_path(text: str, root: Path) -> None:
    for form in {str(root), str(root.resolve())}:
        assert form not in text
    assert not re.search(r"(?<![\w.:/<-])/(tmp|home|root|usr|var|work)/", text), text


def test_readyz_reason_names_no_path(make_client: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty-registry"
    response = make_client(models_dir=empty).get("/readyz")
    assert response.status_code == 503
    reason = response.json()["reason"]
    assert "no active version under <models>" in reason
    _assert_no_path(response.text, empty)


def test_refused_version_reason_names_no_path(make_client: Any, two_versions: Registry) -> None:
    two_versions.activate("default", "v2")
    corrupt_version(two_versions, "v2")
    client = make_client(models_dir=two_versions.root)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "v2 refused" in response.json()["reason"]
    _assert_no_path(response.text, two_versions.root)
    response = client.post("/v1/classify", json={"text": "路灯坏了"})
    assert response.status_code == 503
    _assert_no_path(response.text, two_versions.root)


def test_404_and_409_name_no_path(make_client: Any, two_versions: Registry) -> None:
    client = make_client(models_dir=two_versions.root, **KEYS)
    admin = {"X-API-Key": ADMIN_KEY}
    missing = client.post("/v1/models/activate", json={"version": "v9"}, headers=admin)
    assert missing.status_code == 404
    assert "no version 'v9' of model 'default'" in missing.json()["error"]["message"]
    _assert_no_path(missing.text, two_versions.root)
    (two_versions.root / "default" / "v2" / "manifest.json").write_text("{", encoding="utf-8")
    broken = client.post("/v1/models/activate", json={"version": "v2"}, headers=admin)
    assert broken.status_code in (404, 409)
    _assert_no_path(broken.text, two_versions.root)


# --------------------------------------------------------------------------- who may read
def test_metrics_need_a_key_or_loopback_when_keys_are_configured(make_client: Any) -> None:
    remote = make_client(**KEYS)
    response = remote.get("/metrics")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert "X-API-Key" in response.json()["error"]["message"]
    assert remote.get("/metrics", headers={"X-API-Key": "wrong"}).status_code == 401
    for key in (CLASSIFY_KEY, ADMIN_KEY):
        assert remote.get("/metrics", headers={"X-API-Key": key}).status_code == 200
    assert make_client(peer=LOOPBACK, **KEYS).get("/metrics").status_code == 200


def test_metrics_can_be_made_public(make_client: Any) -> None:
    assert make_client(metrics_public=True, **KEYS).get("/metrics").status_code == 200


def test_metrics_are_open_without_keys(client: TestClient) -> None:
    # Without keys the server listens on loopback only, and every route is open.
    assert client.get("/metrics").status_code == 200


def test_docs_are_open_by_default_and_can_be_closed(make_client: Any) -> None:
    open_docs = make_client(**KEYS)
    for path in DOC_PAGES:
        assert open_docs.get(path).status_code == 200, path
    closed = make_client(docs_public=False, **KEYS)
    for path in DOC_PAGES:
        assert closed.get(path).status_code == 401, path
        assert closed.get(path, headers={"X-API-Key": CLASSIFY_KEY}).status_code == 200, path
    loopback = make_client(peer=LOOPBACK, docs_public=False, **KEYS)
    for path in DOC_PAGES:
        assert loopback.get(path).status_code == 200, path


# --------------------------------------------------------------------------- docs offline
_REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_nothing_from_outside(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.IGNORECASE), html
    references = [a or b for a, b in _REFERENCES.findall(html)]
    scripts = [ref for ref in references if ref.endswith(".js")]
    assert scripts, html  # the page does load its viewer
    for reference in [*references, "/openapi.json"]:
        assert reference.startswith("/"), reference
        asset = client.get(reference)
        assert asset.status_code == 200, reference
        assert asset.content, reference
    for script in scripts:
        assert len(client.get(script).content) > 100_000, script  # the real bundle, not a stub
