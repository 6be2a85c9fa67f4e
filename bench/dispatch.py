"""Dispatch figures: where it happened, and who handles it. Prints; asserts nothing.

    .venv/bin/python bench/dispatch.py [--sections location] [--shared ../shared/data]

Each section is a function ``section_NAME(args)`` registered in ``SECTIONS``.

``location``: :func:`nlp.location.locate` on ``data/eval/locations.csv`` (evaluation only:
nothing is tuned on it) against ``data/demo/gazetteer.csv``: mention precision / recall / F1
(exact string, and character overlap), accuracy of the chosen problem place, resolution
accuracy of district, district+street and district+street+community (all rows, and the
``in_gazetteer = 1`` rows); then CPU microseconds per ticket (p50 / p99; CPU time, so that
other work on a shared machine does not count) on
``../shared/data/appeals/test.csv`` (921 whole messages, title + body), the gazetteer's load
time, and the routing tables' load time and ``route()`` microseconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

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


SECTIONS: dict[str, Callable[[argparse.Namespace], None]] = {
    "location": section_location,
    "routing": section_routing,
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
