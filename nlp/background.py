"""One named daemon thread that a long-lived object starts once and stops on request.

    >>> worker = BackgroundThread(run, name="store-writer")
    >>> worker.start()                 # True: started; False: it was running already
    >>> worker.stopping.is_set()       # what ``run`` checks (or waits on) between steps
    >>> worker.stop(timeout=5.0)       # sets ``stopping``, joins; False: it was not running

The store's writer (:class:`nlp.store.writer.StoreWriter`) and the similar-ticket index
(:class:`nlp.live_similar.LiveSimilarIndex`) each own one; what their threads do stays theirs.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["BackgroundThread", "wait_until_done"]


def wait_until_done(work: queue.Queue[Any], timeout: float) -> bool:
    """Wait until every item put on ``work`` is marked done (``task_done``), at most
    ``timeout`` seconds: whether it came to that (``Queue.join`` with a deadline)."""
    deadline = time.monotonic() + timeout
    done = work.all_tasks_done
    with done:
        while work.unfinished_tasks:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            done.wait(remaining)
    return True


class BackgroundThread:
    """Runs ``run`` (no arguments) in a daemon thread called ``name``, at most one at a time.

    ``run`` should return soon after :attr:`stopping` is set. Both :meth:`start` and
    :meth:`stop` are idempotent and safe to call from several threads; the thread can be
    started again after it was stopped."""

    def __init__(self, run: Callable[[], None], *, name: str) -> None:
        self.run = run
        self.name = name
        #: Set by :meth:`stop`, cleared by :meth:`start`: the thread's signal to end.
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether the thread was started and not stopped since."""
        return self._thread is not None

    def start(self) -> bool:
        """Start the thread unless it runs already: whether this call started it."""
        with self._lock:
            if self._thread is not None:
                return False
            self.stopping.clear()
            self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
            self._thread.start()
            return True

    def stop(self, timeout: float, *, wake: Callable[[], None] | None = None) -> bool:
        """Set :attr:`stopping`, call ``wake`` (to cut short a wait the event does not end),
        and wait at most ``timeout`` seconds for the thread to end: whether it was running.
        A thread still busy after ``timeout`` is left to end on its own (it is a daemon)."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None:
                return False
            self.stopping.set()
        if wake is not None:
            wake()
        thread.join(timeout=timeout)
        return True
