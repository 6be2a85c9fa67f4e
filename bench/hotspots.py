"""Repeat tickets and hot spots: figures. Prints; asserts nothing.

    .venv/bin/python bench/hotspots.py [--sections repeats,hotspots,purity,scale]
                                       [--scale-rows 20000] [--lookup-rows 100000]
                                       [--purity-sheet FILE]
    .venv/bin/python bench/hotspots.py --sections prepare
    .venv/bin/python bench/hotspots.py --sections repeats_cv
    .venv/bin/python bench/hotspots.py --sections repeats_sittings
    .venv/bin/python bench/hotspots.py --sections repeats_real
    .venv/bin/python bench/hotspots.py --sections hotspots_scale [--run-rows 250000,1000000]
                                       [--jobs 2] [--days-per-copy 30]

``repeats``: the three neighbour searches measured side by side on the same pairs: the sparse
TF-IDF cosine of :mod:`nlp.similar` (content words + character 2-3-grams), MinHash of
character 3-grams (``datasketch``, Jaccard estimate, ``MinHashLSH`` for queries) and
``faiss`` inner product on dense vectors (the TF-IDF rows, a sparse sketch to 256 dims),
each with the same place veto and problem veto (:func:`nlp.similar.same_place`,
:func:`nlp.similar.same_problem`) and the same two thresholds (a general one, and a lower one
for pairs that both name the place and both name a problem they share). For each: the
thresholds chosen by 5-fold cross-validation on ``data/demo/repeat_pairs_tune.csv`` (pairs
written for tuning; on four folds the pair with the best precision among those that keep
recall at 0.90 or more, the best F1 when none does; scored on the fifth; also with one
threshold alone), then precision / recall of ``repeat`` on
``data/eval/repeat_pairs.csv`` at the thresholds chosen on the whole tune set (evaluation
only: nothing is chosen on it), the repeat / same_topic confusion, a second judge's blind
relation for the same pairs (``data/eval/repeat_pairs_second.csv``) against theirs and
against the rule, and the time of 1,000
queries against an index of ``../shared/data/appeals/unlabeled.csv`` (4,284 messages).

``repeats_cv`` (not in the default run): today's rule against a learned pair decision (a
logistic regression on :data:`PAIR_FEATURES`, gated by a score of 0.05 and the place veto),
by 5-fold cross-validation on the tune pairs with grouped folds (:func:`repeat_pair_groups`:
the variants of one scene or template on one side), then how many of the same-place pairs
of unlabeled.csv each calls a repeat. ``data/eval`` is not read.

``repeats_sittings`` (not in the default run): ``nlp.similar``'s rule, with its default
thresholds, on each sitting of the tune pairs (:data:`TUNE_SITTINGS`); a new sitting is
measured with it before it joins the tune set. ``data/eval`` is not read.

``repeats_real`` (not in the default run): the rule on real posts. Judged pairs of
unlabeled.csv (``data/demo/repeat_pairs_real.csv``: ids, the cell of pairs each was drawn
from and its size, a person's relation; no text), each weighted by the pairs of its cell it
stands for: the share of repeats among the pairs a rule calls. The thresholds are the best
such precision among those that keep recall at 0.80 on the written tune pairs; then today's
rule on ``data/eval/repeat_pairs_real.csv``, later samples judged after the choice (report
only) from cells that split every same-place pair into the rule's calls and the rest: its
precision, and its recall of the repeats among those pairs.

``hotspots``: ``nlp.hotspots.hotspots`` on ``unlabeled.csv`` with the defaults of
``appeals hotspots`` (window 7d, top 5): the top table, each group's size, and the time.

``purity``: a sample of 200 grouped messages of that run (seed 16); with
``data/eval/hotspot_purity.csv`` (``message_id, problem_id, same_problem, reason``: a person's
judgement of each message against its group, no message text) it prints purity = the share of
``yes``; the same for ``data/eval/hotspot_purity_earlier.csv`` (the judgement of the sample
before hot-spot links took the problem veto, by another judge), and the two judges'
agreement on the messages both sampled. The judged messages are followed into today's
grouping: a group is known by its members, not its number (a group's number is its heat
rank, which any change of heat shifts), so each judged group is the group of today that
holds most of its judged messages. A judged message no longer grouped, or now in another
group than its fellows, is left out with a warning (when many are, the judgement must be
redone). ``--purity-sheet FILE`` writes a new sample with the masked
text joined from ../shared, for the person who judges (keep it outside the project).

``scale``: first what the fast lookup's candidate step loses, on unlabeled.csv: every
message asked for its 5 most similar earlier messages (window 30d, then no window), the share
of the exact answer's matches (``similar(..., exact=True)``: every ticket of the window
scored) and of its likely repeats that the fast lookup returns too, and how many messages
get the exact lookup's ``repeat_of`` (the first likely repeat of the top 5), for several
numbers of candidates scored (``similar(..., candidates=)``: ``nlp.similar.CANDIDATES`` for
``/v1/similar``, ``nlp.live_similar.REPEAT_SCORED`` for ``repeat_of``). Then an index built over
``--scale-rows`` tickets (copies of unlabeled.csv with shifted times and new ids, each
message masked, segmented, located and hashed: 0 skips it): build time, rows per second,
peak RSS, p50 / p99 of one ``similar`` lookup (window 30d), and ``neighbours`` (window 7d)
over all of them. Last, the lookup against ``--lookup-rows`` tickets (0 skips it): that index
is built from the prepared rows of unlabeled.csv's 4,284 messages tiled (copy ``c`` shifted
by ``c`` times the data's time span, new ids), not by preparing a million messages (about
40 minutes), so every message has copies in it; each of 200 messages (seed 16) is asked for
its 5 most similar tickets among all of them (no window: the whole index, as in a service
whose window holds that many tickets): p50 / p99 of the lookup of a prepared ticket and of
one from its text (masking, segmenting, places and hashing included), and the index's memory.

``prepare`` (not in the default run): the CPU time of ``SimilarIndex.prepare`` and of
``similar`` with the prepared ticket (p50 of 300 messages of unlabeled.csv against the 2,000
before them, three rounds); public API only, so that ``PYTHONPATH=OLD_CHECKOUT`` runs it on
older code.

``hotspots_scale`` (not in the default run: about ten minutes per million tickets):
``appeals hotspots FILE --jobs N --out DIR`` run as a user runs it, in a process of its own,
over files of ``--run-rows`` tickets (each size in turn: 250000,1000000 by default). A file
is unlabeled.csv's messages tiled: copy ``c`` has new ids and writers, and its messages' times
squeezed into ``--days-per-copy`` days (30: about 1,000 tickets a week, four times
unlabeled.csv's pace) after the copies before it, so that copies never share a window (a
message and its own copy would be a repeat). For each size: seconds end to end (reading the
file, grouping, writing both tables), tickets per second, the groups found, and the peak
resident memory of the command and of its largest worker process (VmHWM, read while they
run).
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import nlp.live_similar
import nlp.similar
from nlp.hotspots import DEFAULT_LINK_THRESHOLD, hotspots
from nlp.similar import (
    CANDIDATES,
    DEFAULT_REPEAT_THRESHOLD,
    SimilarIndex,
    documents_of,
    parse_times,
    place_keys,
    problem_keys,
    same_place,
    same_problem,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "appeals"
UNLABELED = SHARED / "unlabeled.csv"
TUNE = ROOT / "data" / "demo" / "repeat_pairs_tune.csv"
EVAL = ROOT / "data" / "eval" / "repeat_pairs.csv"
#: A second judge's blind relation for every pair of ``EVAL`` (``id,relation``).
EVAL_SECOND = ROOT / "data" / "eval" / "repeat_pairs_second.csv"
#: Similar tickets a repeat lookup looks at, and the candidates it scores (all of them on a
#: checkout from before it scored fewer, for ``--sections prepare`` run with its PYTHONPATH).
REPEAT_CANDIDATES: int = nlp.live_similar.REPEAT_CANDIDATES
REPEAT_SCORED: int | None = getattr(nlp.live_similar, "REPEAT_SCORED", None)
#: The lower threshold of a pair that names the place and problem; a library from before it
#: had one is read with its one threshold for both, so that ``repeats_sittings`` measures an
#: older checkout's rule on today's tune pairs:
#: ``PYTHONPATH=<checkout> .venv/bin/python bench/hotspots.py --sections repeats_sittings``.
DEFAULT_NAMED_REPEAT_THRESHOLD: float = getattr(
    nlp.similar, "DEFAULT_NAMED_REPEAT_THRESHOLD", DEFAULT_REPEAT_THRESHOLD
)


def _named_pair(
    documents: tuple[str, str],
    places: tuple[frozenset[str], frozenset[str]],
    problems: tuple[frozenset[str], frozenset[str]],
) -> bool:
    """Whether the lower threshold applies to a pair (``nlp.similar.named_pair``; a library
    from before the length bound: both name places and share a named problem)."""
    if not hasattr(nlp.similar, "named_pair"):
        return bool(places[0] and places[1] and problems[0] & problems[1])
    keys = nlp.similar.RepeatKeys
    return bool(
        nlp.similar.named_pair(*(keys(places[i], problems[i], len(documents[i])) for i in (0, 1)))
    )


PURITY = ROOT / "data" / "eval" / "hotspot_purity.csv"
#: The judgement of the sample drawn before hot-spot links took the problem veto (its
#: purity is printed too, on the messages still grouped as judged, with the two judges'
#: agreement on the messages both sampled).
EARLIER_PURITY = ROOT / "data" / "eval" / "hotspot_purity_earlier.csv"
SEED = 16


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def line(label: str, value: str) -> None:
    print(f"  {label:<58} {value}")


# ----------------------------------------------------------------------------- repeats


class Method:
    """A way to score pairs and to answer queries against an index of documents."""

    name = ""

    def fit(self, documents: list[str]) -> None: ...

    def pair_scores(self, a: list[str], b: list[str]) -> np.ndarray:
        raise NotImplementedError

    def queries(self, documents: list[str]) -> None:
        raise NotImplementedError


class Tfidf(Method):
    name = "TF-IDF cosine (nlp.similar)"

    def fit(self, documents: list[str]) -> None:
        self.index = SimilarIndex()
        times = pd.date_range("2019-01-01", periods=len(documents), freq="min").astype(str)
        self.index.add(
            ids=list(map(str, range(len(documents)))), times=list(times), texts=documents
        )

    def pair_scores(self, a: list[str], b: list[str]) -> np.ndarray:
        rows_a, rows_b = self.index.vectorise(a), self.index.vectorise(b)
        return np.asarray(rows_a.multiply(rows_b).sum(axis=1)).ravel()

    def queries(self, documents: list[str]) -> None:
        for document in documents:
            self.index.similar(document, window=None, k=5)


class MinHashes(Method):
    name = "MinHash LSH (datasketch, char 3-grams)"

    def _hash(self, document: str):  # type: ignore[no-untyped-def]
        from datasketch import MinHash

        signature = MinHash(num_perm=128, seed=SEED)
        signature.update_batch(
            [document[i : i + 3].encode("utf-8") for i in range(max(1, len(document) - 2))]
        )
        return signature

    def fit(self, documents: list[str]) -> None:
        from datasketch import MinHashLSH

        self.lsh = MinHashLSH(threshold=0.1, num_perm=128)
        for i, document in enumerate(documents):
            self.lsh.insert(str(i), self._hash(document))

    def pair_scores(self, a: list[str], b: list[str]) -> np.ndarray:
        return np.array([self._hash(x).jaccard(self._hash(y)) for x, y in zip(a, b, strict=True)])

    def queries(self, documents: list[str]) -> None:
        for document in documents:
            self.lsh.query(self._hash(document))


class Faiss(Method):
    name = "faiss inner product (TF-IDF rows sketched to 256 dims)"

    def fit(self, documents: list[str]) -> None:
        import faiss
        import scipy.sparse as sp

        from nlp.similar import N_FEATURES

        self.tfidf = Tfidf()
        self.tfidf.fit(documents)
        rows = self.tfidf.index.vectorise(documents)
        # A truncated SVD or a dense random projection of 2**20 hashed columns would hold
        # 256 x 2**20 numbers (2 GB; the process was killed): a sparse sketch (each column
        # added with a random sign to 3 of the 256 dimensions) keeps cosines approximately.
        rng = np.random.default_rng(SEED)
        columns = np.repeat(np.arange(N_FEATURES), 3)
        targets = rng.integers(0, 256, size=len(columns))
        signs = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=len(columns))
        self.sketch = sp.csr_matrix((signs, (columns, targets)), shape=(N_FEATURES, 256))
        vectors = self._dense(rows)
        self.faiss = faiss.IndexFlatIP(vectors.shape[1])
        self.faiss.add(vectors)

    def _dense(self, rows):  # type: ignore[no-untyped-def]
        vectors = np.asarray((rows @ self.sketch).todense(), dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        return np.ascontiguousarray(vectors)

    def pair_scores(self, a: list[str], b: list[str]) -> np.ndarray:
        va = self._dense(self.tfidf.index.vectorise(a))
        vb = self._dense(self.tfidf.index.vectorise(b))
        return np.sum(va * vb, axis=1)

    def queries(self, documents: list[str]) -> None:
        for document in documents:
            self.faiss.search(self._dense(self.tfidf.index.vectorise([document])), 5)


def _pairs(
    path: Path,
) -> tuple[pd.DataFrame, list[str], list[str], np.ndarray, np.ndarray, np.ndarray]:
    """The pairs, their documents, and for each pair whether the two name the same place,
    whether they complain about the same problem (the vetoes of ``nlp.similar``), and whether
    the lower threshold applies (``nlp.similar.named_pair``)."""
    frame = read(path)
    a = [d or "" for d in documents_of(frame["a_text"].tolist())]
    b = [d or "" for d in documents_of(frame["b_text"].tolist())]
    same, problem, named = _pair_keys(a, b)
    return frame, a, b, same, problem, named & same


def _pair_keys(
    a: list[str], b: list[str], scores: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For pairs of documents: the same place; the same problem (with ``scores``, the TF-IDF
    cosines: not kept apart by ``nlp.similar.problem_vetoed``, which lets long letters that
    alike through; without, :func:`nlp.similar.same_problem`: the written pairs are never
    that long); the lower threshold's case."""
    places = [(place_keys(x), place_keys(y)) for x, y in zip(a, b, strict=True)]
    problems = [
        (problem_keys(x, px), problem_keys(y, py))
        for x, y, (px, py) in zip(a, b, places, strict=True)
    ]
    same = np.array([same_place(x, y) for x, y in places])
    problem = np.array([same_problem(x, y) for x, y in problems])
    vetoed = getattr(nlp.similar, "problem_vetoed", None)
    if scores is not None and vetoed is not None:
        keys = nlp.similar.RepeatKeys
        problem = np.array(
            [
                not vetoed(float(score), keys(px, kx, len(x)), keys(py, ky, len(y)))
                for score, x, y, (px, py), (kx, ky) in zip(
                    scores, a, b, places, problems, strict=True
                )
            ]
        )
    named = np.array(
        [
            _named_pair((x, y), pair_places, pair_problems)
            for x, y, pair_places, pair_problems in zip(a, b, places, problems, strict=True)
        ]
    )
    return same, problem, named


def _precision_recall(predicted: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    hits = float((predicted & gold).sum())
    return hits / max(int(predicted.sum()), 1), hits / max(int(gold.sum()), 1)


def _written_second_judge(ev: pd.DataFrame, predicted: np.ndarray, gold: np.ndarray) -> None:
    """``EVAL_SECOND`` (a blind judge of the same pairs) against the pairs' relations, and
    the rule's recall on the repeats that both call repeat."""
    second = read(EVAL_SECOND).set_index("id")["relation"].reindex(ev["id"]).to_numpy()
    judged = second == "repeat"
    precision, recall = _precision_recall(judged, gold)
    line(
        "EVAL a second judge, blind: precision / recall of repeat",
        f"{precision:.3f} / {recall:.3f} (same relation {(second == ev['relation']).mean():.3f})",
    )
    both = judged & gold
    line(
        f"EVAL the rule on the repeats both call repeat ({int(both.sum())}): recall",
        f"{(predicted & both).sum() / max(int(both.sum()), 1):.3f}",
    )
    line(
        "EVAL the rule against the second judge: precision / recall",
        "{:.3f} / {:.3f}".format(*_precision_recall(predicted, judged)),
    )


#: Recall a threshold must keep on the tune pairs to be chosen: the target asks 0.80 on the
#: evaluation pairs, whose wording varies more than the tune pairs' (a margin of 0.10).
MIN_TUNE_RECALL = 0.90


def _pair(thresholds: tuple[float, float]) -> str:
    return f"{thresholds[0]:.2f} / {thresholds[1]:.2f}"


def _decide(
    scores: np.ndarray, same: np.ndarray, named: np.ndarray, thresholds: tuple[float, float]
) -> np.ndarray:
    """``nlp.similar``'s rule: past the vetoes (``same``), a score of at least the named
    threshold when both name the place and problem (``named``), else the general one."""
    general, lower = thresholds
    return same & (scores >= np.where(named, lower, general))


def _best_thresholds(
    scores: np.ndarray, same: np.ndarray, named: np.ndarray, gold: np.ndarray
) -> tuple[float, float]:
    """The (general, named) pair of thresholds, named <= general, with the best precision
    among those whose recall is at least MIN_TUNE_RECALL (the lowest of equals); the best F1
    when none keeps that recall."""
    grid = np.round(np.arange(0.02, 0.9, 0.01), 2)
    best: tuple[tuple[float, ...], tuple[float, float]] | None = None
    for general in grid:
        for lower in grid[grid <= general]:
            thresholds = (float(general), float(lower))
            precision, recall = _precision_recall(_decide(scores, same, named, thresholds), gold)
            f1 = 2 * precision * recall / max(precision + recall, 1e-9)
            kept = recall >= MIN_TUNE_RECALL
            key = (float(kept), precision if kept else f1, -general, -lower)
            if best is None or key > best[0]:
                best = (key, thresholds)
    assert best is not None
    return best[1]


def _cross_validated(
    scores: np.ndarray, same: np.ndarray, named: np.ndarray, gold: np.ndarray, folds: np.ndarray
) -> str:
    """Mean precision / recall over the 5 folds, each fold's thresholds chosen on the others."""
    held_out = []
    for fold in range(5):
        train, test = folds != fold, folds == fold
        thresholds = _best_thresholds(scores[train], same[train], named[train], gold[train])
        predicted = _decide(scores[test], same[test], named[test], thresholds)
        held_out.append(_precision_recall(predicted, gold[test]))
    return f"{np.mean([p for p, _ in held_out]):.3f} / {np.mean([r for _, r in held_out]):.3f}"


def section_repeats(args: argparse.Namespace) -> None:
    print("== repeats: precision / recall of `repeat` (place and problem vetoes for every method)")
    reference = read(UNLABELED)
    reference_docs = [
        d for d in documents_of(reference["text"].tolist(), reference["title"].tolist()) if d
    ]
    tune, tune_a, tune_b, tune_place, tune_problem, tune_named = _pairs(TUNE)
    tune_same = tune_place & tune_problem
    tune_gold = (tune["relation"] == "repeat").to_numpy()
    ev, ev_a, ev_b, ev_place, ev_problem, ev_named = _pairs(EVAL)
    ev_same = ev_place & ev_problem
    never = np.zeros(len(tune), dtype=bool)
    ev_gold = (ev["relation"] == "repeat").to_numpy()
    line("tune pairs (data/demo/repeat_pairs_tune.csv)", f"{len(tune)} ({tune_gold.sum()} repeat)")
    line("evaluation pairs (data/eval/repeat_pairs.csv)", f"{len(ev)} ({ev_gold.sum()} repeat)")
    rng = np.random.default_rng(SEED)
    folds = rng.permutation(len(tune)) % 5
    queries = [reference_docs[i % len(reference_docs)] for i in range(1000)]
    for method in (Tfidf(), MinHashes(), Faiss()):
        try:
            started = time.perf_counter()
            method.fit(reference_docs)
            fitted = time.perf_counter() - started
        except ImportError as error:
            print(
                f"-- {method.name}: not installed ({error.name}); pip install datasketch faiss-cpu"
            )
            continue
        print(f"-- {method.name}")
        tune_scores = method.pair_scores(tune_a, tune_b)
        line(
            "tune set, 5-fold CV: precision / recall (mean)",
            _cross_validated(tune_scores, tune_same, tune_named, tune_gold, folds),
        )
        line(
            "tune set, 5-fold CV, one threshold (no lower named one)",
            _cross_validated(tune_scores, tune_same, never, tune_gold, folds),
        )
        line(
            "tune set, 5-fold CV, place veto only",
            _cross_validated(tune_scores, tune_place, tune_named, tune_gold, folds),
        )
        thresholds = _best_thresholds(tune_scores, tune_same, tune_named, tune_gold)
        line("thresholds chosen on the whole tune set: general / named", _pair(thresholds))
        if isinstance(method, Tfidf):
            defaults = (DEFAULT_REPEAT_THRESHOLD, DEFAULT_NAMED_REPEAT_THRESHOLD)
            line("nlp.similar's defaults: general / named", _pair(defaults))
            thresholds = defaults
        ev_scores = method.pair_scores(ev_a, ev_b)
        predicted = _decide(ev_scores, ev_same, ev_named, thresholds)
        precision, recall = _precision_recall(predicted, ev_gold)
        line("EVAL precision / recall of repeat", f"{precision:.3f} / {recall:.3f}")
        everything = np.ones(len(ev), dtype=bool)
        no_veto = _precision_recall(_decide(ev_scores, everything, ev_named, thresholds), ev_gold)
        line("EVAL without the vetoes", f"{no_veto[0]:.3f} / {no_veto[1]:.3f}")
        place_only = _precision_recall(_decide(ev_scores, ev_place, ev_named, thresholds), ev_gold)
        line("EVAL with the place veto only", f"{place_only[0]:.3f} / {place_only[1]:.3f}")
        counts = (
            ev.assign(predicted=predicted).groupby("relation")["predicted"].agg(["sum", "size"])
        )
        line(
            "EVAL called repeat, by gold relation",
            ", ".join(f"{rel} {int(r['sum'])}/{int(r['size'])}" for rel, r in counts.iterrows()),
        )
        if isinstance(method, Tfidf) and EVAL_SECOND.is_file():
            _written_second_judge(ev, predicted, ev_gold)
        started = time.perf_counter()
        method.queries(queries)
        elapsed = time.perf_counter() - started
        line(
            f"index of {len(reference_docs)} messages: build / 1,000 queries",
            f"{fitted:.1f} s / {elapsed:.2f} s",
        )


#: The sittings of the tune pairs (data/demo/README.md): first and last id of each.
TUNE_SITTINGS = (
    ("templates", "rt0001", "rt0175"),
    ("free writing 1", "rt0176", "rt0415"),
    ("free writing 2", "rt0416", "rt0607"),
    ("free writing 3", "rt0608", "rt0727"),
    ("free writing 4, longer posts", "rt0728", "rt0917"),
    ("free writing 5, new kinds of problem", "rt0918", "rt1107"),
)


def section_repeats_sittings(args: argparse.Namespace) -> None:
    """Today's rule (nlp.similar's defaults) on each sitting of the tune pairs: a sitting
    written after the word list is measured here before it joins the tune set. First, the
    tune pairs a hot-spot link would join, with and without the problem veto."""
    print("== repeats_sittings: nlp.similar's rule on each sitting of the tune pairs")
    index = SimilarIndex.from_frame(read(UNLABELED))
    tune, a, b, place, problem, named = _pairs(TUNE)
    scores = np.asarray(index.vectorise(a).multiply(index.vectorise(b)).sum(axis=1)).ravel()
    defaults = (DEFAULT_REPEAT_THRESHOLD, DEFAULT_NAMED_REPEAT_THRESHOLD)
    predicted = _decide(scores, place & problem, named, defaults)
    gold = (tune["relation"] == "repeat").to_numpy()
    other = tune["note"].str.startswith("同一地点不同问题").to_numpy()
    # what a hot-spot link (score >= DEFAULT_LINK_THRESHOLD at one place) joins, with and
    # without the problem veto
    linked = (scores >= DEFAULT_LINK_THRESHOLD) & place
    for label, links in (("place", linked), ("place and problem", linked & problem)):
        line(
            f"pairs a hot-spot link joins ({label}): pairs / share repeat",
            f"{int(links.sum())} / {gold[links].mean():.3f}",
        )
    for name, first, last in TUNE_SITTINGS:
        rows = ((tune["id"] >= first) & (tune["id"] <= last)).to_numpy()
        if not rows.any():
            continue
        precision, recall = _precision_recall(predicted[rows], gold[rows])
        line(
            f"{first}-{last} ({name}): precision / recall",
            f"{precision:.3f} / {recall:.3f}; repeats told apart "
            f"{int((gold & rows & ~predicted).sum())}/{int((gold & rows).sum())}, different "
            f"problems at one place called repeats {int((other & rows & predicted).sum())}"
            f"/{int((other & rows).sum())}",
        )


# ----------------------------------------------------------------------------- real posts

#: Judged pairs of unlabeled.csv (ids only, no text) that chose the thresholds ...
REAL_TUNE = ROOT / "data" / "demo" / "repeat_pairs_real.csv"
#: ... and a later sample of the calls of the rule so chosen, judged afterwards (report only).
REAL_EVAL = ROOT / "data" / "eval" / "repeat_pairs_real.csv"
#: A second judge's relation for 100 of ``REAL_EVAL``'s pairs (50 called, 50 not).
REAL_EVAL_SECOND = ROOT / "data" / "eval" / "repeat_pairs_real_second.csv"
#: Recall on the written tune pairs that chosen thresholds must keep: the recall the target
#: asks of the written evaluation pairs.
MIN_WRITTEN_RECALL = 0.80


def _real_pairs(
    index: SimilarIndex, path: Path
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A judged sample of same-place pairs of unlabeled.csv (``sample, a_id, b_id, cell,
    cell_pairs, relation, note``: each pair drawn at random from its cell, a part of the
    pairs a rule called, of ``cell_pairs`` pairs), with today's score, vetoes (place and
    problem) and lower threshold's case for each pair, and each pair's weight: how many
    pairs of its cell it stands for."""
    judged = pd.read_csv(path, dtype=str, keep_default_na=False)
    documents = dict(zip(index.ids, index.documents, strict=True))
    a = [documents[key] for key in judged["a_id"]]
    b = [documents[key] for key in judged["b_id"]]
    scores = np.asarray(index.vectorise(a).multiply(index.vectorise(b)).sum(axis=1)).ravel()
    same, problem, named = _pair_keys(a, b, scores)
    vetoes = same & problem
    sampled = judged.groupby("cell")["cell"].transform("size").to_numpy()
    weights = judged["cell_pairs"].astype(float).to_numpy() / sampled
    return judged, scores, vetoes, named, weights


def _cells(judged: pd.DataFrame, gold: np.ndarray, prefix: str) -> None:
    """Each cell of a judged sample: its pairs, how many were judged, the share of repeats."""
    for cell, rows in judged.groupby("cell").groups.items():
        at = judged.index.get_indexer(rows)
        line(
            f"  {prefix}cell {cell}: pairs / judged / repeat share",
            f"{judged['cell_pairs'].iloc[at[0]]} / {len(at)} / {gold[at].mean():.3f}",
        )


def _weighted(
    predicted: np.ndarray, gold: np.ndarray, weights: np.ndarray
) -> tuple[float, float, float]:
    """Precision of the pairs ``predicted``, and how many pairs of the population they stand
    for were called and were repeats."""
    called = float(weights[predicted].sum())
    right = float(weights[predicted & gold].sum())
    return right / max(called, 1e-9), called, right


def section_repeats_real(args: argparse.Namespace) -> None:
    """The rule on real posts: judged pairs of unlabeled.csv, weighted to the pairs they
    stand for. The thresholds: the best precision on ``REAL_TUNE`` among those that keep
    recall at ``MIN_WRITTEN_RECALL`` on the written tune pairs. Then today's rule on
    ``REAL_EVAL`` (drawn after the choice from cells that split every same-place pair, called
    or not; report only): its precision, and its recall of the repeats among those pairs."""
    print("== repeats_real: judged pairs of unlabeled.csv (same place, 30d, top 5)")
    index = SimilarIndex.from_frame(read(UNLABELED))
    tune, tune_a, tune_b, place, problem, tune_named = _pairs(TUNE)
    tune_scores = np.asarray(
        index.vectorise(tune_a).multiply(index.vectorise(tune_b)).sum(axis=1)
    ).ravel()
    tune_gold = (tune["relation"] == "repeat").to_numpy()
    judged, scores, vetoes, named, weights = _real_pairs(index, REAL_TUNE)
    gold = (judged["relation"] == "repeat").to_numpy()
    line(
        "judged pairs (tune) / pairs they stand for",
        f"{len(judged)} / {int(judged.groupby('cell')['cell_pairs'].first().astype(int).sum())}",
    )
    _cells(judged, gold, "")
    # the cells hold every pair a rule with thresholds of at least these could call
    grid = np.round(np.arange(0.11, 0.41, 0.01), 2)
    best: tuple[tuple[float, ...], tuple[float, float]] | None = None
    for general in grid:
        for lower in np.round(np.arange(0.04, general + 0.001, 0.01), 2):
            thresholds = (float(general), float(lower))
            written = _precision_recall(
                _decide(tune_scores, place & problem, tune_named, thresholds), tune_gold
            )
            if written[1] < MIN_WRITTEN_RECALL:
                continue
            precision = _weighted(_decide(scores, vetoes, named, thresholds), gold, weights)[0]
            key = (round(precision, 3), -general, -lower)
            if best is None or key > best[0]:
                best = (key, thresholds)
    assert best is not None
    defaults = (DEFAULT_REPEAT_THRESHOLD, DEFAULT_NAMED_REPEAT_THRESHOLD)
    for name, thresholds in (
        (f"chosen (written tune recall >= {MIN_WRITTEN_RECALL:.2f})", best[1]),
        ("nlp.similar's defaults", defaults),
        ("the thresholds before (the written pairs' choice)", (0.11, 0.04)),
    ):
        precision, called, right = _weighted(
            _decide(scores, vetoes, named, thresholds), gold, weights
        )
        written = _precision_recall(
            _decide(tune_scores, place & problem, tune_named, thresholds), tune_gold
        )
        line(
            f"{name} {_pair(thresholds)}",
            f"real precision {precision:.3f} ({right:.0f} repeats in {called:.0f} calls); "
            f"written tune pairs {written[0]:.3f} / {written[1]:.3f}",
        )
    _long_veto_scores(index, judged, scores, named, gold, weights)
    told_apart = place & ~problem & (tune_scores >= getattr(nlp.similar, "LONG_VETO_SCORE", 2.0))
    line(
        "  written tune pairs the word list tells apart from that score: repeats",
        f"{int(tune_gold[told_apart].sum())} of {int(told_apart.sum())} (all short: "
        "the exception does not reach them)",
    )
    if not REAL_EVAL.is_file():
        return
    judged, scores, vetoes, named, weights = _real_pairs(index, REAL_EVAL)
    gold = (judged["relation"] == "repeat").to_numpy()
    predicted = _decide(scores, vetoes, named, defaults)
    precision, called, right = _weighted(predicted, gold, weights)
    line(
        "EVAL judged pairs: judged / called by today's rule / the calls they stand for",
        f"{len(judged)} / {int(predicted.sum())} / {called:.0f}",
    )
    line("EVAL real precision of today's rule", f"{precision:.3f} ({right:.0f} repeats)")
    repeats = float(weights[gold].sum())
    line(
        "EVAL real recall of today's rule (of the repeats among all the cells' pairs)",
        f"{right / max(repeats, 1e-9):.3f} ({right:.0f} of {repeats:.0f})",
    )
    _cells(judged, gold, "EVAL ")
    if REAL_EVAL_SECOND.is_file():
        _second_judge(judged, predicted, gold)


def _long_veto_scores(
    index: SimilarIndex,
    judged: pd.DataFrame,
    scores: np.ndarray,
    named: np.ndarray,
    gold: np.ndarray,
    weights: np.ndarray,
) -> None:
    """How ``nlp.similar.LONG_VETO_SCORE`` was chosen: the rule's precision, recall (of the
    repeats in the judged cells) and F1 on the judged tune pairs with the problem veto lifted
    for long letters from each score (the best F1 chosen; the written pairs are all short)."""
    if not hasattr(nlp.similar, "LONG_VETO_SCORE"):
        return
    documents = dict(zip(index.ids, index.documents, strict=True))
    a = [documents[key] for key in judged["a_id"]]
    b = [documents[key] for key in judged["b_id"]]
    defaults = (DEFAULT_REPEAT_THRESHOLD, DEFAULT_NAMED_REPEAT_THRESHOLD)
    chosen = nlp.similar.LONG_VETO_SCORE
    figures = []
    try:
        for lifted in (0.15, 0.20, 0.25, 0.30, 2.0):
            nlp.similar.LONG_VETO_SCORE = lifted
            same, problem, _ = _pair_keys(a, b, scores)
            precision, _, right = _weighted(
                _decide(scores, same & problem, named, defaults), gold, weights
            )
            recall = right / float(weights[gold].sum())
            figures.append((lifted, precision, recall))
    finally:
        nlp.similar.LONG_VETO_SCORE = chosen
    # the judged pairs the veto would keep out with a long letter, by score
    _, plain, _ = _pair_keys(a, b)
    longest = np.array([max(len(x), len(y)) for x, y in zip(a, b, strict=True)])
    long = longest > nlp.similar.NAMED_MAX_CHARS
    kept_out = ~plain & long & (scores >= 0.11)
    for label, rows in (
        (f"from {chosen:.2f}", kept_out & (scores >= chosen)),
        (f"0.11 to {chosen:.2f}", kept_out & (scores < chosen)),
    ):
        line(
            f"  different problems by the word list, a long letter, {label}: repeats",
            f"{int(gold[rows].sum())} of {int(rows.sum())}",
        )
    for lifted, precision, recall in figures:
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        what = "never" if lifted > 1 else f"from {lifted:.2f}"
        mark = "  <- nlp.similar" if lifted == chosen else ""
        line(
            f"  veto lifted for long letters {what}: precision / recall / F1",
            f"{precision:.3f} / {recall:.3f} / {f1:.3f}{mark}",
        )


def _second_judge(judged: pd.DataFrame, predicted: np.ndarray, gold: np.ndarray) -> None:
    """How a second judge of some of the evaluation pairs agrees with the first (repeat or
    not), and today's rule on those pairs by each judge's relation (each pair weighed by its
    cell, as above)."""
    second = pd.read_csv(REAL_EVAL_SECOND, dtype=str, keep_default_na=False)
    at = judged.reset_index().merge(second, on=["a_id", "b_id"], suffixes=("", "_second"))
    rows = at["index"].to_numpy()
    other = (at["relation_second"] == "repeat").to_numpy()
    first = gold[rows]
    same = (at["relation"] == at["relation_second"]).mean()
    line(
        "EVAL second judge: pairs / agree on repeat or not / on the relation / repeats (each)",
        f"{len(at)} / {(first == other).mean():.3f} / {same:.3f} / "
        f"{int(first.sum())}, {int(other.sum())}",
    )
    # each pair now stands for its cell's pairs divided by the doubly judged of its cell
    counted = at.groupby("cell")["cell"].transform("size").to_numpy()
    share = at["cell_pairs"].astype(float).to_numpy() / counted
    for name, relation in (("first", first), ("second", other)):
        precision, _, right = _weighted(predicted[rows], relation, share)
        recall = right / max(float(share[relation].sum()), 1e-9)
        line(
            f"  EVAL these pairs by the {name} judge: precision / recall",
            f"{precision:.3f} / {recall:.3f}",
        )


# ----------------------------------------------------------------------------- a learned decision

#: What a learned pair decision reads of a pair (``repeats_cv``): the score, its word and
#: character cosines, whether both name places (that match) or one names none, whether their
#: problem keys share an object, share none, or one names none, whether their numbered
#: things (``3栋``, ``28路``) differ or match, and the log length of the shorter and the
#: longer document.
PAIR_FEATURES = (
    "score",
    "word",
    "char",
    "place_shared",
    "place_missing",
    "problem_shared",
    "problem_disjoint",
    "problem_missing",
    "numbers_differ",
    "numbers_shared",
    "length_short",
    "length_long",
)
_NUMBERED = re.compile(r"(\d+)\s*(栋|幢|号楼|单元|路|号线|期|号|层|楼)")
#: The least score a learned decision looks at (below it, never a repeat).
LEARNED_FLOOR = 0.05


def repeat_pair_groups(pairs: pd.DataFrame) -> np.ndarray:
    """A group number per tune pair such that the variants of one scene or template share a
    group: each text reduced to its wording without its place keys, digits and punctuation
    (rows rt0001 and rt0002 are one text with two place names), and two wordings joined when
    a ``repeat`` or ``same_topic`` pair links them; an ``unrelated`` pair (two scenes) goes
    with its first text's group."""

    def wording(text: str) -> str:
        document = documents_of([text])[0] or ""
        for place in sorted(place_keys(document), key=len, reverse=True):
            document = document.replace(place, "")
        return re.sub(r"[\W\d_]+", "", document)

    first = [wording(t) for t in pairs["a_text"].tolist()]
    second = [wording(t) for t in pairs["b_text"].tolist()]
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for a, b, relation in zip(first, second, pairs["relation"].tolist(), strict=True):
        root(a), root(b)
        if relation != "unrelated":
            parent[root(a)] = root(b)
    roots = [root(a) for a in first]
    numbers = {key: n for n, key in enumerate(dict.fromkeys(roots))}
    return np.array([numbers[key] for key in roots], dtype=np.int64)


def pair_features(
    index: SimilarIndex, a: list[str], b: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:data:`PAIR_FEATURES` of each pair of normalised documents with ``index``'s IDF, the
    gate of a learned decision (score >= LEARNED_FLOOR, no two different places), and whether
    the pair passes today's place and problem vetoes."""
    from nlp.similar import N_FEATURES

    rows_a, rows_b = index.vectorise(a), index.vectorise(b)
    product = rows_a.multiply(rows_b).tocsr()
    owner = np.repeat(np.arange(product.shape[0]), np.diff(product.indptr))
    is_word = product.indices < N_FEATURES // 2
    parts = [
        np.bincount(owner[mask], weights=product.data[mask], minlength=len(a))
        for mask in (is_word, ~is_word)
    ]
    words, chars = 2.0 * parts[0], 2.0 * parts[1]  # each half of a row has length 1/sqrt(2)
    rows, gate, vetoes = [], [], []
    for x, y, word, char in zip(a, b, words, chars, strict=True):
        px, py = place_keys(x), place_keys(y)
        kx, ky = problem_keys(x, px), problem_keys(y, py)
        nx = {m.group(0) for m in _NUMBERED.finditer(x)}
        ny = {m.group(0) for m in _NUMBERED.finditer(y)}
        score, missing, same = (word + char) / 2, not px or not py, same_place(px, py)
        rows.append(
            [
                score,
                word,
                char,
                float(not missing and same),
                float(missing),
                float(bool(kx & ky)),
                float(bool(kx and ky and not kx & ky)),
                float(not kx or not ky),
                float(bool(nx and ny and not nx & ny)),
                float(bool(nx & ny)),
                np.log1p(min(len(x), len(y))),
                np.log1p(max(len(x), len(y))),
            ]
        )
        gate.append(score >= LEARNED_FLOOR and same)
        vetoes.append(same and same_problem(kx, ky))
    return np.array(rows), np.array(gate, dtype=bool), np.array(vetoes, dtype=bool)


def _fit_decision(
    features: np.ndarray, gate: np.ndarray, gold: np.ndarray, groups: np.ndarray
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A logistic regression (standardised features, C=0.1) fitted on these pairs, and its
    probability threshold chosen on their grouped held-out folds (MIN_TUNE_RECALL, as the
    rule's threshold): the decision as a function of features and gate."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def fit(rows: np.ndarray) -> Any:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1_000))
        return model.fit(features[rows], gold[rows])

    held_out = np.zeros(len(gold))
    for train, test in GroupKFold(n_splits=5).split(features, gold, groups):
        held_out[test] = np.where(gate[test], fit(train).predict_proba(features[test])[:, 1], 0)
    everything, never = np.ones(len(gold), dtype=bool), np.zeros(len(gold), dtype=bool)
    threshold = _best_thresholds(held_out, everything, never, gold)[0]
    model = fit(np.arange(len(gold)))
    return lambda rows, passed: passed & (model.predict_proba(rows)[:, 1] >= threshold)


def section_repeats_cv(args: argparse.Namespace) -> None:
    """Today's rule against a learned pair decision by grouped 5-fold CV on the tune pairs,
    then both on the same-place pairs of unlabeled.csv (no labels: how many each calls a
    repeat, and how long the texts are). data/eval is not read."""
    from sklearn.model_selection import GroupKFold

    print("== repeats_cv: today's rule against a learned pair decision (tune pairs only)")
    index = SimilarIndex.from_frame(read(UNLABELED))
    tune = read(TUNE)
    a = [d or "" for d in documents_of(tune["a_text"].tolist())]
    b = [d or "" for d in documents_of(tune["b_text"].tolist())]
    features, gate, vetoes = pair_features(index, a, b)
    scores = features[:, 0]
    gold = (tune["relation"] == "repeat").to_numpy()
    groups = repeat_pair_groups(tune)
    line("tune pairs / groups (scenes and templates)", f"{len(tune)} / {len(np.unique(groups))}")
    columns = {
        "every feature": list(range(len(PAIR_FEATURES))),
        "without the lengths": [
            i for i, name in enumerate(PAIR_FEATURES) if not name.startswith("length")
        ],
    }
    held: dict[str, list[tuple[float, float]]] = {}

    def record(name: str, predicted: np.ndarray, test: np.ndarray) -> None:
        held.setdefault(name, []).append(_precision_recall(predicted, gold[test]))

    named = _pairs(TUNE)[5]
    defaults = (DEFAULT_REPEAT_THRESHOLD, DEFAULT_NAMED_REPEAT_THRESHOLD)
    for train, test in GroupKFold(n_splits=5).split(features, gold, groups):
        chosen = _best_thresholds(scores[train], vetoes[train], named[train], gold[train])
        record(
            "today's rule, thresholds chosen on the other folds",
            _decide(scores[test], vetoes[test], named[test], chosen),
            test,
        )
        rule = _decide(scores[test], vetoes[test], named[test], defaults)
        record(f"today's rule at {_pair(defaults)}", rule, test)
        for name, kept in columns.items():
            decide = _fit_decision(
                features[train][:, kept], gate[train], gold[train], groups[train]
            )
            record(
                f"logistic regression, {name}", decide(features[test][:, kept], gate[test]), test
            )
    for name, folds in held.items():
        table = np.array(folds)
        line(
            f"{name}: precision / recall",
            f"{table[:, 0].mean():.3f} / {table[:, 1].mean():.3f} "
            f"(folds: {', '.join(f'{p:.2f}/{r:.2f}' for p, r in folds)})",
        )
    # the same decisions on real posts: the same-place pairs of unlabeled.csv within 30 days
    links = index.neighbours(window="30d", min_score=LEARNED_FLOOR, k=5)
    links = links[links["same_place"].to_numpy()]
    documents = index.documents
    real = pair_features(
        index,
        [documents[s] for s in links["source"].tolist()],
        [documents[t] for t in links["target"].tolist()],
    )
    lengths = np.array([len(d) for d in a + b])
    line(
        "tune texts: characters, 5 / 50 / 95th percentile",
        " / ".join(f"{q:.0f}" for q in np.percentile(lengths, [5, 50, 95])),
    )
    line(
        "unlabeled.csv texts: characters, 5 / 50 / 95th percentile",
        " / ".join(f"{q:.0f}" for q in np.percentile([len(d) for d in documents], [5, 50, 95])),
    )
    line("unlabeled.csv, same-place pairs (30d, top 5, score >= 0.05)", f"{len(links)}")
    line("  called repeats by today's rule", f"{int(links['repeat'].sum())}")
    for name, kept in columns.items():
        decide = _fit_decision(features[:, kept], gate, gold, groups)
        called = int(decide(real[0][:, kept], real[1]).sum())
        line(f"  called repeats by the logistic regression, {name}", f"{called}")


# ----------------------------------------------------------------------------- hot spots

_REPORT: dict[str, object] = {}


def _report():  # type: ignore[no-untyped-def]
    if "report" not in _REPORT:
        frame = read(UNLABELED)
        started = time.perf_counter()
        _REPORT["report"] = hotspots(frame, window="7d", top=5)
        _REPORT["seconds"] = time.perf_counter() - started
        _REPORT["frame"] = frame
    return _REPORT["report"]


def section_hotspots(args: argparse.Namespace) -> None:
    print("== hotspots: ../shared/data/appeals/unlabeled.csv, window 7d, top 5")
    report = _report()
    line("tickets", f"{len(_REPORT['frame'])}")  # type: ignore[arg-type]
    line("time of the run (index, links, groups, tables)", f"{_REPORT['seconds']:.1f} s")
    line("groups of 3 or more tickets", f"{len(report.groups)}")
    with pd.option_context("display.width", 200, "display.max_colwidth", 40):
        print(report.problems.to_string(index=False))
    for problem in report.problems["问题ID"]:
        group = report.groups.set_index("problem_id").loc[problem]
        titles = report.messages.loc[report.messages["问题ID"] == problem, "留言主题"].tolist()
        print(
            f"  problem {problem}: {group['tickets']:.0f} tickets, {group['users']:.0f} writers, "
            f"{group['likes']:.0f} likes; e.g. {' / '.join(titles[:3])}"
        )


def _sample(report) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    rows = report.rows[report.rows["group"].notna()]
    sample = rows.sample(n=min(200, len(rows)), random_state=SEED)
    return pd.DataFrame(
        {"message_id": sample["留言编号"].astype(str), "problem_id": sample["group"].astype(int)}
    )


def section_purity(args: argparse.Namespace) -> None:
    print("== purity: 200 grouped messages of unlabeled.csv (seed 16), judged by hand")
    report = _report()
    if args.purity_sheet is not None:
        sample = _sample(report)
        frame = _REPORT["frame"].set_index("id")  # type: ignore[attr-defined]
        groups = report.groups.set_index("problem_id")
        sheet = sample.assign(
            description=[groups.loc[p, "description"] for p in sample["problem_id"]],
            place=[groups.loc[p, "place"] for p in sample["problem_id"]],
            title=[frame.loc[m, "title"] for m in sample["message_id"]],
        )
        sheet.to_csv(args.purity_sheet, index=False, encoding="utf-8-sig")
        line("sheet for the judge written to", str(args.purity_sheet))
    judgements = {}
    for path in (PURITY, EARLIER_PURITY):
        if not path.exists():
            line("no judgement file", f"{path.relative_to(ROOT)} (see --purity-sheet)")
            continue
        print(f"-- {path.relative_to(ROOT)}")
        judgements[path] = _purity(report, read(path))
    if len(judgements) == 2:
        both = judgements[PURITY].merge(judgements[EARLIER_PURITY], on="message_id")
        fresh, earlier = both["same_problem_x"] == "yes", both["same_problem_y"] == "yes"
        line(
            "messages both judged: agreement; yes by the fresh / earlier judgement",
            f"{len(both)}: {(fresh == earlier).mean():.3f}; {fresh.mean():.3f} / "
            f"{earlier.mean():.3f} (yes only in the fresh {int((fresh & ~earlier).sum())}, "
            f"only in the earlier {int((earlier & ~fresh).sum())})",
        )


def _purity(report, judged: pd.DataFrame) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Prints the purity of one judgement of the sample against today's grouping; returns the
    judgement (message_id, same_problem)."""
    now = report.rows.set_index("留言编号")["group"]
    judged["now"] = [now.get(m) for m in judged["message_id"].astype(str)]
    # a judged group is today's group that holds most of its judged messages
    follows = (
        judged.dropna(subset=["now"])
        .groupby("problem_id")["now"]
        .agg(lambda groups: groups.value_counts().index[0])
    )
    judged["followed"] = judged["problem_id"].map(follows)
    missing = judged["now"].isna()
    changed = (~missing) & (judged["now"] != judged["followed"])
    if missing.any() or changed.any():
        print(
            f"  WARNING: the grouping changed since the judgement: {int(missing.sum())} judged "
            f"message(s) no longer grouped, {int(changed.sum())} now in another group than "
            "their fellows (left out; when many are, redo the judgement with --purity-sheet)"
        )
    valid = judged[~missing & ~changed]
    yes = (valid["same_problem"] == "yes").sum()
    line("judged messages still in their judged group", f"{len(valid)} of {len(judged)}")
    line("purity (share judged the same problem as the group)", f"{yes / max(len(valid), 1):.3f}")
    return judged[["message_id", "same_problem"]]


# ----------------------------------------------------------------------------- scale


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentiles(milliseconds: list[float]) -> str:
    ordered = sorted(milliseconds)
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    return f"{statistics.median(ordered):.2f} ms / {p99:.2f} ms"


def _first_repeat(matches: list[Any]) -> str | None:
    """What ``repeat_of`` answers from a lookup: the first likely repeat of its top few."""
    return next((m.id for m in matches[:REPEAT_CANDIDATES] if m.repeat), None)


def _pruning() -> None:
    print("== scale: what the fast lookup's candidates lose (unlabeled.csv, every message)")
    frame = read(UNLABELED)
    index = SimilarIndex.from_frame(frame)
    prepared = {
        str(ticket): index.prepare(text, title)
        for ticket, text, title in zip(frame["id"], frame["text"], frame["title"], strict=True)
    }
    asked = list(zip(index.ids, index.times, strict=True))
    for window in ("30d", None):
        label = f"window {window or 'none'}"
        exact_ms: list[float] = []
        exact: dict[str, list[Any]] = {}
        for ticket, when in asked:
            started = time.perf_counter()
            exact[ticket] = index.similar(
                None, time=when, window=window, k=5, prepared=prepared[ticket], exact=True
            )
            exact_ms.append((time.perf_counter() - started) * 1000)
        total = sum(len(found) for found in exact.values())
        repeats = sum(match.repeat for found in exact.values() for match in found)
        line(f"{label}: exact lookup p50", f"{statistics.median(exact_ms):.2f} ms")
        for count in sorted({CANDIDATES, REPEAT_SCORED or CANDIDATES, 100, 25}, reverse=True):
            kept = kept_repeats = same_repeat_of = 0
            fast_ms: list[float] = []
            for ticket, when in asked:
                started = time.perf_counter()
                fast = index.similar(
                    None,
                    time=when,
                    window=window,
                    k=5,
                    prepared=prepared[ticket],
                    candidates=count,
                )
                fast_ms.append((time.perf_counter() - started) * 1000)
                found = {match.id for match in fast}
                kept += sum(match.id in found for match in exact[ticket])
                kept_repeats += sum(match.repeat and match.id in found for match in exact[ticket])
                same_repeat_of += _first_repeat(fast) == _first_repeat(exact[ticket])
            named = {CANDIDATES: " (similar)", REPEAT_SCORED: " (repeat_of)"}.get(count, "")
            line(
                f"{label}, {count} candidates{named}: top-5 matches / likely repeats kept",
                f"{kept / max(total, 1):.4f} ({kept} of {total}) / "
                f"{kept_repeats / max(repeats, 1):.4f} ({kept_repeats} of {repeats})",
            )
            line(
                f"{label}, {count} candidates: repeat_of as exact / lookup p50",
                f"{same_repeat_of} of {len(asked)} / {statistics.median(fast_ms):.2f} ms",
            )


def _index_megabytes(index: SimilarIndex) -> tuple[float, float]:
    """The index's rows and inverted lists, in MB (their arrays; ids, documents and places
    are shared with the data here)."""
    sizes = []
    for matrix in (index._matrix, index._postings):  # measuring the index
        if matrix is None:
            sizes.append(0.0)
            continue
        sizes.append((matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes) / 1e6)
    return sizes[0], sizes[1]


def _lookup_at_scale(rows: int) -> None:
    print(f"== scale: lookups against {rows:,} tickets (unlabeled.csv's prepared rows, tiled)")
    base = read(UNLABELED)
    base = base.assign(when=parse_times(base["time"].tolist())).sort_values("when", kind="stable")
    started = time.perf_counter()
    index = SimilarIndex()
    prepared = [index.prepare(x, t) for x, t in zip(base["text"], base["title"], strict=True)]
    keep = [i for i, ready in enumerate(prepared) if ready is not None]
    base, ready = base.iloc[keep], [prepared[i] for i in keep]
    line(f"{len(base):,} messages prepared", f"{time.perf_counter() - started:.1f} s")
    when = base["when"].to_numpy()
    shift = when.max() - when.min() + np.timedelta64(1, "D")
    copies = -(-rows // len(base))
    ids = [f"{ticket}-{copy}" for copy in range(copies) for ticket in base["id"]][:rows]
    times = np.concatenate([when + copy * shift for copy in range(copies)])[:rows]
    before = _peak_rss_mb()
    started = time.perf_counter()
    index.add(ids=ids, times=list(times), texts=[None] * rows, prepared=(ready * copies)[:rows])
    built = time.perf_counter() - started
    queries = base.sample(n=200, random_state=SEED)
    asked = [index.prepare(x, t) for x, t in zip(queries["text"], queries["title"], strict=True)]
    started = time.perf_counter()
    index.similar(None, window=None, prepared=asked[0])  # builds the inverted lists
    listed = time.perf_counter() - started
    line("index built from the tiled rows / its inverted lists", f"{built:.1f} s / {listed:.1f} s")
    prepared_ms, text_ms = [], []
    for ready_query, text, title in zip(asked, queries["text"], queries["title"], strict=True):
        started = time.perf_counter()
        index.similar(None, window=None, k=5, prepared=ready_query)
        prepared_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        index.similar(text, title, window=None, k=5)
        text_ms.append((time.perf_counter() - started) * 1000)
    line("similar(prepared ticket, no window, k=5): p50 / p99", _percentiles(prepared_ms))
    line("similar(text and title, no window, k=5): p50 / p99", _percentiles(text_ms))
    rows_mb, lists_mb = _index_megabytes(index)
    line("memory: rows / inverted lists", f"{rows_mb:,.0f} MB / {lists_mb:,.0f} MB")
    line("peak RSS before the build / now", f"{before:,.0f} MB / {_peak_rss_mb():,.0f} MB")


def section_scale(args: argparse.Namespace) -> None:
    _pruning()
    if args.scale_rows:
        _build_at_scale(args.scale_rows)
    if args.lookup_rows:
        _lookup_at_scale(args.lookup_rows)


def _build_at_scale(rows: int) -> None:
    print(f"== scale: an index over {rows:,} tickets (copies of unlabeled.csv, times shifted)")
    base = read(UNLABELED)
    copies = -(-rows // len(base))
    frames = []
    for copy in range(copies):
        frame = base.copy()
        frame["id"] = frame["id"] + f"-{copy}"
        frame["time"] = (
            pd.to_datetime(frame["time"], format="mixed") + pd.Timedelta(days=400 * copy)
        ).astype(str)
        frames.append(frame)
    tickets = pd.concat(frames, ignore_index=True).iloc[:rows]
    before = _peak_rss_mb()
    started = time.perf_counter()
    index = SimilarIndex.from_frame(tickets)
    built = time.perf_counter() - started
    line("build", f"{built:.1f} s ({rows / built:,.0f} tickets/s)")
    line("peak RSS before / after the build", f"{before:,.0f} MB / {_peak_rss_mb():,.0f} MB")
    queries = tickets.sample(n=200, random_state=SEED)
    latencies = []
    for text, title, when in zip(queries["text"], queries["title"], queries["time"], strict=True):
        started = time.perf_counter()
        index.similar(text, title, time=when, window="30d", k=5)
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    line(
        "similar(window=30d, k=5): p50 / p99",
        f"{statistics.median(latencies):.1f} ms / {p99:.1f} ms",
    )
    started = time.perf_counter()
    links = index.neighbours(window="7d", min_score=0.2)
    line(
        "neighbours(window=7d) over all",
        f"{time.perf_counter() - started:.1f} s, {len(links):,} links",
    )
    line("peak RSS", f"{_peak_rss_mb():,.0f} MB")


# ----------------------------------------------------------------------------- hotspots_scale

_RUN = """
import sys, time
from service.cli import main
started = time.perf_counter()
code = main(["hotspots", sys.argv[1], "--jobs", sys.argv[2], "--out", sys.argv[3]])
print(f"RESULT {code} {time.perf_counter() - started:.1f}")
"""


def _watch_peaks(run: subprocess.Popen[str]) -> dict[int, float]:
    """Each process's peak resident memory (MB), the command's and its workers', read from
    ``/proc/PID/status`` (VmHWM: the peak since the process started its program) every
    half second until the command ends. Not ``getrusage``: a spawned process counts the
    memory of the process it was forked from, before it started its own program."""
    peaks: dict[int, float] = {}

    def tree(pid: int) -> list[int]:
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return [pid]
        return [pid, *(p for child in children for p in tree(int(child)))]

    while run.poll() is None:
        for pid in tree(run.pid):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for row in status.splitlines():
                if row.startswith("VmHWM:"):
                    peaks[pid] = max(peaks.get(pid, 0.0), int(row.split()[1]) / 1024)
        time.sleep(0.5)
    return peaks


def _tiled(rows: int, days_per_copy: float) -> pd.DataFrame:
    base = read(UNLABELED)
    when = pd.to_datetime(base["time"], format="mixed")
    start = when.quantile(0.001)  # a few messages years before the rest are moved up to it
    offset = (when - start).clip(lower=pd.Timedelta(0))
    squeezed = offset * (days_per_copy * 86_400 / offset.max().total_seconds())
    copies = -(-rows // len(base))
    frames = []
    for copy in range(copies):
        frame = base.copy()
        frame["id"] = frame["id"].astype(str) + f"-{copy}"
        frame["user"] = frame["user"].astype(str) + f"-{copy}"
        first = pd.Timestamp("2000-01-01") + pd.Timedelta(days=copy * (days_per_copy + 8))
        frame["time"] = (first + squeezed).dt.strftime("%Y-%m-%d %H:%M:%S")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True).iloc[:rows]


def section_hotspots_scale(args: argparse.Namespace) -> None:
    sizes = [int(size) for size in args.run_rows.split(",")]
    print(
        f"== hotspots_scale: appeals hotspots --jobs {args.jobs} over tiled unlabeled.csv "
        f"({args.days_per_copy:g} days per copy of {len(read(UNLABELED)):,} messages)"
    )
    tiled = _tiled(max(sizes), args.days_per_copy)
    with tempfile.TemporaryDirectory(prefix="hotspots-scale-") as folder:
        for size in sizes:
            path = Path(folder) / f"tickets-{size}.csv"
            tiled.iloc[:size].to_csv(path, index=False)
            run = subprocess.Popen(
                [sys.executable, "-c", _RUN, str(path), str(args.jobs), f"{folder}/out-{size}"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            peaks = _watch_peaks(run)
            stdout, stderr = run.communicate()
            result = [row for row in stdout.splitlines() if row.startswith("RESULT ")]
            if run.returncode or not result:
                line(f"{size:,} tickets", f"FAILED: {stderr.strip()[-500:]}")
                continue
            code, seconds = result[0].split()[1:3]
            own = peaks.pop(run.pid, 0.0)
            workers = max(peaks.values(), default=0.0)
            summary = stdout.splitlines()[0]
            line(
                f"{size:,} tickets: end to end, tickets/s",
                f"{float(seconds):.0f} s, {size / float(seconds):,.0f}/s (exit {code})",
            )
            line(f"{size:,} tickets: what it found", summary.split(": ", 1)[-1])
            line(
                f"{size:,} tickets: peak RSS, command / each worker",
                f"{own:,.0f} MB / {workers:,.0f} MB "
                f"(the file: {path.stat().st_size / 1e6:,.0f} MB)",
            )
            path.unlink()


def section_prepare(args: argparse.Namespace) -> None:
    """What a lookup costs a ticket, in CPU time: preparing it (``SimilarIndex.prepare``:
    masking, segmenting, places, term counts) and ``similar`` with it against the 2,000
    messages before it, with the candidates of ``/v1/similar`` and with those of
    ``repeat_of`` (``REPEAT_SCORED``), for 300 messages of unlabeled.csv (public API only,
    so that the same section can be run on an older checkout with ``PYTHONPATH``)."""
    print(
        "== prepare: SimilarIndex.prepare, similar(prepared) and the repeat lookup's "
        "similar(prepared, candidates=REPEAT_SCORED), CPU time, 300 messages"
    )
    frame = read(UNLABELED)
    index = SimilarIndex.from_frame(frame.head(2000))
    asked = frame.iloc[2000:2300]
    for text, title in zip(asked["text"][:5], asked["title"][:5], strict=True):
        index.prepare(text, title)  # warm: the segmenter and the compiled code load once
    for round_ in range(3):
        preparing, looking, repeating = [], [], []
        for text, title in zip(asked["text"], asked["title"], strict=True):
            started = time.thread_time()
            ready = index.prepare(text, title)
            preparing.append(time.thread_time() - started)
            started = time.thread_time()
            index.similar(None, prepared=ready, window=None, k=5)
            looking.append(time.thread_time() - started)
            if REPEAT_SCORED is not None:
                started = time.thread_time()
                index.similar(
                    None,
                    prepared=ready,
                    window=None,
                    k=REPEAT_CANDIDATES,
                    candidates=REPEAT_SCORED,
                )
                repeating.append(time.thread_time() - started)
        repeat = f"{statistics.median(repeating) * 1e3:.2f} ms" if repeating else "n/a"
        line(
            f"round {round_ + 1}: prepare / similar(prepared) / repeat lookup, p50",
            f"{statistics.median(preparing) * 1e3:.2f} ms / "
            f"{statistics.median(looking) * 1e3:.2f} ms / {repeat}",
        )


SECTIONS: dict[str, Callable[[argparse.Namespace], None]] = {
    "repeats": section_repeats,
    "hotspots": section_hotspots,
    "purity": section_purity,
    "scale": section_scale,
}
OPTIONAL_SECTIONS: dict[str, Callable[[argparse.Namespace], None]] = {
    "repeats_cv": section_repeats_cv,
    "repeats_sittings": section_repeats_sittings,
    "repeats_real": section_repeats_real,
    "hotspots_scale": section_hotspots_scale,
    "prepare": section_prepare,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--scale-rows", type=int, default=20_000)
    parser.add_argument("--lookup-rows", type=int, default=100_000)
    parser.add_argument("--purity-sheet", type=Path, default=None)
    parser.add_argument("--run-rows", default="250000,1000000")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--days-per-copy", type=float, default=30.0)
    args = parser.parse_args()
    for name in args.sections.split(","):
        {**SECTIONS, **OPTIONAL_SECTIONS}[name.strip()](args)


if __name__ == "__main__":
    main()
