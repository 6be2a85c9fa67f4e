"""Databases for the ticket-store tests: ``store_url`` runs a test once on SQLite and once on a
real PostgreSQL server, each time in a database of its own that starts empty.

The PostgreSQL server is named by ``APPEALS_TEST_POSTGRES_URL`` (``.ci/postgres`` starts one
and prints it). Without it the PostgreSQL cases are skipped, except under CI, where they fail:
CI must never pass without having tested PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

POSTGRES_URL_VARIABLE = "APPEALS_TEST_POSTGRES_URL"
HOW_TO_START = (
    f'start one with `export {POSTGRES_URL_VARIABLE}="$(sudo bash .ci/postgres)"` '
    "(Debian's postgresql package)"
)
# Every database the fixture creates starts with this, so a leftover one is easy to recognise.
DATABASE_PREFIX = "appeals_test_"


def running_in_ci(environ: Mapping[str, str]) -> bool:
    """True when ``CI`` is set to anything but empty, ``0``, ``false`` or ``no``."""
    return environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def postgres_server_url(environ: Mapping[str, str]) -> URL:
    """The server URL from ``environ``; skips the test when there is none (fails under CI)."""
    raw = environ.get(POSTGRES_URL_VARIABLE, "").strip()
    if not raw:
        if running_in_ci(environ):
            pytest.fail(
                f"{POSTGRES_URL_VARIABLE} is not set and CI must not skip the PostgreSQL "
                f"store tests: {HOW_TO_START}, as .ci/run does",
                pytrace=False,
            )
        pytest.skip(f"no PostgreSQL server: {POSTGRES_URL_VARIABLE} is not set; {HOW_TO_START}")
    try:
        url = make_url(raw)
    except ArgumentError as e:
        pytest.fail(
            f"{POSTGRES_URL_VARIABLE} is not a database URL ({e}); {HOW_TO_START}", pytrace=False
        )
    if url.get_backend_name() != "postgresql":
        pytest.fail(
            f"{POSTGRES_URL_VARIABLE} must name a PostgreSQL server "
            f"(postgresql+psycopg://user:password@host:port/database), not {url.drivername}",
            pytrace=False,
        )
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # the driver in our dependencies
    return url


@contextmanager
def fresh_postgres_database(server: URL) -> Iterator[str]:
    """Create an empty database with a unique name on ``server``, yield its URL (password
    included), and drop it afterwards, closing any connection a test left open."""
    name = f"{DATABASE_PREFIX}{uuid.uuid4().hex[:16]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        except DBAPIError as e:
            shown = server.render_as_string(hide_password=True)
            pytest.fail(
                f"cannot create a database on {shown} ({POSTGRES_URL_VARIABLE}): {e.orig}; "
                f"{HOW_TO_START}",
                pytrace=False,
            )
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> URL:
    """The PostgreSQL server of ``APPEALS_TEST_POSTGRES_URL`` (skip or fail without one)."""
    return postgres_server_url(os.environ)


STORES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def _empty_store(request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{folder / 'tickets.db'}"
        return
    server: URL = request.getfixturevalue("postgres_server")
    with fresh_postgres_database(server) as url:
        yield url


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of an empty database of the test's own: a SQLite file under
    ``tmp_path``, or a fresh database on the PostgreSQL server (dropped afterwards)."""
    yield from _empty_store(request, tmp_path)


@pytest.fixture(scope="module", params=STORES)
def module_store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``store_url`` shared by a module's tests, for tests whose requests leave the store as
    they found it (refused ones): one database per module and kind, not one per test."""
    yield from _empty_store(request, tmp_path_factory.mktemp("store"))
