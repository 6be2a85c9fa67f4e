"""Service fixtures: an app per test on a registry of the session's tiny model, with settings
overridden the way the service expects (``app.dependency_overrides[get_settings]``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from service_testing import ADMIN_KEY, CLASSIFY_KEY, add_version

from nlp.registry import Registry
from service.app import create_app
from service.settings import Settings, get_settings

MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(models_dir: Path, tmp_path: Path) -> Iterator[MakeClient]:
    """``make_client(**settings)`` -> a started TestClient; stopped at teardown. ``peer`` is
    the client's address as the app sees it (not a loopback one by default). Each test's
    ticket store is a SQLite file of its own (the registry may be shared)."""
    clients: list[TestClient] = []

    def make(*, peer: tuple[str, int] = ("testclient", 50000), **overrides: Any) -> TestClient:
        overrides.setdefault("models_dir", models_dir)
        overrides.setdefault("store_url", f"sqlite:///{tmp_path / 'tickets.db'}")
        settings = Settings(**overrides)
        app: FastAPI = create_app()
        app.dependency_overrides[get_settings] = lambda: settings
        client = TestClient(app, raise_server_exceptions=True, client=peer)
        client.__enter__()
        clients.append(client)
        # The model loads in the background once the app has started; tests begin after
        # that first load has ended (loaded or refused), as a load balancer waits for /readyz.
        assert app.state.holder.wait_first_load(60), "the model did not load within 60 s"
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    """No keys configured (open, as on loopback)."""
    return make_client()


@pytest.fixture
def keyed_client(make_client: MakeClient) -> TestClient:
    return make_client(classify_keys=frozenset({CLASSIFY_KEY}), admin_keys=frozenset({ADMIN_KEY}))


@pytest.fixture
def two_versions(registry_copy: Registry) -> Registry:
    """A writable registry holding v1 (active) and v2."""
    add_version(registry_copy)
    return registry_copy
