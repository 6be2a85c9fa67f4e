"""The ``store_url`` fixture: a real database per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, inspect, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import NullPool

from tests.store_fixtures import (
    DATABASE_PREFIX,
    POSTGRES_URL_VARIABLE,
    fresh_postgres_database,
    postgres_server_url,
)


@contextmanager
def engine_for(url: str | URL) -> Iterator[Engine]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def backend_of(request: pytest.FixtureRequest) -> str:
    return str(request.node.callspec.params["store_url"])


def test_store_url_connects_to_its_backend(store_url: str, request: pytest.FixtureRequest) -> None:
    with engine_for(store_url) as engine, engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
        assert connection.dialect.name == backend_of(request)


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_starts_with_an_empty_database(store_url: str, run: int) -> None:
    """Both runs find no table, although each leaves one behind: no database is shared."""
    with engine_for(store_url) as engine:
        assert inspect(engine).get_table_names() == []
        Table(f"left_by_run_{run}", MetaData(), Column("id", Integer)).create(engine)
        assert inspect(engine).get_table_names() == [f"left_by_run_{run}"]


def test_where_the_database_lives(
    store_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = make_url(store_url)
    if backend_of(request) == "sqlite":
        assert url.database == str(tmp_path / "tickets.db")
        with engine_for(url) as engine, engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (id INTEGER)"))
        assert (tmp_path / "tickets.db").is_file()
    else:
        assert url.drivername == "postgresql+psycopg"
        assert url.database is not None
        assert url.database.startswith(DATABASE_PREFIX)


def database_exists(server: URL, name: str) -> bool:
    with engine_for(server) as engine, engine.connect() as connection:
        found = connection.execute(
            text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": name}
        )
        return found.scalar_one() == 1


@pytest.mark.postgres
def test_the_fresh_postgres_database_is_dropped_even_with_a_connection_left_open(
    postgres_server: URL,
) -> None:
    with fresh_postgres_database(postgres_server) as url:
        name = make_url(url).database
        assert name is not None
        assert database_exists(postgres_server, name)
        engine = create_engine(url, poolclass=NullPool)
        left_open = engine.connect()  # a test that forgets to close must not break the drop
        left_open.execute(text("SELECT 1"))
    assert not database_exists(postgres_server, name)
    left_open.invalidate()  # the server ended it: discard it without the usual rollback
    engine.dispose()


@pytest.mark.parametrize(
    ("environ", "outcome", "says"),
    [
        pytest.param({}, pytest.skip.Exception, "sudo bash .ci/postgres", id="unset-skips"),
        pytest.param({"CI": "false"}, pytest.skip.Exception, POSTGRES_URL_VARIABLE, id="ci-false"),
        pytest.param({"CI": ""}, pytest.skip.Exception, POSTGRES_URL_VARIABLE, id="ci-empty"),
        pytest.param({"CI": "true"}, pytest.fail.Exception, "CI must not skip", id="ci-fails"),
        pytest.param(
            {"CI": "1", POSTGRES_URL_VARIABLE: "  "},
            pytest.fail.Exception,
            "sudo bash .ci/postgres",
            id="ci-blank-url-fails",
        ),
        pytest.param(
            {POSTGRES_URL_VARIABLE: "sqlite:///tickets.db"},
            pytest.fail.Exception,
            "must name a PostgreSQL server",
            id="not-postgres",
        ),
        pytest.param(
            {POSTGRES_URL_VARIABLE: "not a url"},
            pytest.fail.Exception,
            "is not a database URL",
            id="not-a-url",
        ),
    ],
)
def test_without_a_usable_server_url_postgres_cases_skip_or_fail_in_ci(
    environ: dict[str, str], outcome: type[BaseException], says: str
) -> None:
    with pytest.raises(outcome, match=says.replace(".", r"\.")):
        postgres_server_url(environ)


def test_a_plain_postgresql_url_gets_the_psycopg_driver() -> None:
    url = postgres_server_url({POSTGRES_URL_VARIABLE: "postgresql://appeals:pw@db:5433/x"})
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.password) == ("db", 5433, "x", "pw")
