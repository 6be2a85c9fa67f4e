"""Dispatch figures: where it happened, and who handles it. Prints; asserts nothing.

    .venv/bin/python bench/dispatch.py [--sections location,routing,urgency]

Each section is a function ``section_NAME(args)`` registered in ``SECTIONS``.

``location``: :func:`nlp.location.locate` on ``data/eval/locations.csv`` (evaluation only:
nothing is tuned on it) against ``data/demo/gazetteer.csv``: mention precision / recall / F1
(exact string, and character overlap), accuracy of the chosen problem place, resolution
accuracy of district, district+street and district+street+community (all rows, and the
``in_gazetteer = 1`` rows); then CPU microseconds per ticket (p50 / p99; CPU time, so that
other work on a shared machine does not count) on
``../shared/data/appeals/test.csv`` (921 whole messages, title + body), the gazetteer's load
time, and the routing tables' load time and ``route()`` microseconds.

``urgency``: :class:`nlp.urgency.UrgencyDetector` (shipped term list + model trained on
``data/demo/urgency.csv``) on ``data/eval/urgency.csv`` (report only: never tuned on): recall
of 紧急, share of non-紧急 tickets wrongly raised to 紧急, the 3x3 confusion table (rows: gold
level, columns: answer), the same for the term list alone; then the time per ticket of
``assess`` (p50/p99, microseconds, wall clock and CPU) on the 921 whole messages of
``appeals/test.csv``, and of ``assess_many`` over all of them.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from nlp.location import Gazetteer, Location, locate
from nlp.routing import RoutingTable

ROOT = Path(__file__).resolve().parents[1]
DEMO_CITY = "江州市"


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def line(label: str, value: str) -> None:
    print(f"  {label:<62} {value}")


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {p50:.1f} µs, p99 {p99:.1f} µs"


def _gold_spans(combined: str, mentions: list[str]) -> list[tuple[int, int]]:
    spans, at = [], 0
    for mention in mentions:
        start = combined.find(mention, at)
        if start < 0:
            start = combined.find(mention)
        spans.append((start, start + len(mention)))
        at = start + len(mention)
    return spans


def _predicted_spans(location: Location, title: str) -> list[tuple[int, int]]:
    spans = []
    for mention in location.mentions:
        if mention.start is None or mention.end is None:
            continue
        offset = len(title) if mention.field == "text" else 0
        spans.append((mention.start + offset, mention.end + offset))
    return spans


def _f1(tp: float, predicted: int, gold: int) -> str:
    precision = tp / predicted if predicted else 0.0
    recall = tp / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return f"P {precision:.3f}  R {recall:.3f}  F1 {f1:.3f}"


def section_location(args: argparse.Namespace) -> None:
    print("location: nlp.location.locate against data/demo/gazetteer.csv")
    started = time.perf_counter()
    gazetteer = Gazetteer.from_csv(ROOT / "data" / "demo" / "gazetteer.csv", city=DEMO_CITY)
    line("gazetteer load (428 places, automaton built)", f"{time.perf_counter() - started:.3f} s")
    frame = read(ROOT / "data" / "eval" / "locations.csv")
    exact_tp = overlap_tp = predicted_n = gold_n = 0
    problem_right = 0
    right: dict[str, Counter[str]] = {"all": Counter(), "in": Counter()}
    counts = Counter()
    for row in frame.itertuples(index=False):
        location = locate(row.text, row.title or None, gazetteer=gazetteer)
        gold = [m for m in row.mentions.split("|") if m]
        combined = row.title + row.text
        predicted = [mention.text for mention in location.mentions]
        predicted_n += len(predicted)
        gold_n += len(gold)
        exact_tp += sum((Counter(predicted) & Counter(gold)).values())
        gold_spans = _gold_spans(combined, gold)
        mine = _predicted_spans(location, row.title)
        overlap_tp += sum(
            any(start < g_end and g_start < end for g_start, g_end in gold_spans)
            for start, end in mine
        )
        chosen = next((m.text for m in location.mentions if m.problem), "")
        problem_right += chosen == row.problem_place
        truth = (row.district, row.street, row.community)
        guess = (location.district, location.street, location.community)
        groups = ["all", "in"] if row.in_gazetteer == "1" else ["all"]
        for group in groups:
            counts[group] += 1
            right[group]["district"] += guess[:1] == truth[:1]
            right[group]["street"] += guess[:2] == truth[:2]
            right[group]["community"] += guess == truth
    line("rows / gold mentions / predicted mentions", f"{len(frame)} / {gold_n} / {predicted_n}")
    line("mentions, exact string", _f1(exact_tp, predicted_n, gold_n))
    line("mentions, character overlap", _f1(overlap_tp, predicted_n, gold_n))
    line("problem place = gold problem_place (exact string)", f"{problem_right / len(frame):.3f}")
    for group, name in (("in", "in_gazetteer = 1"), ("all", "all rows")):
        n = counts[group]
        figures = "  ".join(
            f"{level} {right[group][level] / n:.3f}"
            for level in ("district", "street", "community")
        )
        line(f"resolution accuracy, {name} ({n})", figures)
    timing(args, gazetteer)


def timing(args: argparse.Namespace, gazetteer: Gazetteer) -> None:
    path = Path(args.shared) / "appeals" / "test.csv"
    if not path.exists():
        line("per-ticket time", f"skipped: {path} not found")
        return
    frame = read(path)
    tickets = list(zip(frame["title"], frame["text"], strict=True))
    for title, text in tickets[:50]:  # warm up
        locate(text, title, gazetteer=gazetteer)
    samples = []
    for _ in range(args.repeat):
        for title, text in tickets:
            started = time.thread_time()
            locate(text, title, gazetteer=gazetteer)
            samples.append((time.thread_time() - started) * 1e6)
    length = statistics.median(len(title) + len(text) for title, text in tickets)
    line(
        f"locate() per ticket, {path.name} ({len(tickets)}, median {length:.0f} chars)",
        percentiles(samples),
    )


def section_routing(args: argparse.Namespace) -> None:
    print("routing: nlp.routing.RoutingTable")
    gazetteer = Gazetteer.from_csv(ROOT / "data" / "demo" / "gazetteer.csv", city=DEMO_CITY)
    departments = read(ROOT / "data" / "demo" / "departments.csv")["name"].tolist()
    teddy = [
        "城乡建设",
        "劳动和社会保障",
        "教育文体",
        "商贸旅游",
        "环境保护",
        "卫生计生",
        "交通运输",
    ]
    for file, labels in (("routing.toml", departments), ("routing_teddy.toml", teddy)):
        path = ROOT / "data" / "demo" / file
        samples = []
        for _ in range(20):
            started = time.thread_time()
            table = RoutingTable.load(path, labels=labels)
            samples.append((time.thread_time() - started) * 1e6)
        line(f"RoutingTable.load(data/demo/{file}) ({len(table)} rules)", percentiles(samples))
    table = RoutingTable.load(ROOT / "data" / "demo" / "routing.toml", labels=departments)
    frame = read(ROOT / "data" / "demo" / "appeals.csv").head(500)
    cases = [
        (label, text, locate(text, gazetteer=gazetteer))
        for label, text in zip(frame["label"], frame["text"], strict=True)
        if label in departments
    ]
    samples = []
    for _ in range(args.repeat):
        for label, text, location in cases:
            started = time.thread_time()
            table.route(label, location=location, text=text)
            samples.append((time.thread_time() - started) * 1e6)
    line(
        f"route() with location and text, data/demo/appeals.csv ({len(cases)})",
        percentiles(samples),
    )


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
    test = Path(args.shared) / "appeals" / "test.csv"
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
    "location": section_location,
    "routing": section_routing,
    "urgency": section_urgency,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated, of: {', '.join(SECTIONS)} (default: all)",
    )
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--repeat", type=int, default=3, help="timing passes over the tickets")
    args = parser.parse_args()
    for name in args.sections.split(","):
        if name.strip() not in SECTIONS:
            parser.error(f"unknown section {name!r}; choose from {', '.join(SECTIONS)}")
    for name in args.sections.split(","):
        SECTIONS[name.strip()](args)


if __name__ == "__main__":
    main()
