"""Versioned model artefacts under ``models/NAME/VERSION/``, verified before they are loaded.

A version is a folder: ``model.joblib`` (the fitted pipeline), ``userdict.txt`` (the user
dictionary it was trained with) and ``manifest.json`` (labels, metrics, training-data
fingerprint, config, library versions, sha256 of every file). :meth:`Registry.load` checks
every hash and the scikit-learn version **before** unpickling anything.

``models/NAME/ACTIVE`` names the version in service. It is replaced atomically (write a
temporary file, then rename), so a reader sees the old pointer or the new one, never half.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib

from nlp.errors import ModelIntegrityError, ModelNotFoundError
from nlp.model import RoutingModel
from nlp.segment import resolve_user_dict

__all__ = ["ActivePointer", "Registry", "parse_model_ref"]

MODEL_FILE = "model.joblib"
USER_DICT_FILE = "userdict.txt"
MANIFEST_FILE = "manifest.json"
ACTIVE_FILE = "ACTIVE"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VERSION = re.compile(r"^v(\d+)$")
_LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib", "jieba", "rjieba", "opencc", "pandas")


def parse_model_ref(ref: str | None, default_name: str = "default") -> tuple[str, str | None]:
    """``NAME[@VERSION]`` -> (name, version or None for the active one)."""
    if not ref:
        return default_name, None
    name, _, version = ref.partition("@")
    return name or default_name, version or None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for library in _LIBRARIES:
        try:
            versions[library] = metadata.version(library)
        except metadata.PackageNotFoundError:
            versions[library] = "absent"
    return versions


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _write_atomic(path: Path, text: str) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class ActivePointer:
    """The active version and the versions active before it, most recent last."""

    version: str
    history: tuple[str, ...] = ()


class Registry:
    """Save, verify, load, list, activate and roll back model versions under ``root``."""

    def __init__(self, root: str | Path = "models") -> None:
        self.root = Path(root)

    # ----------------------------------------------------------------- paths and listing
    def _model_dir(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ValueError(
                f"invalid model name {name!r}: use letters, digits, '.', '_' or '-' (max 64)"
            )
        return self.root / name

    def _version_dir(self, name: str, version: str) -> Path:
        if not _VERSION.match(version):
            raise ModelNotFoundError(f"invalid version {version!r}: versions look like 'v3'")
        return self._model_dir(name) / version

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.match(p.name))

    def version_ids(self, name: str) -> list[str]:
        folder = self._model_dir(name)
        if not folder.is_dir():
            return []
        found = [p.name for p in folder.iterdir() if p.is_dir() and _VERSION.match(p.name)]
        return sorted(found, key=lambda v: int(v[1:]))

    def manifest(self, name: str, version: str) -> dict[str, Any]:
        path = self._version_dir(name, version) / MANIFEST_FILE
        if not path.is_file():
            raise ModelNotFoundError(f"model {name}@{version} has no {MANIFEST_FILE} at {path}")
        try:
            manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ModelIntegrityError(f"{path} is not valid JSON: {error}") from error
        return manifest

    def versions(self, name: str = "default") -> list[dict[str, Any]]:
        """One summary per version (oldest first): version, created_at, metrics, active."""
        active = self.active(name)
        rows = []
        for version in self.version_ids(name):
            try:
                manifest = self.manifest(name, version)
            except (ModelNotFoundError, ModelIntegrityError) as error:
                rows.append({"version": version, "error": str(error), "active": False})
                continue
            rows.append(
                {
                    "version": version,
                    "created_at": manifest.get("created_at"),
                    "labels": manifest.get("labels", []),
                    "metrics": manifest.get("metrics", {}),
                    "active": active is not None and active.version == version,
                }
            )
        return rows

    # ----------------------------------------------------------------- saving
    def save(
        self,
        model: RoutingModel,
        *,
        name: str = "default",
        metrics: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        activate: bool = False,
    ) -> str:
        """Store ``model`` as the next version of ``name``; activate it if asked or if first."""
        model_dir = self._model_dir(name)
        model_dir.mkdir(parents=True, exist_ok=True)
        with self._claim_version(name) as (version, folder):
            vectorizer = model.vectorizer
            source_dict = resolve_user_dict(vectorizer.user_dict)
            if source_dict is not None:
                shutil.copyfile(source_dict, folder / USER_DICT_FILE)
            joblib.dump(model.pipeline, folder / MODEL_FILE, compress=3)
            files = sorted(p.name for p in folder.iterdir() if p.is_file())
            manifest = {
                "name": name,
                "version": version,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "labels": model.labels,
                "metrics": metrics or {},
                "data": data or {},
                "config": config or {},
                "libraries": _library_versions(),
                "files": {f: _sha256(folder / f) for f in files},
            }
            (folder / MANIFEST_FILE).write_text(
                json.dumps(manifest, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
            )
        model.name, model.version, model.manifest = name, version, manifest
        if activate or self.active(name) is None:
            self.activate(name, version)
        return version

    @contextmanager
    def _claim_version(self, name: str) -> Iterator[tuple[str, Path]]:
        """The next free version, claimed by an atomic mkdir; removed again on failure."""
        ids = self.version_ids(name)
        number = int(ids[-1][1:]) + 1 if ids else 1
        while True:
            version = f"v{number}"
            folder = self._model_dir(name) / version
            try:
                folder.mkdir()
                break
            except FileExistsError:
                number += 1
        try:
            yield version, folder
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    # ----------------------------------------------------------------- verification, loading
    def verify(self, name: str, version: str) -> dict[str, Any]:
        """Check files and hashes and the scikit-learn version; return the manifest."""
        folder = self._version_dir(name, version)
        if not folder.is_dir():
            known = ", ".join(self.version_ids(name)) or "none"
            raise ModelNotFoundError(
                f"no version {version!r} of model {name!r} under {self.root} (versions: {known})"
            )
        manifest = self.manifest(name, version)
        files = manifest.get("files")
        if not isinstance(files, dict) or MODEL_FILE not in files:
            raise ModelIntegrityError(f"{name}@{version}: manifest lists no {MODEL_FILE}")
        for file_name, expected in files.items():
            path = folder / file_name
            if Path(file_name).name != file_name or not path.is_file():
                raise ModelIntegrityError(
                    f"{name}@{version}: file {file_name!r} listed in the manifest is missing; "
                    "retrain or restore this version"
                )
            if _sha256(path) != expected:
                raise ModelIntegrityError(
                    f"{name}@{version}: {file_name} does not match its sha256 in the manifest; "
                    "the file was changed or corrupted. Refusing to load it."
                )
        trained = manifest.get("libraries", {}).get("scikit-learn", "unknown")
        installed = metadata.version("scikit-learn")
        if _major_minor(trained) != _major_minor(installed):
            raise ModelIntegrityError(
                f"{name}@{version} was trained with scikit-learn {trained}, this environment has "
                f"{installed}; retrain the model here or install scikit-learn=={trained}"
            )
        return manifest

    def load(self, name: str = "default", version: str | None = None) -> RoutingModel:
        """The verified model ``name@version`` (default: the active version)."""
        if version is None:
            pointer = self.active(name)
            if pointer is None:
                raise ModelNotFoundError(
                    f"model {name!r} has no active version under {self.root}; train one with "
                    f"'appeals train DATA --name {name}' or activate one with "
                    "'appeals models activate VERSION'"
                )
            version = pointer.version
        manifest = self.verify(name, version)
        folder = self._version_dir(name, version)
        pipeline = joblib.load(folder / MODEL_FILE)
        vectorizer = pipeline.named_steps["vectorise"]
        dictionary = folder / USER_DICT_FILE
        vectorizer.user_dict = str(dictionary) if dictionary.is_file() else None
        return RoutingModel(pipeline, name=name, version=version, manifest=manifest)

    # ----------------------------------------------------------------- the active pointer
    def active(self, name: str = "default") -> ActivePointer | None:
        path = self._model_dir(name) / ACTIVE_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ModelIntegrityError(f"{path} is not valid JSON: {error}") from error
        return ActivePointer(version=raw["version"], history=tuple(raw.get("history", ())))

    def _write_pointer(self, name: str, pointer: ActivePointer) -> None:
        body = {"version": pointer.version, "history": list(pointer.history)}
        _write_atomic(self._model_dir(name) / ACTIVE_FILE, json.dumps(body) + "\n")

    def activate(self, name: str, version: str) -> ActivePointer:
        """Point ``name`` at ``version`` after verifying it; the previous one goes to history."""
        self.verify(name, version)
        current = self.active(name)
        if current is not None and current.version == version:
            return current
        history = (*current.history, current.version) if current else ()
        pointer = ActivePointer(version=version, history=history[-50:])
        self._write_pointer(name, pointer)
        return pointer

    def rollback(self, name: str = "default") -> ActivePointer:
        """Re-activate the version that was active before the current one."""
        current = self.active(name)
        if current is None or not current.history:
            raise ModelNotFoundError(
                f"model {name!r} has no earlier active version to roll back to"
            )
        previous = current.history[-1]
        self.verify(name, previous)
        pointer = ActivePointer(version=previous, history=current.history[:-1])
        self._write_pointer(name, pointer)
        return pointer

    def pointer_stamp(self, name: str = "default") -> tuple[int, int] | None:
        """A cheap change marker for watchers: (inode, mtime_ns) of the pointer file."""
        try:
            stat = (self._model_dir(name) / ACTIVE_FILE).stat()
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns
