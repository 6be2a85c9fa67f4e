"""The similar-ticket index a service keeps: fed without waiting, refreshed from a store
without duplicates, bounded by its window, forgetting deleted tickets."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from nlp.errors import DataError
from nlp.live_similar import LiveSimilarIndex

NOW = datetime(2026, 12, 1, 12, 0)
PLANT = "丽发新城小区旁边的搅拌站半夜还在开工，噪音太大，粉尘满天飞，电话13812345678"
PLANT_AGAIN = "丽发新城小区旁边的搅拌站夜里施工，噪音扰民，粉尘污染严重"
LIGHT = "红星路口红绿灯坏了三天了，没有交警来指挥，早高峰堵得动不了"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FakeStore:
    """A ticket store's ``tickets(since=)``: rows answered from ``since`` on."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.reads = 0

    def add(self, ticket_id: str, at: datetime, text: str) -> None:
        self.rows.append({"id": ticket_id, "answered_at": at, "text": text, "title": None})

    def tickets(self, *, since: datetime | None = None) -> pd.DataFrame:
        self.reads += 1
        frame = pd.DataFrame(self.rows, columns=["id", "answered_at", "text", "title"])
        return frame[frame["answered_at"] >= since] if since is not None else frame


def _started(live: LiveSimilarIndex) -> LiveSimilarIndex:
    live.start()
    deadline = time.monotonic() + 30
    while not live.ready and time.monotonic() < deadline:
        time.sleep(0.01)
    return live


def test_built_from_the_store_then_refreshed_without_duplicates() -> None:
    store = FakeStore()
    store.add("a", NOW - timedelta(days=40), PLANT)  # outside the window
    store.add("b", NOW - timedelta(days=2), PLANT)
    clock = Clock(NOW)
    live = _started(LiveSimilarIndex(store=store, window="30d", refresh_interval=3600, clock=clock))
    try:
        assert len(live) == 1
        assert [m.id for m in live.similar(PLANT_AGAIN)] == ["b"]

        store.add("c", NOW + timedelta(minutes=1), LIGHT)  # another worker's ticket
        live.submit([("d", NOW + timedelta(minutes=2), PLANT_AGAIN, None)])  # this worker's
        assert live.flush(10)
        store.add("d", NOW + timedelta(minutes=2), PLANT_AGAIN)  # written by the store, too
        clock.now = NOW + timedelta(minutes=5)
        assert live.refresh() == 1  # c; b and d are held already
        assert live.refresh() == 0
        assert len(live) == 3
        assert live.repeat_of(PLANT_AGAIN + "，还是没人管") in ("b", "d")
        assert live.repeat_of(LIGHT, exclude_id="c") is None
    finally:
        live.stop()


def test_memory_is_bounded_by_the_window() -> None:
    clock = Clock(NOW)
    live = _started(LiveSimilarIndex(window="4d", refresh_interval=0.05, clock=clock))
    try:
        for day in range(10):
            clock.now = NOW + timedelta(days=day)
            live.submit([(f"t{day}", clock.now, f"{PLANT} 第{day}次反映", None)])
            assert live.flush(10)
            # a maintenance round (every 0.05 s when idle; a loaded machine may take longer)
            deadline = time.monotonic() + 10
            while len(live) > 6 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(live) <= 6, day  # the window (4 days) and a quarter of it, at most
        assert {m.id for m in live.similar(PLANT_AGAIN, k=50)} <= {f"t{d}" for d in range(4, 10)}
        assert "this worker's tickets since it started" in live.describe()
    finally:
        live.stop()


def test_forgotten_tickets_are_never_answered() -> None:
    live = _started(LiveSimilarIndex(window="30d", clock=Clock(NOW)))
    try:
        live.submit([("x", NOW - timedelta(hours=1), PLANT, None)])
        assert live.flush(10)
        assert live.repeat_of(PLANT_AGAIN) == "x"
        live.forget(["x"])
        assert live.similar(PLANT_AGAIN) == []
        assert live.repeat_of(PLANT_AGAIN) is None
    finally:
        live.stop()


def test_a_window_longer_than_the_index_is_refused() -> None:
    live = LiveSimilarIndex(window="7d")
    with pytest.raises(DataError, match="at most 7d"):
        live.similar(PLANT, window="8d")


def test_a_full_queue_drops_and_counts_instead_of_waiting() -> None:
    dropped: list[int] = []
    live = LiveSimilarIndex(capacity=2, on_dropped=dropped.append)  # not started: nothing drains
    tickets = [(f"q{i}", NOW, PLANT, None) for i in range(5)]
    assert live.submit(tickets) == 2
    assert dropped == [3]
    assert live.dropped == 3


def test_a_store_that_cannot_be_read_leaves_the_index_serving() -> None:
    class DownStore(FakeStore):
        def tickets(self, *, since: datetime | None = None) -> pd.DataFrame:
            raise OSError("connection refused")

    live = _started(LiveSimilarIndex(store=DownStore(), window="30d", clock=Clock(NOW)))
    try:
        live.submit([("y", NOW - timedelta(hours=1), PLANT, None)])
        assert live.flush(10)
        assert live.repeat_of(PLANT_AGAIN) == "y"
        assert "cannot be read now: connection refused" in live.describe()
    finally:
        live.stop()


def test_a_rebuild_reads_the_store_so_tickets_deleted_elsewhere_leave() -> None:
    store = FakeStore()
    store.add("old", NOW, LIGHT)
    store.add("gone", NOW + timedelta(days=3), PLANT)
    store.add("kept", NOW + timedelta(days=3, hours=1), PLANT_AGAIN)
    clock = Clock(NOW + timedelta(days=3, hours=2))
    live = _started(LiveSimilarIndex(store=store, window="4d", refresh_interval=0.05, clock=clock))
    try:
        assert len(live) == 3
        store.rows = [row for row in store.rows if row["id"] != "gone"]  # another worker purged it
        clock.now = NOW + timedelta(days=5, hours=2)  # "old" is now 1.25 windows old: rebuild
        deadline = time.monotonic() + 10
        while len(live) != 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [m.id for m in live.similar(PLANT, k=5)] == ["kept"]
    finally:
        live.stop()


def test_a_repeat_lookup_scores_fewer_rows_than_a_similar_lookup(scored: list[int]) -> None:
    """repeat_of scores at most REPEAT_SCORED candidates (what classify pays for it),
    /v1/similar's lookup nlp.similar.CANDIDATES, and both find the repeat."""
    from pathlib import Path

    import nlp.similar
    from nlp.live_similar import REPEAT_SCORED

    demo = Path(__file__).resolve().parents[2] / "data" / "demo" / "appeals.csv"
    texts = pd.read_csv(demo, dtype=str, keep_default_na=False)["text"].tolist()
    live = _started(LiveSimilarIndex(window="30d", clock=Clock(NOW)))
    try:
        step = timedelta(days=20) / len(texts)
        live.submit([(f"t{i}", NOW - (i + 1) * step, t, None) for i, t in enumerate(texts)])
        live.submit([("x", NOW - timedelta(minutes=1), PLANT, None)])
        assert live.flush(60)
        assert len(live) > 4 * nlp.similar.CANDIDATES > 4 * REPEAT_SCORED
        assert live.repeat_of(PLANT_AGAIN) == "x"
        assert scored
        assert sum(scored) <= REPEAT_SCORED
        scored.clear()
        assert live.similar(PLANT_AGAIN, k=5)[0].id == "x"
        assert REPEAT_SCORED < sum(scored) <= nlp.similar.CANDIDATES
    finally:
        live.stop()


def test_the_thread_weighs_added_tickets_so_that_lookups_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each ticket's row is weighed by the index's thread as it adds it (SimilarIndex.prime),
    not by the next request's lookup: a lookup after the thread is done appends nothing."""
    import threading

    import nlp.similar

    appended_by: list[str] = []
    original = nlp.similar._GrowingRows.append

    def spied(self: Any, *args: Any) -> None:
        appended_by.append(threading.current_thread().name)
        original(self, *args)

    monkeypatch.setattr(nlp.similar._GrowingRows, "append", spied)
    live = _started(LiveSimilarIndex(window="30d", clock=Clock(NOW)))
    try:
        # enough tickets first that the next ones wait for a merge (the first few merge)
        live.submit([(f"l{i}", NOW - timedelta(hours=i + 1), LIGHT, None) for i in range(10)])
        assert live.flush(30)
        appended_by.clear()
        live.submit([("x", NOW - timedelta(minutes=1), PLANT, None)])
        assert live.flush(30)
        assert len(appended_by) == 1
        assert threading.current_thread().name not in appended_by
        assert live.repeat_of(PLANT_AGAIN) == "x"
        assert len(appended_by) == 1  # the lookup found it weighed
    finally:
        live.stop()
