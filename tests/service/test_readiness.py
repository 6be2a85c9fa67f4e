"""Start-up: the app serves at once and loads the model in the background; /readyz answers
503 "loading the model" (classify 503 with Retry-After) until the model is in, then 200.
``import nlp`` stays cheap, because a worker answers uvicorn's health check only after it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_testing import TICKET

from nlp.model import RoutingModel
from nlp.registry import Registry
from service.app import create_app
from service.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[2]


def test_readyz_answers_503_while_the_model_loads_then_200(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    original = Registry.load

    def slow_load(self: Registry, *args: Any, **kwargs: Any) -> RoutingModel:
        release.wait(60)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Registry, "load", slow_load)
    app = create_app()
    settings = Settings(models_dir=models_dir)
    app.dependency_overrides[get_settings] = lambda: settings
    client = TestClient(app)
    # Starting must not wait for the model: the lifespan ends while the load is held back.
    started = threading.Thread(target=client.__enter__, daemon=True)
    started.start()
    started.join(10)
    try:
        assert not started.is_alive(), "the app did not start serving while the model loaded"
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {
            "status": "loading",
            "model": None,
            "reason": "loading the model",
            "store": response.json()["store"],  # opening the store, or ok: it never waits
            "similar": response.json()["similar"],  # building the index, or what it holds
        }
        assert client.get("/healthz").status_code == 200
        busy = client.post("/v1/classify", json={"text": TICKET})
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["code"] == "model_unavailable"
        assert "loading the model" in busy.json()["error"]["message"]
    finally:
        release.set()
        started.join(60)
    assert app.state.holder.wait_first_load(60)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["model"] == {"name": "default", "version": "v1"}
    assert client.post("/v1/classify", json={"text": TICKET}).status_code == 200
    client.__exit__(None, None, None)


HEAVY = ["nlp.analysis", "nlp.tagging", "nlp.engines", "matplotlib", "dask", "sklearn", "pandas"]


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param("import nlp", id="import-nlp"),
        pytest.param("import service.cli", id="import-service.cli"),
        pytest.param("import service.http_protocol, service.logs", id="worker-before-ping"),
        # every command reads the settings: checking them, and listing the registry, must
        # not cost scikit-learn's import (seconds on a busy machine) before any real work
        pytest.param(
            "from service.settings import Settings; Settings().policy",
            id="settings",
        ),
        pytest.param(
            "import contextlib, io, service.cli, tempfile\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    service.cli.main(['models', 'list', '--models-dir', tempfile.mkdtemp()])",
            id="appeals-models-list",
        ),
    ],
)
def test_cheap_imports_import_nothing_heavy(statement: str) -> None:
    """What a uvicorn worker imports before it answers its health check (the ``appeals``
    script, which imports service.cli, and the classes in uvicorn's config) stays light."""
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = set(json.loads(result.stdout))
    assert [name for name in HEAVY if name in loaded] == []


def test_lazy_names_resolve_to_the_library_objects() -> None:
    import nlp
    import nlp.train

    # nlp.train and nlp.evaluate are functions even after their modules were imported.
    assert callable(nlp.train)
    assert nlp.train is nlp.train.__globals__["train"]
    assert callable(nlp.evaluate)
    assert nlp.Registry is Registry
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        _ = nlp.nonexistent  # type: ignore[attr-defined]


def test_serve_gives_workers_time_to_start_and_answers_bad_requests_in_json() -> None:
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from service.server import uvicorn_options

    options = uvicorn_options(Settings(), host="127.0.0.1", port=8000, workers=2)
    assert options["timeout_worker_healthcheck"] == 30  # uvicorn's default of 5 s killed workers
    assert issubclass(options["http"], HttpToolsProtocol)
    custom = Settings(worker_healthcheck_timeout=90)
    assert (
        uvicorn_options(custom, host="127.0.0.1", port=8000, workers=2)[
            "timeout_worker_healthcheck"
        ]
        == 90
    )
    config = uvicorn.Config(**options)  # uvicorn takes them as they are
    config.load()
    assert config.http_protocol_class is options["http"]


def test_lazy_table_matches_the_type_checking_imports() -> None:
    """nlp/__init__.py names each export three times (the imports type checkers read, the
    table of lazy imports, __all__); the three agree."""
    import ast

    import nlp

    tree = ast.parse((ROOT / "nlp" / "__init__.py").read_text(encoding="utf-8"))
    [guard] = [node for node in tree.body if isinstance(node, ast.If)]
    imported = {
        alias.name: node.module
        for node in guard.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == nlp._MODULE_OF
    assert set(nlp.__all__) == set(imported)
