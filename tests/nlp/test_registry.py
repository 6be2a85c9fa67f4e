"""nlp.registry: versions are self-describing, verified before unpickling, activated atomically."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
from importlib import metadata
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

from nlp import registry as registry_module
from nlp.errors import (
    AppealRouterError,
    DataError,
    InvalidNameError,
    ModelIntegrityError,
    ModelNotFoundError,
    RegistryAccessError,
)
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
    assert set(manifest["files"]) == {"model.joblib", "scope.joblib", "userdict.txt"}
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
        pytest.param("../etc", None, InvalidNameError, id="path-in-name"),
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


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda r, name: r.load(name), id="load"),
        pytest.param(lambda r, name: r.load(name, "v1"), id="load-version"),
        pytest.param(lambda r, name: r.listing(name), id="listing"),
        pytest.param(lambda r, name: r.active_version(name), id="active-version"),
        pytest.param(lambda r, name: r.activate(name, "v1"), id="activate"),
        pytest.param(lambda r, name: r.check_can_save(name), id="check-can-save"),
    ],
)
@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "x" * 65, "名字"])
def test_a_name_that_is_no_model_name_is_an_error_that_says_what_a_name_is(
    models_dir: Path, call, name: str
) -> None:
    with pytest.raises(InvalidNameError, match=r"invalid model name .* 1 to 64 letters") as caught:
        call(Registry(models_dir), name)
    assert isinstance(caught.value, AppealRouterError)
    assert isinstance(caught.value, ValueError)  # callers catching ValueError keep working


def test_an_empty_signing_key_is_a_data_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="APPEALS_SIGNING_KEY"):
        Registry(tmp_path, signing_key="")


def test_saving_into_a_registry_that_is_a_file_fails_before_writing(
    tmp_path: Path, tiny_model: RoutingModel
) -> None:
    not_a_folder = tmp_path / "models.csv"
    not_a_folder.write_text("text,label\n", encoding="utf-8")
    registry = Registry(not_a_folder)
    with pytest.raises(DataError, match="it is a file, not a folder"):
        registry.check_can_save("default")
    with pytest.raises(DataError, match="it is a file, not a folder"):
        registry.save(tiny_model)
    assert not_a_folder.read_text(encoding="utf-8") == "text,label\n"


# --------------------------------------------------------------------------- active version


def test_active_version_names_the_pointer_s_version(registry_copy: Registry) -> None:
    assert registry_copy.active_version("default") == "v1"


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda r: r.active_version("nobody"), id="active-version"),
        pytest.param(lambda r: r.load("nobody"), id="load"),
    ],
)
def test_no_active_version_says_how_to_get_one(models_dir: Path, call) -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        call(Registry(models_dir))
    assert str(caught.value) == (
        f"model 'nobody' has no active version under {models_dir}; train one with "
        "'appeals train DATA --name nobody' or pass --model nobody@VERSION"
    )


def test_a_damaged_pointer_is_no_active_version(registry_copy: Registry) -> None:
    (registry_copy.root / "default" / "ACTIVE").write_text("v1\n", encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="pointer of model 'default'"):
        registry_copy.active_version("default")


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


# --------------------------------------------------------------------------- damaged manifests

DAMAGED_MANIFESTS = [
    pytest.param(
        lambda m: {**m, "libraries": None}, "'libraries' must be an object", id="libs-null"
    ),
    pytest.param(lambda m: {**m, "libraries": ["numpy"]}, "'libraries' must be", id="libs-list"),
    pytest.param(lambda m: [m], "it is a list, not an object", id="manifest-list"),
    pytest.param(lambda m: "v2", "it is a string 'v2'", id="manifest-string"),
    pytest.param(lambda m: None, "it is null", id="manifest-null"),
    pytest.param(lambda m: {**m, "files": None}, "'files' must be an object", id="files-null"),
    pytest.param(lambda m: {**m, "files": ["model.joblib"]}, "'files' must be", id="files-list"),
    pytest.param(
        lambda m: {**m, "files": {**m["files"], "model.joblib": 7}},
        "not a sha256",
        id="hash-not-text",
    ),
    pytest.param(lambda m: {**m, "labels": "城管"}, "'labels' must be a list", id="labels-text"),
    pytest.param(lambda m: {**m, "metrics": [0.9]}, "'metrics' must be an object", id="metrics"),
    pytest.param(lambda m: {**m, "created_at": 2024}, "'created_at' must be", id="created-at"),
]


def _edit_manifest(registry: Registry, version: str, edit) -> None:
    path = _folder(registry, version) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(edit(manifest), ensure_ascii=False), encoding="utf-8")


@pytest.mark.parametrize(("edit", "problem"), DAMAGED_MANIFESTS)
def test_a_damaged_manifest_is_listed_with_its_error_and_refused(
    registry_copy: Registry, trained: TrainResult, edit, problem: str, no_unpickling: None
) -> None:
    _second_version(registry_copy, trained)
    _edit_manifest(registry_copy, "v2", edit)
    listed = registry_copy.versions("default")
    assert [row["version"] for row in listed] == ["v1", "v2"]
    assert "macro_f1" in listed[0]["metrics"]  # the sound version is listed whole
    assert problem in listed[1]["error"]
    assert "manifest.json is damaged" in listed[1]["error"]
    with pytest.raises(ModelIntegrityError, match=re.escape(problem)):
        registry_copy.load("default", "v2")
    with pytest.raises(ModelIntegrityError, match=re.escape(problem)):
        registry_copy.activate("default", "v2")
    assert registry_copy.active("default") == ActivePointer(version="v1")


DAMAGED_POINTERS = [
    pytest.param("v3\n", "not JSON ('v3')", id="hand-written"),
    pytest.param('{"history": ["v1"]}', "no 'version'", id="no-version"),
    pytest.param('["v1"]', "it is a list", id="list"),
    pytest.param('"v1"', "it is a string 'v1'", id="string"),
    pytest.param("null", "it is null", id="null"),
    pytest.param('{"version": 1}', "'version' must name a version", id="version-number"),
    pytest.param('{"version": "../v1"}', "'version' must name a version", id="version-path"),
    pytest.param('{"version": "v1", "history": "v0"}', "'history' must be", id="history-text"),
    pytest.param("", "not JSON", id="empty"),
]


@pytest.mark.parametrize(("content", "problem"), DAMAGED_POINTERS)
def test_a_damaged_pointer_is_reported_listed_around_and_repaired_by_activate(
    registry_copy: Registry, trained: TrainResult, content: str, problem: str
) -> None:
    _second_version(registry_copy, trained)
    (registry_copy.root / "default" / "ACTIVE").write_text(content, encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match=re.escape(problem)) as raised:
        registry_copy.active("default")
    assert "appeals models activate" in str(raised.value)
    assert str(registry_copy.root) not in str(raised.value)

    listing = registry_copy.listing("default")
    assert listing.active is None
    assert problem in (listing.error or "")
    assert [(row["version"], "error" in row) for row in listing.versions] == [
        ("v1", False),
        ("v2", False),
    ]
    with pytest.raises(ModelIntegrityError, match="cannot roll back"):
        registry_copy.rollback("default")

    assert registry_copy.activate("default", "v2") == ActivePointer(version="v2")
    assert registry_copy.load("default").version == "v2"


def test_saving_beside_a_damaged_pointer_leaves_it_for_an_explicit_activation(
    registry_copy: Registry, trained: TrainResult
) -> None:
    pointer_file = registry_copy.root / "default" / "ACTIVE"
    pointer_file.write_text("v1\n", encoding="utf-8")
    assert _second_version(registry_copy, trained) == "v2"
    assert pointer_file.read_text(encoding="utf-8") == "v1\n"
    assert registry_copy.save(trained.model, name="default", activate=True) == "v3"
    assert registry_copy.active("default") == ActivePointer(version="v3")


# --------------------------------------------------------------------------- activation loads


def _rehash(registry: Registry, version: str) -> None:
    """Make the manifest agree with the files again, as someone who edits a version would."""
    folder = _folder(registry, version)
    _edit_manifest(
        registry,
        version,
        lambda m: {
            **m,
            "files": {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in m["files"]},
        },
    )


class _ExplodingStep(TransformerMixin, BaseEstimator):
    """A pipeline step that unpickles fine and fails when it is used."""

    def fit(self, X: object, y: object = None) -> _ExplodingStep:
        return self

    def transform(self, X: object) -> object:
        raise RuntimeError("this step cannot run")


def _unpicklable(folder: Path) -> None:
    (folder / "model.joblib").write_bytes(b"not a pickle")


def _cannot_run(folder: Path) -> None:
    pipeline = joblib.load(folder / "model.joblib")
    pipeline.steps[0] = ("normalise", _ExplodingStep())
    joblib.dump(pipeline, folder / "model.joblib")


def _not_a_pipeline(folder: Path) -> None:
    joblib.dump({"coef": [1, 2, 3]}, folder / "model.joblib")


BROKEN_MODELS = [
    pytest.param(_unpicklable, "cannot be loaded", id="not-a-pickle"),
    pytest.param(_not_a_pipeline, "cannot be loaded", id="not-a-pipeline"),
    pytest.param(_cannot_run, "cannot route tickets", id="cannot-run"),
]


@pytest.mark.parametrize(("damage", "message"), BROKEN_MODELS)
def test_activation_loads_and_tries_the_version_before_the_pointer_moves(
    registry_copy: Registry, trained: TrainResult, damage, message: str
) -> None:
    _second_version(registry_copy, trained)
    damage(_folder(registry_copy, "v2"))
    _rehash(registry_copy, "v2")
    registry_copy.verify("default", "v2")  # the hashes match: only loading can tell
    pointer_file = registry_copy.root / "default" / "ACTIVE"
    before = pointer_file.read_bytes()
    with pytest.raises(ModelIntegrityError, match=message):
        registry_copy.activate("default", "v2")
    assert pointer_file.read_bytes() == before


def test_activate_and_load_hands_over_the_model_it_loaded_and_tried(
    registry_copy: Registry, trained: TrainResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    _second_version(registry_copy, trained)
    loaded: list[RoutingModel] = []
    real_load = Registry.load

    def load(self: Registry, *args, **kwargs) -> RoutingModel:
        model = real_load(self, *args, **kwargs)
        loaded.append(model)
        return model

    monkeypatch.setattr(Registry, "load", load)
    pointer, model = registry_copy.activate_and_load("default", "v2")
    assert pointer == ActivePointer(version="v2", history=("v1",))
    assert loaded == [model]  # one load: the model tried is the model handed over
    assert (model.name, model.version) == ("default", "v2")
    pointer, model = registry_copy.rollback_and_load("default")
    assert pointer == ActivePointer(version="v1", history=())
    assert loaded[1:] == [model]
    assert model.version == "v1"


def test_rollback_loads_and_tries_the_version_first(
    registry_copy: Registry, trained: TrainResult
) -> None:
    _second_version(registry_copy, trained)
    registry_copy.activate("default", "v2")
    _cannot_run(_folder(registry_copy, "v1"))
    _rehash(registry_copy, "v1")
    with pytest.raises(ModelIntegrityError, match="cannot route tickets"):
        registry_copy.rollback("default")
    assert registry_copy.active("default") == ActivePointer(version="v2", history=("v1",))


def test_loading_a_file_that_is_not_a_model_is_an_integrity_error(
    registry_copy: Registry,
) -> None:
    _unpicklable(_folder(registry_copy))
    _rehash(registry_copy, "v1")
    with pytest.raises(ModelIntegrityError, match=r"v1 passed its checks but cannot be loaded"):
        registry_copy.load("default", "v1")


# --------------------------------------------------------------------------- files and access


def test_the_pointer_is_written_like_any_other_file(
    registry_copy: Registry, trained: TrainResult
) -> None:
    """0644 under the usual umask (mkstemp's 0600 locked out read-only service accounts)."""
    _second_version(registry_copy, trained)
    old = os.umask(0o022)
    try:
        registry_copy.activate("default", "v2")
    finally:
        os.umask(old)
    pointer = registry_copy.root / "default" / "ACTIVE"
    assert stat.S_IMODE(pointer.stat().st_mode) == 0o644
    version_file = _folder(registry_copy, "v2") / "manifest.json"
    assert stat.S_IMODE(version_file.stat().st_mode) == 0o644


def _denied(path: Path) -> PermissionError:
    return PermissionError(13, "Permission denied", str(path))


def test_a_registry_that_cannot_be_read_says_so(
    registry_copy: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(Tests run as root, where chmod denies nothing: the denial is simulated.)"""
    real_read_text = Path.read_text

    def read_text(self: Path, *args: object, **kwargs: object) -> str:
        if self.name == "ACTIVE":
            raise _denied(self)
        return real_read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", read_text)
    for call in (
        lambda: registry_copy.active("default"),
        lambda: registry_copy.load("default"),
        lambda: registry_copy.versions("default"),
    ):
        with pytest.raises(RegistryAccessError, match="cannot read default/ACTIVE") as raised:
            call()
        assert raised.value.writing is False
        assert "read access" in str(raised.value)
        assert str(registry_copy.root) not in str(raised.value)
    assert registry_copy.pointer_stamp("default") is not None


def test_a_registry_that_cannot_be_written_says_so_and_keeps_the_pointer(
    registry_copy: Registry, trained: TrainResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    _second_version(registry_copy, trained)
    pointer_file = registry_copy.root / "default" / "ACTIVE"
    before = pointer_file.read_bytes()

    def denied(path: Path, text: str) -> None:
        raise _denied(path.with_name(".ACTIVE.tmp"))

    monkeypatch.setattr(registry_module, "_write_atomic", denied)
    with pytest.raises(RegistryAccessError, match="cannot write default/") as raised:
        registry_copy.activate("default", "v2")
    assert raised.value.writing is True
    assert "write access" in str(raised.value)
    assert pointer_file.read_bytes() == before


# --------------------------------------------------------------------------- signing

KEY = "a-signing-key-for-the-tests-0123456789"


class _WritesMarker:
    """Unpickling this creates ``marker``: a stand-in for a crafted model that runs code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.marker),))


@pytest.fixture
def signed(tmp_path: Path, trained: TrainResult) -> Registry:
    """A registry with a key, holding default@v1 (active) and v2, both signed."""
    registry = Registry(tmp_path / "signed", signing_key=KEY)
    registry.save(trained.model, name="default", metrics={"macro_f1": 0.5})
    registry.save(trained.model, name="default", metrics={"macro_f1": 0.6})
    return registry


def test_a_signed_version_saves_loads_and_activates(
    signed: Registry, demo_frame: pd.DataFrame, tiny_model: RoutingModel
) -> None:
    folder = _folder(signed, "v2")
    assert (folder / "manifest.sig").read_text(encoding="utf-8").startswith("hmac-sha256:")
    loaded = signed.load("default", "v2")
    docs = _docs(demo_frame)
    np.testing.assert_array_equal(loaded.predict_proba(docs), tiny_model.predict_proba(docs))
    assert signed.activate("default", "v2").version == "v2"
    # The key is never stored in the registry, nor shown.
    for path in signed.root.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in repr(signed)


def _plant(registry: Registry, version: str, marker: Path) -> None:
    """Replace the model with a payload and re-compute the manifest's hashes, as an
    attacker with write access to models/ but without the key would."""
    joblib.dump(_WritesMarker(marker), _folder(registry, version) / "model.joblib")
    _rehash(registry, version)


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("removed", id="unsigned"),
        pytest.param("stale", id="old-signature"),
        pytest.param("forged", id="signed-with-another-key"),
    ],
)
def test_a_planted_model_is_refused_before_unpickling(
    signed: Registry, tmp_path: Path, signature: str
) -> None:
    marker = tmp_path / "payload-ran"
    _plant(signed, "v2", marker)
    sig = _folder(signed, "v2") / "manifest.sig"
    if signature == "removed":
        sig.unlink()
    elif signature == "forged":
        Registry(signed.root, signing_key="the-attackers-own-key").sign("default", "v2")
    for call in (
        lambda: signed.load("default", "v2"),
        lambda: signed.activate("default", "v2"),
        lambda: signed.verify("default", "v2"),
    ):
        with pytest.raises(ModelIntegrityError, match="sign"):
            call()
    assert not marker.exists()  # nothing was unpickled
    assert signed.active("default") == ActivePointer(version="v1")
    # The payload is real: a registry without a key (today's behaviour) does run it.
    with pytest.raises(ModelIntegrityError):
        Registry(signed.root).load("default", "v2")
    assert marker.exists()


def test_another_key_refuses_every_version(signed: Registry) -> None:
    other = Registry(signed.root, signing_key="not-the-key-that-signed-these")
    with pytest.raises(ModelIntegrityError, match="does not match its manifest"):
        other.load("default")


def test_a_signed_version_copied_under_another_number_is_refused(signed: Registry) -> None:
    shutil.copytree(_folder(signed, "v1"), _folder(signed, "v3"))
    with pytest.raises(ModelIntegrityError, match="describes default@v1"):
        signed.load("default", "v3")


def test_without_a_key_unsigned_and_signed_versions_load(
    models_dir: Path, signed: Registry
) -> None:
    assert not (models_dir / "default" / "v1" / "manifest.sig").exists()
    assert Registry(models_dir).load("default").version == "v1"
    assert Registry(signed.root).load("default", "v2").version == "v2"


def test_a_key_refuses_unsigned_versions_until_they_are_signed(
    registry_copy: Registry, no_unpickling: None
) -> None:
    keyed = Registry(registry_copy.root, signing_key=KEY)
    with pytest.raises(ModelIntegrityError, match="is not signed") as raised:
        keyed.verify("default", "v1")
    assert "appeals models sign v1" in str(raised.value)
    keyed.sign("default", "v1")
    assert keyed.verify("default", "v1")["version"] == "v1"


def test_signing_checks_the_hashes_first_and_needs_a_key(registry_copy: Registry) -> None:
    with pytest.raises(DataError, match="no signing key"):
        registry_copy.sign("default", "v1")
    (_folder(registry_copy) / "model.joblib").write_bytes(b"evil")
    keyed = Registry(registry_copy.root, signing_key=KEY)
    with pytest.raises(ModelIntegrityError, match="does not match its sha256"):
        keyed.sign("default", "v1")
    assert not (_folder(registry_copy) / "manifest.sig").exists()
