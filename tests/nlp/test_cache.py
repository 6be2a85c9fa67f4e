"""TimedCache: each key computed at most once per ttl (an injected clock, no sleeps), bounded,
off at ttl 0, a failed computation not kept."""

from __future__ import annotations

import pytest

from nlp.cache import TimedCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls


def test_a_key_is_computed_once_per_ttl() -> None:
    clock, compute = Clock(), Counter()
    cache: TimedCache[int] = TimedCache(ttl=60, clock=clock)
    assert cache.get_or_compute("a", compute) == 1
    clock.now += 59.9
    assert cache.get_or_compute("a", compute) == 1  # kept
    assert compute.calls == 1
    clock.now += 0.1  # 60 s after it was computed: expired
    assert cache.get_or_compute("a", compute) == 2
    assert cache.get_or_compute("a", compute) == 2
    assert compute.calls == 2


def test_keys_are_kept_apart_and_clear_forgets_them() -> None:
    clock, compute = Clock(), Counter()
    cache: TimedCache[int] = TimedCache(ttl=60, clock=clock)
    assert cache.get_or_compute(("7d", 5), compute) == 1
    assert cache.get_or_compute(("7d", 10), compute) == 2
    assert cache.get_or_compute(("7d", 5), compute) == 1
    cache.clear()
    assert len(cache) == 0
    assert cache.get_or_compute(("7d", 5), compute) == 3


def test_ttl_zero_computes_every_time() -> None:
    compute = Counter()
    cache: TimedCache[int] = TimedCache(ttl=0, clock=Clock())
    assert [cache.get_or_compute("a", compute) for _ in range(3)] == [1, 2, 3]
    assert len(cache) == 0


def test_at_most_max_entries_are_kept_the_oldest_dropped() -> None:
    clock, compute = Clock(), Counter()
    cache: TimedCache[int] = TimedCache(ttl=60, max_entries=2, clock=clock)
    for key in "abc":
        cache.get_or_compute(key, compute)
        clock.now += 1
    assert len(cache) == 2
    assert cache.get_or_compute("b", compute) == 2  # kept
    assert cache.get_or_compute("a", compute) == 4  # dropped: computed again


def test_expired_answers_leave_memory() -> None:
    clock, compute = Clock(), Counter()
    cache: TimedCache[int] = TimedCache(ttl=10, clock=clock)
    cache.get_or_compute("a", compute)
    clock.now += 11
    cache.get_or_compute("b", compute)
    assert len(cache) == 1


def test_a_failed_computation_is_not_kept() -> None:
    cache: TimedCache[int] = TimedCache(ttl=60, clock=Clock())

    def fail() -> int:
        raise ValueError("bad query")

    with pytest.raises(ValueError, match="bad query"):
        cache.get_or_compute("a", fail)
    assert len(cache) == 0
    assert cache.get_or_compute("a", lambda: 7) == 7


@pytest.mark.parametrize(
    ("options", "says"),
    [
        pytest.param({"ttl": -1}, "ttl must be 0", id="negative-ttl"),
        pytest.param({"ttl": 1, "max_entries": 0}, "max_entries must be at least 1", id="no-room"),
    ],
)
def test_bad_options_are_refused(options: dict[str, float], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        TimedCache(**options)  # type: ignore[arg-type]
