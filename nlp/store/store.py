"""The ticket store: every answer the service gave, masked, and the department a person gave.

One SQLAlchemy URL chooses the database: a SQLite file (the embedded default, beside the
model registry; WAL, so readers never wait for the one writer) or PostgreSQL (a centre with
several service hosts). Alembic migrations own the schema; :meth:`TicketStore.open` creates it
in an empty database and refuses, with what to do, a database whose schema is older or newer
than this version's.

Text and titles are masked (:func:`nlp.text.normalise`, the same rule as the model's input and
the logs) before they reach the database: the raw text of a ticket is never stored.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    delete,
    event,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from nlp.errors import DataError, StoreError, StoreSchemaError, UnknownTicketError
from nlp.model import Prediction
from nlp.store.schema import MAX_ID_CHARS, MAX_LABEL_CHARS, tickets
from nlp.text import normalise

__all__ = [
    "ANSWER_COLUMNS",
    "CORRECTION_COLUMNS",
    "Answer",
    "TicketStore",
    "UnknownLabelError",
    "utc_now",
]

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATING = threading.RLock()

#: The columns :meth:`TicketStore.tickets` returns, in order.
ANSWER_COLUMNS = tuple(column.name for column in tickets.columns)
#: The columns :meth:`TicketStore.corrections` returns, in order: training data (``text``,
#: ``title``, ``label`` = the department a person gave) and where it came from.
CORRECTION_COLUMNS = (
    "id",
    "text",
    "title",
    "label",
    "predicted",
    "model_version",
    "answered_at",
    "corrected_at",
    "source",
)
#: Ids per statement when deleting or looking up many (well under every driver's limit).
_CHUNK = 500
_MAX_NOTE_CHARS = 2_000
_MAX_BY_CHARS = 128


class UnknownLabelError(DataError):
    """A department the serving model does not know (a typo, or a new department: then say
    so with ``allow_new_label``)."""


def utc_now() -> datetime:
    """Now in UTC, without a zone: how the store keeps times (SQLite keeps no zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class Answer:
    """What the service hands the store for one ticket: the ticket as it came (masked when
    stored, not before: masking runs in the store's writer, off the request's path) and the
    answer it got."""

    id: str
    text: str | None
    title: str | None
    model_name: str
    model_version: str
    prediction: Prediction
    answered_at: datetime

    def row(self) -> dict[str, Any]:
        """The ``tickets`` row, masked."""
        prediction = self.prediction
        scores = [score for _, score in prediction.top_k]
        margin = scores[0] - scores[1] if len(scores) > 1 else scores[0] if scores else 0.0
        return {
            "id": ticket_key(self.id),
            "answered_at": self.answered_at,
            "text": normalise(self.text) if self.text else "",
            "title": normalise(self.title) if self.title else None,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "label": prediction.label,
            "confidence": float(prediction.confidence),
            "margin": round(float(margin), 6),
            "top_k": [{"label": label, "score": float(score)} for label, score in prediction.top_k],
            "needs_review": bool(prediction.needs_review),
            "review_codes": list(prediction.review_codes),
        }


def describe_url(url: str) -> str:
    """``url`` with its password hidden: what messages and logs may show."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an invalid URL)"


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL: readers never block the writer nor it them; one writer at a time, the others
    # wait up to busy_timeout (several service workers share the file).
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class TicketStore:
    """The store at ``url`` (``sqlite:///path/tickets.db`` or
    ``postgresql+psycopg://user:password@host/db``). Nothing connects until it is used;
    :meth:`open` checks (or creates) the schema."""

    def __init__(self, url: str, *, connect_timeout: float = 5.0) -> None:
        self.url = str(url)
        self.connect_timeout = connect_timeout
        self._engine: Engine | None = None

    def __repr__(self) -> str:
        return f"TicketStore({describe_url(self.url)!r})"

    # ------------------------------------------------------------------ connection
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> Engine:
        shown = describe_url(self.url)
        try:
            url = make_url(self.url)
        except ArgumentError:
            raise StoreError(
                f"the ticket store URL {shown} is not a database URL; use "
                "sqlite:///PATH/tickets.db or postgresql+psycopg://USER:PASSWORD@HOST/DB"
            ) from None
        backend = url.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise StoreError(
                f"the ticket store URL {shown} names {backend!r}; the store runs on sqlite "
                "or postgresql (postgresql+psycopg://USER:PASSWORD@HOST/DB)"
            )
        try:
            if backend == "sqlite":
                if url.database and url.database != ":memory:":
                    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(url, connect_args={"timeout": 30})
                event.listen(engine, "connect", _sqlite_pragmas)
                return engine
            return create_engine(
                url,
                pool_pre_ping=True,
                pool_size=2,
                max_overflow=2,
                connect_args={"connect_timeout": max(1, round(self.connect_timeout))},
            )
        except NoSuchModuleError as error:
            raise StoreError(f"the ticket store URL {shown}: {error}") from None
        except OSError as error:
            raise StoreError(
                f"the ticket store {shown}: cannot create its folder ({error.strerror or error})"
            ) from None

    def close(self) -> None:
        """Close every pooled connection (the store can still be used: it reconnects)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _connect(self, *, write: bool) -> Any:
        """A connection in a transaction (committed at the end of the ``with``); any
        database failure becomes a :class:`StoreError` that names the store."""
        return _Transaction(self, write=write)

    def _fail(self, error: SQLAlchemyError) -> StoreError:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return StoreError(f"the ticket store {describe_url(self.url)} failed: {reason}")

    # ------------------------------------------------------------------ schema
    def _alembic(self, connection: Connection) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        return config

    def head_revision(self) -> str:
        """The schema revision this version of the code writes."""
        from alembic.script import ScriptDirectory

        config = self._alembic(connection=None)  # type: ignore[arg-type]
        head = ScriptDirectory.from_config(config).get_current_head()
        assert head is not None
        return head

    def revision(self) -> str | None:
        """The database's schema revision (None: no schema yet)."""
        from alembic.runtime.migration import MigrationContext

        with self._connect(write=False) as connection:
            revision: str | None = MigrationContext.configure(connection).get_current_revision()
            if revision is None and inspect(connection).has_table("tickets"):
                raise StoreSchemaError(
                    f"the database {describe_url(self.url)} has a 'tickets' table that no "
                    "appeal-router migration made; point APPEALS_STORE_URL at another database"
                )
            return revision

    def upgrade(self) -> tuple[str | None, str]:
        """Migrate the schema to :meth:`head_revision`: (revision before, revision now)."""
        try:
            return self._upgrade()
        except BaseException:
            self.close()
            raise

    def _upgrade(self) -> tuple[str | None, str]:
        from alembic import command

        # Alembic runs migrations through one module-level context: one at a time per process.
        with _MIGRATING:
            before = self.revision()
            head = self.head_revision()
            if before != head:
                self._check_known(before)
                with self._connect(write=True) as connection:
                    command.upgrade(self._alembic(connection), "head")
                logger.info("ticket store schema %s -> %s", before, head)
        return before, head

    def _check_known(self, revision: str | None) -> None:
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        if revision is None:
            return
        scripts = ScriptDirectory.from_config(self._alembic(connection=None))  # type: ignore[arg-type]
        try:
            scripts.get_revision(revision)
        except CommandError:
            raise StoreSchemaError(
                f"the ticket store {describe_url(self.url)} has schema revision {revision}, "
                f"which this version of appeal-router does not know (it writes "
                f"{self.head_revision()}): a newer version made it; run that version, or "
                "point APPEALS_STORE_URL at another database"
            ) from None

    def __enter__(self) -> TicketStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def open(self, *, create: bool = True) -> TicketStore:
        """Check the schema: create it in an empty database (``create``), refuse an older one
        (run ``appeals store upgrade``) or a newer one. Returns the store; on an error its
        connections are closed."""
        try:
            return self._open(create=create)
        except BaseException:
            self.close()
            raise

    def _open(self, *, create: bool) -> TicketStore:
        # Under the migration lock: a schema another thread of this process is creating
        # (its tables made, its revision not yet stamped) is never seen half made.
        with _MIGRATING:
            return self._check_or_create(create=create)

    def _check_or_create(self, *, create: bool) -> TicketStore:
        revision = self.revision()
        head = self.head_revision()
        if revision == head:
            return self
        if revision is None and create:
            try:
                self._upgrade()
            except StoreError:
                # Another worker may have created it meanwhile; then the check passes.
                if self.revision() != head:
                    raise
            return self
        self._check_known(revision)
        if revision is None:
            raise StoreSchemaError(
                f"the ticket store {describe_url(self.url)} has no schema yet; "
                "run 'appeals store upgrade' to create it"
            )
        raise StoreSchemaError(
            f"the ticket store {describe_url(self.url)} has schema revision {revision}, "
            f"older than this version's {head}; run 'appeals store upgrade' (back up the "
            "database first), then start the service again"
        )

    # ------------------------------------------------------------------ writing
    def record(self, answers: Sequence[Answer]) -> int:
        """Store ``answers`` (masked). A ticket id answered again keeps its final label and
        takes the newest answer. Returns how many rows were written."""
        if not answers:
            return 0
        # One row per id (the newest answer): PostgreSQL refuses to update a row twice in
        # one statement.
        rows = list({ticket_key(answer.id): answer.row() for answer in answers}.values())
        with self._connect(write=True) as connection:
            insert = self._insert()
            statement = insert(tickets)
            fresh = {name: statement.excluded[name] for name in _ANSWERED}
            connection.execute(
                statement.on_conflict_do_update(index_elements=[tickets.c.id], set_=fresh),
                rows,
            )
        return len(rows)

    def _insert(self) -> Any:
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as postgresql_insert

            return postgresql_insert
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert

    def set_final(
        self,
        ticket_id: str,
        label: str,
        *,
        source: str,
        by: str | None = None,
        note: str | None = None,
        known_labels: Collection[str] | None = None,
        allow_new_label: bool = False,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Record the department a person gave ticket ``ticket_id``; returns the stored row.

        Raises :class:`UnknownTicketError` for an id the store does not hold and
        :class:`UnknownLabelError` for a label outside ``known_labels`` (unless
        ``allow_new_label``)."""
        label = check_label(label, known_labels=known_labels, allow_new_label=allow_new_label)
        values = {
            "final_label": label,
            "final_source": _clip(source, _MAX_BY_CHARS) or "api",
            "final_by": _clip(normalise(by), _MAX_BY_CHARS) if by else None,
            "final_note": _clip(normalise(note), _MAX_NOTE_CHARS) if note else None,
            "corrected_at": at or utc_now(),
        }
        key = ticket_key(ticket_id)
        with self._connect(write=True) as connection:
            done = connection.execute(update(tickets).where(tickets.c.id == key).values(values))
            if done.rowcount == 0:
                raise UnknownTicketError(
                    f"no stored ticket has id {key!r}: the service has not answered it, or "
                    "it was purged; send the id the classify answer gave"
                )
            row = connection.execute(select(tickets).where(tickets.c.id == key)).one()
        return dict(row._mapping)

    def set_finals(
        self, finals: Iterable[tuple[str, str]], *, source: str, at: datetime | None = None
    ) -> tuple[int, list[str]]:
        """Record many final labels at once (checked by the caller): (how many were stored,
        the ids the store does not hold)."""
        statement = (
            update(tickets)
            .where(tickets.c.id == bindparam("key"))
            .values(
                final_label=bindparam("final"),
                final_source=_clip(source, _MAX_BY_CHARS),
                final_by=None,
                final_note=None,
                corrected_at=at or utc_now(),
            )
        )
        pending = list(finals)
        stored, unknown = 0, []
        with self._connect(write=True) as connection:
            for start in range(0, len(pending), _CHUNK):
                chunk = pending[start : start + _CHUNK]
                ids = [ticket_id for ticket_id, _ in chunk]
                held = set(
                    connection.execute(select(tickets.c.id).where(tickets.c.id.in_(ids))).scalars()
                )
                unknown += [ticket_id for ticket_id in ids if ticket_id not in held]
                rows = [{"key": key, "final": label} for key, label in chunk if key in held]
                if rows:  # one statement for the chunk, run for each of its rows
                    connection.execute(statement, rows)
                    stored += len(rows)
        return stored, unknown

    def purge(self, ticket_ids: Iterable[str]) -> int:
        """Delete these tickets (a resident's deletion request): how many were deleted."""
        ids = [ticket_key(ticket_id) for ticket_id in ticket_ids]
        deleted = 0
        with self._connect(write=True) as connection:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                deleted += connection.execute(
                    delete(tickets).where(tickets.c.id.in_(chunk))
                ).rowcount
        return deleted

    def purge_older_than(self, days: float, *, now: datetime | None = None) -> int:
        """Delete the tickets answered more than ``days`` days ago (the retention setting)."""
        if not days > 0:
            raise DataError(f"retention must be a positive number of days, not {days!r}")
        cutoff = (now or utc_now()) - timedelta(days=days)
        with self._connect(write=True) as connection:
            deleted: int = connection.execute(
                delete(tickets).where(tickets.c.answered_at < cutoff)
            ).rowcount
        return deleted

    # ------------------------------------------------------------------ reading
    def get(self, ticket_id: str) -> dict[str, Any] | None:
        """The stored row of one ticket, or None."""
        with self._connect(write=False) as connection:
            key = ticket_key(ticket_id)
            row = connection.execute(select(tickets).where(tickets.c.id == key)).first()
        return dict(row._mapping) if row is not None else None

    def tickets(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> pd.DataFrame:
        """Every stored answer answered in [since, until), oldest first (:data:`ANSWER_COLUMNS`)."""
        query = select(tickets).order_by(tickets.c.answered_at, tickets.c.id)
        if since is not None:
            query = query.where(tickets.c.answered_at >= since)
        if until is not None:
            query = query.where(tickets.c.answered_at < until)
        return self._frame(query, ANSWER_COLUMNS)

    def corrections(self) -> pd.DataFrame:
        """The tickets a person gave a department, as training rows
        (:data:`CORRECTION_COLUMNS`; ``label`` is the person's department)."""
        query = (
            select(
                tickets.c.id,
                tickets.c.text,
                tickets.c.title,
                tickets.c.final_label.label("label"),
                tickets.c.label.label("predicted"),
                tickets.c.model_version,
                tickets.c.answered_at,
                tickets.c.corrected_at,
                tickets.c.final_source.label("source"),
            )
            .where(tickets.c.final_label.is_not(None))
            .order_by(tickets.c.corrected_at, tickets.c.id)
        )
        return self._frame(query, CORRECTION_COLUMNS)

    def counts(self) -> dict[str, int]:
        """How many tickets are stored, and how many a person gave a department."""
        from sqlalchemy import func

        with self._connect(write=False) as connection:
            total = connection.execute(select(func.count()).select_from(tickets)).scalar_one()
            final = connection.execute(
                select(func.count()).where(tickets.c.final_label.is_not(None))
            ).scalar_one()
        return {"tickets": int(total), "corrected": int(final)}

    def _frame(self, query: Any, columns: Sequence[str]) -> pd.DataFrame:
        with self._connect(write=False) as connection:
            rows = connection.execute(query).all()
        return pd.DataFrame([tuple(row) for row in rows], columns=list(columns))


# The columns an answer sets; a repeated answer replaces them and keeps the final_* ones.
_ANSWERED = (
    "answered_at",
    "text",
    "title",
    "model_name",
    "model_version",
    "label",
    "confidence",
    "margin",
    "top_k",
    "needs_review",
    "review_codes",
)


class _Transaction:
    """``with store._connect(write=...) as connection``: one transaction, committed when the
    block ends without an error; database errors become :class:`StoreError`."""

    def __init__(self, store: TicketStore, *, write: bool) -> None:
        self.store = store
        self.write = write
        self._context: Any = None

    def __enter__(self) -> Connection:
        try:
            self._context = self.store.engine.begin()
            connection: Connection = self._context.__enter__()
        except SQLAlchemyError as error:
            raise self.store._fail(error) from None
        return connection

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        try:
            self._context.__exit__(kind, error, trace)
        except SQLAlchemyError as failure:
            raise self.store._fail(failure) from None
        if isinstance(error, SQLAlchemyError):
            raise self.store._fail(error) from None


def check_label(
    label: object, *, known_labels: Collection[str] | None, allow_new_label: bool = False
) -> str:
    """``label`` as a department name, or :class:`UnknownLabelError` saying what is wrong."""
    if not isinstance(label, str) or not label.strip():
        raise UnknownLabelError(f"the department must be a non-empty text, not {label!r}")
    label = label.strip()
    if any(ord(character) < 32 for character in label):
        raise UnknownLabelError("the department must not hold control characters")
    if len(label) > MAX_LABEL_CHARS:
        raise UnknownLabelError(f"the department is longer than {MAX_LABEL_CHARS} characters")
    if known_labels is not None and label not in known_labels and not allow_new_label:
        listed = ", ".join(sorted(known_labels))
        raise UnknownLabelError(
            f"the model does not know the department {label!r}; use one of: {listed} "
            "(or set allow_new_label for a department it has never seen)"
        )
    return label


def check_ticket_id(ticket_id: object) -> str:
    """A ticket id as the store keys it (integers as their digits)."""
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, str | int):
        raise DataError(f"a ticket id is a text or an integer, not {ticket_id!r}")
    key = ticket_key(ticket_id).strip()
    if not key or len(key) > MAX_ID_CHARS:
        raise DataError(f"a ticket id has 1 to {MAX_ID_CHARS} characters, not {len(key)}")
    return key


def ticket_key(ticket_id: object) -> str:
    """How the store keys a ticket id: its text (an integer as its digits), a NUL character
    (which PostgreSQL cannot hold in text) as U+FFFD, so that every id the API accepts can
    be stored and found again."""
    return str(ticket_id).replace("\x00", "\ufffd")


def _clip(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else value
