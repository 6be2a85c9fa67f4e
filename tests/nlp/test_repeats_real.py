"""The judged pairs of real posts (bench/hotspots.py --sections repeats_real): the files hold
ids and judgements only, each pair once, each cell one size; each pair weighs the pairs of its
cell it stands for; and the later samples' cells are still today's rule's split of the pairs
(a change of the rule must draw and judge new ones)."""

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
from nlp.similar import DEFAULT_NAMED_REPEAT_THRESHOLD, DEFAULT_REPEAT_THRESHOLD, SimilarIndex

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


#: The cells of the later samples: the rule's calls, and the pairs it does not call.
CALLED = {"high", "named"}


@pytest.mark.skipif(not UNLABELED.is_file(), reason="needs ../shared/data/appeals/unlabeled.csv")
def test_the_later_samples_are_still_today_s_cells() -> None:
    index = SimilarIndex.from_frame(_read(UNLABELED))
    judged, scores, vetoes, named, weights = _real_pairs(index, REAL_EVAL)
    called = vetoes & (
        scores >= np.where(named, DEFAULT_NAMED_REPEAT_THRESHOLD, DEFAULT_REPEAT_THRESHOLD)
    )
    in_called_cell = judged["cell"].isin(CALLED).to_numpy()
    assert (called == in_called_cell).all(), judged.loc[called != in_called_cell].to_string()
    cells = judged.groupby("cell")["cell_pairs"].first().astype(int)
    assert weights.sum() == pytest.approx(cells.sum())
    # ... and the cells are still the rule's split of the pairs: a change of the rule
    # (thresholds, word list, place keys) changes them, and then new samples must be drawn
    # and judged
    assert dict(cells) == _cells_of_today(index)


def _cells_of_today(index: SimilarIndex) -> dict[str, int]:
    """The same-place pairs of unlabeled.csv (each message's top 5 of the 30 days before it,
    score 0.04 or more, as the samples were drawn), split by today's rule: called at the
    general threshold or over (``high``) or under it (``named``); not called at the same
    problem, from 0.11 (``miss_band``) or under (``miss_low``); kept out by the problem veto,
    from 0.11 or under (``vetoed_high``, ``vetoed_low``)."""
    links = index.neighbours(window="30d", min_score=0.04, k=5)
    links = links[links["same_place"].to_numpy()]
    called, problem = links["repeat"].to_numpy(), links["same_problem"].to_numpy()
    score = links["score"].to_numpy()
    high, band = score >= index.repeat_threshold, score >= 0.11
    cells = {
        "high": called & high,
        "named": called & ~high,
        "miss_band": ~called & problem & band,
        "miss_low": ~called & problem & ~band,
        "vetoed_high": ~problem & band,
        "vetoed_low": ~problem & ~band,
    }
    return {name: int(rows.sum()) for name, rows in cells.items()}
