"""The ticket store, on SQLite and on a real PostgreSQL server (``store_url``): its schema from
an empty database, masking, corrections, purges, retention, import, and the writer that never
makes a request wait."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from nlp.errors import DataError, StoreError, StoreSchemaError, UnknownTicketError
from nlp.model import Prediction
from nlp.store import (
    CORRECTION_COLUMNS,
    Answer,
    StoreWriter,
    TicketStore,
    UnknownLabelError,
    import_corrections,
    utc_now,
)
from nlp.store.schema import metadata

PHONE = "13812345678"
ID_NUMBER = "110101199003078515"
LABELS = ("城乡建设", "交通运输", "环境保护")
#: Nothing listens on port 9 (discard) here: a store that cannot be reached.
UNREACHABLE = "postgresql+psycopg://appeals:x@127.0.0.1:9/none"


def prediction(label: str = "城乡建设", confidence: float = 0.9) -> Prediction:
    runner_up = "交通运输" if label != "交通运输" else "城乡建设"
    return Prediction(
        label=label,
        confidence=confidence,
        top_k=[(label, confidence), (runner_up, round(1 - confidence, 6))],
        needs_review=confidence < 0.75,
        review_reason="low confidence" if confidence < 0.75 else None,
        review_codes=["low_confidence"] if confidence < 0.75 else [],
    )


def answer(ticket_id: str, text_: str = "路灯坏了好几天", **kwargs: object) -> Answer:
    values: dict[str, object] = {
        "id": ticket_id,
        "text": text_,
        "title": None,
        "model_name": "default",
        "model_version": "v1",
        "prediction": prediction(),
        "answered_at": utc_now(),
    }
    values.update(kwargs)
    return Answer(**values)  # type: ignore[arg-type]


@pytest.fixture
def store(store_url: str) -> TicketStore:
    opened = TicketStore(store_url).open()
    yield opened  # type: ignore[misc]
    opened.close()


# --------------------------------------------------------------------------- schema
def test_open_creates_the_schema_in_an_empty_database(store_url: str) -> None:
    """The migration path from nothing: open() runs the migrations, and what they build is
    exactly what the code's tables describe (no drift between the two)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    store = TicketStore(store_url)
    assert store.revision() is None
    store.open()
    assert store.revision() == store.head_revision() == "0001"
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    store.open()  # a second open finds the schema and changes nothing
    assert store.counts() == {"tickets": 0, "corrected": 0}
    store.close()


def test_open_without_create_tells_to_upgrade(store_url: str) -> None:
    store = TicketStore(store_url)
    with pytest.raises(StoreSchemaError, match="appeals store upgrade"):
        store.open(create=False)
    assert store.upgrade() == (None, "0001")
    assert store.upgrade() == ("0001", "0001")
    store.open(create=False)
    store.close()


def test_a_schema_from_a_newer_version_is_refused(store_url: str) -> None:
    store = TicketStore(store_url).open()
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreSchemaError, match=r"revision 9999.*newer version"):
        TicketStore(store_url).open()
    with pytest.raises(StoreSchemaError, match="does not know"):
        TicketStore(store_url).upgrade()
    store.close()


def test_a_foreign_tickets_table_is_refused(store_url: str) -> None:
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE tickets (x INTEGER)"))
    engine.dispose()
    with pytest.raises(StoreSchemaError, match="no appeal-router migration made"):
        TicketStore(store_url).open()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("not a url", "not a database URL", id="garbage"),
        pytest.param("mysql://u:secret@host/db", "runs on sqlite or postgresql", id="mysql"),
        pytest.param(UNREACHABLE, "failed: connection", id="unreachable"),
    ],
)
def test_bad_or_unreachable_urls_are_clear_errors_without_the_password(
    url: str, message: str
) -> None:
    with pytest.raises(StoreError, match=message) as caught:
        TicketStore(url, connect_timeout=1).open()
    assert "secret" not in str(caught.value)
    assert "x@" not in str(caught.value)


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = TicketStore(f"sqlite:///{tmp_path / 'deep' / 'er' / 'tickets.db'}").open()
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()


# --------------------------------------------------------------------------- answers
def test_answers_are_stored_masked(store: TicketStore) -> None:
    store.record(
        [
            answer("t1", f"我电话{PHONE}，身份证{ID_NUMBER}，路灯坏了", title=f"联系{PHONE}"),
            answer("t2", "", title="油烟扰民"),
        ]
    )
    row = store.get("t1")
    assert row is not None
    assert PHONE not in row["text"]
    assert ID_NUMBER not in row["text"]
    assert "<PHONE>" in row["text"]
    assert "<IDCARD>" in row["text"]
    assert row["title"] == "联系<PHONE>"
    assert row["label"] == "城乡建设"
    assert row["margin"] == pytest.approx(0.8)
    assert row["top_k"] == [
        {"label": "城乡建设", "score": 0.9},
        {"label": "交通运输", "score": pytest.approx(0.1)},
    ]
    frame = store.tickets()
    assert list(frame["id"]) == ["t1", "t2"]
    assert not frame["text"].str.contains(PHONE).any()
    assert store.get("missing") is None


def test_an_id_answered_again_keeps_its_final_label(store: TicketStore) -> None:
    store.record([answer("t1")])
    store.set_final("t1", "交通运输", source="api")
    later = answer("t1", prediction=prediction("环境保护", 0.6))
    store.record([later, later])  # the same id twice in one batch, too
    row = store.get("t1")
    assert row is not None
    assert (row["label"], row["final_label"]) == ("环境保护", "交通运输")
    assert store.counts() == {"tickets": 1, "corrected": 1}


def test_tickets_between_two_times(store: TicketStore) -> None:
    now = utc_now()
    store.record([answer(f"d{day}", answered_at=now - timedelta(days=day)) for day in range(5)])
    frame = store.tickets(since=now - timedelta(days=3, hours=1), until=now - timedelta(hours=1))
    assert list(frame["id"]) == ["d3", "d2", "d1"]  # oldest first


# --------------------------------------------------------------------------- corrections
def test_set_final_records_who_gave_which_department(store: TicketStore) -> None:
    store.record([answer("t1", f"电话{PHONE}")])
    row = store.set_final(
        "t1", " 交通运输 ", source="api", by="dispatcher-07", note=f"回电{PHONE}确认"
    )
    assert row["final_label"] == "交通运输"
    assert (row["final_source"], row["final_by"]) == ("api", "dispatcher-07")
    assert PHONE not in row["final_note"]
    corrections = store.corrections()
    assert tuple(corrections.columns) == CORRECTION_COLUMNS
    assert corrections.iloc[0][["id", "label", "predicted", "source"]].tolist() == [
        "t1",
        "交通运输",
        "城乡建设",
        "api",
    ]
    assert PHONE not in corrections.iloc[0]["text"]


def test_set_final_refuses_unknown_ids_and_labels(store: TicketStore) -> None:
    store.record([answer("t1")])
    with pytest.raises(UnknownTicketError, match="'nope'"):
        store.set_final("nope", "交通运输", source="api")
    with pytest.raises(UnknownLabelError, match="does not know the department '新部门'"):
        store.set_final("t1", "新部门", source="api", known_labels=LABELS)
    with pytest.raises(UnknownLabelError, match="non-empty"):
        store.set_final("t1", "  ", source="api", known_labels=LABELS)
    assert store.counts()["corrected"] == 0  # nothing half-written
    store.set_final("t1", "新部门", source="api", known_labels=LABELS, allow_new_label=True)
    assert store.corrections()["label"].tolist() == ["新部门"]


# --------------------------------------------------------------------------- purges
def test_purge_deletes_every_trace_of_a_ticket(store: TicketStore) -> None:
    store.record([answer(f"t{i}") for i in range(1_200)])  # more than one chunk of ids
    store.set_final("t5", "交通运输", source="api")
    assert store.purge(["t5", "t6", "not-stored"]) == 2
    assert store.get("t5") is None
    assert store.corrections().empty
    assert store.purge([f"t{i}" for i in range(1_200)]) == 1_198
    assert store.counts() == {"tickets": 0, "corrected": 0}


def test_retention_deletes_what_is_older(store: TicketStore) -> None:
    now = utc_now()
    store.record(
        [
            answer("old", answered_at=now - timedelta(days=40)),
            answer("new", answered_at=now - timedelta(days=2)),
        ]
    )
    assert store.purge_older_than(30, now=now) == 1
    assert store.tickets()["id"].tolist() == ["new"]
    with pytest.raises(DataError, match="positive number of days"):
        store.purge_older_than(0)


# --------------------------------------------------------------------------- import
def test_import_stores_good_rows_and_returns_every_other_with_its_reason(
    store: TicketStore,
) -> None:
    store.record([answer(f"t{i}") for i in range(4)] + [answer("202401150001")])
    frame = pd.DataFrame(
        {
            "id": ["t0", "t1", "t2", None, "t404", "t1", 202401150001.0, "t3"],
            "label": [
                "交通运输",
                "环境保护",
                "新部门",
                "交通运输",
                "交通运输",
                "城乡建设",
                "交通运输",
                None,
            ],
            "memo": list("abcdefgh"),
        }
    )
    report = import_corrections(store, frame, known_labels=LABELS, source="import:x.csv")
    assert (report.rows, report.stored) == (8, 3)
    rejected = report.rejected.set_index("row")["reason"]
    assert sorted(rejected.index) == [2, 3, 4, 5, 8]
    assert "further down" in rejected[2]  # t1 comes again in row 6, which counts
    assert "does not know the department '新部门'" in rejected[3]
    assert "no ticket id" in rejected[4]
    assert "no stored ticket" in rejected[5]
    assert "non-empty" in rejected[8]
    assert report.rejected["memo"].tolist() == list("bcdeh")  # the rows as they came
    finals = store.corrections().set_index("id")["label"].to_dict()
    assert finals == {"t0": "交通运输", "t1": "城乡建设", "202401150001": "交通运输"}
    assert set(store.corrections()["source"]) == {"import:x.csv"}


def test_import_names_missing_columns(store: TicketStore) -> None:
    with pytest.raises(DataError, match=r"'label'.*not found.*'工单编号'"):
        import_corrections(store, pd.DataFrame({"id": ["a"], "工单编号": ["b"]}))


# --------------------------------------------------------------------------- the writer
def test_the_writer_stores_what_is_submitted(store: TicketStore) -> None:
    written: list[int] = []
    writer = StoreWriter(TicketStore(store.url), on_written=written.append).start()
    assert writer.submit([answer(f"t{i}") for i in range(600)]) == 600
    assert writer.flush(30)
    assert store.counts()["tickets"] == 600
    assert sum(written) == writer.written == 600
    assert writer.dropped == 0
    assert writer.problem is None
    writer.stop()


def test_several_writers_share_one_sqlite_file(tmp_path: Path) -> None:
    """Several service workers, each with its writer, on one SQLite file: WAL and the busy
    timeout let each write in turn, and nothing is lost."""
    url = f"sqlite:///{tmp_path / 'tickets.db'}"
    TicketStore(url).open().close()
    writers = [StoreWriter(TicketStore(url), batch_size=50).start() for _ in range(4)]

    def send(number: int, writer: StoreWriter) -> None:
        for start in range(0, 1_000, 100):
            writer.submit([answer(f"w{number}-{i}") for i in range(start, start + 100)])

    threads = [threading.Thread(target=send, args=pair) for pair in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for writer in writers:
        assert writer.flush(60)
        writer.stop()
    assert sum(writer.dropped for writer in writers) == 0
    assert TicketStore(url).counts()["tickets"] == 4_000


def test_a_store_that_is_down_never_makes_submit_wait() -> None:
    dropped: list[tuple[str, int]] = []
    writer = StoreWriter(
        TicketStore(UNREACHABLE, connect_timeout=1),
        capacity=100,
        attempts=2,
        retry_seconds=0.05,
        on_dropped=lambda reason, count: dropped.append((reason, count)),
    ).start()
    started = time.perf_counter()
    queued = sum(writer.submit([answer(f"t{i}")]) for i in range(500))
    assert time.perf_counter() - started < 1.0  # a generous bound: each submit is a put
    assert queued < 500  # the queue filled while the store was down: the rest were dropped
    writer.flush(30)
    reasons = {reason for reason, _ in dropped}
    assert reasons <= {"queue_full", "store_error"}
    assert "queue_full" in reasons
    assert sum(count for _, count in dropped) == writer.dropped >= 500 - 100
    assert writer.problem is not None
    assert "x@" not in writer.problem  # the password never reaches the logs
    writer.stop(timeout=1)


def test_a_store_with_a_newer_schema_drops_and_says_why(store_url: str) -> None:
    store = TicketStore(store_url).open()
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    store.close()
    dropped: list[tuple[str, int]] = []
    writer = StoreWriter(
        TicketStore(store_url), on_dropped=lambda reason, count: dropped.append((reason, count))
    ).start()
    writer.submit([answer("t1"), answer("t2")])
    assert writer.flush(30)
    assert dropped == [("schema", 2)]
    assert writer.problem is not None
    assert "9999" in writer.problem
    writer.stop()


def test_one_answer_the_database_refuses_costs_only_itself(store: TicketStore) -> None:
    """An answer the database cannot hold (here: a label longer than PostgreSQL's limit for
    the model name column) is dropped alone, counted as refused; its batch is stored."""
    dropped: list[tuple[str, int]] = []
    writer = StoreWriter(
        TicketStore(store.url), on_dropped=lambda reason, count: dropped.append((reason, count))
    ).start()
    answers = [answer(f"t{i}") for i in range(10)]
    bad = answer("bad", model_name="m" * 100)  # the column holds 64 characters
    writer.submit([*answers[:5], bad, *answers[5:]])
    assert writer.flush(30)
    stored = set(store.tickets()["id"])
    if store.engine.dialect.name == "postgresql":
        assert stored == {f"t{i}" for i in range(10)}
        assert dropped == [("refused", 1)]
    else:  # SQLite does not enforce lengths: everything is stored
        assert stored == {f"t{i}" for i in range(10)} | {"bad"}
    writer.stop()


def test_ids_with_any_character_the_api_accepts_are_stored_and_found(store: TicketStore) -> None:
    weird = ["a\x00b", "-" + "9" * 128, "工单 #1/2?x=1", "😀" * 40, "' OR 1=1 --"]
    store.record([answer(ticket_id) for ticket_id in weird])
    for ticket_id in weird:
        assert store.get(ticket_id) is not None, ticket_id
        store.set_final(ticket_id, "交通运输", source="api")
    assert store.purge(weird) == len(weird)
    with pytest.raises(UnknownLabelError, match="control characters"):
        store.set_final("x", "交通\x00运输", source="api")
