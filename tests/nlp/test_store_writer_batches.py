"""The store's writer gathers answers that arrive one by one into few writes (one write per
answer cost the single-ticket route a third of its req/s: bench/serve.py --sections store),
and a flush does not wait for the gathering."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from nlp.model import Prediction
from nlp.store import Answer, StoreWriter, TicketStore, utc_now


class CountingStore(TicketStore):
    """A real SQLite store that counts its writes."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.writes: list[int] = []

    def record(self, answers: Sequence[Answer]) -> int:
        self.writes.append(len(answers))
        return super().record(answers)


def answer(number: int) -> Answer:
    prediction = Prediction("城乡建设", 0.9, [("城乡建设", 0.9), ("环境保护", 0.1)], False, None)
    return Answer(
        f"t{number}", "电话13812345678，楼下噪音", None, "default", "v1", prediction, utc_now()
    )


def test_answers_arriving_one_by_one_are_written_in_few_batches(tmp_path: Path) -> None:
    store = CountingStore(f"sqlite:///{tmp_path / 'tickets.db'}")
    writer = StoreWriter(store, linger=30.0).start()
    try:
        for number in range(40):  # as single-ticket requests come: one answer at a time
            writer.submit([answer(number)])
            time.sleep(0.002)
        # flush() cuts the gathering short: without that it would wait out the 30 s linger.
        assert writer.flush(timeout=10)
    finally:
        writer.stop()
    assert sum(store.writes) == 40 == writer.written
    assert len(store.writes) <= 2, store.writes  # the first answer waits for the others
    assert store.counts()["tickets"] == 40
    assert "13812345678" not in store.get("t7")["text"]  # masked in the writer


def test_without_linger_each_wakeup_writes_what_is_there(tmp_path: Path) -> None:
    store = CountingStore(f"sqlite:///{tmp_path / 'tickets.db'}")
    writer = StoreWriter(store, linger=0).start()
    try:
        writer.submit([answer(1)])
        assert writer.flush(timeout=10)
        writer.submit([answer(2)])
        assert writer.flush(timeout=10)
    finally:
        writer.stop()
    assert store.writes == [1, 1]


def test_stop_writes_what_is_gathering(tmp_path: Path) -> None:
    store = CountingStore(f"sqlite:///{tmp_path / 'tickets.db'}")
    writer = StoreWriter(store, linger=30.0).start()
    writer.submit([answer(1), answer(2)])
    writer.stop(timeout=10)
    assert store.counts()["tickets"] == 2
