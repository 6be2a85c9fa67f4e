"""The grouped folds of the tune pairs (bench/hotspots.py --sections repeats_cv): variants of
one scene or template never sit on both sides of a fold, and the pair features read the
index's own score."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.hotspots import PAIR_FEATURES, pair_features, repeat_pair_groups
from nlp.similar import SimilarIndex, documents_of, place_keys

TUNE = Path(__file__).resolve().parents[2] / "data" / "demo" / "repeat_pairs_tune.csv"


@pytest.fixture(scope="module")
def tune() -> pd.DataFrame:
    frame = pd.read_csv(TUNE, dtype=str, keep_default_na=False)
    return frame.assign(group=repeat_pair_groups(frame))


def test_one_text_with_two_place_names_is_one_group(tune: pd.DataFrame) -> None:
    rows = tune.set_index("id")
    # rt0001 and rt0002: the same two phrasings at 青石桥村 and at 清水镇红星村
    assert rows.loc["rt0001", "group"] == rows.loc["rt0002", "group"]
    assert rows.loc["rt0001", "group"] != rows.loc["rt0176", "group"]


def test_pairs_that_share_a_wording_share_a_group(tune: pd.DataFrame) -> None:
    def wording(text: str) -> str:
        document = documents_of([text])[0] or ""
        for place in sorted(place_keys(document), key=len, reverse=True):
            document = document.replace(place, "")
        return re.sub(r"[\W\d_]+", "", document)

    group_of: dict[str, set[int]] = {}
    for row in tune.itertuples():
        texts = [row.a_text] if row.relation == "unrelated" else [row.a_text, row.b_text]
        for text in texts:
            group_of.setdefault(wording(text), set()).add(row.group)
    assert all(len(groups) == 1 for groups in group_of.values())
    # scenes, not one group of everything: about 77 scenes and 15 templates
    assert 60 <= tune["group"].nunique() <= 120
    assert tune["group"].value_counts().max() < len(tune) / 5


def test_pair_features_split_the_index_score_into_words_and_characters() -> None:
    index = SimilarIndex.from_frame(
        pd.DataFrame(
            {
                "id": ["1", "2", "3"],
                "time": ["2020-05-01", "2020-05-02", "2020-05-03"],
                "text": ["松林村搅拌站半夜开工，噪音大", "梧桐苑物业费上涨", "医保异地报销"],
            }
        )
    )
    a, b = "松林村搅拌站晚上噪音扰民，3栋都听得见", "松林村那个搅拌站夜里还在生产，5栋睡不着"
    a, b = (documents_of([text])[0] or "" for text in (a, b))
    features, gate, vetoes = pair_features(index, [a], [b])
    row = dict(zip(PAIR_FEATURES, features[0], strict=True))
    score, same = index.score(a, b)
    assert row["score"] == pytest.approx(score, abs=1e-6)
    assert row["score"] == pytest.approx((row["word"] + row["char"]) / 2)
    assert same
    assert gate[0]
    assert vetoes[0]
    assert row["numbers_differ"] == 1.0
    assert row["numbers_shared"] == 0.0
    assert row["place_shared"] == 1.0
    assert row["problem_shared"] == 1.0
    assert np.isclose(row["length_short"], np.log1p(min(len(a), len(b))))
