"""A ticket prepared once (SimilarIndex.prepare: masked document, place keys, term
frequencies) is looked up and added without being masked, segmented or located again, and the
index answers exactly as without it: the same neighbours, scores, repeats and places."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import nlp.similar
from nlp.errors import DataError
from nlp.live_similar import LiveSimilarIndex
from nlp.similar import Prepared, SimilarIndex

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "repeat_pairs_tune.csv"
NOW = datetime(2021, 1, 1)


def _pairs() -> pd.DataFrame:
    return pd.read_csv(DEMO, dtype=str, keep_default_na=False)


def _tickets() -> tuple[list[str], list[str], list[datetime]]:
    """Every first post of the demo pairs, an hour apart, ids p0, p1, ..."""
    texts = _pairs()["a_text"].tolist()
    times = [NOW - timedelta(hours=len(texts) - i) for i in range(len(texts))]
    return [f"p{i}" for i in range(len(texts))], texts, times


def _answers(matches: list[Any]) -> list[tuple[str, float, bool, bool]]:
    return [(m.id, m.score, m.repeat, m.same_place) for m in matches]


@pytest.fixture(scope="module")
def index() -> SimilarIndex:
    ids, texts, times = _tickets()
    built = SimilarIndex()
    built.add(ids=ids, times=times, texts=texts)
    return built


def test_prepare_holds_what_a_lookup_computes(index: SimilarIndex) -> None:
    prepared = index.prepare("电话13812345678，青石桥村搅拌站半夜施工", "搅拌站扰民")
    assert isinstance(prepared, Prepared)
    assert "13812345678" not in prepared.document  # masked
    assert prepared.document.startswith("搅拌站扰民")
    assert "青石桥村" in prepared.places
    assert prepared.counts.shape == (1, nlp.similar.N_FEATURES)
    assert index.prepare(None, " ") is None


def test_a_lookup_with_the_prepared_ticket_answers_the_same(
    index: SimilarIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = _pairs()["b_text"].tolist()
    expected = [_answers(index.similar(text, time=NOW, window="400d", k=10)) for text in queries]
    assert sum(bool(answer) for answer in expected) > 100
    prepared = [index.prepare(text) for text in queries]
    # with the ticket prepared, the lookup neither masks, segments nor looks for places
    for name in ("documents_of", "content_words", "place_keys"):
        monkeypatch.setattr(nlp.similar, name, _refuse(name))
    answers = [
        _answers(index.similar(None, time=NOW, window="400d", k=10, prepared=ready))
        for ready in prepared
    ]
    assert answers == expected


def _refuse(name: str) -> Any:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{name} called although the ticket was prepared")

    return refused


def test_an_index_fed_prepared_tickets_is_the_same_index() -> None:
    ids, texts, times = _tickets()
    plain, fed = SimilarIndex(), SimilarIndex()
    # one by one (as the service's thread adds them), some prepared, some not
    for i, (ticket, when, text) in enumerate(zip(ids, times, texts, strict=True)):
        plain.add(ids=[ticket], times=[when], texts=[text])
        ready = [fed.prepare(text)] if i % 3 else None
        fed.add(ids=[ticket], times=[when], texts=[text], prepared=ready)
    assert fed.ids == plain.ids
    assert fed.documents == plain.documents
    assert fed.places == plain.places
    for text in _pairs()["b_text"].tolist()[:60]:
        assert _answers(fed.similar(text, time=NOW, window="400d", k=10)) == _answers(
            plain.similar(text, time=NOW, window="400d", k=10)
        )


def test_a_batch_mixing_prepared_and_plain_tickets() -> None:
    ids, texts, times = _tickets()
    plain = SimilarIndex()
    plain.add(ids=ids[:40], times=times[:40], texts=texts[:40])
    mixed = SimilarIndex()
    ready = [mixed.prepare(text) if i % 2 else None for i, text in enumerate(texts[:40])]
    assert mixed.add(ids=ids[:40], times=times[:40], texts=texts[:40], prepared=ready) == 40
    assert sorted(mixed.ids) == sorted(plain.ids)
    query = texts[41]
    assert _answers(mixed.similar(query, time=NOW, window="400d")) == _answers(
        plain.similar(query, time=NOW, window="400d")
    )
    with pytest.raises(DataError, match="one prepared ticket"):
        mixed.add(ids=["x"], times=[NOW], texts=["搅拌站"], prepared=[])


def test_a_naive_time_answers_like_its_text(index: SimilarIndex) -> None:
    text = _pairs()["b_text"].iloc[0]
    at = datetime(2020, 12, 31, 18, 30)
    assert _answers(index.similar(text, time=at, window="30d")) == _answers(
        index.similar(text, time="2020-12-31 18:30:00", window="30d")
    )


def test_the_live_index_answers_the_same_with_the_prepared_ticket() -> None:
    ids, texts, times = _tickets()
    live = LiveSimilarIndex(window="400d", clock=lambda: NOW)
    live._add([(i, t, x, None) for i, t, x in zip(ids, times, texts, strict=True)])
    for text in _pairs()["b_text"].tolist()[:60]:
        ready = live.prepare(text)
        assert live.repeat_of(text, time=NOW, prepared=ready) == live.repeat_of(text, time=NOW)
        assert _answers(live.similar(text, time=NOW, prepared=ready)) == _answers(
            live.similar(text, time=NOW)
        )
    assert live.repeat_of(" ", time=NOW) is None  # nothing to compare


def test_submitted_prepared_tickets_are_added_as_sent() -> None:
    live = LiveSimilarIndex(window="30d", clock=lambda: NOW).start()
    try:
        text = "青石桥村搅拌站晚上十二点了还在进出罐车，老人小孩都被吵醒"
        ready = live.prepare(text)
        assert live.submit([("a", NOW - timedelta(hours=1), text, None)], prepared=[ready]) == 1
        assert live.flush(30)
        assert live.repeat_of("青石桥村的搅拌站夜里进出罐车太吵", time=NOW) == "a"
        with pytest.raises(ValueError, match="one prepared ticket"):
            live.submit([("b", NOW, text, None)], prepared=[])
    finally:
        live.stop()


def test_one_ticket_s_counts_are_the_row_of_a_batch() -> None:
    """The one-ticket path of the term frequencies builds exactly the row a batch builds."""
    texts = [*_pairs()["a_text"].tolist()[:80], "的", "a", "12345"]
    documents = [d for d in nlp.similar.documents_of(texts) if d is not None]
    batch = nlp.similar._counts([*documents, "搅拌站"])  # two or more: the generic stack
    for row, document in enumerate(documents):
        one = nlp.similar._counts([document])
        expected = batch[row]
        assert one.dtype == expected.dtype
        assert one.shape == expected.shape
        assert one.indices.tolist() == expected.indices.tolist()
        assert one.data.tolist() == expected.data.tolist()
