"""The judged pairs of real posts (bench/hotspots.py --sections repeats_real): the files hold
ids and judgements only, each pair once, each cell one size; each pair weighs the pairs of its
cell it stands for; and the later samples are still a stratified sample of the same pairs (a
change of the place keys or the scores must draw and judge new ones)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.hotspots import (
    REAL_EVAL,
    REAL_EVAL_SECOND,
    REAL_TUNE,
    UNLABELED,
    _real_pairs,
    _weighted,
)
from nlp.similar import SimilarIndex, named_pair, place_keys, repeat_keys

COLUMNS = ["sample", "a_id", "b_id", "cell", "cell_pairs", "relation", "note"]


def _read(path: object) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.mark.parametrize("path", [REAL_TUNE, REAL_EVAL], ids=["tune", "eval"])
def test_judged_files_hold_ids_and_judgements_only(path: object) -> None:
    judged = _read(path)
    assert list(judged.columns) == COLUMNS
    assert set(judged["relation"]) <= {"repeat", "same_topic", "unrelated"}
    assert judged["a_id"].str.fullmatch(r"\d+").all()
    assert judged["b_id"].str.fullmatch(r"\d+").all()
    assert not judged.duplicated(["a_id", "b_id"]).any()
    assert (judged["a_id"] != judged["b_id"]).all()
    assert (judged.groupby("cell")["cell_pairs"].nunique() == 1).all()
    sizes = judged.groupby("cell")["cell_pairs"].first().astype(int)
    assert (sizes >= judged.groupby("cell").size()).all()
    assert judged["note"].str.len().max() <= 30  # a judge's few words, never a message


def test_the_second_judgement_is_of_evaluation_pairs_only() -> None:
    second = _read(REAL_EVAL_SECOND)
    assert list(second.columns) == ["a_id", "b_id", "relation", "note"]
    assert set(second["relation"]) <= {"repeat", "same_topic", "unrelated"}
    assert not second.duplicated(["a_id", "b_id"]).any()
    assert second["note"].str.len().max() <= 30
    first = _read(REAL_EVAL).merge(second, on=["a_id", "b_id"])
    assert len(first) == len(second)


def test_no_pair_is_judged_in_both_files() -> None:
    pairs = {tuple(p) for p in _read(REAL_TUNE)[["a_id", "b_id"]].to_numpy()}
    assert not pairs & {tuple(p) for p in _read(REAL_EVAL)[["a_id", "b_id"]].to_numpy()}


def test_a_rule_s_precision_weighs_each_pair_by_its_cell() -> None:
    # cell x: 1,000 pairs, 2 judged (one repeat); cell y: 10 pairs, 2 judged (both not)
    gold = np.array([True, False, False, False])
    weights = np.array([500.0, 500.0, 5.0, 5.0])
    precision, called, right = _weighted(np.array([True, True, True, True]), gold, weights)
    assert (called, right) == (1010.0, 500.0)
    assert precision == pytest.approx(500 / 1010)
    assert _weighted(np.array([True, False, False, False]), gold, weights)[0] == 1.0


#: The thresholds the later samples' cells were drawn with (general, named); the rule then
#: had no long-letter exception to the problem veto.
DRAWN_AT = (0.15, 0.09)


@pytest.mark.skipif(not UNLABELED.is_file(), reason="needs ../shared/data/appeals/unlabeled.csv")
def test_the_later_samples_are_still_a_stratified_sample_of_the_same_pairs() -> None:
    # The cells split every same-place pair of unlabeled.csv (the population) by the rule as
    # it was drawn: each cell's sample is a random sample of it, so the weighted figures of
    # any rule over those pairs stay unbiased while the population and cells are unchanged.
    # A change of the place keys or the scores changes them: then new samples are needed.
    index = SimilarIndex.from_frame(_read(UNLABELED))
    judged, _, _, _, weights = _real_pairs(index, REAL_EVAL)
    cells = judged.groupby("cell")["cell_pairs"].first().astype(int)
    assert weights.sum() == pytest.approx(cells.sum())
    assert dict(cells) == _cells_as_drawn(index)


def _cells_as_drawn(index: SimilarIndex) -> dict[str, int]:
    """The same-place pairs of unlabeled.csv (each message's top 5 of the 30 days before it,
    score 0.04 or more, as the samples were drawn), split by the rule at :data:`DRAWN_AT`:
    called at the general threshold or over (``high``) or under it (``named``); not called at
    the same problem, from 0.11 (``miss_band``) or under (``miss_low``); kept out by the
    problem veto, from 0.11 or under (``vetoed_high``, ``vetoed_low``)."""
    general, lower = DRAWN_AT
    links = index.neighbours(window="30d", min_score=0.04, k=5)
    links = links[links["same_place"].to_numpy()]
    documents = index.documents
    keys = {
        row: repeat_keys(documents[row], place_keys(documents[row]))
        for row in set(links["source"]) | set(links["target"])
    }
    pairs = zip(links["source"], links["target"], strict=True)
    named = np.array([named_pair(keys[s], keys[t]) for s, t in pairs])
    problem, score = links["same_problem"].to_numpy(), links["score"].to_numpy()
    called = problem & (score >= np.where(named, lower, general))
    high, band = score >= general, score >= 0.11
    cells = {
        "high": called & high,
        "named": called & ~high,
        "miss_band": ~called & problem & band,
        "miss_low": ~called & problem & ~band,
        "vetoed_high": ~problem & band,
        "vetoed_low": ~problem & ~band,
    }
    return {name: int(rows.sum()) for name, rows in cells.items()}
