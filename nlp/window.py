"""Time windows as people write them (``7d``, ``36h``, ``2w``): :func:`parse_window`. A module
of its own, needing nothing but the standard library, so that the service's settings check
``APPEALS_SIMILAR_WINDOW`` without importing the similar-ticket index (:mod:`nlp.similar`,
which re-exports it)."""

from __future__ import annotations

import re
from datetime import timedelta

from nlp.errors import DataError

__all__ = ["parse_window"]

_WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhw]|days?|hours?|weeks?)\s*$", re.IGNORECASE)


def parse_window(window: str | timedelta | None) -> timedelta | None:
    """``"7d"``, ``"36h"``, ``"2w"`` (or a timedelta) as a timedelta; None stays None (no
    window). Anything else is a :class:`DataError` saying how to write one."""
    if window is None or isinstance(window, timedelta):
        if isinstance(window, timedelta) and window <= timedelta(0):
            raise DataError(f"the window must be longer than zero, not {window}")
        return window
    match = _WINDOW.match(str(window))
    if not match:
        raise DataError(f"{window!r} is not a time window; write it as 7d, 36h or 2w")
    amount, unit = float(match.group(1)), match.group(2)[0].lower()
    if amount <= 0:
        raise DataError(f"the window must be longer than zero, not {window!r}")
    return timedelta(**{{"d": "days", "h": "hours", "w": "weeks"}[unit]: amount})
