"""Dispatch figures (issue 15): one section per part. Prints; asserts nothing.

    .venv/bin/python bench/dispatch.py [--sections urgency] [--shared ../shared/data]

urgency
    :class:`nlp.urgency.UrgencyDetector` (shipped term list + model trained on
    ``data/demo/urgency.csv``) on ``data/eval/urgency.csv`` (report only: never tuned on):
    recall of 紧急, share of non-紧急 tickets wrongly raised to 紧急, the 3x3 confusion table
    (rows: gold level, columns: answer), the same for the term list alone; then the time per
    ticket of ``assess`` (p50/p99, microseconds, wall clock and CPU) on the 921 whole messages
    (title + body) of ``appeals/test.csv``, and of ``assess_many`` over all of them.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def line(label: str, value: str) -> None:
    print(f"  {label:<58} {value}")


def section_urgency(args: argparse.Namespace) -> None:
    from nlp.urgency import LEVELS, UrgencyDetector

    print("urgency")
    started = time.perf_counter()
    detector = UrgencyDetector.from_defaults()
    line("detector built (terms loaded, model trained)", f"{time.perf_counter() - started:.2f} s")
    terms_only = UrgencyDetector(detector.terms, None)
    frame = read(ROOT / "data" / "eval" / "urgency.csv")
    gold = frame["level"].to_numpy()
    for name, which in (("terms + model", detector), ("terms alone", terms_only)):
        answers = which.assess_many(frame["text"].tolist(), titles=frame["title"].tolist())
        levels = np.asarray([a.level for a in answers])
        urgent = gold == "紧急"
        print(f"  data/eval/urgency.csv ({len(frame)} tickets), {name}")
        line(
            f"  recall of 紧急 ({urgent.sum()})",
            f"{(levels[urgent] == '紧急').mean():.3f}",
        )
        line(
            f"  wrongly raised to 紧急 (of {(~urgent).sum()} not 紧急)",
            f"{(levels[~urgent] == '紧急').mean():.1%}",
        )
        line("  exact level", f"{(levels == gold).mean():.3f}")
        print("    gold \\ answer  " + "  ".join(f"{level:>4}" for level in LEVELS))
        for level in LEVELS:
            counts = [int(((gold == level) & (levels == answer)).sum()) for answer in LEVELS]
            print(f"    {level:<14}" + "  ".join(f"{count:>6}" for count in counts))
    test = args.shared / "appeals" / "test.csv"
    if not test.exists():
        print(f"  {test} not found: no timing on real messages")
        return
    messages = read(test)
    texts, titles = messages["text"].tolist(), messages["title"].tolist()
    detector.assess_many(texts[:20], titles=titles[:20])  # warm up
    wall, cpu = _per_call(lambda i: detector.assess(texts[i], title=titles[i]), len(texts))
    for name, timings in (("wall", wall), ("CPU", cpu)):
        line(
            f"assess per ticket, appeals/test.csv ({len(texts)}), {name} p50 / p99",
            f"{np.percentile(timings, 50):.0f} / {np.percentile(timings, 99):.0f} us",
        )
    started = time.perf_counter()
    answers = detector.assess_many(texts, titles=titles)
    elapsed = time.perf_counter() - started
    line("assess_many, all of them: per ticket", f"{elapsed / len(texts) * 1e6:.0f} us")
    shares = {level: sum(a.level == level for a in answers) / len(answers) for level in LEVELS}
    line("levels given (紧急 / 较急 / 一般)", " / ".join(f"{shares[lv]:.1%}" for lv in LEVELS))


def _per_call(call: Callable[[int], object], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds per call, wall clock and this thread's CPU time (which leaves out the
    time other processes held the core: on a shared machine the wall p99 is theirs)."""
    wall, cpu = np.empty(n), np.empty(n)
    for i in range(n):
        started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
        call(i)
        cpu[i] = (time.thread_time_ns() - started_cpu) / 1e3
        wall[i] = (time.perf_counter_ns() - started) / 1e3
    return wall, cpu


SECTIONS: dict[str, Callable[[argparse.Namespace], None]] = {
    "urgency": section_urgency,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=sorted(SECTIONS),
        default=sorted(SECTIONS),
        help="which parts to measure (default: all)",
    )
    parser.add_argument(
        "--shared",
        type=Path,
        default=ROOT.parent / "shared" / "data",
        help="the shared data folder holding appeals/test.csv (default: ../shared/data)",
    )
    args = parser.parse_args()
    for name in args.sections:
        SECTIONS[name](args)


if __name__ == "__main__":
    main()
