"""The store's background writer: requests hand it their answers and go on.

Writing to the store never slows or fails a classify request. :meth:`StoreWriter.submit` puts
answers on a bounded queue and returns at once; one thread per process masks them and writes
them in batches. Once an answer arrives, the thread lets a batch gather for ``linger`` seconds
before it writes (unless someone waits in :meth:`StoreWriter.flush`): a write of one answer
costs about four times as much per answer as a write of a hundred, and a thread that woke for
every answer would take the interpreter's lock from the requests on every answer.

When the queue is full (the store is slower than the traffic, or down), new
answers are dropped and counted; a batch the store refuses is retried a few times with a
growing pause, then dropped and counted. The same thread applies the retention setting.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from nlp.background import BackgroundThread, wait_until_done
from nlp.errors import StoreError, StoreSchemaError
from nlp.store.store import Answer, TicketStore, describe_url

__all__ = ["StoreWriter"]

logger = logging.getLogger(__name__)

#: Answers masked and written at a time: a batch is written in slices this long.
_SLICE = 32

#: ``on_dropped(reason, count)``: ``queue_full``, ``store_error``, ``schema`` or ``refused``
#: (the database refused that answer alone; the others of its batch were written).
DropHook = Callable[[str, int], None]


class StoreWriter:
    """Writes answers to ``store`` from a daemon thread.

    ``capacity`` answers wait at most; a batch holds up to ``batch_size`` and gathers for
    ``linger`` seconds after its first answer (0: write what is there at once). A batch that fails
    is tried ``attempts`` times in all, ``retry_seconds`` apart, doubling up to 30 s.
    ``retention_days``: tickets older than that are deleted every ``purge_interval`` seconds.
    """

    def __init__(
        self,
        store: TicketStore,
        *,
        capacity: int = 10_000,
        batch_size: int = 256,
        linger: float = 0.25,
        attempts: int = 3,
        retry_seconds: float = 0.5,
        retention_days: float | None = None,
        purge_interval: float = 3600.0,
        on_written: Callable[[int], None] | None = None,
        on_dropped: DropHook | None = None,
    ) -> None:
        self.store = store
        self.batch_size = batch_size
        self.linger = linger
        self.attempts = attempts
        self.retry_seconds = retry_seconds
        self.retention_days = retention_days
        self.purge_interval = purge_interval
        self.on_written = on_written
        self.on_dropped = on_dropped
        self.written = 0
        self.dropped = 0
        #: Why the store is not being written now (None while it is).
        self.problem: str | None = "opening the store"
        self._queue: queue.Queue[Answer] = queue.Queue(maxsize=capacity)
        self._thread = BackgroundThread(self._run, name="store-writer")
        self._stop = self._thread.stopping
        # The thread lingers on this condition; flush() and stop() cut the wait short.
        self._hurry = threading.Condition()
        self._flushing = 0
        self._opened = False
        self._open_lock = threading.Lock()
        self._disabled = False
        self._next_purge = 0.0

    # ------------------------------------------------------------------ clients
    def submit(self, answers: Sequence[Answer]) -> int:
        """Queue ``answers`` without waiting; returns how many were queued (the rest were
        dropped and counted)."""
        queued = 0
        for answer in answers:
            try:
                self._queue.put_nowait(answer)
            except queue.Full:
                self._drop("queue_full", len(answers) - queued)
                break
            queued += 1
        return queued

    def flush(self, timeout: float) -> bool:
        """Wait until every queued answer is written or dropped (at most ``timeout``
        seconds): whether it came to that."""
        with self._hurry:
            self._flushing += 1
            self._hurry.notify_all()
        try:
            return wait_until_done(self._queue, timeout)
        finally:
            with self._hurry:
                self._flushing -= 1

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def opened_store(self) -> TicketStore:
        """The store, its schema checked (created in an empty database): for the requests
        that read or change it directly (feedback, purges). Raises what opening raises."""
        self._ensure_open()
        return self.store

    def tickets(self, **window: Any) -> Any:
        """:meth:`TicketStore.tickets` once this writer has opened the store: the worker's
        other readers (the similar-ticket index) go through it, so that none reads a database
        whose schema is being created (a SQLite file seen half made by another connection
        was taken for a foreign schema, and the writer stopped storing for good)."""
        return self.opened_store().tickets(**window)

    # ------------------------------------------------------------------ the thread
    def start(self) -> StoreWriter:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued (at most ``timeout`` seconds), then end the thread."""
        if not self._thread.running:
            return
        self.flush(timeout)
        if self._thread.stop(timeout, wake=self._wake_up):
            self.store.close()

    def _wake_up(self) -> None:
        with self._hurry:
            self._hurry.notify_all()

    def _run(self) -> None:
        self._maintain()  # open the store now: /readyz says "ok" before the first answer
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                self._maintain()
                continue
            self._gather()
            batch = [first]
            while len(batch) < self.batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                for start in range(0, len(batch), _SLICE):
                    if start:
                        # Give the interpreter's lock back between slices: a thread that
                        # holds it for a whole batch makes the requests' thread wait for
                        # it after every socket read and write (the convoy effect).
                        time.sleep(0)
                    self._write(batch[start : start + _SLICE])
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _gather(self) -> None:
        """Let a batch gather for ``linger`` seconds, unless it is full, someone waits in
        :meth:`flush`, or the writer stops. Answers arriving meanwhile do not wake the thread."""
        if self.linger <= 0 or self._queue.qsize() >= self.batch_size - 1:
            return
        with self._hurry:
            self._hurry.wait_for(
                lambda: self._flushing > 0 or self._stop.is_set(), timeout=self.linger
            )

    def _write(self, batch: list[Answer]) -> None:
        pause = self.retry_seconds
        for attempt in range(1, self.attempts + 1):
            if self._disabled:
                self._drop("schema", len(batch))
                return
            try:
                self._ensure_open()
                written = self.store.record(batch)
            except StoreSchemaError as error:
                self._disabled = True
                self._trouble(str(error), level=logging.ERROR)
                continue
            except (StoreError, Exception) as error:  # the writer must outlive any surprise
                if len(batch) > 1 and self._write_singly(batch):
                    return
                self._trouble(str(error))
                if attempt < self.attempts and not self._stop.wait(pause):
                    pause = min(pause * 2, 30.0)
                    continue
                break
            self.written += written
            if self.problem is not None:
                logger.info(
                    "ticket store writable again",
                    extra={"event": "store_ok", "store": describe_url(self.store.url)},
                )
            self.problem = None
            if self.on_written is not None:
                self.on_written(written)
            return
        self._drop("schema" if self._disabled else "store_error", len(batch))

    def _write_singly(self, batch: list[Answer]) -> bool:
        """After a batch failed: one answer at a time, so that one answer the database
        refuses does not cost the others. False when none could be written (the store is
        down: the batch is retried as a whole)."""
        written, refused = 0, 0
        for answer in batch:
            try:
                written += self.store.record([answer])
            except Exception as error:
                if written == 0 and refused == 1:
                    return False  # the first two fail too: the store, not the answers
                refused += 1
                logger.warning(
                    "the ticket store refused an answer",
                    extra={"event": "store_refused", "reason": str(error)},
                )
        self.written += written
        if self.on_written is not None and written:
            self.on_written(written)
        self._drop("refused", refused)
        return True

    def _ensure_open(self) -> None:
        if self._opened:
            return
        with self._open_lock:
            if not self._opened:
                self.store.open(create=True)
                self._opened = True

    def _maintain(self) -> None:
        """Between batches: open the store early (so a problem shows before traffic does)
        and apply the retention setting."""
        if self._disabled:
            return
        try:
            self._ensure_open()
            if self.problem == "opening the store":
                self.problem = None
            now = time.monotonic()
            if self.retention_days is not None and now >= self._next_purge:
                self._next_purge = now + self.purge_interval
                deleted = self.store.purge_older_than(self.retention_days)
                if deleted:
                    logger.info(
                        "tickets past retention deleted",
                        extra={"event": "store_retention", "deleted": deleted},
                    )
        except StoreSchemaError as error:
            self._disabled = True
            self._trouble(str(error), level=logging.ERROR)
        except Exception as error:
            self._trouble(str(error))
            self._stop.wait(min(self.retry_seconds * 4, 5.0))

    def _trouble(self, reason: str, *, level: int = logging.WARNING) -> None:
        if reason != self.problem:  # once per problem, not once per batch
            logger.log(
                level,
                "ticket store unavailable; answers are not stored meanwhile",
                extra={"event": "store_unavailable", "reason": reason},
            )
        self.problem = reason

    def _drop(self, reason: str, count: int) -> None:
        if count <= 0:
            return
        self.dropped += count
        if self.on_dropped is not None:
            self.on_dropped(reason, count)
