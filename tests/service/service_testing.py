"""Helpers the service tests share (constants and registry surgery)."""

from __future__ import annotations

import json
import shutil

from nlp.registry import Registry

CLASSIFY_KEY = "classify-key-for-tests"
ADMIN_KEY = "admin-key-for-tests"

TICKET = "小区楼下的烧烤摊天天占道经营，油烟太大了，联系电话13812345678，希望城管来处理"


def add_version(registry: Registry, *, corrupt: bool = False, name: str = "default") -> str:
    """A new version: a copy of v1 under the next number (cheap: no training), optionally
    with its model file changed after hashing so that verification must refuse it."""
    source = registry.root / name / "v1"
    version = f"v{len(registry.version_ids(name)) + 1}"
    target = registry.root / name / version
    shutil.copytree(source, target)
    manifest_path = target / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["version"] = version
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    if corrupt:
        with (target / "model.joblib").open("ab") as handle:
            handle.write(b"tampered")
    return version


def corrupt_version(registry: Registry, version: str, name: str = "default") -> None:
    with (registry.root / name / version / "model.joblib").open("ab") as handle:
        handle.write(b"tampered")
