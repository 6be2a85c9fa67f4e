"""The model holder: activations reach the worker, corrupt versions are refused, the old
model keeps serving, and requests in flight keep the model they started with."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pytest
from service_testing import TICKET, add_version, corrupt_version

from nlp.registry import Registry
from service.holder import ModelHolder


def test_refresh_loads_the_active_version(two_versions: Registry) -> None:
    holder = ModelHolder(two_versions, "default")
    assert holder.refresh().version == "v1"  # type: ignore[union-attr]
    two_versions.activate("default", "v2")
    old = holder.model
    assert holder.refresh().version == "v2"  # type: ignore[union-attr]
    assert old is not None
    assert old.version == "v1"  # a request holding the old reference keeps it whole
    assert old.classify([TICKET])[0].label


def test_refresh_is_a_no_op_when_nothing_changed(two_versions: Registry) -> None:
    holder = ModelHolder(two_versions, "default")
    first = holder.refresh()
    assert holder.refresh() is first


def test_corrupt_active_version_is_refused_and_the_old_keeps_serving(
    two_versions: Registry,
) -> None:
    holder = ModelHolder(two_versions, "default")
    holder.refresh()
    two_versions.activate("default", "v2")  # verified and fine here...
    corrupt_version(two_versions, "v2")  # ...then damaged before this worker loads it
    assert holder.refresh().version == "v1"  # type: ignore[union-attr]
    assert holder.last_failure is not None
    assert holder.last_failure.version == "v2"
    assert "sha256" in holder.last_failure.reason


def test_readyz_reports_a_refused_version_while_serving_the_old(
    make_client: Any, two_versions: Registry
) -> None:
    client = make_client(models_dir=two_versions.root)
    two_versions.activate("default", "v2")
    corrupt_version(two_versions, "v2")
    client.app.state.holder.refresh()
    body = client.get("/readyz").json()
    assert body["status"] == "ready"
    assert body["model"]["version"] == "v1"
    assert "v2 refused" in body["reason"]
    assert client.post("/v1/classify", json={"text": TICKET}).json()["model"]["version"] == "v1"


def test_a_model_that_cannot_be_unpickled_is_refused(two_versions: Registry) -> None:
    holder = ModelHolder(two_versions, "default")
    holder.refresh()
    version = add_version(two_versions)
    # A consistent manifest over a file that is not a pickle: hashes pass, loading fails.
    folder = two_versions.root / "default" / version
    (folder / "model.joblib").write_bytes(b"not a pickle")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["model.joblib"] = hashlib.sha256(b"not a pickle").hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    # Registry.activate refuses it now (it loads first); a pointer written by hand does not.
    _point_at(two_versions, json.dumps({"version": version, "history": ["v1"]}))
    assert holder.refresh().version == "v1"  # type: ignore[union-attr]
    assert holder.last_failure is not None
    assert "cannot be loaded" in holder.last_failure.reason


@pytest.mark.parametrize("content", ["v2\n", '{"history": ["v1"]}', "[]"])
def test_a_damaged_pointer_behind_a_worker_keeps_the_old_model_serving(
    make_client: Any, two_versions: Registry, content: str
) -> None:
    client = make_client(models_dir=two_versions.root)
    _point_at(two_versions, content)
    client.app.state.holder.refresh()
    body = client.get("/readyz").json()
    assert body["status"] == "ready"
    assert body["model"]["version"] == "v1"
    assert "pointer of model 'default'" in body["reason"]
    assert client.post("/v1/classify", json={"text": TICKET}).json()["model"]["version"] == "v1"
    # An activation repairs the pointer, and the worker follows.
    assert client.post("/v1/models/activate", json={"version": "v2"}).status_code == 200
    ready = client.get("/readyz").json()
    assert ready.pop("store") in {"ok", "opening the store"}  # the store's own thread
    assert isinstance(ready.pop("similar"), str)  # what the similar-ticket index holds
    assert ready == {
        "status": "ready",
        "model": {"name": "default", "version": "v2"},
        "reason": None,
    }


def _point_at(registry: Registry, content: str) -> None:
    (registry.root / "default" / "ACTIVE").write_text(content, encoding="utf-8")


def test_watcher_follows_activations_made_elsewhere(
    make_client: Any, two_versions: Registry
) -> None:
    """An activation through the registry (as the CLI or another worker makes it) reaches
    this worker's watcher; the bound is generous because tests never assert timings."""
    client = make_client(models_dir=two_versions.root, watch_interval=0.05)
    for target in ("v2", "v1", "v2"):
        two_versions.activate("default", target)
        deadline = time.monotonic() + 30
        served = None
        while time.monotonic() < deadline:
            served = client.post("/v1/classify", json={"text": TICKET}).json()["model"]["version"]
            if served == target:
                break
            time.sleep(0.02)
        assert served == target


def test_watcher_loads_a_model_that_appears_after_start(
    make_client: Any, registry_copy: Registry, tmp_path: Any
) -> None:
    import shutil

    empty = tmp_path / "later"
    client = make_client(models_dir=empty, watch_interval=0.05)
    assert client.get("/readyz").status_code == 503
    shutil.copytree(registry_copy.root, empty)
    deadline = time.monotonic() + 30
    while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.get("/readyz").json()["model"]["version"] == "v1"


# --------------------------------------------------------------------------- activation


def _count_loads(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The versions ``Registry.load`` unpickles from now on, in order."""
    loads: list[str | None] = []
    real_load = Registry.load

    def load(self: Registry, name: str = "default", version: str | None = None, **kw: Any) -> Any:
        loads.append(version)
        return real_load(self, name, version, **kw)

    monkeypatch.setattr(Registry, "load", load)
    return loads


def test_an_activation_serves_the_model_it_loaded_and_tried(
    two_versions: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = ModelHolder(two_versions, "default")
    old = holder.refresh()
    loads = _count_loads(monkeypatch)
    assert holder.activate("v2").version == "v2"
    assert holder.model is not None
    assert holder.model.version == "v2"
    assert loads == ["v2"]  # loaded once: to try it, then served as it is
    holder.refresh()  # what the watcher does when it sees the pointer moved
    assert loads == ["v2"]
    assert holder.rollback().version == "v1"
    assert holder.model is not None
    assert holder.model.version == "v1"
    assert holder.model is not old  # the version the rollback loaded and tried
    assert loads == ["v2", "v1"]


def test_a_refused_activation_leaves_the_model_serving(
    two_versions: Registry,
) -> None:
    holder = ModelHolder(two_versions, "default")
    serving = holder.refresh()
    corrupt_version(two_versions, "v2")
    with pytest.raises(Exception, match="sha256"):
        holder.activate("v2")
    assert holder.model is serving
    assert two_versions.active_version("default") == "v1"


def test_an_activation_overtaken_by_another_serves_what_the_pointer_names(
    two_versions: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process moves the pointer between this activation and its swap: the holder
    serves the version the pointer names, never the one it was handed."""
    holder = ModelHolder(two_versions, "default")
    holder.refresh()
    real = Registry.activate_and_load

    def overtaken(self: Registry, name: str, version: str) -> Any:
        handed = real(self, name, version)
        _point_at(self, json.dumps({"version": "v1", "history": []}))
        return handed

    monkeypatch.setattr(Registry, "activate_and_load", overtaken)
    holder.activate("v2")
    assert holder.model is not None
    assert holder.model.version == "v1"
