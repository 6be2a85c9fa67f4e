"""Versioned model artefacts under ``models/NAME/VERSION/``, verified before they are loaded.

A version is a folder: ``model.joblib`` (the fitted pipeline), ``scope.joblib`` (its
out-of-scope rule, :mod:`nlp.scope`; versions saved before it have none and never flag a
ticket out of scope), ``userdict.txt`` (the user dictionary it was trained with) and
``manifest.json`` (labels, metrics, training-data
fingerprint, config, library versions, sha256 of every file). :meth:`Registry.load` checks
the manifest's shape, every hash and the scikit-learn version **before** unpickling anything.

With a signing key, :meth:`Registry.save` also writes ``manifest.sig``: an HMAC-SHA256 of the
manifest's canonical bytes. The hashes prove the files are the ones the manifest names; the
signature proves the manifest was written by someone holding the key. A registry opened with
a key refuses an unsigned or wrongly signed version before unpickling it.

``models/NAME/ACTIVE`` names the version in service. It is replaced atomically (write a
temporary file, then rename), so a reader sees the old pointer or the new one, never half.
Activation loads the version and routes a few tickets with it before the pointer moves: a
version that cannot be unpickled or run is refused, never activated. The model it loaded is
handed over (:meth:`Registry.activate_and_load`), so a server serves it without loading it
again.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import math
import os
import platform
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import joblib

from nlp.errors import (
    DataError,
    InvalidNameError,
    ModelIntegrityError,
    ModelNotFoundError,
    RegistryAccessError,
)
from nlp.segment import resolve_user_dict

if TYPE_CHECKING:
    from nlp.model import RoutingModel

__all__ = [
    "ActivePointer",
    "Listing",
    "Registry",
    "canonical_manifest",
    "check_manifest",
    "check_model_name",
    "parse_model_ref",
]

logger = logging.getLogger(__name__)

MODEL_FILE = "model.joblib"
SCOPE_FILE = "scope.joblib"  # the out-of-scope rule (nlp.scope), absent from older versions
USER_DICT_FILE = "userdict.txt"
MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "manifest.sig"
ACTIVE_FILE = "ACTIVE"
_SIGNATURE_SCHEME = "hmac-sha256"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VERSION = re.compile(r"^v(\d+)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib", "jieba", "rjieba", "opencc", "pandas")
#: Tickets an activation routes with the loaded version before it may serve.
_TRIAL_TICKETS = (
    "小区停水两天了，联系电话<PHONE>，请尽快派人维修",
    "楼下烧烤摊天天占道经营，油烟太大了",
    "路口的红绿灯坏了，晚上很危险",
)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def parse_model_ref(ref: str | None, default_name: str = "default") -> tuple[str, str | None]:
    """``NAME[@VERSION]`` -> (name, version or None for the active one)."""
    if not ref:
        return default_name, None
    name, _, version = ref.partition("@")
    return name or default_name, version or None


def check_model_name(name: str) -> str:
    """``name`` if the registry can hold a model of that name, else :class:`InvalidNameError`
    saying what a name may be. A name is one folder of the registry: never a path."""
    if not _NAME.match(name):
        raise InvalidNameError(
            f"invalid model name {name!r}: a name is 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. 'default' or 'hotline-2025'); "
            "choose such a name"
        )
    return name


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
    """Write ``text`` to a new file beside ``path``, then rename it over ``path``.

    The temporary file is created like any other file (mode 0666 minus the umask, so 0644
    usually), not with ``mkstemp``'s 0600: an account that only reads the registry must be
    able to read the pointer.
    """
    for _ in range(100):
        temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 48 random bits
        raise FileExistsError(f"could not create a temporary file beside {path.name}")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _kind(value: Any) -> str:
    """How a JSON value is named in messages: ``null``, ``a list``, ``a string 'v3'``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:40] + "..."
        return f"a string {shown!r}"
    return f"a number ({value!r})"


def canonical_manifest(manifest: Any) -> bytes:
    """The bytes a manifest's signature covers: its JSON with sorted keys and no spaces.

    Signing the parsed manifest (not the file's bytes) means what is verified is exactly what
    is used, whatever the file's layout (indentation, key order, a repeated key).
    """
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def _manifest_problems(raw: Any) -> list[str]:
    if not isinstance(raw, dict):
        return [f"it is {_kind(raw)}, not an object"]
    problems = []
    files = raw.get("files")
    if not isinstance(files, dict):
        problems.append(f"'files' must be an object (file name -> sha256), found {_kind(files)}")
    else:
        if MODEL_FILE not in files:
            problems.append(f"'files' lists no {MODEL_FILE}")
        for file_name, digest in files.items():
            if not isinstance(digest, str) or not _SHA256.match(digest):
                problems.append(
                    f"'files' gives {file_name!r} {_kind(digest)}, not a sha256 (64 hex digits)"
                )
                break
    libraries = raw.get("libraries")
    if not isinstance(libraries, dict):
        problems.append(
            f"'libraries' must be an object (library -> version), found {_kind(libraries)}"
        )
    elif not all(isinstance(v, str) for v in libraries.values()):
        problems.append("'libraries' must give every version as a string")
    labels = raw.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        problems.append(f"'labels' must be a list of strings, found {_kind(labels)}")
    for key in ("metrics", "data", "config"):
        if not isinstance(raw.get(key, {}), dict):
            problems.append(f"'{key}' must be an object, found {_kind(raw[key])}")
    for key in ("name", "version", "created_at"):
        if not isinstance(raw.get(key, ""), str):
            problems.append(f"'{key}' must be a string, found {_kind(raw[key])}")
    return problems


def check_manifest(raw: Any, *, where: str) -> dict[str, Any]:
    """``raw`` (a parsed ``manifest.json``) if it has the shape every reader relies on, else
    :class:`ModelIntegrityError` naming each problem. The one place manifests are checked."""
    problems = _manifest_problems(raw)
    if problems:
        raise ModelIntegrityError(
            f"{where}: {MANIFEST_FILE} is damaged: {'; '.join(problems)}. Restore the file "
            "from a backup or retrain this version; it cannot be loaded or activated as it is"
        )
    manifest: dict[str, Any] = raw
    return manifest


def _pointer_problem(raw: Any) -> str | None:
    if not isinstance(raw, dict):
        return f'it is {_kind(raw)}, not an object like {{"version": "v3"}}'
    version = raw.get("version")
    if version is None:
        return "it has no 'version'"
    if not isinstance(version, str) or not _VERSION.match(version):
        return f"'version' must name a version like 'v3', found {_kind(version)}"
    history = raw.get("history", [])
    if not isinstance(history, list) or not all(
        isinstance(v, str) and _VERSION.match(v) for v in history
    ):
        return f"'history' must be a list of versions like 'v2', found {_kind(history)}"
    return None


@dataclass(frozen=True)
class ActivePointer:
    """The active version and the versions active before it, most recent last."""

    version: str
    history: tuple[str, ...] = ()


@dataclass(frozen=True)
class Listing:
    """Every version of a model (oldest first) and its active pointer.

    ``error`` says why the pointer cannot be read (``active`` is then None); a version whose
    manifest is damaged has its own ``error`` in its row, and the other rows are complete.
    """

    name: str
    active: ActivePointer | None
    versions: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def _guarded(
    method: Callable[Concatenate[Registry, _P], _R],
) -> Callable[Concatenate[Registry, _P], _R]:
    """Turn a ``PermissionError`` met while reading the registry into a
    :class:`RegistryAccessError` that says what cannot be read and how to fix it."""

    @functools.wraps(method)
    def wrapper(self: Registry, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except RegistryAccessError:
            raise
        except PermissionError as error:
            raise self._access_error(error, writing=False) from error

    return wrapper


class Registry:
    """Save, verify, load, list, activate and roll back model versions under ``root``.

    ``signing_key`` (bytes or text; keep it out of the registry): :meth:`save` signs every
    new version's manifest with it, and loading or activating refuses a version that is
    unsigned or signed with another key, before unpickling anything. Without a key, versions
    are checked by their sha256 only and signatures are ignored.
    """

    def __init__(
        self, root: str | Path = "models", *, signing_key: bytes | str | None = None
    ) -> None:
        self.root = Path(root)
        if isinstance(signing_key, str):
            signing_key = signing_key.encode("utf-8")
        if signing_key is not None and not signing_key:
            raise DataError(
                "the signing key is empty: set APPEALS_SIGNING_KEY to a secret, or leave it "
                "unset to work without signatures"
            )
        self._signing_key = signing_key

    def __repr__(self) -> str:  # never shows the key
        return f"Registry({str(self.root)!r}, signed={self.signed})"

    @property
    def signed(self) -> bool:
        """Whether versions are signed on save and their signatures required on load."""
        return self._signing_key is not None

    # ----------------------------------------------------------------- paths and listing
    def _model_dir(self, name: str) -> Path:
        return self.root / check_model_name(name)

    def _version_dir(self, name: str, version: str) -> Path:
        if not _VERSION.match(version):
            raise ModelNotFoundError(f"invalid version {version!r}: versions look like 'v3'")
        return self._model_dir(name) / version

    def _shown(self, filename: Any) -> str:
        """A file of the registry as messages name it: relative to the registry's root."""
        if not filename:
            return "a file"
        try:
            return Path(os.fsdecode(filename)).relative_to(self.root).as_posix() or "its folder"
        except ValueError:
            return Path(os.fsdecode(filename)).name

    def _access_error(self, error: PermissionError, *, writing: bool) -> RegistryAccessError:
        shown = self._shown(error.filename)
        if writing:
            return RegistryAccessError(
                f"cannot write {shown} in the model registry: permission denied. Saving, "
                "activating and rolling back need write access to the registry folder: run "
                "them as the account that owns it, or give this account write access to it",
                writing=True,
            )
        return RegistryAccessError(
            f"cannot read {shown} in the model registry: permission denied. Loading and "
            "listing models need read access to every folder and file of the registry: give "
            "this account read access (e.g. 'chmod -R a+rX' on the registry folder)",
            writing=False,
        )

    @contextmanager
    def _writing(self) -> Iterator[None]:
        try:
            yield
        except RegistryAccessError:
            raise
        except PermissionError as error:
            raise self._access_error(error, writing=True) from error

    @_guarded
    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.match(p.name))

    @_guarded
    def version_ids(self, name: str) -> list[str]:
        folder = self._model_dir(name)
        if not folder.is_dir():
            return []
        found = [p.name for p in folder.iterdir() if p.is_dir() and _VERSION.match(p.name)]
        return sorted(found, key=lambda v: int(v[1:]))

    def _read_manifest(self, name: str, version: str) -> Any:
        """The parsed ``manifest.json`` of ``name@version``, of any shape."""
        return self._read_manifest_digest(name, version)[0]

    def _read_manifest_digest(self, name: str, version: str) -> tuple[Any, str]:
        """The parsed ``manifest.json`` of ``name@version`` (any shape), and the sha256 of the
        very bytes parsed."""
        path = self._version_dir(name, version) / MANIFEST_FILE
        if not path.is_file():
            raise ModelNotFoundError(
                f"model {name}@{version} has no {MANIFEST_FILE} "
                f"({name}/{version}/{MANIFEST_FILE} in the registry)"
            )
        data = path.read_bytes()
        try:
            return json.loads(data.decode("utf-8")), hashlib.sha256(data).hexdigest()
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ModelIntegrityError(
                f"{name}@{version}: {MANIFEST_FILE} is not valid JSON ({error}). Restore the "
                "file from a backup or retrain this version; it cannot be loaded as it is"
            ) from error

    @_guarded
    def manifest(self, name: str, version: str) -> dict[str, Any]:
        """The manifest of ``name@version``, its shape checked (:func:`check_manifest`)."""
        return check_manifest(self._read_manifest(name, version), where=f"{name}@{version}")

    @_guarded
    def listing(self, name: str = "default") -> Listing:
        """Every version with its summary, and the active pointer. Never fails for one
        damaged version or a damaged pointer: each error is reported where it is."""
        error: str | None = None
        try:
            active = self.active(name)
        except ModelIntegrityError as problem:
            active, error = None, str(problem)
        rows = []
        for version in self.version_ids(name):
            is_active = active is not None and active.version == version
            try:
                manifest = self.manifest(name, version)
            except (ModelNotFoundError, ModelIntegrityError) as problem:
                rows.append({"version": version, "error": str(problem), "active": is_active})
                continue
            rows.append(
                {
                    "version": version,
                    "created_at": manifest.get("created_at"),
                    "labels": manifest.get("labels", []),
                    "metrics": manifest.get("metrics", {}),
                    "active": is_active,
                }
            )
        return Listing(name=name, active=active, versions=rows, error=error)

    def versions(self, name: str = "default") -> list[dict[str, Any]]:
        """One summary per version (oldest first): version, created_at, metrics, active; a
        version whose manifest cannot be read has an ``error`` instead."""
        return self.listing(name).versions

    # ----------------------------------------------------------------- saving and signing
    @_guarded
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
        """Store ``model`` as the next version of ``name`` (signed when the registry has a
        key); activate it if asked or if it is the first."""
        model_dir = self.check_can_save(name)
        with self._writing():
            model_dir.mkdir(parents=True, exist_ok=True)
            with self._claim_version(name) as (version, folder):
                vectorizer = model.vectorizer
                source_dict = resolve_user_dict(vectorizer.user_dict)
                if source_dict is not None:
                    shutil.copyfile(source_dict, folder / USER_DICT_FILE)
                joblib.dump(model.pipeline, folder / MODEL_FILE, compress=3)
                if model.scope is not None:
                    joblib.dump(model.scope, folder / SCOPE_FILE, compress=3)
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
                text = json.dumps(manifest, ensure_ascii=False, indent=2, default=str)
                (folder / MANIFEST_FILE).write_text(text, encoding="utf-8")
                if self._signing_key is not None:
                    _write_signature(folder, json.loads(text), self._signing_key)
        model.name, model.version, model.manifest = name, version, manifest
        if activate or not self._has_pointer(name):
            self.activate(name, version)
        return version

    @_guarded
    def check_can_save(self, name: str) -> Path:
        """The folder of ``name`` if a version of it can be saved here as far as names and
        folders go (not permissions): a valid name, and a registry that is a folder or does
        not exist yet. Callers run it before a long training, so that it fails first."""
        model_dir = self._model_dir(name)
        for folder in (self.root, model_dir):
            if folder.exists() and not folder.is_dir():
                raise DataError(
                    f"cannot save model versions under {folder}: it is a file, not a folder. "
                    "Point --models-dir (APPEALS_MODELS_DIR) at the registry's folder"
                )
        return model_dir

    def _has_pointer(self, name: str) -> bool:
        """Whether ``name`` has an active pointer; a damaged one counts (it is left for an
        explicit activation to replace, not silently pointed at the newest version)."""
        try:
            return self.active(name) is not None
        except ModelIntegrityError:
            return True

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

    @_guarded
    def sign(self, name: str, version: str) -> None:
        """Sign an existing version with this registry's key (after checking its hashes):
        how versions saved before signing was set up are vouched for. Sign only versions
        you trust: the signature is what lets a signed registry load them."""
        if self._signing_key is None:
            raise DataError(
                "this registry has no signing key, so it cannot sign: configure one "
                "(APPEALS_SIGNING_KEY for the appeals command and the service)"
            )
        self._verify(name, version, signature=False)
        with self._writing():
            _write_signature(
                self._version_dir(name, version),
                self._read_manifest(name, version),
                self._signing_key,
            )

    def _check_signature(self, name: str, version: str, raw: Any, key: bytes) -> None:
        """Refuse ``name@version`` unless ``manifest.sig`` is this key's signature of the
        manifest ``raw``, which must also name this very version (no copying a signed
        version under another number)."""
        where = f"{name}@{version}"
        path = self._version_dir(name, version) / SIGNATURE_FILE
        if not path.is_file():
            raise ModelIntegrityError(
                f"{where} is not signed (no {SIGNATURE_FILE}) and this registry requires "
                "signatures: refusing to load it. If you trust it, sign it with "
                f"'appeals models sign {version} --name {name}', or retrain it with the key"
            )
        try:
            stored = path.read_text(encoding="utf-8").strip()
        except UnicodeDecodeError:
            stored = ""
        if not hmac.compare_digest(stored.encode("utf-8"), _signature(raw, key).encode("utf-8")):
            raise ModelIntegrityError(
                f"{where}: the signature in {SIGNATURE_FILE} does not match its manifest under "
                "this registry's key: the manifest was changed after signing, or it was signed "
                "with another key. Refusing to load it; retrain it, or sign it again only if "
                "you trust it"
            )
        if isinstance(raw, dict) and (raw.get("name"), raw.get("version")) != (name, version):
            raise ModelIntegrityError(
                f"{where}: its signed manifest describes {raw.get('name')}@{raw.get('version')}; "
                "a signed version copied under another name or number is refused"
            )

    # ----------------------------------------------------------------- verification, loading
    def _verify(
        self, name: str, version: str, *, signature: bool, pinned: str | None = None
    ) -> dict[str, Any]:
        return self._verify_digest(name, version, signature=signature, pinned=pinned)[0]

    def _verify_digest(
        self, name: str, version: str, *, signature: bool, pinned: str | None = None
    ) -> tuple[dict[str, Any], str]:
        """The checked manifest and the sha256 of its bytes. ``pinned``: the manifest must be
        the one with that sha256 (one that a keyed registry verified; see :meth:`pin`)."""
        where = f"{name}@{version}"
        folder = self._version_dir(name, version)
        if not folder.is_dir():
            known = ", ".join(self.version_ids(name)) or "none"
            raise ModelNotFoundError(
                f"no version {version!r} of model {name!r} in the registry (versions: {known})"
            )
        raw, digest = self._read_manifest_digest(name, version)
        if pinned is not None and not hmac.compare_digest(digest, pinned):
            raise ModelIntegrityError(
                f"{where}: its manifest changed after the run pinned it (its sha256 differs "
                "from the one verified when the run started); refusing to load it. Start the "
                "run again"
            )
        if signature and self._signing_key is not None:
            self._check_signature(name, version, raw, self._signing_key)
        manifest = check_manifest(raw, where=where)
        for file_name, expected in manifest["files"].items():
            path = folder / file_name
            if Path(file_name).name != file_name or not path.is_file():
                raise ModelIntegrityError(
                    f"{where}: file {file_name!r} listed in the manifest is missing; "
                    "retrain or restore this version"
                )
            if _sha256(path) != expected:
                raise ModelIntegrityError(
                    f"{where}: {file_name} does not match its sha256 in the manifest; "
                    "the file was changed or corrupted. Refusing to load it."
                )
        trained = manifest["libraries"].get("scikit-learn", "unknown")
        installed = metadata.version("scikit-learn")
        if _major_minor(trained) != _major_minor(installed):
            raise ModelIntegrityError(
                f"{where} was trained with scikit-learn {trained}, this environment has "
                f"{installed}; retrain the model here or install scikit-learn=={trained}"
            )
        return manifest, digest

    @_guarded
    def verify(
        self, name: str, version: str, *, manifest_sha256: str | None = None
    ) -> dict[str, Any]:
        """Check the manifest, the signature (with a key), every file's hash and the
        scikit-learn version, without unpickling anything; return the manifest.
        ``manifest_sha256``: the manifest must also be exactly the one :meth:`pin` returned."""
        return self._verify(name, version, signature=True, pinned=manifest_sha256)

    @_guarded
    def pin(self, name: str, version: str) -> str:
        """Verify ``name@version`` like :meth:`verify` and return the sha256 of the manifest
        it verified. A process without the signing key (a batch worker) loads the version with
        ``load(..., manifest_sha256=...)``: the pinned manifest vouches for every file's hash,
        so the key never leaves the process that holds it."""
        return self._verify_digest(name, version, signature=True)[1]

    @_guarded
    def load(
        self,
        name: str = "default",
        version: str | None = None,
        *,
        manifest_sha256: str | None = None,
    ) -> RoutingModel:
        """The verified model ``name@version`` (default: the active version);
        ``manifest_sha256`` as in :meth:`verify`."""
        if version is None:
            version = self.active_version(name)
        manifest = self.verify(name, version, manifest_sha256=manifest_sha256)
        folder = self._version_dir(name, version)
        from nlp.model import RoutingModel  # scikit-learn: only the commands that load a model

        try:
            pipeline = joblib.load(folder / MODEL_FILE)
            # Versions saved before the out-of-scope rule have no scope file: they load
            # and answer, and never flag a ticket out_of_scope (retrain to get the rule).
            scope = joblib.load(folder / SCOPE_FILE) if SCOPE_FILE in manifest["files"] else None
            if scope is None:
                logger.info("%s@%s has no out-of-scope rule; retrain to add it", name, version)
            model = RoutingModel(
                pipeline, scope=scope, name=name, version=version, manifest=manifest
            )
        except PermissionError:
            raise
        except Exception as error:
            raise ModelIntegrityError(
                f"{name}@{version} passed its checks but cannot be loaded "
                f"({_describe(error)}): it was saved by incompatible code or is damaged. "
                "Retrain it, or activate another version"
            ) from error
        dictionary = folder / USER_DICT_FILE
        model.vectorizer.user_dict = str(dictionary) if dictionary.is_file() else None
        return model

    def _load_and_try(self, name: str, version: str) -> RoutingModel:
        """Load ``name@version`` and route a few tickets with it: what an activation must pass
        before the pointer moves, so that no version that cannot serve is ever activated."""
        model = self.load(name, version)
        try:
            labels = model.labels
            predictions = model.classify(list(_TRIAL_TICKETS), top_k=min(3, len(labels)), explain=3)
            for prediction in predictions:
                if prediction.label not in labels or not (
                    math.isfinite(prediction.confidence) and 0 <= prediction.confidence <= 1
                ):
                    raise ValueError(
                        f"it answered {prediction.label!r} with confidence "
                        f"{prediction.confidence!r}"
                    )
        except Exception as error:
            raise ModelIntegrityError(
                f"{name}@{version} loads but cannot route tickets ({_describe(error)}); it was "
                "not activated. Retrain it, or activate another version"
            ) from error
        recorded = model.manifest.get("labels")
        if recorded and recorded != labels:
            raise ModelIntegrityError(
                f"{name}@{version}: the model's departments differ from its manifest's labels; "
                "the model file is not the one this version was trained with. Retrain it"
            )
        return model

    # ----------------------------------------------------------------- the active pointer
    @_guarded
    def active(self, name: str = "default") -> ActivePointer | None:
        """The active pointer of ``name``, None when nothing was activated yet. A damaged
        pointer raises :class:`ModelIntegrityError`; :meth:`activate` rewrites it."""
        path = self._model_dir(name) / ACTIVE_FILE
        raw: Any = None
        problem: str | None
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            problem = "it is a folder, not a file"
        except UnicodeDecodeError:
            problem = "it is not UTF-8 text"
        else:
            try:
                raw = json.loads(text)
            except json.JSONDecodeError:
                shown = text.strip()[:40]
                problem = f"it is not JSON ({shown!r})"
            else:
                problem = _pointer_problem(raw)
        if problem is not None:
            raise ModelIntegrityError(
                f"the active-version pointer of model {name!r} ({name}/{ACTIVE_FILE} in the "
                f"registry) is damaged: {problem}. Activate a version to rewrite it: "
                f"'appeals models activate VERSION --name {name}' or POST /v1/models/activate"
            )
        return ActivePointer(version=raw["version"], history=tuple(raw.get("history", ())))

    @_guarded
    def active_version(self, name: str = "default") -> str:
        """The version ``name``'s pointer names: :meth:`active`, with
        :class:`ModelNotFoundError` (saying how to get one) when nothing is active yet."""
        pointer = self.active(name)
        if pointer is None:
            raise ModelNotFoundError(
                f"model {name!r} has no active version under {self.root}; train one with "
                f"'appeals train DATA --name {name}' or pass --model {name}@VERSION"
            )
        return pointer.version

    def _write_pointer(self, name: str, pointer: ActivePointer) -> None:
        body = {"version": pointer.version, "history": list(pointer.history)}
        with self._writing():
            _write_atomic(self._model_dir(name) / ACTIVE_FILE, json.dumps(body) + "\n")

    @_guarded
    def activate(self, name: str, version: str) -> ActivePointer:
        """Point ``name`` at ``version`` once it is verified, loaded and has routed a few
        tickets; the previous version goes to history. A damaged pointer is replaced (its
        history is lost). Any failure raises and leaves the pointer as it was."""
        return self.activate_and_load(name, version)[0]

    @_guarded
    def activate_and_load(self, name: str, version: str) -> tuple[ActivePointer, RoutingModel]:
        """:meth:`activate`, and the model it loaded and tried, ready to serve: a server
        serves it as it is instead of loading the version a second time."""
        model = self._load_and_try(name, version)
        try:
            current = self.active(name)
        except ModelIntegrityError as damaged:
            logger.warning("replacing a damaged pointer: %s", damaged)
            current = None
        if current is not None and current.version == version:
            return current, model
        history = (*current.history, current.version) if current else ()
        pointer = ActivePointer(version=version, history=history[-50:])
        self._write_pointer(name, pointer)
        return pointer, model

    @_guarded
    def rollback(self, name: str = "default") -> ActivePointer:
        """Re-activate the version that was active before the current one (verified, loaded
        and tried first, as :meth:`activate` does)."""
        return self.rollback_and_load(name)[0]

    @_guarded
    def rollback_and_load(self, name: str = "default") -> tuple[ActivePointer, RoutingModel]:
        """:meth:`rollback`, and the model it loaded and tried (as :meth:`activate_and_load`)."""
        try:
            current = self.active(name)
        except ModelIntegrityError as damaged:
            raise ModelIntegrityError(
                f"cannot roll back model {name!r}: the history of earlier versions is kept in "
                f"its pointer, which is unreadable ({damaged})"
            ) from damaged
        if current is None or not current.history:
            raise ModelNotFoundError(
                f"model {name!r} has no earlier active version to roll back to"
            )
        previous = current.history[-1]
        model = self._load_and_try(name, previous)
        pointer = ActivePointer(version=previous, history=current.history[:-1])
        self._write_pointer(name, pointer)
        return pointer, model

    def pointer_stamp(self, name: str = "default") -> tuple[int, int] | None:
        """A cheap change marker for watchers: (inode, mtime_ns) of the pointer file; None
        when there is none or it cannot be reached (:meth:`active` then says why)."""
        try:
            stat = (self._model_dir(name) / ACTIVE_FILE).stat()
        except (FileNotFoundError, PermissionError):
            return None
        return stat.st_ino, stat.st_mtime_ns


def _signature(manifest: Any, key: bytes) -> str:
    digest = hmac.new(key, canonical_manifest(manifest), hashlib.sha256)
    return f"{_SIGNATURE_SCHEME}:{digest.hexdigest()}"


def _write_signature(folder: Path, manifest: Any, key: bytes) -> None:
    _write_atomic(folder / SIGNATURE_FILE, _signature(manifest, key) + "\n")


def _describe(error: BaseException) -> str:
    """An exception as one short line for a message (type and the start of its text)."""
    text = " ".join(str(error).split())
    if len(text) > 160:
        text = text[:160] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
