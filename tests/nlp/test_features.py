"""nlp.features: integer-keyed n-gram TF-IDF equals scikit-learn's; estimators behave."""

from __future__ import annotations

import pickle
from functools import partial
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion
from sklearn.utils import estimator_checks

from nlp.classifier import CalibratedLinearSVC
from nlp.errors import DataError
from nlp.features import CharNgramVectorizer, DocumentVectorizer, WordNgramVectorizer
from nlp.model import RoutingModel, TextNormaliser
from nlp.segment import Segmenter

DOCS = [
    "楼下烧烤摊天天占道经营,油烟太大了",
    "小区烧烤摊油烟扰民,占道经营没人管",
    "电话<PHONE> 网格员说老旧小区改造明年开始",
    "老旧小区改造什么时候开始?网格员也不知道",
    "abc ABC abc 😀😀 占道",
    "物业费涨了业委会不管物业费",
    "",
    "供电局停电停电停电" * 40,  # longer than max_chars
]
NEW_DOCS = ["烧烤摊占道经营", "完全没见过的字龘靐", "", "老旧小区改造 😀 abc"]


# The reference analyzers: module-level functions, as an sklearn user would write them.
def char_ngrams(doc: str, *, low: int, high: int, max_chars: int) -> list[str]:
    doc = doc[:max_chars]
    return [doc[i : i + n] for n in range(low, high + 1) for i in range(len(doc) - n + 1)]


def word_ngrams(tokens: list[str], *, low: int, high: int) -> list[str]:
    return [
        " ".join(tokens[i : i + n])
        for n in range(low, high + 1)
        for i in range(len(tokens) - n + 1)
    ]


def _aligned(ours: sp.spmatrix, our_names, reference: sp.spmatrix, reference_names) -> None:
    """Equal up to column order: the same feature names, the same values per name."""
    assert sorted(our_names) == sorted(reference_names)
    position = {name: i for i, name in enumerate(reference_names)}
    order = [position[name] for name in our_names]
    assert ours.shape == (reference.shape[0], len(order))
    np.testing.assert_allclose(
        ours.toarray(), reference.toarray()[:, order], rtol=1e-12, atol=1e-12
    )


CHAR_SETTINGS = [
    pytest.param((1, 3), 1, 300, id="1-3-min_df1"),
    pytest.param((1, 3), 2, 300, id="1-3-min_df2"),
    pytest.param((1, 3), 1, 20, id="1-3-max_chars20"),
    pytest.param((2, 3), 1, 300, id="2-3"),
    pytest.param((1, 1), 1, 300, id="1-1"),
    pytest.param((3, 3), 2, 50, id="3-3-min_df2-max_chars50"),
]


@pytest.mark.parametrize(("ngram_range", "min_df", "max_chars"), CHAR_SETTINGS)
def test_char_ngrams_equal_tfidf_vectorizer(
    ngram_range: tuple[int, int], min_df: int, max_chars: int
) -> None:
    low, high = ngram_range
    ours = CharNgramVectorizer(ngram_range=ngram_range, min_df=min_df, max_chars=max_chars)
    reference = TfidfVectorizer(
        analyzer=partial(char_ngrams, low=low, high=high, max_chars=max_chars),
        sublinear_tf=True,
        min_df=min_df,
    )
    fitted = ours.fit_transform(DOCS)
    expected = reference.fit_transform(DOCS)
    names, reference_names = ours.get_feature_names_out(), reference.get_feature_names_out()
    _aligned(fitted, names, expected, reference_names)
    _aligned(ours.transform(NEW_DOCS), names, reference.transform(NEW_DOCS), reference_names)
    np.testing.assert_allclose(
        ours.idf_, reference.idf_[[list(reference_names).index(n) for n in names]]
    )


WORD_DOCS = [
    ["楼下", "烧烤", "摊", "占道经营", "油烟"],
    ["小区", "烧烤", "摊", "油烟", "扰民", "占道经营"],
    ["网格员", "说", "老旧小区改造", "明年", "开始", "<PHONE>"],
    ["老旧小区改造", "开始", "网格员", "<PHONE>", "烧烤", "摊"],
    [],
    ["物业费", "物业费", "物业费", "涨", "了"],
]
NEW_WORD_DOCS = [["烧烤", "摊", "从没见过"], [], ["从没见过", "也没见过"], ["物业费", "涨", "了"]]


@pytest.mark.parametrize(
    ("ngram_range", "min_df"),
    [
        pytest.param((1, 2), 1, id="1-2-min_df1"),
        pytest.param((1, 2), 2, id="1-2-min_df2"),
        pytest.param((1, 1), 1, id="1-1"),
        pytest.param((2, 2), 1, id="2-2"),
    ],
)
def test_word_ngrams_equal_tfidf_vectorizer(ngram_range: tuple[int, int], min_df: int) -> None:
    low, high = ngram_range
    ours = WordNgramVectorizer(ngram_range=ngram_range, min_df=min_df)
    reference = TfidfVectorizer(
        analyzer=partial(word_ngrams, low=low, high=high), sublinear_tf=True, min_df=min_df
    )
    fitted = ours.fit_transform(WORD_DOCS)
    expected = reference.fit_transform(WORD_DOCS)
    names, reference_names = ours.get_feature_names_out(), reference.get_feature_names_out()
    _aligned(fitted, names, expected, reference_names)
    _aligned(
        ours.transform(NEW_WORD_DOCS), names, reference.transform(NEW_WORD_DOCS), reference_names
    )


@pytest.mark.parametrize("segmenter", ["rjieba", "jieba"])
def test_document_vectorizer_equals_a_union_of_tfidf_vectorizers(
    segmenter: str, demo_frame
) -> None:
    docs = [TextNormaliser().transform([d])[0] for d in demo_frame["text"].tolist()[:150]]
    ours = DocumentVectorizer(segmenter=segmenter, min_df=2)  # type: ignore[arg-type]
    cut = Segmenter(backend=segmenter).cut  # type: ignore[arg-type]
    words = TfidfVectorizer(
        analyzer=lambda doc: word_ngrams(cut(doc), low=1, high=2), sublinear_tf=True, min_df=2
    )
    chars = TfidfVectorizer(
        analyzer=partial(char_ngrams, low=1, high=3, max_chars=300), sublinear_tf=True, min_df=2
    )
    reference = FeatureUnion([("words", words), ("chars", chars)])
    fitted = ours.fit_transform(docs)
    expected = reference.fit_transform(docs)
    names = ours.get_feature_names_out()
    n_words = ours.n_word_features_
    assert n_words == len(words.get_feature_names_out())
    _aligned(
        fitted[:, :n_words], names[:n_words], expected[:, :n_words], words.get_feature_names_out()
    )
    _aligned(
        fitted[:, n_words:], names[n_words:], expected[:, n_words:], chars.get_feature_names_out()
    )
    # transform (not fit_transform) gives the same rows.
    assert abs(ours.transform(docs) - fitted).max() < 1e-12


def test_unseen_ngrams_are_ignored() -> None:
    vectorizer = CharNgramVectorizer(min_df=1).fit(["占道经营", "油烟扰民"])
    X = vectorizer.transform(["龘靐齉", "占道龘"])
    assert X[0].nnz == 0
    assert X.shape == (2, len(vectorizer.get_feature_names_out()))
    seen = set(vectorizer.get_feature_names_out()[X[1].indices])
    assert seen == {"占", "道", "占道"}


@pytest.mark.parametrize(
    ("vectorizer", "fit_docs", "docs", "norm"),
    [
        pytest.param(
            CharNgramVectorizer(min_df=1), ["占道经营", ""], ["", "占道", ""], 1.0, id="char"
        ),
        pytest.param(
            WordNgramVectorizer(min_df=1),
            [["占道经营", "油烟"], []],
            [[], ["油烟"], []],
            1.0,
            id="word",
        ),
        # Two blocks (words | chars), each L2-normalised, as a FeatureUnion would give.
        pytest.param(
            DocumentVectorizer(min_df=1), ["占道经营", ""], ["", "占道经营", ""], 2**0.5, id="doc"
        ),
    ],
)
def test_empty_documents_give_zero_rows(vectorizer, fit_docs, docs, norm: float) -> None:
    X = vectorizer.fit(fit_docs).transform(docs)
    assert X.shape[0] == 3
    assert X[0].nnz == 0
    assert X[2].nnz == 0
    assert X[1].nnz > 0
    np.testing.assert_allclose(sp.linalg.norm(X[1]), norm)


def test_all_empty_input_gives_an_empty_vocabulary() -> None:
    vectorizer = CharNgramVectorizer(min_df=1).fit(["", ""])
    assert vectorizer.get_feature_names_out().size == 0
    assert vectorizer.transform(["占道"]).shape == (1, 0)


@pytest.mark.parametrize(
    ("vectorizer", "docs", "expected"),
    [
        pytest.param(
            CharNgramVectorizer(ngram_range=(1, 2), min_df=1),
            ["占道", "😀a"],
            ["a", "占", "占道", "道", "😀", "😀a"],
            id="char-with-astral",
        ),
        pytest.param(
            WordNgramVectorizer(min_df=1),
            [["网格员", "<PHONE>"]],
            ["<PHONE>", "网格员", "网格员 <PHONE>"],
            id="word-bigram",
        ),
    ],
)
def test_feature_names_decode_keys(vectorizer, docs, expected: list[str]) -> None:
    assert sorted(vectorizer.fit(docs).get_feature_names_out()) == sorted(expected)


@pytest.mark.parametrize(
    ("vectorizer", "docs"),
    [
        pytest.param(CharNgramVectorizer(ngram_range=(0, 2)), ["a"], id="char-low-0"),
        pytest.param(CharNgramVectorizer(ngram_range=(1, 4)), ["a"], id="char-high-4"),
        pytest.param(WordNgramVectorizer(ngram_range=(2, 1)), [["a"]], id="word-reversed"),
        pytest.param(WordNgramVectorizer(ngram_range=(1, 3)), [["a"]], id="word-trigrams"),
    ],
)
def test_invalid_ngram_range_is_refused(vectorizer, docs) -> None:
    with pytest.raises(ValueError, match="ngram_range"):
        vectorizer.fit(docs)


def test_transform_before_fit_raises() -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        CharNgramVectorizer().transform(["a"])


# --------------------------------------------------------------------------- estimator contract

ESTIMATORS = [
    pytest.param(CharNgramVectorizer, id="CharNgramVectorizer"),
    pytest.param(WordNgramVectorizer, id="WordNgramVectorizer"),
    pytest.param(DocumentVectorizer, id="DocumentVectorizer"),
    pytest.param(TextNormaliser, id="TextNormaliser"),
    pytest.param(CalibratedLinearSVC, id="CalibratedLinearSVC"),
]
CONTRACT_CHECKS = [
    "check_no_attributes_set_in_init",
    "check_get_params_invariance",
    "check_estimator_cloneable",
    "check_set_params",
    "check_mixin_order",
    "check_estimator_repr",
    "check_parameters_default_constructible",
]


@pytest.mark.parametrize("check", CONTRACT_CHECKS)
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_scikit_learn_estimator_contract(estimator, check: str) -> None:
    getattr(estimator_checks, check)(estimator.__name__, estimator())


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_init_stores_parameters_only_and_clone_keeps_them(estimator) -> None:
    instance = estimator()
    params = instance.get_params()
    assert set(vars(instance)) == set(params)
    copy = clone(instance)
    assert copy is not instance
    assert copy.get_params() == params


def test_clone_of_a_fitted_vectorizer_is_unfitted_with_the_same_params() -> None:
    fitted = DocumentVectorizer(min_df=1, max_chars=50, segmenter="jieba").fit(["占道经营", "油烟"])
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "chars_")
    assert "_segmenter" not in vars(copy)


def test_fitted_pipeline_pickles_without_lambdas(tiny_model: RoutingModel, demo_frame) -> None:
    """Plain pickle (not cloudpickle) fails on lambdas, bound methods and tokenizers."""
    docs = demo_frame["text"].tolist()[:50]
    restored = pickle.loads(pickle.dumps(tiny_model.pipeline))
    np.testing.assert_array_equal(restored.predict(docs), tiny_model.pipeline.predict(docs))
    steps = [name for name, _ in restored.steps]
    assert steps == ["normalise", "vectorise", "classify"]


# --------------------------------------------------------------------------- compiled kernels


def test_routing_model_scores_equal_the_pipeline_for_one_ticket_and_a_chunk(
    tiny_model: RoutingModel, demo_frame
) -> None:
    """The model multiplies feature rows by the weights itself; scikit-learn's path on the
    pipeline's sparse matrix must give the same probabilities."""
    docs = demo_frame["text"].tolist()[:300]
    for size in (1, 7, 300):
        np.testing.assert_allclose(
            tiny_model.predict_proba(docs[:size]),
            tiny_model.pipeline.predict_proba(docs[:size]),
            rtol=1e-10,
            atol=1e-12,
        )


def test_counts_stay_right_over_many_calls_with_repeated_ngrams() -> None:
    """Counting reuses one scratch array across calls; a stale mark would merge counts of
    different documents or calls."""
    vectorizer = CharNgramVectorizer(min_df=1).fit(["物业费物业费", "停水"])
    first = vectorizer.transform(["物业费物业费", "物业费"]).toarray()
    for _ in range(50):
        vectorizer.transform(["停水停水停水", "物业费"])
    again = vectorizer.transform(["物业费物业费", "物业费"]).toarray()
    np.testing.assert_array_equal(first, again)
    one_by_one = np.vstack(
        [vectorizer.transform([d]).toarray() for d in ["物业费物业费", "物业费"]]
    )
    np.testing.assert_array_equal(first, one_by_one)
    assert not np.array_equal(first[0], first[1])  # 2 occurrences weigh 1 + log 2, not 1


def test_threads_sharing_a_model_get_the_scores_of_one_thread(
    tiny_model: RoutingModel, demo_frame
) -> None:
    """The service scores tickets on several threads with one model, whose counting
    kernels share a scratch array: they must not run at the same time."""
    from concurrent.futures import ThreadPoolExecutor

    docs = demo_frame["text"].tolist()
    batches = [docs[start::8] * 4 for start in range(8)]
    expected = [tiny_model.predict_proba(batch) for batch in batches]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(5):
            for got, want in zip(
                pool.map(tiny_model.predict_proba, batches), expected, strict=True
            ):
                np.testing.assert_array_equal(got, want)


def test_pickled_vectorizers_leave_scratch_and_tables_behind() -> None:
    vectorizer = CharNgramVectorizer(min_df=1).fit(["占道经营", "油烟扰民"])
    expected = vectorizer.transform(["占道油烟"]).toarray()
    state = pickle.dumps(vectorizer)
    assert len(state) < 4_000  # keys and idf only: no scratch, no hash table slots
    np.testing.assert_array_equal(pickle.loads(state).transform(["占道油烟"]).toarray(), expected)


def test_hash_table_finds_every_key_and_nothing_else() -> None:
    from nlp.features import KeyIndex

    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(0, 2**63, size=50_000, dtype=np.uint64))
    # Keys that differ only in their low bits or only in their high bits land in the same
    # slot under a weak hash; both kinds are in the table.
    structured = np.concatenate(
        [np.arange(1_000, dtype=np.uint64), np.arange(1_000, dtype=np.uint64) << np.uint64(42)]
    )
    keys = np.unique(np.concatenate([keys, structured]))
    index = KeyIndex(keys)
    np.testing.assert_array_equal(index.lookup(keys), np.arange(keys.size))
    absent = np.setdiff1d(rng.integers(0, 2**63, size=10_000, dtype=np.uint64), keys)
    assert (index.lookup(absent) == -1).all()
    assert (KeyIndex(np.zeros(0, np.uint64)).lookup(keys[:5]) == -1).all()


def test_token_hashes_are_stable_across_releases() -> None:
    """Saved models store word hashes: the function may never change its values."""
    from nlp.features import token_hashes

    assert token_hashes(["物业", "a", ""]).tolist() == [
        token_hashes(["物业"])[0],
        token_hashes(["a"])[0],
        0,
    ]
    assert token_hashes(["a"])[0] == ((ord("a") + 1) * 0x100000001B3 % 2**64) ^ 0x9E3779B97F4A7C15


CHUNK_DOCS = [
    "楼下烧烤摊天天占道经营,油烟太大了!!",
    "电话<PHONE>，联系人:<NAME>。网格员说……老旧小区改造明年开始",
    "",
    "   ",
    "abc ABC 1.5米 ... 😀😀 占道——",
    "<IDCARD><PLATE>",
    "物业费涨了 业委会不管物业费",
]


@pytest.mark.parametrize(
    ("docs", "refused"),
    [
        pytest.param(CHUNK_DOCS, False, id="normalised"),
        pytest.param(["", ""], False, id="all-empty"),
        # Chunks whose document ends could be lost are refused (and cut doc by doc):
        pytest.param(["一行\n两行", "停水"], True, id="line-break-in-a-document"),
        pytest.param(["回车\r", "停水"], True, id="carriage-return-joins-the-document-end"),
        pytest.param(["私用\ue000字符", "停水"], True, id="private-use-placeholder-character"),
    ],
)
def test_one_tokenizer_call_per_chunk_gives_the_words_of_one_call_per_document(
    docs: list[str], refused: bool
) -> None:
    from nlp.features import _chunk_hashes, _hashes

    segmenter = Segmenter()
    expected = _hashes([segmenter.cut(doc) for doc in docs])
    chunked = _chunk_hashes(segmenter, docs)
    assert (chunked is None) == refused
    if chunked is None:
        return
    np.testing.assert_array_equal(chunked[0], expected[0])
    np.testing.assert_array_equal(chunked[1], expected[1])


def test_document_vectorizer_chunk_path_equals_the_per_document_path(demo_frame) -> None:
    docs = TextNormaliser().transform(demo_frame["text"].tolist()[:200]) + CHUNK_DOCS
    vectorizer = DocumentVectorizer(min_df=1).fit(docs)
    words, _ = vectorizer.weights(docs)  # one tokenizer call
    one_by_one = [vectorizer.weights([doc]) for doc in docs]
    expected = sp.vstack([w.tocsr() for w, _ in one_by_one]).toarray()
    np.testing.assert_allclose(words.tocsr().toarray(), expected, atol=1e-12)
    fallback = vectorizer.words_.weights(vectorizer.segment(docs))  # Segmenter.cut
    np.testing.assert_allclose(fallback.tocsr().toarray(), expected, atol=1e-12)


# --------------------------------------------------------------------------- fields


@pytest.mark.parametrize(("fields", "share"), [("mean", 0.5), ("sum", 1.0)])
def test_a_title_and_a_body_are_scored_as_the_mean_of_each_alone(
    tiny_model: RoutingModel, fields: str, share: float
) -> None:
    """``fields="mean"`` (the default): the row of "title\\nbody" is the mean of the title's
    row and the body's, in the matrix scikit-learn sees and in the model's own scoring path;
    ``"sum"`` adds them."""
    assert tiny_model.vectorizer.fields == "mean"
    model = RoutingModel(clone_fitted(tiny_model.pipeline, fields))
    vectorizer = model.vectorizer
    title, body = "油烟扰民", "楼下烧烤摊天天占道经营，油烟太大了"
    both = vectorizer.transform([f"{title}\n{body}"]).toarray()
    alone = vectorizer.transform([title]).toarray() + vectorizer.transform([body]).toarray()
    np.testing.assert_allclose(both, share * alone, atol=1e-12)
    docs = [f"{title}\n{body}", body, f"停电\n{body}", "路灯坏了"]
    np.testing.assert_allclose(
        model.predict_proba(docs), model.pipeline.predict_proba(docs), atol=1e-12
    )


def clone_fitted(pipeline: Any, fields: str) -> Any:
    """A copy of a fitted pipeline whose vectorizer reads fields as ``fields``."""
    copy = pickle.loads(pickle.dumps(pipeline))
    copy.named_steps["vectorise"].fields = fields
    return copy


def test_joined_fields_read_title_and_body_as_one_text(demo_frame) -> None:
    docs = demo_frame["text"].tolist()[:200]
    joined = DocumentVectorizer(fields="joined").fit(docs)
    one_text = joined.transform(["油烟扰民 楼下油烟太大"]).toarray()
    np.testing.assert_allclose(joined.transform(["油烟扰民\n楼下油烟太大"]).toarray(), one_text)
    with pytest.raises(DataError, match="fields must be"):
        DocumentVectorizer(fields="both").fit(docs)  # type: ignore[arg-type]


def test_models_saved_before_fields_and_learners_keep_their_behaviour(
    tiny_model: RoutingModel,
) -> None:
    """A pickle from before the options has neither attribute: fields joined, plain SVM."""
    restored = pickle.loads(pickle.dumps(tiny_model.pipeline))
    vectorizer, classifier = restored.named_steps["vectorise"], restored.named_steps["classify"]
    del vectorizer.__dict__["fields"], classifier.__dict__["learner"]
    assert (vectorizer.fields, classifier.learner) == ("joined", "svm")
    vectorizer.fields = "joined"
    expected = vectorizer.transform(["油烟扰民 楼下油烟太大"]).toarray()
    del vectorizer.__dict__["fields"]
    np.testing.assert_allclose(vectorizer.transform(["油烟扰民\n楼下油烟太大"]).toarray(), expected)


def test_the_normaliser_keeps_the_line_between_title_and_body() -> None:
    assert TextNormaliser().transform(["電話13812345678\n停水了 三天"]) == [
        "电话<PHONE>\n停水了 三天"
    ]
