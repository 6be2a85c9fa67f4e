"""nlp.registry: versions are self-describing, verified before unpickling, activated atomically."""

from __future__ import annotations

import json
import os
import re
from importlib import metadata
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from nlp.errors import ModelIntegrityError, ModelNotFoundError
from nlp.model import RoutingModel
from nlp.registry import ActivePointer, Registry, parse_model_ref
from nlp.train import TrainResult


@pytest.fixture
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything is unpickled: verification must refuse first."""

    def forbidden(*args: object, **kwargs: object) -> None:
        pytest.fail("joblib.load was called on a model that failed verification")

    monkeypatch.setattr(joblib, "load", forbidden)


def _docs(demo_frame: pd.DataFrame) -> list[str]:
    return demo_frame["text"].tolist()[:120]


def _folder(registry: Registry, version: str = "v1") -> Path:
    return registry.root / "default" / version


def _second_version(registry: Registry, trained: TrainResult) -> str:
    return registry.save(trained.model, name="default", metrics={"macro_f1": 0.5})


# --------------------------------------------------------------------------- save and load


def test_save_load_roundtrip_gives_identical_predictions(
    models_dir: Path, tiny_model: RoutingModel, demo_frame: pd.DataFrame
) -> None:
    loaded = Registry(models_dir).load("default")
    assert (loaded.name, loaded.version) == ("default", "v1")
    assert loaded.labels == tiny_model.labels
    docs = _docs(demo_frame)
    np.testing.assert_array_equal(loaded.predict_proba(docs), tiny_model.predict_proba(docs))


def test_a_loaded_model_segments_with_its_own_copy_of_the_dictionary(models_dir: Path) -> None:
    loaded = Registry(models_dir).load("default", "v1")
    assert Path(loaded.vectorizer.user_dict) == models_dir / "default" / "v1" / "userdict.txt"


def test_manifest_describes_the_version(models_dir: Path, trained: TrainResult) -> None:
    folder = models_dir / "default" / "v1"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for key in ("name", "version", "created_at", "labels", "metrics", "data", "config"):
        assert key in manifest, key
    assert manifest["version"] == "v1"
    assert manifest["labels"] == trained.model.labels
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", manifest["created_at"])
    assert manifest["metrics"]["macro_f1"] == pytest.approx(trained.evaluation.macro_f1)
    for library in ("python", "scikit-learn", "numpy", "scipy", "joblib", "jieba", "rjieba"):
        assert library in manifest["libraries"], library
    assert manifest["libraries"]["scikit-learn"] == metadata.version("scikit-learn")
    assert set(manifest["files"]) == {"model.joblib", "userdict.txt"}
    for name, digest in manifest["files"].items():
        assert re.fullmatch(r"[0-9a-f]{64}", digest), name


def test_manifest_records_training_data_and_config(tmp_path: Path, trained: TrainResult) -> None:
    registry = Registry(tmp_path)
    version = registry.save(
        trained.model,
        name="hotline",
        metrics=trained.evaluation.to_dict(),
        data=trained.data,
        config={"C": 1.0},
    )
    manifest = registry.manifest("hotline", version)
    assert manifest["data"]["sha256"] == trained.data["sha256"]
    assert manifest["data"]["rows"] == trained.data["rows"]
    assert manifest["config"] == {"C": 1.0}


def test_versions_are_numbered_and_only_the_first_is_activated(
    registry_copy: Registry, trained: TrainResult
) -> None:
    assert _second_version(registry_copy, trained) == "v2"
    assert _second_version(registry_copy, trained) == "v3"
    assert registry_copy.version_ids("default") == ["v1", "v2", "v3"]
    assert registry_copy.active("default") == ActivePointer(version="v1")
    rows = registry_copy.versions("default")
    assert [(row["version"], row["active"]) for row in rows] == [
        ("v1", True),
        ("v2", False),
        ("v3", False),
    ]


# --------------------------------------------------------------------------- verification


@pytest.mark.parametrize("file_name", ["model.joblib", "userdict.txt"])
def test_a_tampered_file_is_refused_before_unpickling(
    registry_copy: Registry, file_name: str, no_unpickling: None
) -> None:
    path = _folder(registry_copy) / file_name
    path.write_bytes(path.read_bytes() + b"\n")
    with pytest.raises(ModelIntegrityError, match=f"{re.escape(file_name)} does not match"):
        registry_copy.load("default", "v1")


@pytest.mark.parametrize("file_name", ["model.joblib", "userdict.txt"])
def test_a_missing_file_is_refused(
    registry_copy: Registry, file_name: str, no_unpickling: None
) -> None:
    (_folder(registry_copy) / file_name).unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        registry_copy.load("default")


def test_a_manifest_listing_a_path_outside_the_folder_is_refused(
    registry_copy: Registry, no_unpickling: None
) -> None:
    manifest_path = _folder(registry_copy) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["files"]["../../ACTIVE"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelIntegrityError):
        registry_copy.load("default", "v1")


def _installed_major_minor() -> tuple[int, int]:
    major, minor = metadata.version("scikit-learn").split(".")[:2]
    return int(major), int(minor)


def _set_sklearn(registry: Registry, version: str) -> None:
    path = _folder(registry) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["libraries"]["scikit-learn"] = version
    path.write_text(json.dumps(manifest), encoding="utf-8")


@pytest.mark.parametrize(
    "trained_with",
    [
        pytest.param(lambda major, minor: f"{major}.{minor - 1}.0", id="older-minor"),
        pytest.param(lambda major, minor: f"{major}.{minor + 1}.0", id="newer-minor"),
        pytest.param(lambda major, minor: f"{major + 1}.{minor}.0", id="newer-major"),
        pytest.param(lambda major, minor: "unknown", id="unknown"),
    ],
)
def test_another_scikit_learn_major_minor_is_refused(
    registry_copy: Registry, trained_with, no_unpickling: None
) -> None:
    _set_sklearn(registry_copy, trained_with(*_installed_major_minor()))
    with pytest.raises(ModelIntegrityError, match="scikit-learn"):
        registry_copy.load("default", "v1")


def test_another_scikit_learn_patch_release_is_accepted(registry_copy: Registry) -> None:
    major, minor = _installed_major_minor()
    _set_sklearn(registry_copy, f"{major}.{minor}.999")
    assert registry_copy.load("default", "v1").version == "v1"


@pytest.mark.parametrize(
    ("name", "version", "error"),
    [
        pytest.param("default", "v9", ModelNotFoundError, id="unknown-version"),
        pytest.param("default", "latest", ModelNotFoundError, id="malformed-version"),
        pytest.param("nobody", None, ModelNotFoundError, id="no-active-version"),
        pytest.param("../etc", None, ValueError, id="path-in-name"),
    ],
)
def test_loading_what_is_not_there(
    models_dir: Path, name: str, version: str | None, error: type[Exception]
) -> None:
    with pytest.raises(error):
        Registry(models_dir).load(name, version)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        pytest.param(None, ("default", None), id="none"),
        pytest.param("", ("default", None), id="empty"),
        pytest.param("hotline", ("hotline", None), id="name"),
        pytest.param("hotline@v2", ("hotline", "v2"), id="name-version"),
        pytest.param("@v3", ("default", "v3"), id="version-only"),
    ],
)
def test_parse_model_ref(ref: str | None, expected: tuple[str, str | None]) -> None:
    assert parse_model_ref(ref) == expected


# --------------------------------------------------------------------------- the active pointer


def test_activate_replaces_the_pointer_atomically(
    registry_copy: Registry, trained: TrainResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    _second_version(registry_copy, trained)
    replaced: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(source: str | Path, target: str | Path) -> None:
        replaced.append((str(source), str(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", spy)
    pointer = registry_copy.activate("default", "v2")
    assert pointer == ActivePointer(version="v2", history=("v1",))
    model_dir = registry_copy.root / "default"
    assert len(replaced) == 1
    source, target = replaced[0]
    assert Path(target) == model_dir / "ACTIVE"
    assert Path(source).parent == model_dir  # same folder, so the rename is atomic
    assert sorted(p.name for p in model_dir.iterdir()) == ["ACTIVE", "v1", "v2"]
    assert registry_copy.load("default").version == "v2"


def test_a_failed_pointer_write_leaves_the_old_pointer_and_no_temp_files(
    registry_copy: Registry, trained: TrainResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    _second_version(registry_copy, trained)
    pointer_file = registry_copy.root / "default" / "ACTIVE"
    before = pointer_file.read_bytes()

    def broken(source: str | Path, target: str | Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        registry_copy.activate("default", "v2")
    assert pointer_file.read_bytes() == before
    assert sorted(p.name for p in pointer_file.parent.iterdir()) == ["ACTIVE", "v1", "v2"]


def test_rollback_returns_to_the_version_active_before(
    registry_copy: Registry, trained: TrainResult
) -> None:
    _second_version(registry_copy, trained)
    _second_version(registry_copy, trained)
    registry_copy.activate("default", "v2")
    registry_copy.activate("default", "v3")
    assert registry_copy.rollback("default") == ActivePointer(version="v2", history=("v1",))
    assert registry_copy.rollback("default") == ActivePointer(version="v1", history=())
    with pytest.raises(ModelNotFoundError, match="no earlier active version"):
        registry_copy.rollback("default")
    assert registry_copy.active("default") == ActivePointer(version="v1")


def test_activating_the_active_version_changes_nothing(registry_copy: Registry) -> None:
    assert registry_copy.activate("default", "v1") == ActivePointer(version="v1")


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda folder: (folder / "model.joblib").write_bytes(b"evil"), id="tampered"),
        pytest.param(lambda folder: (folder / "userdict.txt").unlink(), id="missing-file"),
        pytest.param(lambda folder: (folder / "manifest.json").write_text("{"), id="bad-manifest"),
    ],
)
def test_activating_a_corrupt_version_is_refused_and_the_pointer_kept(
    registry_copy: Registry, trained: TrainResult, corrupt, no_unpickling: None
) -> None:
    _second_version(registry_copy, trained)
    corrupt(_folder(registry_copy, "v2"))
    pointer_file = registry_copy.root / "default" / "ACTIVE"
    before = pointer_file.read_bytes()
    with pytest.raises(ModelIntegrityError):
        registry_copy.activate("default", "v2")
    assert pointer_file.read_bytes() == before
    assert registry_copy.active("default") == ActivePointer(version="v1")


def test_rollback_to_a_corrupt_version_is_refused(
    registry_copy: Registry, trained: TrainResult
) -> None:
    _second_version(registry_copy, trained)
    registry_copy.activate("default", "v2")
    (_folder(registry_copy, "v1") / "model.joblib").write_bytes(b"evil")
    with pytest.raises(ModelIntegrityError):
        registry_copy.rollback("default")
    assert registry_copy.active("default") == ActivePointer(version="v2", history=("v1",))
