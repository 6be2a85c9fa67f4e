"""The one background-thread helper: a named daemon thread started once, stopped with an
event and a timeout, both idempotent; the store's writer and the similar-ticket index use it."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nlp.background import BackgroundThread, wait_until_done
from nlp.live_similar import LiveSimilarIndex
from nlp.store import StoreWriter, TicketStore


def _named(name: str) -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == name]


def _until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    return condition()


def test_start_runs_one_named_daemon_thread_until_stop() -> None:
    runs: list[str] = []
    worker: BackgroundThread

    def run() -> None:
        runs.append(threading.current_thread().name)
        worker.stopping.wait()

    worker = BackgroundThread(run, name="test-background-once")
    assert not worker.running
    assert worker.start() is True
    assert worker.start() is False  # already running: no second thread
    assert worker.running
    assert _until(lambda: runs == ["test-background-once"])
    (thread,) = _named("test-background-once")
    assert thread.daemon
    assert worker.stop(5.0) is True
    assert worker.stopping.is_set()
    assert not thread.is_alive()
    assert not worker.running
    assert worker.stop(5.0) is False  # stopped already: nothing to do
    assert runs == ["test-background-once"]


def test_it_can_start_again_after_a_stop() -> None:
    seen: list[bool] = []
    worker: BackgroundThread

    def run() -> None:
        seen.append(worker.stopping.is_set())  # cleared by start
        worker.stopping.wait()

    worker = BackgroundThread(run, name="test-background-again")
    for _ in range(2):
        worker.start()
        assert _until(lambda: len(seen) in (1, 2) and worker.running)
        worker.stop(5.0)
    assert seen == [False, False]
    assert not _named("test-background-again")


def test_stop_wakes_a_wait_the_event_does_not_end() -> None:
    condition = threading.Condition()
    woken: list[str] = []
    worker: BackgroundThread

    def run() -> None:
        with condition:
            condition.wait_for(worker.stopping.is_set, timeout=60)

    def wake() -> None:
        woken.append("woken")
        with condition:
            condition.notify_all()

    worker = BackgroundThread(run, name="test-background-wake")
    worker.start()
    started = time.monotonic()
    worker.stop(30.0, wake=wake)
    assert woken == ["woken"]
    assert time.monotonic() - started < 20  # not the 60 s wait
    assert not _named("test-background-wake")


def test_stop_gives_up_after_its_timeout() -> None:
    release = threading.Event()
    worker = BackgroundThread(lambda: release.wait(60), name="test-background-stuck")
    worker.start()
    started = time.monotonic()
    assert worker.stop(0.05) is True
    assert time.monotonic() - started < 20
    assert not worker.running  # a stuck thread is left to end on its own
    release.set()
    assert _until(lambda: not _named("test-background-stuck"))


def test_concurrent_starts_make_one_thread() -> None:
    worker = BackgroundThread(lambda: worker.stopping.wait(), name="test-background-race")
    barrier = threading.Barrier(8)
    started: list[bool] = []

    def go() -> None:
        barrier.wait()
        started.append(worker.start())

    callers = [threading.Thread(target=go) for _ in range(8)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert sorted(started) == [False] * 7 + [True]
    assert len(_named("test-background-race")) == 1
    worker.stop(5.0)


@pytest.mark.parametrize("owner", ["store-writer", "similar-index"])
def test_the_writer_and_the_index_run_their_thread_through_it(owner: str, tmp_path: Path) -> None:
    if owner == "store-writer":
        target: StoreWriter | LiveSimilarIndex = StoreWriter(
            TicketStore(f"sqlite:///{tmp_path / 'tickets.db'}")
        )
    else:
        target = LiveSimilarIndex(store=None)
    assert isinstance(target._thread, BackgroundThread)
    assert target._thread.name == owner
    before = len(_named(owner))
    assert target.start() is target
    target.start()  # idempotent
    assert len(_named(owner)) == before + 1
    target.stop(timeout=5.0)
    target.stop(timeout=5.0)  # idempotent
    assert _until(lambda: len(_named(owner)) == before)


def test_wait_until_done_waits_for_every_item_or_the_deadline() -> None:
    work: queue.Queue[int] = queue.Queue()
    assert wait_until_done(work, timeout=0.0)
    work.put(1)
    assert not wait_until_done(work, timeout=0.05)
    work.get()
    done = threading.Timer(0.05, work.task_done)
    done.start()
    assert wait_until_done(work, timeout=5.0)
    done.join()
