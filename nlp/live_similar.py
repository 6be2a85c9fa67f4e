"""A :class:`~nlp.similar.SimilarIndex` kept up to date while a service answers tickets.

    >>> live = LiveSimilarIndex(store=TicketStore(url), window="30d").start()
    >>> live.submit([("t9", utc_now(), "搅拌站半夜还在开工", None)])   # never waits
    >>> live.similar("混凝土搅拌站夜里太吵", k=5)
    >>> live.repeat_of("混凝土搅拌站夜里太吵", time=utc_now())        # an id or None
    >>> ready = live.prepare("混凝土搅拌站夜里太吵")   # once per ticket: masked, segmented, placed
    >>> live.repeat_of(None, time=utc_now(), prepared=ready)          # the same answer
    >>> live.submit([("t10", utc_now(), "混凝土搅拌站夜里太吵", None)], prepared=[ready])

One daemon thread per process owns every change to the index, so requests never wait for it
to vectorise anything:

- at start it builds the index from the ticket store (:meth:`SimilarIndex.from_store`, the
  tickets answered within ``window``): the store is the index's persistence, so a restart
  loses nothing;
- :meth:`LiveSimilarIndex.submit` puts answered tickets on a bounded queue and returns at once
  (when the queue is full they are dropped and counted, as the store's writer does); the
  thread adds them one at a time (texts masked by the index: :func:`nlp.text.normalise`);
- every ``refresh_interval`` seconds it reads the tickets the store received since the last
  refresh (other workers' tickets, and this worker's written meanwhile), with a few minutes'
  overlap for answers written late, and adds those whose id it does not hold yet;
- once the oldest ticket it holds is a quarter of ``window`` past the window, it builds a
  new index of the tickets within the window (from the store, so that tickets deleted from
  it leave every worker's index; without a store, or when it cannot be read, from what it
  holds, the forgotten ones left out) and swaps it in: memory stays bounded by the window.

Without a store (``store=None``) it holds only the tickets submitted since it started.
Lookups hold a lock for the time of one lookup; the thread holds it for one ticket's
addition at a time (the ticket is masked, segmented and placed before, outside the lock, or
not at all when it was submitted with its :meth:`LiveSimilarIndex.prepare`), and weighs the
ticket's row then (:meth:`SimilarIndex.prime`), so that the next lookup finds it ready.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nlp.background import BackgroundThread, wait_until_done
from nlp.similar import (
    DEFAULT_NAMED_REPEAT_THRESHOLD,
    DEFAULT_REPEAT_THRESHOLD,
    Match,
    Prepared,
    SimilarIndex,
    parse_window,
)

if TYPE_CHECKING:
    from nlp.location import Gazetteer

__all__ = ["LiveSimilarIndex", "Submitted"]

logger = logging.getLogger(__name__)

#: One answered ticket: id, when it was answered (UTC, no zone), text, title.
Submitted = tuple[str, datetime, str | None, str | None]

#: Seconds of overlap between refreshes: a worker's writer stores an answer a moment (or,
#: with a backlog, minutes) after its time; ids already held are skipped.
LATE_SECONDS = 300.0
#: Similar tickets looked at for a likely repeat (the most similar repeat among them).
REPEAT_CANDIDATES = 5
#: Rows a repeat lookup scores exactly (``SimilarIndex.similar(candidates=)``; the similar
#: tickets of ``/v1/similar`` score ``nlp.similar.CANDIDATES``): a likely repeat shares the
#: query's rarest terms, so it is among the best candidates of a few. On ``unlabeled.csv``
#: (every message against the 30 days before it) the answer is the exact lookup's for every
#: message at 50 (``bench/hotspots.py --sections scale``), and the lookup scores a quarter of
#: the rows.
REPEAT_SCORED = 50


class LiveSimilarIndex:
    """The similar-ticket index of one process: built from ``store`` (anything with
    ``tickets(since=)``, a :class:`~nlp.store.TicketStore`; None: no store), fed with
    :meth:`submit`, refreshed from the store every ``refresh_interval`` seconds, holding the
    tickets of the last ``window``. ``clock`` gives now (UTC, no zone)."""

    def __init__(
        self,
        *,
        store: Any | None = None,
        window: str | timedelta = "30d",
        refresh_interval: float = 30.0,
        capacity: int = 10_000,
        repeat_threshold: float = DEFAULT_REPEAT_THRESHOLD,
        named_repeat_threshold: float = DEFAULT_NAMED_REPEAT_THRESHOLD,
        gazetteer: Gazetteer | None = None,
        on_dropped: Callable[[int], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        span = parse_window(window)
        assert span is not None
        if refresh_interval <= 0:
            raise ValueError(f"refresh_interval must be more than zero, not {refresh_interval}")
        from nlp.store import utc_now

        self.store = store
        self.window = span
        self.refresh_interval = refresh_interval
        self.repeat_threshold = repeat_threshold
        self.named_repeat_threshold = named_repeat_threshold
        self.gazetteer = gazetteer
        self.on_dropped = on_dropped
        self.clock = clock or utc_now
        self.dropped = 0
        #: Why the store could not be read at the last attempt (None: it could, or no store).
        self.problem: str | None = None
        self._index = SimilarIndex(
            repeat_threshold=repeat_threshold,
            named_repeat_threshold=named_repeat_threshold,
            gazetteer=gazetteer,
        )
        self._seen: set[str] = set()
        self._forgotten: set[str] = set()
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[Submitted, Prepared | None]] = queue.Queue(maxsize=capacity)
        self._built = threading.Event()
        self._thread = BackgroundThread(self._run, name="similar-index")
        self._stop = self._thread.stopping
        self._watermark: datetime | None = None  # when the last refresh read the store
        self._next_refresh = 0.0

    # ------------------------------------------------------------------ clients
    def submit(
        self, tickets: Sequence[Submitted], *, prepared: Sequence[Prepared | None] | None = None
    ) -> int:
        """Queue answered tickets for the index without waiting: how many were queued (the
        rest were dropped and counted). ``prepared``: each ticket's :meth:`prepare` if the
        caller has it (None where not), so that the thread does not compute it again."""
        if prepared is not None and len(prepared) != len(tickets):
            raise ValueError("give one prepared ticket (or None) per ticket")
        queued = 0
        for position, ticket in enumerate(tickets):
            try:
                self._queue.put_nowait((ticket, None if prepared is None else prepared[position]))
            except queue.Full:
                self._drop(len(tickets) - queued)
                break
            queued += 1
        return queued

    @property
    def ready(self) -> bool:
        """Whether the first build has ended (lookups answer from an empty index before)."""
        return self._built.is_set()

    def __len__(self) -> int:
        return len(self._index)

    def describe(self) -> str:
        """What the index holds, in words (for a readiness probe)."""
        if not self.ready:
            return "building from the ticket store"
        held = f"{len(self)} ticket(s) of the last {_days(self.window)}"
        if self.store is None:
            return f"{held}: this worker's tickets since it started (no ticket store)"
        if self.problem is not None:
            return f"{held}; the ticket store cannot be read now: {self.problem}"
        return held

    def prepare(self, text: str | None, title: str | None = None) -> Prepared | None:
        """:meth:`SimilarIndex.prepare`: a ticket as the index sees it, computed once for
        :meth:`repeat_of` (or :meth:`similar`) and :meth:`submit`. Holds no lock."""
        return self._index.prepare(text, title)

    def similar(
        self,
        text: str | None,
        title: str | None = None,
        *,
        time: object = None,
        window: str | timedelta | None = None,
        k: int = 5,
        exclude_id: str | None = None,
        prepared: Prepared | None = None,
    ) -> list[Match]:
        """:meth:`SimilarIndex.similar` on the tickets held (``time``: now by default;
        ``window``: the index's by default, at most that long). Raises
        :class:`~nlp.errors.DataError` for a window longer than the index's."""
        from nlp.errors import DataError

        span = parse_window(window) if window is not None else self.window
        assert span is not None
        if span > self.window:
            raise DataError(
                f"the window can be at most {_days(self.window)} (the index holds the tickets "
                f"of that long), not {_days(span)}"
            )
        at = self.clock() if time is None else time
        wanted = k + len(self._forgotten)
        with self._lock:
            index = self._index
            found = index.similar(
                text,
                title,
                time=at,
                window=span,
                k=wanted,
                exclude_id=exclude_id,
                prepared=prepared,
            )
        return [match for match in found if match.id not in self._forgotten][:k]

    def repeat_of(
        self,
        text: str | None,
        title: str | None = None,
        *,
        time: object = None,
        exclude_id: str | None = None,
        wait: float = 0.2,
        prepared: Prepared | None = None,
    ) -> str | None:
        """The id of the most similar ticket within the window that is a likely repeat, or
        None; None too when the index is busy for longer than ``wait`` seconds (a request is
        not kept waiting for it). ``prepared``: the ticket's :meth:`prepare`, used instead of
        its text and title (computed before the lock is taken)."""
        if prepared is None:
            prepared = self.prepare(text, title)
            if prepared is None:
                return None
        if not self._lock.acquire(timeout=wait):
            return None
        try:
            at = self.clock() if time is None else time
            found = self._index.similar(
                text,
                title,
                time=at,
                window=self.window,
                k=REPEAT_CANDIDATES + len(self._forgotten),
                exclude_id=exclude_id,
                prepared=prepared,
                candidates=REPEAT_SCORED,
            )
        finally:
            self._lock.release()
        for match in found:
            if match.repeat and match.id not in self._forgotten:
                return match.id
        return None

    def forget(self, ids: Sequence[str]) -> None:
        """Never answer these tickets again (deleted from the store); they leave memory at
        the next rebuild."""
        self._forgotten.update(str(i) for i in ids)

    def flush(self, timeout: float) -> bool:
        """Wait until every queued ticket is added (at most ``timeout`` seconds)."""
        return wait_until_done(self._queue, timeout)

    def refresh(self) -> int:
        """Add the tickets the store received since the last refresh (the whole window the
        first time) whose id is not held yet: how many. Raises what the store raises."""
        if self.store is None:
            return 0
        started = self.clock()
        if self._watermark is None:
            since = started - self.window
        else:
            since = self._watermark - timedelta(seconds=LATE_SECONDS)
        frame = self.store.tickets(since=since)
        self._watermark = started
        fresh = [i for i, ticket in enumerate(frame["id"].astype(str)) if ticket not in self._seen]
        added = self._add(
            [
                (str(row.id), row.answered_at, row.text, row.title)
                for row in frame.iloc[fresh].itertuples(index=False)
            ]
        )
        self.problem = None
        return added

    # ------------------------------------------------------------------ the thread
    def start(self) -> LiveSimilarIndex:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if not self._thread.stop(timeout):
            return
        close = getattr(self.store, "close", None)
        if close is not None:
            close()

    def _run(self) -> None:
        self._build()
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                self._maintain()
                continue
            batch = [first]
            while len(batch) < 256:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._add([ticket for ticket, _ in batch], [ready for _, ready in batch])
            except Exception:  # the thread must outlive any surprise
                logger.exception(
                    "similar-ticket index: tickets not added", extra={"event": "similar_error"}
                )
            finally:
                for _ in batch:
                    self._queue.task_done()
            self._maintain()

    def _build(self) -> None:
        """The first index: the store's tickets of the window (an empty index without a store,
        or when the store cannot be read: the refreshes fill it in once it can)."""
        try:
            if self.store is not None:
                opener = getattr(self.store, "open", None)
                if opener is not None:
                    opener(create=True)
                index = self._rebuilt_from_store(self.clock())
                if index is not None:
                    with self._lock:
                        self._index = index
                        self._seen = set(index.ids)
                    self._next_refresh = time.monotonic() + self.refresh_interval
                    logger.info(
                        "similar-ticket index built from the ticket store",
                        extra={"event": "similar_built", "tickets": len(index)},
                    )
        except Exception as error:
            self._trouble(error)
        finally:
            self._built.set()

    def _maintain(self) -> None:
        """Between batches: refresh from the store when it is time, rebuild when the oldest
        ticket held is well past the window."""
        now = time.monotonic()
        if now < self._next_refresh:
            return
        self._next_refresh = now + self.refresh_interval
        try:
            self.refresh()
        except Exception as error:
            self._trouble(error)
        self._compact()

    def _compact(self) -> None:
        with self._lock:
            if not len(self._index):
                return
            times = self._index.times
        cutoff = np.datetime64(self.clock() - self.window, "ns")
        if times[0] >= cutoff - np.timedelta64(self.window / 4):
            return
        now = self.clock()
        index = self._rebuilt_from_store(now)
        if index is None:
            index = self._rebuilt_from_memory(cutoff)
        with self._lock:
            before = len(self._index)
            self._index = index
            self._seen = set(index.ids)
        self._forgotten.clear()
        logger.info(
            "similar-ticket index rebuilt over its window",
            extra={"event": "similar_rebuilt", "tickets": len(index), "before": before},
        )

    def _rebuilt_from_store(self, now: datetime) -> SimilarIndex | None:
        """A new index of the store's tickets of the window (tickets deleted from the store
        meanwhile leave it, whichever worker deleted them); None without a store or when it
        cannot be read."""
        if self.store is None:
            return None
        try:
            index = SimilarIndex.from_store(
                self.store,
                window=self.window,
                now=now,
                repeat_threshold=self.repeat_threshold,
                named_repeat_threshold=self.named_repeat_threshold,
                gazetteer=self.gazetteer,
            )
        except Exception as error:
            self._trouble(error)
            return None
        # the next refresh reads from a little before now: answers written since come in
        self._watermark = now
        if self._forgotten:
            return self._rebuilt_from(index, np.datetime64(now - self.window, "ns"))
        return index

    def _rebuilt_from_memory(self, cutoff: np.datetime64) -> SimilarIndex:
        with self._lock:
            index = self._index
            return self._rebuilt_from(index, cutoff)

    def _rebuilt_from(self, index: SimilarIndex, cutoff: np.datetime64) -> SimilarIndex:
        """A new index of ``index``'s tickets from ``cutoff`` on, the forgotten ones left out
        (its documents are masked already)."""
        ids, times, documents = index.ids, index.times, index.documents
        keep = [
            i
            for i, ticket in enumerate(ids)
            if times[i] >= cutoff and ticket not in self._forgotten
        ]
        frame = pd.DataFrame(
            {
                "id": [ids[i] for i in keep],
                "time": times[keep],
                "text": [documents[i] for i in keep],
            }
        )
        return SimilarIndex.from_frame(
            frame,
            title_col=None,
            repeat_threshold=self.repeat_threshold,
            named_repeat_threshold=self.named_repeat_threshold,
            gazetteer=self.gazetteer,
        )

    def _add(
        self, tickets: Sequence[Submitted], prepared: Sequence[Prepared | None] | None = None
    ) -> int:
        """Add tickets one at a time (the lock held for one ticket's addition), skipping ids
        already held and tickets before the window; a ticket's ``prepared`` (when given) is
        used instead of its text and title."""
        added = 0
        earliest = self.clock() - self.window
        for position, (ticket_id, when, text, title) in enumerate(tickets):
            key = str(ticket_id)
            if key in self._seen or key in self._forgotten:
                continue
            if pd.Timestamp(when).to_pydatetime() < earliest:
                continue
            ready = None if prepared is None else prepared[position]
            if ready is None:
                ready = self._index.prepare(text, title)  # outside the lock
                if ready is None:  # nothing to compare: held as seen, not added
                    with self._lock:
                        self._seen.add(key)
                    continue
            with self._lock:
                added += self._index.add(
                    ids=[key], times=[when], texts=[text], titles=[title], prepared=[ready]
                )
                self._index.prime()  # here, not in the next request's lookup
                self._seen.add(key)
            time.sleep(0)  # give the interpreter's lock back to the requests between tickets
        return added

    def _trouble(self, error: Exception) -> None:
        reason = str(error)
        if reason != self.problem:
            logger.warning(
                "similar-ticket index: the ticket store cannot be read; the index holds what "
                "it has",
                extra={"event": "similar_store_unavailable", "reason": reason},
            )
        self.problem = reason

    def _drop(self, count: int) -> None:
        if count <= 0:
            return
        self.dropped += count
        if self.on_dropped is not None:
            self.on_dropped(count)


def _days(span: timedelta) -> str:
    days = span / timedelta(days=1)
    if days == int(days):
        return f"{int(days)}d"
    return f"{span / timedelta(hours=1):g}h"
