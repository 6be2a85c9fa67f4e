"""A small keyed cache whose answers expire after ``ttl`` seconds.

    >>> cache = TimedCache(ttl=60)
    >>> cache.get_or_compute(("7d", 5), lambda: expensive_report())   # computed
    >>> cache.get_or_compute(("7d", 5), lambda: expensive_report())   # the same answer, kept
    >>> cache.clear()                                                 # e.g. after a deletion

For answers that are costly to compute and may be a little stale (a dashboard's hot-spot
table): each key is computed at most once per ``ttl`` seconds; ``ttl`` 0 turns caching off.
A computation that raises is not kept. At most ``max_entries`` keys are kept, the oldest
dropped first. Safe to call from several threads (two threads missing the same key at once
may both compute it; the later answer is kept).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["TimedCache"]

V = TypeVar("V")


class TimedCache(Generic[V]):
    """Answers by key, each kept for ``ttl`` seconds of ``clock`` (a monotonic clock in
    seconds; :func:`time.monotonic` by default)."""

    def __init__(
        self,
        *,
        ttl: float,
        max_entries: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0:
            raise ValueError(f"ttl must be 0 (off) or more seconds, not {ttl}")
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The answer kept for ``key`` if it is younger than ``ttl``, else ``compute()``
        (kept for the next calls). Raises what ``compute`` raises."""
        if self.ttl <= 0:
            return compute()
        now = self.clock()
        with self._lock:
            kept = self._entries.get(key)
            if kept is not None and now - kept[0] < self.ttl:
                return kept[1]
        value = compute()
        with self._lock:
            self._entries[key] = (now, value)
            self._entries.move_to_end(key)
            self._expire(now)
        return value

    def clear(self) -> None:
        """Forget every answer (the data they were computed from changed)."""
        with self._lock:
            self._entries.clear()

    def _expire(self, now: float) -> None:
        """Drop expired answers, then the oldest ones over ``max_entries``."""
        for key in [k for k, (at, _) in self._entries.items() if now - at >= self.ttl]:
            del self._entries[key]
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
