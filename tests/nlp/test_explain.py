"""Explanations in words a dispatcher reads: the deciding words of a ticket, as it was typed,
in its title and its body, without filler; and their contributions add up to the score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nlp.documents import compose_document, compose_documents
from nlp.evaluate import explanation_quality
from nlp.explain import (
    STOP_WORDS_FILE,
    is_content_word,
    stop_words,
    word_contributions,
    word_totals,
)
from nlp.model import Prediction, RoutingModel
from nlp.text import PLACEHOLDERS, normalise
from nlp.train import TrainConfig, train


def _explain(
    model: RoutingModel, text: str | None, title: str | None = None, n: int = 8
) -> Prediction:
    [prediction] = model.classify([text], [title], top_k=3, explain=n)
    return prediction


def _terms(prediction: Prediction) -> list[str]:
    return [term.term for term in prediction.explanation]


@pytest.mark.parametrize(
    ("text", "title", "wanted", "unwanted"),
    [
        pytest.param(
            "燃气泄漏，请尽快派人来看看", None, "燃气泄漏", {"请", "尽快", "请尽快"}, id="filler"
        ),
        # The user dictionary makes 工地噪音 one word; character n-grams decide, and the
        # word they cover is named.
        pytest.param("工地噪音", None, "工地噪音", set(), id="one-word-ticket"),
        pytest.param("请尽快派人来看看", "燃气泄漏", "燃气泄漏", {"请尽快"}, id="title-term"),
        pytest.param(
            "廚房裡燃氣洩漏了，請儘快派人來看看", None, "燃氣洩漏", {"請", "儘快"}, id="traditional"
        ),
        pytest.param(
            "小区楼下的烧烤摊天天占道经营，油烟太大了，谢谢！联系电话13812345678",
            "油烟扰民",
            "占道经营",
            {"了", "的", "谢谢", "联系电话", "<PHONE>", "13812345678"},
            id="set-phrases-and-phone",
        ),
    ],
)
def test_the_deciding_words_are_content_words_as_typed(
    tiny_model: RoutingModel, text: str, title: str | None, wanted: str, unwanted: set[str]
) -> None:
    terms = _terms(_explain(tiny_model, text, title))
    assert wanted in terms
    assert not unwanted & set(terms)


def test_a_title_term_is_located_in_the_title(tiny_model: RoutingModel) -> None:
    title, text = "  燃气泄漏", "请尽快派人来看看"
    [term] = [t for t in _explain(tiny_model, text, title).explanation if t.term == "燃气泄漏"]
    assert term.spans == [("title", 2, 6)]  # offsets in the title as sent, spaces included


def test_traditional_input_is_named_and_located_as_typed(tiny_model: RoutingModel) -> None:
    title, text = "燃氣洩漏", "廚房裡燃氣洩漏了，請儘快派人來看看"
    [term] = [t for t in _explain(tiny_model, text, title).explanation if "燃" in t.term]
    assert term.term == "燃氣洩漏"
    assert term.spans == [("title", 0, 4), ("text", 3, 7)]


def test_every_span_holds_its_term(tiny_model: RoutingModel, demo_frame: pd.DataFrame) -> None:
    rows = demo_frame.head(200)
    fields = {"text": rows["text"].tolist(), "title": rows["title"].tolist()}
    predictions = tiny_model.classify(fields["text"], fields["title"], explain=8)
    located = 0
    for i, prediction in enumerate(predictions):
        for term in prediction.explanation:
            assert term.spans, term
            for field, start, end in term.spans:
                typed = fields[field][i][start:end]
                # The first place is the term as typed; others may be typed otherwise
                # (simplified in one place, traditional in another): same normal form.
                assert normalise(typed) == normalise(term.term)
                located += 1
    assert located > 500


def test_no_placeholder_stop_word_or_single_character_is_named(
    tiny_model: RoutingModel, demo_frame: pd.DataFrame
) -> None:
    predictions = tiny_model.classify(
        demo_frame["text"].tolist(), demo_frame["title"].tolist(), explain=8
    )
    named = {term.term for prediction in predictions for term in prediction.explanation}
    assert named
    stop = stop_words()
    assert not {
        t for t in named if len(t) < 2 or t in stop or "<" in t or not any(map(str.isalpha, t))
    }


def test_personal_data_is_never_named(tiny_model: RoutingModel) -> None:
    text = "联系人：张三丰，电话13812345678，身份证110101199003071234，路灯坏了三天"
    for term in _explain(tiny_model, text, "路燈壞了").explanation:
        assert not any(char.isdigit() for char in term.term)
        assert "张三" not in term.term
        assert "<" not in term.term


def test_a_ticket_of_filler_only_has_no_terms(tiny_model: RoutingModel) -> None:
    assert _explain(tiny_model, "您好，我们这里了的一下，谢谢").explanation == []


def test_terms_are_weighted_best_first_and_at_most_n(tiny_model: RoutingModel) -> None:
    prediction = _explain(tiny_model, "小区楼下的烧烤摊天天占道经营，油烟太大了", "油烟扰民", n=3)
    weights = [term.weight for term in prediction.explanation]
    assert 1 <= len(weights) <= 3
    assert weights == sorted(weights, reverse=True)
    assert weights[-1] > 0


@pytest.mark.parametrize("size", [0, 1, 7, 300])
def test_word_totals_sum_each_distinct_word_in_order_of_first_occurrence(size: int) -> None:
    rng = np.random.default_rng(size)
    # few distinct keys, some of them far apart and some neighbours, so the table probes
    keys = np.array([0, 1, 2**63, 2**64 - 1, 12345], dtype=np.uint64)
    hashes = keys[rng.integers(0, keys.size, size)]
    scores = rng.normal(size=(size, 3))
    first, after, totals = word_totals(hashes, scores[:, 1])
    expected: dict[int, float] = {}
    for key, score in zip(hashes.tolist(), scores[:, 1].tolist(), strict=True):
        expected[key] = expected.get(key, 0.0) + score  # in order, as a dict would add
    assert [int(hashes[i]) for i in first] == list(expected)
    assert totals.tolist() == list(expected.values())  # exactly: the same additions
    for d, key in enumerate(expected):
        chain, i = [], int(first[d])
        while i >= 0:
            chain.append(i)
            i = int(after[i])
        assert chain == np.flatnonzero(hashes == key).tolist()


@pytest.mark.parametrize(
    ("word", "content"),
    [
        pytest.param("燃气泄漏", True, id="word"),
        pytest.param("5G", True, id="letters-and-digits"),
        pytest.param("尽快", False, id="stop-word"),
        pytest.param("了", False, id="single-character"),
        pytest.param("<PHONE>", False, id="placeholder"),
        pytest.param("联系人:<NAME>", False, id="contains-placeholder"),
        pytest.param("12345", False, id="digits"),
        pytest.param("...", False, id="punctuation"),
    ],
)
def test_is_content_word(word: str, content: bool) -> None:
    assert is_content_word(word) is content


def test_stop_words_are_in_normal_form() -> None:
    """The list is matched against normalised words: a traditional or full-width entry
    would never match."""
    words = stop_words()
    assert {"一下", "请问", "尽快", "您好", "谢谢", "我们", "联系电话"} <= words
    assert all(normalise(word) == word for word in words)
    assert STOP_WORDS_FILE.is_file()
    assert not any(placeholder in words for placeholder in PLACEHOLDERS)


def test_contributions_add_up_to_every_labels_score(
    tiny_model: RoutingModel, demo_frame: pd.DataFrame
) -> None:
    """Each feature's contribution is handed to words (or lost over punctuation), never
    made up: the totals are the pipeline's logits less the bias, for every label."""
    classifier = tiny_model.pipeline.named_steps["classify"]
    documents = [
        normalise(compose_document(text, title) or "")
        for text, title in zip(demo_frame["text"][:60], demo_frame["title"][:60], strict=True)
    ]
    matrix = tiny_model.vectorizer.transform(documents)
    expected = np.asarray(matrix @ classifier.weights_)
    for document, row in zip(documents, expected, strict=True):
        found = word_contributions(tiny_model.vectorizer, document, classifier.weights_)
        np.testing.assert_allclose(found.total, row, atol=1e-9)
        assert found.scores.shape == (len(found.words), row.size)


def test_explained_answers_score_like_unexplained_ones(
    tiny_model: RoutingModel, demo_frame: pd.DataFrame
) -> None:
    """An explained ticket is scored from its contributions: the same probabilities."""
    texts = demo_frame["text"].tolist()[:200]
    plain = tiny_model.rank(texts, explain=0)
    explained = tiny_model.rank(texts, explain=5)
    np.testing.assert_array_equal(plain.order, explained.order)
    np.testing.assert_allclose(plain.scores, explained.scores, atol=1e-9)


@pytest.fixture(scope="module")
def words_model(demo_frame: pd.DataFrame) -> RoutingModel:
    """A model whose character n-grams come from inside the words (``char_source="words"``)."""
    config = TrainConfig(char_source="words", calibration_folds=2)
    return train(demo_frame.head(800), config).model


def test_contributions_add_up_with_character_ngrams_inside_words(
    words_model: RoutingModel, demo_frame: pd.DataFrame
) -> None:
    classifier = words_model.pipeline.named_steps["classify"]
    documents = [normalise(text) for text in demo_frame["text"][:40]]
    expected = np.asarray(words_model.vectorizer.transform(documents) @ classifier.weights_)
    for document, row in zip(documents, expected, strict=True):
        found = word_contributions(words_model.vectorizer, document, classifier.weights_)
        np.testing.assert_allclose(found.total, row, atol=1e-9)
    assert "工地噪音" in _terms(_explain(words_model, "工地噪音，半夜还在施工"))


def test_explanation_quality_counts_what_a_dispatcher_sees(
    tiny_model: RoutingModel, demo_frame: pd.DataFrame
) -> None:
    texts = [*demo_frame["text"][:100], "您好，谢谢", "燃气泄漏，请尽快派人来看看"]
    quality = explanation_quality(tiny_model, texts, top=3)
    assert quality.tickets == 102
    assert quality.with_content == 101  # 您好，谢谢 has no content word
    assert quality.filler_in_top == quality.empty == quality.untraceable == 0
    assert quality.filler_share == quality.empty_share == 0.0
    assert 1 <= quality.mean_terms <= 8
    assert quality.to_dict()["tickets"] == 102


@pytest.mark.parametrize("backend", ["rjieba", "jieba"])
@pytest.mark.parametrize(
    "text",
    [
        "小区楼下的烧烤摊天天占道经营,油烟太大了",
        "电话<PHONE>,联系人:<NAME> 路灯坏了<PLATE>",
        "  ,。 ",
        "",
        "wifi 和 5G 信号都不好!!",
    ],
)
def test_the_compiled_word_path_cuts_like_the_segmenter(backend: str, text: str) -> None:
    """Words, places and hashes read from one tokenizer call in compiled code are those of
    Segmenter.cut, cut_spans and token_hashes."""
    from nlp.explain import _words
    from nlp.features import token_hashes
    from nlp.segment import Segmenter

    segmenter = Segmenter(backend=backend)  # type: ignore[arg-type]
    words, starts, ends, hashes = _words(segmenter, text)
    assert words == segmenter.cut(text)
    assert [text[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)] == words
    np.testing.assert_array_equal(hashes, token_hashes(words))


def test_a_model_with_other_feature_blocks_is_refused_with_what_to_do(
    tiny_model: RoutingModel,
) -> None:
    from nlp.errors import ModelIntegrityError

    weights = tiny_model.pipeline.named_steps["classify"].weights_
    with pytest.raises(ModelIntegrityError, match="retrain"):
        word_contributions(tiny_model.vectorizer, "停水", np.vstack([weights, weights[:1]]))


@pytest.fixture(scope="module")
def unseen_word_model(demo_frame: pd.DataFrame) -> RoutingModel:
    """Trained without 工地噪音: the user dictionary still cuts it as one word, a word the
    model never saw, so only its characters can decide."""
    has_it = demo_frame["text"].str.contains("工地噪音") | demo_frame["title"].str.contains(
        "工地噪音"
    )
    return train(demo_frame[~has_it], TrainConfig(calibration_folds=2)).model


def test_a_word_the_model_never_saw_is_named_when_its_characters_decided(
    unseen_word_model: RoutingModel,
) -> None:
    assert unseen_word_model.vectorizer.segment(["工地噪音"]) == [["工地噪音"]]
    prediction = _explain(unseen_word_model, "工地噪音")
    assert _terms(prediction) == ["工地噪音"]
    assert prediction.explanation[0].spans == [("text", 0, 4)]
    assert "工地噪音" in _terms(_explain(unseen_word_model, "工地噪音，半夜还在施工"))


def test_titled_tickets_are_explained_field_by_field_and_score_the_same(
    tiny_model: RoutingModel, demo_frame: pd.DataFrame
) -> None:
    """Title and body are read apart (``fields="mean"``): an explained ticket with both
    scores what an unexplained one does, and each term's spans hold it in its own field."""
    titled = demo_frame[demo_frame["title"] != ""].head(120)
    texts, titles = titled["text"].tolist(), titled["title"].tolist()
    found = compose_documents(texts, titles)
    plain = tiny_model.rank(found.documents, explain=0)
    explained = tiny_model.rank(found.documents, explain=5, layouts=found.layouts())
    np.testing.assert_array_equal(plain.order, explained.order)
    np.testing.assert_allclose(plain.scores, explained.scores, atol=1e-9)
    fields = {"title": titles, "text": texts}
    located = 0
    for row, terms in enumerate(explained.explanations or []):
        for term in terms:
            for field, start, end in term.spans:
                typed = fields[field][row][start:end]
                assert normalise(typed) == normalise(term.term), (row, term, field)
                located += 1
    assert located > 100
    title_terms = [
        term for terms in explained.explanations or [] for term in terms
        if any(field == "title" for field, _, _ in term.spans)
    ]  # fmt: skip
    assert title_terms, "no title word among the deciding terms of 120 titled tickets"


def test_explained_answers_flag_out_of_scope_like_unexplained_ones(
    tiny_model: RoutingModel, demo_frame: pd.DataFrame
) -> None:
    """An explained ticket is scored from its words' contributions, the out-of-scope rule
    included: the same probabilities, review codes and reasons as without explanations."""
    assert tiny_model.scope is not None
    found = compose_documents(
        [
            "谢谢",
            "好",
            "asdfghjkl",
            "我的 wifi 和 5G 信号都不好，移动公司不管",
            *demo_frame["text"][:80],
        ],
        ["", "", "", "", *demo_frame["title"][:80]],
    )
    plain = tiny_model.rank(found.documents, explain=0)
    explained = tiny_model.rank(found.documents, explain=5, layouts=found.layouts())
    np.testing.assert_allclose(plain.scores, explained.scores, atol=1e-9)
    assert plain.review_codes == explained.review_codes
    assert plain.review_reasons == explained.review_reasons
    assert any("out_of_scope" in codes for codes in explained.review_codes or [])


def test_contributions_count_known_content_as_the_vectoriser_does(
    tiny_model: RoutingModel, demo_frame: pd.DataFrame
) -> None:
    """The out-of-scope rule's known-content sums, worked out with an explanation, are
    :meth:`DocumentVectorizer.add_known_share`'s."""
    vectorizer = tiny_model.vectorizer
    weights = tiny_model.pipeline.named_steps["classify"].weights_
    documents = [normalise(text) for text in demo_frame["text"][:200]] + ["谢谢", "", "asdf"]
    expected = np.zeros((len(documents), 2))
    vectorizer.add_known_share(documents, expected)
    found = [word_contributions(vectorizer, doc, weights).known for doc in documents]
    np.testing.assert_allclose(np.asarray(found), expected, rtol=1e-12, atol=1e-12)
