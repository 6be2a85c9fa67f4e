"""A worker's store at start: its writer and its similar-ticket index open one new database
at once. A schema seen half made (tables created, revision not yet stamped) was taken for a
foreign one, and the writer stopped storing for good."""

from __future__ import annotations

import threading
from pathlib import Path

from nlp.live_similar import LiveSimilarIndex
from nlp.store import StoreWriter, TicketStore


def _open_at_once(
    store: TicketStore, start: threading.Barrier, errors: list[BaseException]
) -> None:
    start.wait()
    try:
        store.open(create=True)
    except BaseException as error:
        errors.append(error)


def test_stores_opening_one_new_database_at_once_all_see_the_schema(tmp_path: Path) -> None:
    for attempt in range(15):
        url = f"sqlite:///{tmp_path / f'tickets{attempt}.db'}"
        stores = [TicketStore(url) for _ in range(4)]
        start = threading.Barrier(len(stores))
        errors: list[BaseException] = []
        threads = [
            threading.Thread(target=_open_at_once, args=(store, start, errors)) for store in stores
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        for store in stores:
            store.close()
        assert errors == [], f"attempt {attempt}: {errors[0]!r}"


def test_the_writer_reads_only_a_store_it_has_opened(tmp_path: Path) -> None:
    """``StoreWriter.tickets``, what the similar-ticket index reads through: on a new
    database it creates the schema first, so the read finds an empty store."""
    writer = StoreWriter(TicketStore(f"sqlite:///{tmp_path / 'tickets.db'}"))
    assert writer.tickets().empty
    index = LiveSimilarIndex(store=writer).start()
    try:
        assert index.refresh() == 0
        assert index.problem is None
    finally:
        index.stop()
        writer.store.close()
