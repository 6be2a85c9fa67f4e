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


class ClientFactory:
    """``factory(**settings)`` -> a started TestClient; :meth:`close` stops them all. ``peer``
    is the client's address as the app sees it (not a loopback one by default). The ticket
    store is a SQLite file in ``store_dir`` (the registry may be shared)."""

    def __init__(self, models_dir: Path, store_dir: Path) -> None:
        self.models_dir = models_dir
        self.store_dir = store_dir
        self.clients: list[TestClient] = []

    def __call__(
        self, *, peer: tuple[str, int] = ("testclient", 50000), **overrides: Any
    ) -> TestClient:
        overrides.setdefault("models_dir", self.models_dir)
        overrides.setdefault("store_url", f"sqlite:///{self.store_dir / 'tickets.db'}")
        settings = Settings(**overrides)
        app: FastAPI = create_app()
        app.dependency_overrides[get_settings] = lambda: settings
        client = TestClient(app, raise_server_exceptions=True, client=peer)
        client.__enter__()
        self.clients.append(client)
        # The model loads in the background once the app has started; tests begin after
        # that first load has ended (loaded or refused), as a load balancer waits for /readyz.
        assert app.state.holder.wait_first_load(60), "the model did not load within 60 s"
        return client

    def close(self) -> None:
        for client in self.clients:
            client.__exit__(None, None, None)
        self.clients.clear()


@pytest.fixture
def make_client(models_dir: Path, tmp_path: Path) -> Iterator[MakeClient]:
    """``make_client(**settings)`` -> a started TestClient (:class:`ClientFactory`); stopped
    at teardown. Each test's ticket store is a SQLite file of its own."""
    factory = ClientFactory(models_dir, tmp_path)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def make_module_client(
    models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MakeClient]:
    """``make_client`` for a whole module: for modules of tests that each send requests
    which leave nothing a later test could see (refused ones, mostly), where starting an
    app per test costs more than the test (a start loads and warms up the model and
    collects the whole test process's garbage: 0.5 to 1 s)."""
    factory = ClientFactory(models_dir, tmp_path_factory.mktemp("module_store"))
    yield factory
    factory.close()


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
