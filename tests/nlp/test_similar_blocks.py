"""Blocks of tickets prepared apart and added at once, an index that forgets what a walk
through time has passed, and the compiled term counts behind every row (nlp.similar)."""

from __future__ import annotations

import math
import pickle
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from nlp.errors import DataError
from nlp.similar import N_FEATURES, SimilarIndex, content_words, parse_times, prepare_block
from nlp.similar import _counts as term_counts  # the rows every index is built from

TEXTS = [
    "松林村村口的搅拌站每天半夜还在生产，噪音太大睡不着觉",
    None,
    "松林村那个混凝土搅拌站晚上噪音扰民，罐车来来回回",
    "翠苑小区物业费一年涨了两次，业主意见很大",
    "松林村搅拌站晚上噪音太大了，老人孩子都睡不着",
]
TIMES = parse_times(
    ["2020-05-01 21:00", "2020-05-02", "2020-05-03 08:10", "2020-05-20", "2020-06-20"]
)


def test_a_block_is_what_adding_the_texts_one_by_one_is() -> None:
    block = prepare_block(TEXTS, [None] * len(TEXTS))
    assert block.kept == [0, 2, 3, 4]
    assert block.documents[1] is None
    assert pickle.loads(pickle.dumps(block)).kept == block.kept  # workers send it back
    together, one_by_one = SimilarIndex(), SimilarIndex()
    assert together.add_block([f"t{i}" for i in range(5)], TIMES, block) == 4
    for i, text in enumerate(TEXTS):
        one_by_one.add(ids=[f"t{i}"], times=[TIMES[i]], texts=[text])
    assert together.ids == one_by_one.ids
    ask = dict(time=TIMES[-1], window=None, k=3)
    assert [(m.id, round(m.score, 5)) for m in together.similar(TEXTS[4], **ask)] == [
        (m.id, round(m.score, 5)) for m in one_by_one.similar(TEXTS[4], **ask)
    ]


def test_a_block_needs_one_id_and_time_per_ticket() -> None:
    block = prepare_block(TEXTS)
    with pytest.raises(DataError, match="one id and time"):
        SimilarIndex().add_block(["a"], TIMES[:1], block)


def test_forgetting_drops_the_older_tickets_and_keeps_the_counts() -> None:
    index = SimilarIndex()
    index.add_block([f"t{i}" for i in range(5)], TIMES, prepare_block(TEXTS))
    ask = dict(time=TIMES[-1], window=None, k=3)
    assert {"t0", "t2"} <= {m.id for m in index.similar(TEXTS[4], **ask)}
    assert index.forget_before(np.datetime64("2020-05-10")) == 2
    assert index.ids == ["t3", "t4"]
    assert index.forget_before(np.datetime64("2020-05-10")) == 0
    # the IDF still counts every ticket seen: a word of the forgotten ones stays common
    assert index._seen == 4  # the document count is the point of this test
    assert not {"t0", "t2"} & {m.id for m in index.similar(TEXTS[4], **ask)}
    links = index.neighbours(window=None, min_score=0.0)
    assert set(links["source"]) <= {0, 1}


def test_neighbours_can_ask_for_the_newest_tickets_only() -> None:
    index = SimilarIndex()
    index.add_block([f"t{i}" for i in range(5)], TIMES, prepare_block(TEXTS))
    every = index.neighbours(window=None, min_score=0.0)
    newest = index.neighbours(window=None, min_score=0.0, first_source=2)
    assert set(newest["source"]) <= {2, 3}
    pd.testing.assert_frame_equal(  # the same, to float32 rounding
        newest.reset_index(drop=True), every[every["source"] >= 2].reset_index(drop=True)
    )


@pytest.mark.parametrize(
    "document",
    ["松林村搅拌站半夜噪音", "噪音噪音噪音，搅拌站", "a", "", "\U0001f600表情和\ud800半个代理对"],
)
def test_term_counts_count_words_and_character_runs(document: str) -> None:
    words = content_words(document) if "\ud800" not in document else ["表情"]
    [row] = term_counts([document], [words])
    half = N_FEATURES // 2
    assert list(row.indices) == sorted(row.indices)
    expected = Counter(("word", w) for w in words) + Counter(
        ("chars", document[i : i + n]) for n in (2, 3) for i in range(len(document) - n + 1)
    )
    # one column per distinct term (no collision among so few), 1 + log of its count
    assert row.nnz == len(expected)
    assert sorted(row.data.tolist()) == pytest.approx(
        sorted(1 + math.log(count) for count in expected.values())
    )
    assert (row.indices < half).sum() == len(set(words))


def test_term_counts_are_the_same_in_every_process() -> None:
    """Columns come from the text alone (no per-process hash seed): worker processes and
    the parent must agree."""
    import subprocess
    import sys

    code = (
        "from nlp.similar import _counts;"
        "r = _counts(['松林村搅拌站噪音'], [['松林村', '搅拌站']]);"
        "print(list(r.indices))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    [row] = term_counts(["松林村搅拌站噪音"], [["松林村", "搅拌站"]])
    assert runs == {f"{list(row.indices)}\n"}


def test_names_are_found_as_the_regex_finds_them() -> None:
    """Place names are read from their endings up (:func:`nlp.similar._names`): the same
    matches as the regex that tries every start, on random texts made of endings, name
    characters and breaks (pieces that overlap, chain and cut each other)."""
    import random

    from nlp.similar import _ENDING_WORDS, _NAMED, _names

    # at most one ending matches at a character: none is the start of another
    assert not [(a, b) for a in _ENDING_WORDS for b in _ENDING_WORDS if a != b and b.startswith(a)]

    pieces = [
        *("小区", "村", "民", "委", "中医院", "医院", "花园", "园", "路", "大道", "一号"),
        *("A", "3", "x", "，", " ", "\n", "我们", "丽发新城", "松林", "的", "市场", "厂", "ａ"),
    ]
    draw = random.Random(16)
    for _ in range(3_000):
        text = "".join(draw.choice(pieces) for _ in range(draw.randint(0, 30)))
        assert _names(text) == [m.group(1) for m in _NAMED.finditer(text)], text


@pytest.mark.parametrize("least", [1, 2, 64])
def test_neighbours_find_every_pair_within_the_window(
    least: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks are cut where they would span more than a window (pairs further apart are
    not scored): every pair within the window at or above the score is still found."""
    import nlp.similar as similar

    monkeypatch.setattr(similar, "_MIN_CHUNK_ROWS", least)
    texts = [t for t in TEXTS if t] * 4
    days = [0, 1, 2, 3, 8, 9, 10, 11, 12, 30, 31, 45, 46, 47, 60, 61]
    index = SimilarIndex()
    index.add(
        ids=[f"t{i}" for i in range(len(texts))],
        times=[np.datetime64("2020-05-01") + np.timedelta64(d, "D") for d in days],
        texts=texts,
    )
    links = index.neighbours(window="3d", min_score=0.05, k=0, chunk_rows=5)
    rows, times = index._matrix.toarray(), index.times
    expected = {
        (s, t)
        for s in range(len(texts))
        for t in range(s)
        if times[s] - times[t] <= np.timedelta64(3, "D") and rows[s] @ rows[t] >= 0.05
    }
    assert expected
    assert set(zip(links["source"], links["target"], strict=True)) == expected


@pytest.mark.parametrize(
    "document",
    [
        "松林村搅拌站半夜噪音，请尽快处理！！",
        "联系电话<PHONE>，我们小区的 wifi 信号不好  ",
        "A市A3区 丽发新城 2栋 噪音 noise 123 ",
        "的了吗",
        "",
    ],
)
def test_content_words_are_the_cut_words_an_explanation_may_name(document: str) -> None:
    """The tokenizer's raw tokens filtered once (:meth:`Segmenter.cut_raw`) give the words
    the rule and :func:`nlp.explain.is_content_word` keep."""
    from nlp.explain import is_content_word
    from nlp.similar import _segmenter

    segmenter = _segmenter()
    expected = [word for word in segmenter.cut(document) if is_content_word(word)]
    assert content_words(document) == expected
    assert (segmenter.cut_raw(document) is None) == ("<" in document)
