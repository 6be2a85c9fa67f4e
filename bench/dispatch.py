"""Dispatch figures: where it happened, and who handles it. Prints; asserts nothing.

    .venv/bin/python bench/dispatch.py [--sections location,location_tune,routing,urgency,problems]
    .venv/bin/python bench/dispatch.py --sections problems_cv
    .venv/bin/python bench/dispatch.py --sections problems_why [--verbose]
    .venv/bin/python bench/dispatch.py --sections urgency_cv
    .venv/bin/python bench/dispatch.py --sections urgency_sittings

Each section is a function ``section_NAME(args)`` registered in ``SECTIONS``.

``location``: :func:`nlp.location.locate` on ``data/eval/locations.csv`` (evaluation only:
nothing is tuned on it) against ``data/demo/gazetteer.csv``: mention precision / recall / F1
(exact string, and character overlap), accuracy of the chosen problem place, resolution
accuracy of district, district+street and district+street+community (all rows, and the
``in_gazetteer = 1`` rows); a second annotator's blind cut of the same texts
(``data/eval/locations_second_cut.csv``) against the gold cut and the extractor against it;
then CPU microseconds per ticket (p50 / p99; CPU time, so that
other work on a shared machine does not count) on
``../shared/data/appeals/test.csv`` (921 whole messages, title + body), the gazetteer's load
time, and the routing tables' load time and ``route()`` microseconds.

``location_tune``: the same extraction and resolution figures (no timing) on
``data/demo/locations_tune.csv``, the tickets written to decide how a mention is cut.

``location_blind``: ``data/demo/locations_blind.csv``, tickets written by people who had
seen only the gazetteer, each cut by two annotators who had seen only the guide of
``data/eval/README.md`` ("How mentions are cut") and the gazetteer, neither the extractor
nor each other's cut: mention P/R/F1 (exact string, character overlap) and the same problem
place, of the extractor against each annotator and of one annotator against the other (how
far the guide alone fixes a cut).

``urgency``: :class:`nlp.urgency.UrgencyDetector` (shipped term list + model trained on
``data/demo/urgency.csv``) on ``data/eval/urgency.csv`` (report only: never tuned on): recall
of 紧急, share of non-紧急 tickets wrongly raised to 紧急, the 3x3 confusion table (rows: gold
level, columns: answer), the same for the term list alone and for a second person's blind
labels (``data/eval/urgency_second.csv``); then the time per ticket of
``assess`` (p50/p99, microseconds, wall clock and CPU) on the 921 whole messages of
``appeals/test.csv``, and of ``assess_many`` over all of them.

``problems``: several problems in one ticket (:mod:`nlp.problems`) on
``data/demo/multi_problem_tune.csv`` (the tune set: set figures only) and on
``data/eval/multi_problem.csv`` (report only: never tuned on) with the demo model
(``data/demo/appeals.csv``, default options and held-out split, as ``appeals train`` trains
it): department-set recall and precision on the several-problem rows, the share of
one-problem rows wrongly split, exact sets, span overlap; a second reader's blind sets
(``data/eval/multi_problem_second.csv``) against the file's, and the splitter's recall of the
departments both give; the share of tickets answered
without a second model call and the microseconds :func:`nlp.find_problems` adds per ticket
(p50/p99, wall clock, best of 3) there, and on ``appeals/test.csv`` (921 whole messages)
with a model trained on the ``split=train`` rows of ``appeals/train.csv`` (``--skip-shared``:
not).

``problems_cv`` (not in the default run: about a minute): how :class:`nlp.SplitPolicy`'s
defaults were chosen: 5-fold cross-validation (``--folds``) on the demo appeals. Each
held-out fold gives one-problem tickets (every appeal as written, and two appeals of the
same department joined) and several-problem tickets (two or three appeals of different
departments joined by the ways residents join them: ；, 另外, 还有, 同时, 一是…二是…, 1. 2.,
①②, sentences, commas, line breaks), classified by the model of the other folds; also
``data/demo/multi_problem_tune.csv`` (tickets written to choose the policy). In two stages
(without, then with cuts at commas) the policies that find the most departments (mean set
recall of the folds' and the tune set's several-problem tickets) while splitting at most
``--max-split`` of each kind of one-problem ticket (stage 1: the appeals as written one
point less, room for the cuts at commas); then (stage 3) how many clauses a ticket may be
cut into before it is read whole. The demo's own "…；另外…" two-problem tickets
(data/demo/README.md) are left out of the one-problem kinds.

``urgency_cv`` (not in the default run): the urgency detector cross-validated on its own
examples (``data/demo/urgency.csv``: the first four sittings held out in turn, the later
rows in training or not) at three thresholds of 紧急; what chose the threshold.

``urgency_sittings`` (not in the default run): a harder cross-validation on the same
examples: each of the five sittings held out whole in turn (the model trained on the other
four), so that a sitting's way of writing never helps to score itself; at the model's C
of 2, 8 (the default) and 32 and three thresholds of 紧急.

``problems_why`` (not in the default run): why each department of the tune set's
several-problem tickets that the demo model's problems miss is missed: never cut (no split
point, or more clauses than ``max_clauses``), cut but no candidate clause reads as it (the
model on a short clause), or cut, read right and dropped by the policy, with the
conditions the best such clause failed (``--verbose``: every missed department).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from nlp import RoutingModel, SplitPolicy, TrainConfig, find_problems, find_problems_many, train
from nlp.documents import compose_documents
from nlp.location import Gazetteer, Location, locate
from nlp.problems import (  # the breakdown re-checks the policy
    Problem,
    _contact_only,
    _length,
    candidate_texts,
    clauses,
    split_problems,
)
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


def _f1(tp: float, predicted: int, gold: int, *, found: float | None = None) -> str:
    """P/R/F1 of ``tp`` right predictions among ``predicted``, against ``gold``; ``found``:
    the gold items found when it differs from ``tp`` (overlap: one long prediction may
    cover two gold mentions)."""
    precision = tp / predicted if predicted else 0.0
    recall = (tp if found is None else found) / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return f"P {precision:.3f}  R {recall:.3f}  F1 {f1:.3f}"


def section_location(args: argparse.Namespace) -> None:
    print("location: nlp.location.locate against data/demo/gazetteer.csv")
    started = time.perf_counter()
    gazetteer = Gazetteer.from_csv(ROOT / "data" / "demo" / "gazetteer.csv", city=DEMO_CITY)
    line("gazetteer load (428 places, automaton built)", f"{time.perf_counter() - started:.3f} s")
    gold = read(ROOT / "data" / "eval" / "locations.csv")
    location_scores(gold, gazetteer)
    second_cut(gold, read(ROOT / "data" / "eval" / "locations_second_cut.csv"), gazetteer)
    timing(args, gazetteer)


#: A cut of a ticket: each mention's span in title + text, and its text.
Cut = list[tuple[int, int, str]]


def _extractor_cut(location: Location, title: str) -> Cut:
    found = [m for m in location.mentions if m.start is not None]
    spans = _predicted_spans(location, title)
    return [(s, e, m.text) for (s, e), m in zip(spans, found, strict=True)]


def _listed_cut(combined: str, mentions: str) -> Cut:
    listed = [m for m in mentions.split("|") if m]
    spans = _gold_spans(combined, listed)
    return [(s, e, m) for (s, e), m in zip(spans, listed, strict=True)]


def second_cut(gold: pd.DataFrame, second: pd.DataFrame, gazetteer: Gazetteer) -> None:
    """How a second annotator, who cut the evaluation texts blind by the guide alone, agrees
    with the gold cut, and how the extractor agrees with that second cut."""
    if list(second["id"]) != list(gold["id"]):
        raise SystemExit("data/eval/locations_second_cut.csv: ids differ from locations.csv")
    cuts: dict[str, list[Cut]] = {"extractor": [], "gold": [], "second": []}
    rows = zip(gold.itertuples(index=False), second.itertuples(index=False), strict=True)
    for row, other in rows:
        location = locate(row.text, row.title or None, gazetteer=gazetteer)
        cuts["extractor"].append(_extractor_cut(location, row.title))
        cuts["gold"].append(_listed_cut(row.title + row.text, row.mentions))
        cuts["second"].append(_listed_cut(row.title + row.text, other.mentions))
    for mine, theirs in (("second", "gold"), ("extractor", "second")):
        _agreement(cuts[mine], cuts[theirs], f"{mine} cut against the {theirs} cut")


def _agreement(ours: list[Cut], theirs: list[Cut], what: str) -> None:
    """Exact-string and overlap P/R/F1 of one cut's mentions against another's."""
    exact = overlap = found = 0
    for mine, gold in zip(ours, theirs, strict=True):
        exact += sum((Counter(m for *_, m in mine) & Counter(m for *_, m in gold)).values())
        overlap += sum(any(s < ge and gs < e for gs, ge, _ in gold) for s, e, _ in mine)
        found += sum(any(s < ge and gs < e for s, e, _ in mine) for gs, ge, _ in gold)
    predicted, wanted = sum(map(len, ours)), sum(map(len, theirs))
    line(f"{what}, exact string", _f1(exact, predicted, wanted))
    line(f"{what}, character overlap", _f1(overlap, predicted, wanted, found=found))


def section_location_tune(args: argparse.Namespace) -> None:
    print("location_tune: the same figures on data/demo/locations_tune.csv (the tune set)")
    gazetteer = Gazetteer.from_csv(ROOT / "data" / "demo" / "gazetteer.csv", city=DEMO_CITY)
    location_scores(read(ROOT / "data" / "demo" / "locations_tune.csv"), gazetteer)


def section_location_blind(args: argparse.Namespace) -> None:
    """The extractor against two annotators who cut the same tickets blind, by the guide
    alone (data/demo/locations_blind.csv), and the annotators against each other."""
    print(
        "location_blind: data/demo/locations_blind.csv (tickets and two cuts written blind to "
        "the extractor and to each other)"
    )
    gazetteer = Gazetteer.from_csv(ROOT / "data" / "demo" / "gazetteer.csv", city=DEMO_CITY)
    frame = read(ROOT / "data" / "demo" / "locations_blind.csv")
    cuts: dict[str, list[Cut]] = {"extractor": [], "a": [], "b": []}
    chosen: dict[str, list[str]] = {"extractor": [], "a": [], "b": []}
    for row in frame.itertuples(index=False):
        location = locate(row.text, row.title or None, gazetteer=gazetteer)
        cuts["extractor"].append(_extractor_cut(location, row.title))
        chosen["extractor"].append(next((m.text for m in location.mentions if m.problem), ""))
        for who in ("a", "b"):
            cuts[who].append(_listed_cut(row.title + row.text, getattr(row, f"mentions_{who}")))
            chosen[who].append(getattr(row, f"problem_place_{who}"))
    line(
        "rows / mentions: extractor, annotator a, annotator b",
        f"{len(frame)} / "
        + " / ".join(str(sum(map(len, cuts[who]))) for who in ("extractor", "a", "b")),
    )
    for mine, theirs in (("extractor", "a"), ("extractor", "b"), ("a", "b")):
        _agreement(cuts[mine], cuts[theirs], f"{mine} against {theirs}")
        same = sum(x == y for x, y in zip(chosen[mine], chosen[theirs], strict=True))
        line(f"{mine} against {theirs}, same problem place", f"{same / len(frame):.3f}")


def location_scores(frame: pd.DataFrame, gazetteer: Gazetteer) -> None:
    """Mention P/R/F1 (exact and overlap), problem place and resolution accuracy of a
    ``locations.csv``-shaped frame."""
    exact_tp = overlap_tp = overlap_found = predicted_n = gold_n = 0
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
        overlap_found += sum(
            any(start < g_end and g_start < end for start, end in mine)
            for g_start, g_end in gold_spans
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
    line("mentions, character overlap", _f1(overlap_tp, predicted_n, gold_n, found=overlap_found))
    line("problem place = gold problem_place (exact string)", f"{problem_right / len(frame):.3f}")
    for group, name in (("in", "in_gazetteer = 1"), ("all", "all rows")):
        n = counts[group]
        figures = "  ".join(
            f"{level} {right[group][level] / n:.3f}"
            for level in ("district", "street", "community")
        )
        line(f"resolution accuracy, {name} ({n})", figures)


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


#: The seven categories of the Teddy Cup messages (../shared/data/appeals).
TEDDY_LABELS = (
    "城乡建设",
    "劳动和社会保障",
    "教育文体",
    "商贸旅游",
    "环境保护",
    "卫生计生",
    "交通运输",
)


def section_routing(args: argparse.Namespace) -> None:
    print("routing: nlp.routing.RoutingTable")
    gazetteer = Gazetteer.from_csv(ROOT / "data" / "demo" / "gazetteer.csv", city=DEMO_CITY)
    departments = read(ROOT / "data" / "demo" / "departments.csv")["name"].tolist()
    for file, labels in (("routing.toml", departments), ("routing_teddy.toml", TEDDY_LABELS)):
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
    second = read(ROOT / "data" / "eval" / "urgency_second.csv")
    if second["id"].tolist() != frame["id"].tolist():
        raise SystemExit("data/eval/urgency_second.csv: ids differ from urgency.csv")
    answered: list[tuple[str, Any]] = [
        (
            name,
            [
                a.level
                for a in which.assess_many(frame["text"].tolist(), titles=frame["title"].tolist())
            ],
        )
        for name, which in (("terms + model", detector), ("terms alone", terms_only))
    ]
    answered.append(("a second person, blind, by the definitions", second["level"].tolist()))
    for name, found in answered:
        levels = np.asarray(found)
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


#: The rows of data/demo/urgency.csv that ``urgency_cv`` holds out in turn: its first four
#: sittings (data/demo/README.md); the later rows are always in training.
URGENCY_CV_ROWS = 890
#: Where each sitting of data/demo/urgency.csv starts (its id numbers; data/demo/README.md).
URGENCY_SITTINGS = (0, 573, 717, 807, 890, 1220, 1580, 1940, 2300)


def sitting_of(frame: pd.DataFrame) -> np.ndarray:
    """The sitting (1, 2, …) of each row of data/demo/urgency.csv, by its id."""
    return np.searchsorted(URGENCY_SITTINGS, frame["id"].str[4:].astype(int), side="right")


#: The thresholds of 紧急 and of the veto that urgency_sittings tries.
URGENT_GRID = (0.3, 0.4, 0.5, 0.6, 0.7)
VETO_GRID = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)


def section_urgency_cv(args: argparse.Namespace) -> None:
    """Cross-validation of the urgency detector on its own examples (never data/eval): the
    first ``URGENCY_CV_ROWS`` rows of data/demo/urgency.csv in 5 stratified folds, three
    shuffles, each fold's model trained on the other folds (and on the later rows, or not),
    at three thresholds of 紧急. Chooses the threshold and tells what the later rows change."""
    import tempfile

    from nlp.urgency import DEFAULT_EXAMPLES, UrgencyDetector

    frame = read(DEFAULT_EXAMPLES)
    held, later = frame.iloc[:URGENCY_CV_ROWS], frame.iloc[URGENCY_CV_ROWS:]
    print(
        f"urgency_cv: {len(held)} rows held out in turn, 5 folds x 3 shuffles; "
        f"{len(later)} later rows"
    )
    thresholds = (0.4, 0.5, 0.6)
    with tempfile.TemporaryDirectory() as tmp:
        for with_later in (True, False):
            answers: dict[float, list[str]] = {th: [] for th in thresholds}
            gold: list[str] = []
            for seed in range(3):
                folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
                for number, (train_rows, test_rows) in enumerate(folds.split(held, held["level"])):
                    parts = [held.iloc[train_rows], *([later] if with_later else [])]
                    path = Path(tmp) / f"fold{seed}-{number}-{with_later}.csv"
                    pd.concat(parts).to_csv(path, index=False)
                    test = held.iloc[test_rows]
                    gold.extend(test["level"])
                    for th in thresholds:
                        detector = UrgencyDetector.load(examples=path, urgent_threshold=th)
                        found = detector.assess_many(
                            test["text"].tolist(), titles=test["title"].tolist()
                        )
                        answers[th].extend(a.level for a in found)
            truth = np.asarray(gold)
            urgent = truth == "紧急"
            print(f"  trained {'with' if with_later else 'without'} the later rows")
            for th in thresholds:
                levels = np.asarray(answers[th])
                line(
                    f"  紧急 at p >= {th}: recall / wrongly raised / exact",
                    f"{(levels[urgent] == '紧急').mean():.3f} / "
                    f"{(levels[~urgent] == '紧急').mean():.1%} / {(levels == truth).mean():.3f}",
                )


def section_urgency_sittings(args: argparse.Namespace) -> None:
    """Leave one sitting of data/demo/urgency.csv out (never data/eval): recall of 紧急,
    non-紧急 wrongly raised, exact level, for C in (2, 8, 32) and thresholds of 紧急 (with the
    default veto), then for veto thresholds at C = 8 and 0.5, then each sitting at the
    defaults."""
    from nlp.urgency import (
        DEFAULT_EXAMPLES,
        DEFAULT_TERMS,
        DEFAULT_VETO_THRESHOLD,
        UrgencyDetector,
        UrgencyTerms,
        fit_examples,
    )

    frame = read(DEFAULT_EXAMPLES)
    sitting = sitting_of(frame)
    levels = frame["level"].to_numpy()
    urgent = levels == "紧急"
    terms = UrgencyTerms.load(DEFAULT_TERMS)
    print(f"urgency_sittings: {len(frame)} rows, each of {len(URGENCY_SITTINGS)} sittings held out")

    def figures(got: np.ndarray, rows: np.ndarray) -> str:
        return (
            f"{(got[rows & urgent] == '紧急').mean():.3f} / "
            f"{(got[rows & ~urgent] == '紧急').mean():.1%} / "
            f"{(got[rows] == levels[rows]).mean():.3f}"
        )

    everything = np.ones(len(frame), dtype=bool)
    # (C, threshold of 紧急, veto threshold): the grids around the defaults
    settings = [(C, th, DEFAULT_VETO_THRESHOLD) for C in (2.0, 8.0, 32.0) for th in URGENT_GRID]
    settings += [(8.0, 0.5, veto) for veto in VETO_GRID if veto != DEFAULT_VETO_THRESHOLD]
    answers = {setting: np.empty(len(frame), dtype=object) for setting in settings}
    for number in np.unique(sitting):
        held = sitting == number
        models = {C: fit_examples(frame[~held], C=C) for C in (2.0, 8.0, 32.0)}
        for C, th, veto in settings:
            detector = UrgencyDetector(terms, models[C], urgent_threshold=th, veto_threshold=veto)
            found = detector.assess_many(
                frame["text"][held].tolist(), titles=frame["title"][held].tolist()
            )
            answers[C, th, veto][held] = [a.level for a in found]
    print(f"  recall of 紧急 / wrongly raised / exact (veto {DEFAULT_VETO_THRESHOLD})")
    for C, th, veto in settings:
        if veto == DEFAULT_VETO_THRESHOLD:
            line(f"  C = {C:g}, 紧急 at p >= {th}", figures(answers[C, th, veto], everything))
    print("  C = 8, 紧急 at p >= 0.5, the terms' 紧急 vetoed under p:")
    for veto in VETO_GRID:
        got = answers[8.0, 0.5, veto]
        found, raised = int((got[urgent] == "紧急").sum()), int((got[~urgent] == "紧急").sum())
        line(
            f"    veto {veto}",
            f"{figures(got, everything)}  ({found} of {int(urgent.sum()):,} 紧急 found, "
            f"{raised} of {int((~urgent).sum()):,} others raised)",
        )
    print("  each sitting scored by the model of the others, at the defaults / without veto:")
    got = answers[8.0, 0.5, DEFAULT_VETO_THRESHOLD]
    unvetoed = answers[8.0, 0.5, 0.0]
    for number in np.unique(sitting):
        held = sitting == number
        first = frame["id"][held].iloc[0]
        line(
            f"    sitting {number} ({held.sum()} rows from {first})",
            f"{figures(got, held)}  /  {figures(unvetoed, held)}",
        )


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


# -- several problems in one ticket: the evaluation set ------------------------------------


def set_scores(
    found: list[list[Problem]], gold: list[list[str]]
) -> tuple[float, float, float, float]:
    """Mean set recall, mean set precision, share of exact sets, share with more than one."""
    return label_set_scores([{problem.label for problem in problems} for problems in found], gold)


def label_set_scores(
    answers: list[set[str]], gold: list[list[str]]
) -> tuple[float, float, float, float]:
    """:func:`set_scores` of department sets."""
    recall, precision, exact, split = [], [], [], []
    for predicted, departments in zip(answers, gold, strict=True):
        hit = len(predicted & set(departments))
        recall.append(hit / len(departments))
        precision.append(hit / len(predicted) if predicted else 0.0)
        exact.append(predicted == set(departments))
        split.append(len(predicted) > 1)
    return (
        float(np.mean(recall)),
        float(np.mean(precision)),
        float(np.mean(exact)),
        float(np.mean(split)),
    )


def span_overlap(found: list[list[Problem]], frame: pd.DataFrame) -> float:
    """Mean character overlap (intersection over union) of each gold problem's span with
    the span of the predicted problem of the same department (0 when none)."""
    overlaps = []
    for problems, (_, row) in zip(found, frame.iterrows(), strict=True):
        text = row["text"]
        by_label = {p.label: (p.start, p.end) for p in problems if p.field == "text"}
        for department, span in zip(
            row["departments"].split("|"), row["spans"].split("|"), strict=True
        ):
            start = text.find(span)
            got = by_label.get(department)
            if start < 0 or got is None:
                overlaps.append(0.0)
                continue
            end = start + len(span)
            inter = max(0, min(end, got[1]) - max(start, got[0]))
            overlaps.append(inter / (max(end, got[1]) - min(start, got[0])))
    return float(np.mean(overlaps))


def no_split_point(texts: list[str]) -> float:
    """The share of bodies :func:`nlp.problems.clauses` does not cut (cut at commas too, as
    the default policy does, and read whole past its ``max_clauses``)."""
    policy = SplitPolicy()
    return float(
        np.mean(
            [
                len(clauses(t, split_commas=policy.split_commas, max_clauses=policy.max_clauses))
                < 2
                for t in texts
            ]
        )
    )


def timings(
    model: RoutingModel, texts: list[str], titles: list[str] | None, *, repeat: int = 3
) -> tuple[list[float], list[float]]:
    """Microseconds per ticket of :func:`find_problems` given the ticket's prediction (what
    the problems add to an answer), and of classification plus problems (the whole answer),
    the best of ``repeat`` runs of each ticket."""
    predictions = model.classify(texts, titles)
    extra, whole = [], []
    for i, text in enumerate(texts):
        title = None if titles is None else titles[i]
        best_extra = best_whole = float("inf")
        for _ in range(repeat):
            started = time.perf_counter_ns()
            find_problems(model, text, title, prediction=predictions[i])
            best_extra = min(best_extra, (time.perf_counter_ns() - started) / 1000)
            started = time.perf_counter_ns()
            (prediction,) = model.classify([text], [title])
            find_problems(model, text, title, prediction=prediction)
            best_whole = min(best_whole, (time.perf_counter_ns() - started) / 1000)
        extra.append(best_extra)
        whole.append(best_whole)
    return extra, whole


def section_problems(args: argparse.Namespace) -> None:
    demo = read(ROOT / "data" / "demo" / "appeals.csv")
    model = train(demo, TrainConfig()).model
    model.warm_up()
    print(f"Several problems in one ticket, demo model ({SplitPolicy()})")
    print("data/demo/multi_problem_tune.csv (the tune set: the policy was chosen on it)")
    problem_scores(model, read(ROOT / "data" / "demo" / "multi_problem_tune.csv"))
    print("data/eval/multi_problem.csv (evaluation only: never tuned on)")
    frame = read(ROOT / "data" / "eval" / "multi_problem.csv")
    titles = frame["title"].tolist()
    found, _, pick, single = problem_scores(model, frame)
    second_reading(frame, found, pick, single)
    for name, rows in (("multi-problem rows", pick), ("one-problem rows", single)):
        line(
            f"{name}: no split point (no second model call)",
            f"{no_split_point([frame['text'][i] for i in rows]):.1%}",
        )
        extra, whole = timings(model, [frame["text"][i] for i in rows], [titles[i] for i in rows])
        line(f"{name}: find_problems given the prediction", percentiles(extra))
        line(f"{name}: classify + find_problems", percentiles(whole))
    if args.skip_shared:
        return
    shared = Path(args.shared) / "appeals"
    model = _shared_model(read(shared / "train.csv"))
    test = read(shared / "test.csv")
    extra, whole = timings(model, test["text"].tolist(), test["title"].tolist(), repeat=2)
    found = find_problems_many(model, test["text"].tolist(), test["title"].tolist())
    split = sum(len(problems) > 1 for problems in found) / len(found)
    print(f"appeals/test.csv ({len(test)} whole messages), model trained on train.csv split=train")
    line(
        "no split point (no second model call)",
        f"{no_split_point(test['text'].tolist()):.1%}",
    )
    line("find_problems given the prediction", percentiles(extra))
    line("classify + find_problems", percentiles(whole))
    line("tickets given more than one problem", f"{split:.1%}")


#: A second reader's department set for each ticket of ``data/eval/multi_problem.csv``.
MULTI_SECOND = ROOT / "data" / "eval" / "multi_problem_second.csv"


def second_reading(
    frame: pd.DataFrame, found: list[list[Problem]], pick: list[int], single: list[int]
) -> None:
    """``MULTI_SECOND`` (a blind reader's department sets) against ``frame``'s, and the
    problems ``found`` on the departments both give."""
    if not MULTI_SECOND.is_file():
        return
    second = read(MULTI_SECOND).set_index("id")["departments"].reindex(frame["id"])
    reader = [set(value.split("|")) for value in second]
    gold = [value.split("|") for value in frame["departments"]]
    recall, precision, exact, _ = label_set_scores(
        [reader[i] for i in pick], [gold[i] for i in pick]
    )
    line(
        "a second reader, blind: multi-problem rows: set recall / precision / exact",
        f"{recall:.3f} / {precision:.3f} / {exact:.1%}",
    )
    _, _, exact1, split1 = label_set_scores([reader[i] for i in single], [gold[i] for i in single])
    line("  one-problem rows: split / exact set", f"{split1:.1%} / {exact1:.1%}")
    rows = [i for i in pick if set(gold[i]) & reader[i]]
    agreed, _, _, _ = set_scores(
        [found[i] for i in rows], [sorted(set(gold[i]) & reader[i]) for i in rows]
    )
    line(
        f"  nlp.find_problems: set recall of the departments both give ({len(rows)} rows)",
        f"{agreed:.3f}",
    )


def problem_scores(
    model: RoutingModel, frame: pd.DataFrame
) -> tuple[list[list[Problem]], list[Any], list[int], list[int]]:
    """Prints the set figures of a ``multi_problem.csv``-shaped frame (span overlap when it
    has gold ``spans``); returns the problems found, the predictions, and the positions of
    the several-problem and of the one-problem rows."""
    titles = frame["title"].tolist()
    predictions = model.answer(compose_documents(frame["text"].tolist(), titles))
    found = find_problems_many(model, frame["text"].tolist(), titles, predictions)
    gold = [value.split("|") for value in frame["departments"]]
    multi = (frame["n_problems"] != "1").to_numpy()
    pick = [i for i in range(len(frame)) if multi[i]]
    recall, precision, exact, _ = set_scores([found[i] for i in pick], [gold[i] for i in pick])
    line(f"multi-problem rows ({len(pick)}): department-set recall", f"{recall:.3f}")
    line("  department-set precision", f"{precision:.3f}")
    line("  exact department set", f"{exact:.1%}")
    if "spans" in frame:
        line(
            "  span overlap (character IoU, same department)",
            f"{span_overlap([found[i] for i in pick], frame.iloc[pick]):.3f}",
        )
    lead_only = [
        [Problem("", p.label, p.confidence, 0, 0, "text")]
        for p in predictions
        if not isinstance(p, str)
    ]
    recall0, _, _, _ = set_scores([lead_only[i] for i in pick], [gold[i] for i in pick])
    line("  department-set recall of the whole-ticket answer alone", f"{recall0:.3f}")
    single = [i for i in range(len(frame)) if not multi[i]]
    _, _, exact1, split1 = set_scores([found[i] for i in single], [gold[i] for i in single])
    line(f"one-problem rows ({len(single)}): wrongly split", f"{split1:.1%}")
    line("  right department (exact set)", f"{exact1:.1%}")
    return found, predictions, pick, single


def _shared_model(bodies: pd.DataFrame) -> RoutingModel:
    model = train(
        bodies[bodies["split"] == "train"], eval_frame=bodies[bodies["split"] == "dev"]
    ).model
    model.warm_up()
    return model


# -- several problems in one ticket: cross-validation on the demo appeals -----------------

_CN = "一二三"
_CIRCLED = "①②③"

#: How residents join two or three problems (each function gets the clauses, ends trimmed).
JOINS: dict[str, Callable[[list[str]], str]] = {
    "；": lambda p: "；".join(p) + "。",
    "。另外，": lambda p: "。另外，".join(p) + "。",
    "，另外": lambda p: "，另外".join(p),
    "。还有，": lambda p: "。还有，".join(p),
    "，还有": lambda p: "，还有".join(p) + "！",
    "，同时": lambda p: "，同时".join(p) + "。",
    "。此外，": lambda p: "。此外，".join(p) + "。",
    "。顺便说一下，": lambda p: "。顺便说一下，".join(p),
    "一是…二是…": lambda p: "；".join(f"{_CN[i]}是{x}" for i, x in enumerate(p)) + "。",
    "第一，第二，": lambda p: "。".join(f"第{_CN[i]}，{x}" for i, x in enumerate(p)) + "。",
    "1. 2.": lambda p: " ".join(f"{i + 1}.{x}" for i, x in enumerate(p)),
    "1、\\n2、": lambda p: "\n".join(f"{i + 1}、{x}" for i, x in enumerate(p)),
    "①②": lambda p: "".join(f"{_CIRCLED[i]}{x}；" for i, x in enumerate(p)),
    "（1）（2）": lambda p: "".join(f"（{i + 1}）{x}。" for i, x in enumerate(p)),
    "问题一：": lambda p: "".join(f"问题{_CN[i]}：{x}。" for i, x in enumerate(p)),
    "。": lambda p: "。".join(p) + "。",
    "！": lambda p: "！".join(p) + "！",
    "，": lambda p: "，".join(p) + "。",
    "\\n": lambda p: "\n".join(p),
}
_ENDS = " \t\n。！？!?；;，,…"


def _joined(
    frame: pd.DataFrame, rng: random.Random, *, same: bool, n: int, size: int
) -> list[tuple[str, list[str]]]:
    """``n`` tickets of ``size`` appeals of ``frame`` joined (bodies, ends trimmed): of one
    department (``same``) or of different ones."""
    by_label: dict[str, list[str]] = {}
    for text, label in zip(frame["text"], frame["label"], strict=True):
        by_label.setdefault(label, []).append(text.strip(_ENDS))
    labels = sorted(by_label)
    joins = list(JOINS.values())
    tickets = []
    for _ in range(n):
        if same:
            label = rng.choice([x for x in labels if len(by_label[x]) >= size])
            parts = rng.sample(by_label[label], size)
            gold = [label]
        else:
            gold = rng.sample(labels, size)
            parts = [rng.choice(by_label[label]) for label in gold]
        tickets.append((rng.choice(joins)(parts), gold))
    return tickets


def _fold_candidates(
    model: RoutingModel, texts: list[str], titles: list[str] | None, gold: list[list[str]]
) -> dict[bool, list[tuple[Any, ...]]]:
    """Per ``split_commas``: each ticket's field, clauses, their probabilities, the whole
    ticket's prediction and its departments."""
    predictions = model.classify(texts, titles)
    fields = [
        (text, "text") if text.strip() else (titles[i], "title")  # type: ignore[index]
        for i, text in enumerate(texts)
    ]
    out: dict[bool, list[tuple[Any, ...]]] = {}
    for commas in (False, True):
        found = [clauses(value, split_commas=commas, max_clauses=12) for value, _ in fields]
        texts_of = [candidate_texts(value, f) for (value, _), f in zip(fields, found, strict=True)]
        probabilities = model.predict_proba([t for texts in texts_of for t in texts])
        rows, at = [], 0
        for (value, field), f, texts, prediction, departments in zip(
            fields, found, texts_of, predictions, gold, strict=True
        ):
            rows.append(
                (value, field, f, probabilities[at : at + len(texts)], prediction, departments)
            )
            at += len(texts)
        out[commas] = rows
    return out


def section_problems_cv(args: argparse.Namespace) -> None:
    pooled, labels = _cv_tickets(args)
    demo = read(ROOT / "data" / "demo" / "appeals.csv")
    tune = _tune_tickets(train(demo, TrainConfig()).model)
    _cv_grid(args, pooled, labels, tune)


def _tune_tickets(model: RoutingModel) -> dict[str, dict[bool, list[tuple[Any, ...]]]]:
    """data/demo/multi_problem_tune.csv (written to choose the policy), classified by the
    demo model: its one-problem and its several-problem tickets."""
    frame = read(ROOT / "data" / "demo" / "multi_problem_tune.csv")
    gold = [value.split("|") for value in frame["departments"]]
    multi = [len(departments) > 1 for departments in gold]
    out: dict[str, dict[bool, list[tuple[Any, ...]]]] = {}
    for kind, keep in (("tune: one problem", False), ("tune: several", True)):
        rows = [i for i in range(len(frame)) if multi[i] == keep]
        out[kind] = _fold_candidates(
            model,
            [frame["text"][i] for i in rows],
            [frame["title"][i] for i in rows],
            [gold[i] for i in rows],
        )
    return out


def _cv_tickets(
    args: argparse.Namespace,
) -> tuple[dict[str, dict[bool, list[tuple[Any, ...]]]], list[str]]:
    """The cross-validation's tickets, by kind and ``split_commas``, and the labels."""
    demo = read(ROOT / "data" / "demo" / "appeals.csv")
    # The demo's own two-problem tickets ("…；另外…", labelled with the lead problem: see
    # data/demo/README.md) are neither one-problem tickets nor parts of one.
    plain = ~demo["text"].str.contains("另外")
    rng = random.Random(0)
    folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=0)
    pooled: dict[str, dict[bool, list[tuple[Any, ...]]]] = {
        kind: {False: [], True: []} for kind in ("as written", "same department", "several")
    }
    labels: list[str] = []
    started = time.perf_counter()
    for train_rows, held_rows in folds.split(demo, demo["label"]):
        model = train(demo.iloc[train_rows], TrainConfig(test_size=0.1)).model
        labels = model.labels
        held = demo.iloc[held_rows]
        one = held[plain.iloc[held_rows].to_numpy()]
        same = _joined(one, rng, same=True, n=len(held) // 2, size=2)
        several = _joined(held, rng, same=False, n=len(held) // 2, size=2) + _joined(
            held, rng, same=False, n=len(held) // 10, size=3
        )
        sets = {
            "as written": (
                one["text"].tolist(),
                one["title"].tolist(),
                [[x] for x in one["label"]],
            ),
            "same department": ([t for t, _ in same], None, [g for _, g in same]),
            "several": ([t for t, _ in several], None, [g for _, g in several]),
        }
        for kind, (texts, titles, gold) in sets.items():
            for commas, rows in _fold_candidates(model, texts, titles, gold).items():
                pooled[kind][commas].extend(rows)
    print(
        f"Several problems in one ticket: {args.folds}-fold cross-validation on "
        f"data/demo/appeals.csv ({time.perf_counter() - started:.0f} s); tickets: "
        + ", ".join(f"{kind} {len(rows[False])}" for kind, rows in pooled.items())
    )
    return pooled, labels


def _scores(
    pooled: dict[str, dict[bool, list[tuple[Any, ...]]]], labels: list[str], policy: SplitPolicy
) -> dict[str, tuple[float, float, float, float]]:
    """Scores of ``policy`` on tickets cut into up to 12 clauses (``max_clauses`` at most 12:
    a ticket cut into more is read whole, as the policy reads it)."""
    scores = {}
    for kind, by_commas in pooled.items():
        rows = by_commas[policy.split_commas]
        found = [
            split_problems(value, field, f, p, labels, prediction, policy=policy)
            if len(f) <= policy.max_clauses
            else [Problem("", prediction.label, 0, 0, 0, field)]
            for value, field, f, p, prediction, _ in rows
        ]
        scores[kind] = set_scores(found, [row[-1] for row in rows])
    return scores


def _cv_grid(
    args: argparse.Namespace,
    pooled: dict[str, dict[bool, list[tuple[Any, ...]]]],
    labels: list[str],
    tune: dict[str, dict[bool, list[tuple[Any, ...]]]],
) -> None:
    """Two stages: the clauses cut where the text lists or at sentence ends (no commas),
    then, with the best of those, the settings of problems found at a comma."""
    every = {**pooled, **tune}
    one_problem = ("as written", "same department", "tune: one problem")

    def recall(scores: dict[str, tuple[float, float, float, float]]) -> float:
        return (scores["several"][0] + scores["tune: several"][0]) / 2

    def allowed(scores: dict[str, tuple[float, float, float, float]], written: float) -> bool:
        return scores["as written"][3] <= written and all(
            scores[kind][3] <= args.max_split for kind in one_problem
        )

    def show(policy: SplitPolicy, scores: dict[str, tuple[float, float, float, float]]) -> None:
        comma = (
            f"comma: chars>={policy.comma_min_chars} conf>={policy.comma_min_confidence} "
            f"support>={policy.comma_min_support} lead<={policy.comma_max_lead} "
            f"other side lead>={policy.comma_min_lead}"
            if policy.split_commas
            else "no commas"
        )
        print(
            f"    chars>={policy.min_chars} conf>={policy.min_confidence} "
            f"plain>={policy.min_confidence_plain} lead<={policy.max_lead} "
            f"plain lead<={policy.max_lead_plain} {comma}\n"
            f"      recall: cv {scores['several'][0]:.3f}, tune {scores['tune: several'][0]:.3f}"
            f"  precision: cv {scores['several'][1]:.3f}, tune {scores['tune: several'][1]:.3f}"
            f"  split: as written {scores['as written'][3]:.1%}, same department "
            f"{scores['same department'][3]:.1%}, tune {scores['tune: one problem'][3]:.1%}"
        )

    first = []
    for chars, confidence, plain, lead, lead_plain in itertools.product(
        (4, 6),
        (0.5, 0.6, 0.7, 0.8, 0.9),
        (0.8, 0.9, 0.95),
        (0.03, 0.01, 0.003),
        (0.01, 0.003, 0.001),
    ):
        if plain >= confidence:
            policy = SplitPolicy(
                min_chars=chars,
                min_confidence=confidence,
                min_confidence_plain=plain,
                max_lead=lead,
                max_lead_plain=lead_plain,
                split_commas=False,
                max_clauses=12,
            )
            first.append((policy, _scores(every, labels, policy)))
    first = [r for r in first if allowed(r[1], args.max_split - 0.01)]
    first.sort(key=lambda r: -recall(r[1]))
    print(
        f"  stage 1, no commas: the best that split at most {args.max_split:.0%} of each kind "
        f"of one-problem ticket, {args.max_split - 0.01:.0%} of the appeals as written:"
    )
    for policy, scores in first[:3]:
        show(policy, scores)
    base = first[0][0]
    second = []
    for chars, confidence, support, lead, other in itertools.product(
        (6, 8, 10),
        (0.9, 0.95, 0.98, 0.99),
        (0.0, 0.05),
        (1.0, 0.003, 0.001, 0.0005),
        (0.0, 0.9, 0.99),
    ):
        policy = dataclasses.replace(
            base,
            split_commas=True,
            comma_min_chars=chars,
            comma_min_confidence=confidence,
            comma_min_support=support,
            comma_max_lead=lead,
            comma_min_lead=other,
        )
        second.append((policy, _scores(every, labels, policy)))
    second = [r for r in second if allowed(r[1], args.max_split)]
    second.sort(key=lambda r: -recall(r[1]))
    print(f"  stage 2, with commas: the best that split at most {args.max_split:.0%} of each:")
    for policy, scores in second[:3]:
        show(policy, scores)
    print("  stage 3, clauses per ticket at most (max_clauses; more: read whole), the best above:")
    for most in (4, 6, 8, 12):
        scores = _scores(every, labels, dataclasses.replace(second[0][0], max_clauses=most))
        print(
            f"    {most:>2}: recall: cv {scores['several'][0]:.3f}, tune "
            f"{scores['tune: several'][0]:.3f}  split: as written {scores['as written'][3]:.1%}"
        )
    print("  the defaults (SplitPolicy()):")
    show(SplitPolicy(), _scores(every, labels, SplitPolicy()))


# -- several problems in one ticket: why a department is missed ---------------------------

#: Why a department of a several-problem ticket is not among its problems, in the order the
#: breakdown prints them.
MISS_KINDS = (
    "not cut: no split point",
    "not cut: more clauses than max_clauses (read whole)",
    "cut, no clause reads as it (the model on a clause)",
    "cut and read right, dropped by the policy",
)


def miss_reasons(
    model: RoutingModel,
    value: str,
    prediction: Any,
    department: str,
    policy: SplitPolicy,
) -> tuple[str, str]:
    """Why ``department`` (not among the problems found in ``value``, whose whole-ticket
    answer is ``prediction``) was missed: one of :data:`MISS_KINDS`, and for a department
    dropped by the policy, the conditions its best clause failed (``+``-joined)."""
    found = clauses(value, split_commas=policy.split_commas, max_clauses=policy.max_clauses)
    if len(found) < 2:
        more = clauses(value, split_commas=policy.split_commas, max_clauses=10_000)
        return (MISS_KINDS[1] if len(more) > 1 else MISS_KINDS[0]), ""
    texts = candidate_texts(value, found)
    probabilities = model.predict_proba(texts)
    labels = model.labels
    best = probabilities.argmax(axis=1)
    column = labels.index(department)
    rows = [row for row in range(len(texts)) if best[row] == column]
    if not rows:
        return MISS_KINDS[2], ""
    support = dict(prediction.top_k).get(department, 0.0)
    lead = prediction.label
    lead_column = labels.index(lead) if lead in labels else None
    failures: list[list[str]] = []
    comma = found[0].cut == "comma"
    n = len(found) - 1
    for row in rows:
        failed = []
        if comma:
            k = row if row < n else row - n
            other = n + k if row < n else k
            if labels[best[other]] != lead:
                failed.append("other side not the lead's")
            elif lead_column is not None and (
                probabilities[other, lead_column] < policy.comma_min_lead
            ):
                failed.append("min_lead")
            if lead_column is not None and probabilities[row, lead_column] > policy.comma_max_lead:
                failed.append("max_lead")
            start, end = (
                (found[0].start, found[k].end) if row < n else (found[k + 1].start, found[-1].end)
            )
            confidence, floor = probabilities[row, column], policy.comma_min_confidence
            least = policy.comma_min_chars
            support_floor = policy.comma_min_support
        else:
            clause = found[row]
            start, end = clause.start, clause.end
            confidence = probabilities[row, column]
            listed = clause.cut == "list"
            floor = policy.min_confidence if listed else policy.min_confidence_plain
            least = policy.min_chars
            support_floor = policy.min_support
            ceiling = policy.max_lead if listed else policy.max_lead_plain
            if lead_column is not None and probabilities[row, lead_column] > ceiling:
                failed.append("max_lead" if listed else "max_lead_plain")
        if confidence < floor:
            failed.append("confidence")
        if support < support_floor:
            failed.append("support")
        if _length(value[start:end]) < least:
            failed.append("chars")
        if _contact_only(value, start, end, least):
            failed.append("contact")
        failures.append(failed)
    fewest = min(failures, key=len)
    return MISS_KINDS[3], ("comma: " if comma else "") + ("+".join(fewest) or "other")


def section_problems_why(args: argparse.Namespace) -> None:
    """Per department missed on data/demo/multi_problem_tune.csv's several-problem tickets:
    never cut, cut but read wrong, or cut, read right and dropped by the policy (and by
    which of its conditions)."""
    demo = read(ROOT / "data" / "demo" / "appeals.csv")
    model = train(demo, TrainConfig()).model
    frame = read(ROOT / "data" / "demo" / "multi_problem_tune.csv")
    policy = SplitPolicy()
    texts, titles = frame["text"].tolist(), frame["title"].tolist()
    predictions = model.answer(compose_documents(texts, titles))
    found = find_problems_many(model, texts, titles, predictions, policy=policy)
    kinds: Counter[str] = Counter()
    conditions: Counter[str] = Counter()
    gold_n = 0
    listed = []
    for i, departments in enumerate(value.split("|") for value in frame["departments"]):
        if len(departments) < 2:
            continue
        gold_n += len(departments)
        got = {problem.label for problem in found[i]}
        for department in departments:
            if department in got:
                continue
            kind, failed = miss_reasons(model, texts[i], predictions[i], department, policy)
            kinds[kind] += 1
            if failed:
                conditions[failed] += 1
            listed.append(f"    {frame['id'][i]} {department}: {kind} {failed}")
    missed = sum(kinds.values())
    print(
        "Why departments are missed: data/demo/multi_problem_tune.csv, demo model "
        f"({gold_n} departments of several-problem tickets, {missed} missed)"
    )
    for kind in MISS_KINDS:
        line(kind, f"{kinds[kind]:>3} ({kinds[kind] / max(missed, 1):.0%} of missed)")
    for failed, count in conditions.most_common():
        line(f"  failed: {failed}", f"{count:>3}")
    if args.verbose:
        print("\n".join(listed))


SECTIONS: dict[str, Callable[[argparse.Namespace], None]] = {
    "location": section_location,
    "location_tune": section_location_tune,
    "location_blind": section_location_blind,
    "routing": section_routing,
    "urgency": section_urgency,
    "urgency_cv": section_urgency_cv,
    "urgency_sittings": section_urgency_sittings,
    "problems": section_problems,
    "problems_cv": section_problems_cv,
    "problems_why": section_problems_why,
}
#: What runs without --sections: all but the cross-validations and the breakdown.
DEFAULT_SECTIONS = [
    name
    for name in SECTIONS
    if name not in ("problems_cv", "problems_why", "urgency_cv", "urgency_sittings")
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sections",
        default=",".join(DEFAULT_SECTIONS),
        help=f"comma-separated, of: {', '.join(SECTIONS)} (default: all but problems_cv)",
    )
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--repeat", type=int, default=3, help="timing passes over the tickets")
    parser.add_argument(
        "--skip-shared", action="store_true", help="problems: no figures on ../shared/data"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="problems_why: list every missed department"
    )
    parser.add_argument("--folds", type=int, default=5, help="problems_cv: folds")
    parser.add_argument(
        "--max-split",
        type=float,
        default=0.03,
        help="problems_cv: one-problem tickets split, at most (stage 1: appeals as written "
        "one point less)",
    )
    args = parser.parse_args()
    for name in args.sections.split(","):
        if name.strip() not in SECTIONS:
            parser.error(f"unknown section {name!r}; choose from {', '.join(SECTIONS)}")
    for name in args.sections.split(","):
        SECTIONS[name.strip()](args)


if __name__ == "__main__":
    main()
