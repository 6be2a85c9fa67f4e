"""Progress of a tagging run: a tqdm bar on a terminal, otherwise a log line now and then."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

__all__ = ["Progress"]

# The package's logger: the name ``appeals tag`` turns up to INFO and users filter on.
logger = logging.getLogger("nlp.tagging")


class Progress:
    """tqdm on a terminal; otherwise a plain log line every ``interval`` seconds."""

    def __init__(self, total: int, done: int, *, enabled: bool, interval: float = 30.0) -> None:
        self.total, self.done, self.interval = total, done, interval
        self.started = self.last = time.monotonic()
        self.at_start = done
        self.bar: Any = None
        self.enabled = enabled
        if enabled and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=done, unit="rows", unit_scale=True, smoothing=0.1)

    def update(self, rows: int) -> None:
        self.done += rows
        if self.bar is not None:
            self.bar.update(rows)
            return
        now = time.monotonic()
        if self.enabled and (now - self.last >= self.interval or self.done >= self.total):
            self.last = now
            rate = (self.done - self.at_start) / max(now - self.started, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            logger.info(
                "tagged %d/%d rows (%.0f rows/s, ETA %s)",
                self.done,
                self.total,
                rate,
                "?" if eta == float("inf") else time.strftime("%H:%M:%S", time.gmtime(eta)),
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
