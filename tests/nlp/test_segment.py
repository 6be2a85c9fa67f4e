"""nlp.segment: expected tokens for domain sentences, a walled-off jieba, linear time."""

from __future__ import annotations

import pickle
import random
import sys
import time
from collections.abc import Callable

import joblib
import numpy as np
import pytest

from nlp.errors import DataError
from nlp.features import (
    DocumentVectorizer,
    _chunk_hashes,
    _hashes,
    _kept_token_hashes,
    token_hashes,
)
from nlp.model import RoutingModel
from nlp.segment import DEFAULT_USER_DICT, Segmenter, TokenRule, read_user_dict
from nlp.text import PLACEHOLDERS
from tests.nlp.adversarial_text import ADVERSARIAL

BACKENDS = ["rjieba", "jieba"]


@pytest.fixture(scope="module", params=BACKENDS)
def segmenter(request: pytest.FixtureRequest) -> Segmenter:
    return Segmenter(backend=request.param)


# Expected tokens, the same for both backends (spaCy's JIEBA_TOKENIZER_TESTS style).
SEGMENTATION_CASES = [
    pytest.param(
        "楼下烧烤摊天天占道经营", ["楼下", "烧烤", "摊", "天天", "占道经营"], id="占道经营"
    ),
    pytest.param(
        "网格员说老旧小区改造明年开始",
        ["网格员", "说", "老旧小区改造", "明年", "开始"],
        id="网格员-老旧小区改造",
    ),
    pytest.param("打了12345也没人管", ["打", "了", "12345", "也", "没人管"], id="12345"),
    pytest.param("我打12345热线投诉", ["我", "打", "12345", "热线", "投诉"], id="12345-热线"),
    pytest.param("小区飞线充电很危险", ["小区", "飞线充电", "很", "危险"], id="飞线充电"),
    pytest.param(
        "物业费涨了业委会不管", ["物业费", "涨", "了", "业委会", "不管"], id="物业费-业委会"
    ),
    pytest.param("燃气泄漏了赶紧来人", ["燃气泄漏", "了", "赶紧", "来", "人"], id="燃气泄漏"),
    pytest.param("拖欠工资半年了", ["拖欠工资", "半年", "了"], id="拖欠工资"),
    pytest.param("医保报销太慢", ["医保报销", "太慢"], id="医保报销"),
    pytest.param("违章搭建噪音扰民", ["违章搭建", "噪音扰民"], id="违章搭建-噪音扰民"),
    # Placeholders stay whole, also when glued to words or to each other.
    pytest.param(
        "电话<PHONE>联系人:<NAME>", ["电话", "<PHONE>", "联系人", "<NAME>"], id="placeholders"
    ),
    pytest.param("<PHONE><IDCARD>", ["<PHONE>", "<IDCARD>"], id="adjacent-placeholders"),
    pytest.param(
        "卡号<BANKCARD>车牌<PLATE>邮箱<EMAIL>",
        ["卡号", "<BANKCARD>", "车牌", "<PLATE>", "邮箱", "<EMAIL>"],
        id="every-placeholder",
    ),
    # White space and punctuation are dropped.
    pytest.param("电话 <PHONE> 谢谢！", ["电话", "<PHONE>", "谢谢"], id="spaces-punctuation"),
    pytest.param("", [], id="empty"),
    pytest.param(" ，。！ ", [], id="punctuation-only"),
]


@pytest.mark.parametrize(("text", "expected"), SEGMENTATION_CASES)
def test_segmentation(segmenter: Segmenter, text: str, expected: list[str]) -> None:
    assert segmenter.cut(text) == expected


def test_user_dictionary_is_large_and_has_the_domain_words() -> None:
    words = {word for word, _, _ in read_user_dict(DEFAULT_USER_DICT)}
    assert len(words) >= 300
    assert {
        "网格员",
        "业委会",
        "物业费",
        "占道经营",
        "违章搭建",
        "噪音扰民",
        "老旧小区改造",
    } <= words
    assert {"12345", "燃气泄漏", "拖欠工资", "医保报销"} <= words


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_segmenter_has_its_own_dictionary(backend: str) -> None:
    with_dict = Segmenter(backend=backend)  # type: ignore[arg-type]
    without = Segmenter(backend=backend, user_dict=None)  # type: ignore[arg-type]
    assert with_dict.cut("网格员说占道经营") == ["网格员", "说", "占道经营"]
    assert without.cut("网格员说占道经营") != ["网格员", "说", "占道经营"]


def test_jieba_backend_never_touches_the_global_tokenizer(monkeypatch: pytest.MonkeyPatch) -> None:
    import jieba

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the module-level jieba tokenizer was used")

    for name in ("cut", "lcut", "cut_for_search", "load_userdict", "add_word", "del_word"):
        monkeypatch.setattr(jieba, name, forbidden)
    monkeypatch.setattr(jieba, "initialize", forbidden)
    segmenter = Segmenter(backend="jieba")
    assert segmenter.cut("网格员说老旧小区改造") == ["网格员", "说", "老旧小区改造"]
    monkeypatch.undo()

    # The global tokenizer knows none of our words.
    assert jieba.lcut("网格员说老旧小区改造") == ["网格", "员", "说", "老旧", "小区", "改造"]
    assert "老旧小区改造" not in jieba.dt.FREQ
    assert "占道经营" not in jieba.dt.FREQ


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"backend": "thulac"}, "unknown segmenter backend", id="unknown-backend"),
        pytest.param({"max_piece": 4}, "max_piece", id="tiny-max-piece"),
    ],
)
def test_invalid_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(DataError, match=message):
        Segmenter(**options)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- pickling


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_segmenter_cannot_be_pickled(backend: str) -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Segmenter(backend=backend))  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_fitted_document_vectorizer_pickles(backend: str, demo_frame) -> None:
    docs = demo_frame["text"].tolist()[:200]
    vectorizer = DocumentVectorizer(segmenter=backend).fit(docs)  # type: ignore[arg-type]
    assert "_segmenter" in vars(vectorizer)  # built while fitting...
    restored = pickle.loads(pickle.dumps(vectorizer))
    assert "_segmenter" not in vars(restored)  # ...and rebuilt lazily after unpickling
    before, after = vectorizer.transform(docs), restored.transform(docs)
    assert (before != after).nnz == 0


@pytest.mark.parametrize(
    "roundtrip",
    [
        pytest.param(lambda obj, path: pickle.loads(pickle.dumps(obj)), id="pickle"),
        pytest.param(
            lambda obj, path: (joblib.dump(obj, path / "m.joblib"), joblib.load(path / "m.joblib"))[
                1
            ],
            id="joblib",
        ),
    ],
)
def test_a_fitted_pipeline_roundtrips(
    roundtrip: Callable, tiny_model: RoutingModel, demo_frame, tmp_path
) -> None:
    docs = demo_frame["text"].tolist()[:100]
    pipeline = roundtrip(tiny_model.pipeline, tmp_path)
    np.testing.assert_array_equal(
        pipeline.predict_proba(docs), tiny_model.pipeline.predict_proba(docs)
    )
    np.testing.assert_array_equal(
        RoutingModel(pipeline).predict_proba(docs), tiny_model.predict_proba(docs)
    )


# --------------------------------------------------------------------------- linear time


def _random_cjk(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(n))


def _cpu_seconds(cut: Callable[[str], list[str]], text: str) -> tuple[float, list[str]]:
    """Best of a few runs, in CPU time: other processes on the machine do not count."""
    best, spent, runs = float("inf"), 0.0, 0
    while runs < 5 and (runs == 0 or spent < 0.5):
        started = time.process_time()
        tokens = cut(text)
        elapsed = time.process_time() - started
        best, spent, runs = min(best, elapsed), spent + elapsed, runs + 1
    return best, tokens


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda n: "的" * n, id="repeated-的"),
        pytest.param(lambda n: _random_cjk(n, seed=n), id="random-cjk"),
    ],
)
def test_cost_is_linear_in_the_input(backend: str, make: Callable[[int], str]) -> None:
    """jieba's own HMM takes ~55 s on '的' x 100,000; bounded pieces keep it linear."""
    segmenter = Segmenter(backend=backend)  # type: ignore[arg-type]
    segmenter.cut("预热")
    short, long = make(20_000), make(200_000)
    long_seconds, tokens = _cpu_seconds(segmenter.cut, long)
    assert long_seconds < 20.0
    assert "".join(tokens) == long  # nothing lost on the way
    short_seconds, _ = _cpu_seconds(segmenter.cut, short)
    # 10x the input may cost 10x the time, with room for noise; not 100x (quadratic).
    assert long_seconds < 30 * max(short_seconds, 1e-3)


def test_the_jieba_tokenizer_only_sees_bounded_pieces() -> None:
    segmenter = Segmenter(backend="jieba", max_piece=16)
    seen: list[str] = []
    inner = segmenter._cut

    def spy(piece: str) -> list[str]:
        seen.append(piece)
        return inner(piece)

    segmenter._cut = spy
    text = "的" * 1_000 + "，" + _random_cjk(500, seed=1) + " 小区" * 10
    tokens = segmenter.cut(text)
    assert seen
    assert max(map(len, seen)) <= 16
    assert "".join(tokens) == text.replace("，", "").replace(" ", "")


# --------------------------------------------------------------------------- one rule

RULE = TokenRule()
# Drops 的 and 了 alone, keeps the full-width comma: a rule changed in one place.
CHANGED_RULE = TokenRule(punctuation=(RULE.punctuation - {"，"}) | {"的", "了"})


def _compiled_keep(rule: TokenRule, tokens: list[str]) -> list[int]:
    """Hashes of what the compiled code keeps of ``tokens`` (one document)."""
    hashes, offsets = _kept_token_hashes([*tokens, rule.document_end], 1, rule)
    assert offsets.tolist() == [0, hashes.size]
    return hashes.tolist()


def _python_keep(rule: TokenRule, tokens: list[str]) -> list[int]:
    """The same from :meth:`TokenRule.keep`, placeholders' private-use characters hashed as
    the placeholders they stand for."""
    return token_hashes(rule.keep(tokens, swapped=True)).tolist()


@pytest.mark.parametrize("rule", [RULE, CHANGED_RULE], ids=["default", "changed"])
def test_compiled_code_keeps_what_the_rule_keeps_for_every_character(rule: TokenRule) -> None:
    """Every character below U+10000 as a token of its own, then tokens of several
    characters: the kernel reads the rule's tables and keeps exactly what ``keep`` keeps."""
    singles = [chr(c) for c in range(1, 0x10000) if chr(c) != rule.document_end]
    several = ["\r\n", "  ", " \u3000\t", "，，", "<>", "的的", "a ", " 的", "\u2028\u2029"]
    several += ["<PHONE>", "\ue000\ue001"]
    assert _compiled_keep(rule, singles) == _python_keep(rule, singles)
    assert _compiled_keep(rule, several) == _python_keep(rule, several)
    kept = set(rule.keep(singles))
    assert "的" not in kept if rule is CHANGED_RULE else "的" in kept
    assert not kept & {" ", "\t", "\u3000", "。", "<", ">"}


def test_no_white_space_lies_beyond_the_rules_tables() -> None:
    """The compiled tables cover U+0000-U+FFFF: what str.isspace finds must lie there."""
    assert RULE.white_space.size == 0x10000
    assert not any(chr(c).isspace() for c in range(0x10000, sys.maxunicode + 1))
    assert RULE.white_space.tolist() == [chr(c).isspace() for c in range(0x10000)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_changed_rule_changes_cut_and_the_compiled_chunk_path_alike(backend: str) -> None:
    """The rule is the only place that says what is dropped: change it, and Segmenter.cut
    (both backends) and the one-call chunk path (compiled) follow together."""
    text = "物业费涨了，业委会不管的。电话<PHONE>"
    default = Segmenter(backend=backend)  # type: ignore[arg-type]
    changed = Segmenter(backend=backend, rule=CHANGED_RULE)  # type: ignore[arg-type]
    assert default.cut(text) == ["物业费", "涨", "了", "业委会", "不管", "的", "电话", "<PHONE>"]
    assert changed.cut(text) == ["物业费", "涨", "，", "业委会", "不管", "电话", "<PHONE>"]
    if backend == "rjieba":
        docs = [text, "小区停水了，的确很急", "<NAME>的车"]
        sizes = []
        for segmenter in (default, changed):
            chunked = _chunk_hashes(segmenter, docs)
            assert chunked is not None
            expected = _hashes([segmenter.cut(doc) for doc in docs])
            np.testing.assert_array_equal(chunked[0], expected[0])
            np.testing.assert_array_equal(chunked[1], expected[1])
            sizes.append(chunked[0].size)
        assert sizes[0] != sizes[1]


@pytest.fixture(scope="module")
def segmenters() -> dict[str, Segmenter]:
    return {backend: Segmenter(backend=backend) for backend in BACKENDS}  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [64, 1_000])
@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_both_backends_drop_only_and_all_of_what_the_rule_drops(
    segmenters: dict[str, Segmenter], name: str, length: int
) -> None:
    """Hostile text: neither backend keeps a token the rule drops, and neither loses a
    character the rule does not drop (how words are cut may differ: jieba sees pieces)."""
    text = ADVERSARIAL[name](length)
    separators = set(RULE.separators)
    visible = [c for c in text if c not in separators]
    for segmenter in segmenters.values():
        tokens = segmenter.cut(text)
        assert RULE.keep(tokens) == tokens
        assert [c for c in "".join(tokens) if c not in separators] == visible


_PIECES = [
    *PLACEHOLDERS,
    *("<PHONE", "PHONE>", "<ABC>", "<>", "<<NAME>>", "<phone>", "< NAME>"),  # none of them
    *("小区", "物业费", "网格员", "停水", "谢谢", "12345"),
]
_SEPARATORS = ["，", "。", " ", "\t", "\u3000", "\r\n", "……", "<", ">", "!!", "、", "（", "）"]


@pytest.mark.parametrize("seed", range(20))
def test_both_backends_cut_placeholder_and_punctuation_heavy_text_alike(
    segmenters: dict[str, Segmenter], seed: int
) -> None:
    """Words, placeholders and things that look like them, between punctuation and white
    space: both backends keep the same tokens."""
    rng = random.Random(seed)
    parts = []
    for _ in range(40):
        parts += [rng.choice(_PIECES), "".join(rng.choices(_SEPARATORS, k=rng.randint(1, 3)))]
    text = "".join(parts)
    assert segmenters["rjieba"].cut(text) == segmenters["jieba"].cut(text)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("text", "expected"), SEGMENTATION_CASES)
def test_cut_spans_is_cut_with_where_each_word_stands(
    segmenters: dict[str, Segmenter], backend: str, text: str, expected: list[str]
) -> None:
    words, starts, ends = segmenters[backend].cut_spans(text)
    assert words == segmenters[backend].cut(text)
    assert [text[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)] == words


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_cut_spans_locates_every_word_of_hostile_text(
    segmenters: dict[str, Segmenter], name: str
) -> None:
    text = ADVERSARIAL[name](1_000)
    for segmenter in segmenters.values():
        words, starts, ends = segmenter.cut_spans(text)
        assert words == segmenter.cut(text)
        assert [text[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)] == words
