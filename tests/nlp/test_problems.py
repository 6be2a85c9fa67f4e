"""Several problems in one ticket (nlp.problems): where a ticket is cut, when a clause is a
problem of its own, the spans, the batch, the cost of the common case, hostile input."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from nlp import Problem, SplitPolicy, find_problems, find_problems_many
from nlp.errors import DataError
from nlp.model import Prediction, RoutingModel
from nlp.problems import _CUT, _cuts, _numbered, clauses, split_problems
from tests.nlp.eval_texts import eval_texts

# -- candidate clauses (no model) ---------------------------------------------------------

CLAUSES = [
    ("one sentence", "停水了，放出来的水还是黄的", False, ["停水了，放出来的水还是黄的"]),
    (
        "semicolon and 另外",
        "工地晚上打桩吵死了；另外小区下水道堵了",
        False,
        ["工地晚上打桩吵死了", "小区下水道堵了"],
    ),
    ("comma then 还有", "路灯坏了三天了，还有井盖也丢了", False, ["路灯坏了三天了", "井盖也丢了"]),
    ("traditional 還有", "路燈壞了；還有井蓋丟了", False, ["路燈壞了", "井蓋丟了"]),
    ("同时", "学校乱收费，同时食堂饭菜是冷的", False, ["学校乱收费", "食堂饭菜是冷的"]),
    ("顺便说一下", "停电了。顺便说一下，路灯也不亮", False, ["停电了", "路灯也不亮"]),
    (
        "heading then 一是 二是",
        "投诉物业：一是车库积水没人抽；二是监控是坏的。",
        False,
        ["投诉物业", "车库积水没人抽", "监控是坏的"],
    ),
    ("第一 第二", "第一，路灯坏了。第二，井盖丢了。", False, ["路灯坏了", "井盖丢了"]),
    ("其一 其二", "其一，路灯坏了；其二，井盖丢了", False, ["路灯坏了", "井盖丢了"]),
    ("问题一 问题二", "问题一：路灯坏了。问题二：井盖丢了。", False, ["路灯坏了", "井盖丢了"]),
    (
        "问题二是 after a comma",
        "电动车上牌要排一整天队，问题二是家门口的井盖塌了",
        False,
        ["电动车上牌要排一整天队", "家门口的井盖塌了"],
    ),
    (
        "numbered 1. 2. 3.",
        "1.电压不稳 2.灯泡烧坏了 3.冰箱也烧了",
        False,
        ["电压不稳", "灯泡烧坏了", "冰箱也烧了"],
    ),
    ("numbered 1、 on lines", "1、路灯坏了\n2、井盖丢了", False, ["路灯坏了", "井盖丢了"]),
    ("circled", "①路灯坏了②井盖丢了", False, ["路灯坏了", "井盖丢了"]),
    ("parenthesised", "（1）路灯坏了。（2）井盖丢了。", False, ["路灯坏了", "井盖丢了"]),
    ("decimal is no list", "买了3.5斤苹果，少了2两", False, ["买了3.5斤苹果，少了2两"]),
    ("a lone 2、 is no list", "住在2、3栋之间的路灯坏了", False, ["住在2、3栋之间的路灯坏了"]),
    (
        "第一次 is no enumeration",
        "第一次来这里，第二天就病了",
        False,
        ["第一次来这里，第二天就病了"],
    ),
    ("sentences", "路灯坏了。井盖丢了！", False, ["路灯坏了", "井盖丢了"]),
    (
        "lists win over sentences",
        "路灯坏了。好几天了；另外井盖丢了",
        False,
        ["路灯坏了。好几天了", "井盖丢了"],
    ),
    ("commas when asked", "路灯坏了，井盖丢了", True, ["路灯坏了", "井盖丢了"]),
    ("no commas unless asked", "路灯坏了，井盖丢了", False, ["路灯坏了，井盖丢了"]),
    ("a bare joining word", "另外，", False, []),
    ("empty", "", False, []),
    ("punctuation only", "。。；！", False, []),
]


@pytest.mark.parametrize(
    ("text", "commas", "expected"),
    [case[1:] for case in CLAUSES],
    ids=[case[0] for case in CLAUSES],
)
def test_clauses(text: str, commas: bool, expected: list[str]) -> None:
    found = clauses(text, split_commas=commas)
    assert [text[c.start : c.end] for c in found] == expected


@pytest.mark.parametrize(
    ("text", "commas", "cut"),
    [
        ("路灯坏了；井盖丢了", False, "list"),
        ("路灯坏了。井盖丢了", False, "sentence"),
        ("路灯坏了，井盖丢了", True, "comma"),
    ],
    ids=["list", "sentence", "comma"],
)
def test_clauses_say_where_the_text_was_cut(text: str, commas: bool, cut: str) -> None:
    assert {c.cut for c in clauses(text, split_commas=commas)} == {cut}


def test_a_long_letter_is_read_whole() -> None:
    letter = "。".join(f"第{i}句话说的是同一件事" for i in range(20)) + "。"
    (whole,) = clauses(letter, max_clauses=12)
    assert letter[whole.start : whole.end] == letter.rstrip("。")


def test_clauses_refuse_what_is_not_text() -> None:
    with pytest.raises(DataError, match="must be a string"):
        clauses(12345)  # type: ignore[arg-type]


# -- the rule, with made-up probabilities (no model) -----------------------------------

LABELS = ["水务", "燃气", "城管执法"]


def _prediction(label: str = "水务", confidence: float = 0.9) -> Prediction:
    others = [name for name in LABELS if name != label]
    return Prediction(
        label=label,
        confidence=confidence,
        top_k=[(label, confidence), (others[0], 0.06), (others[1], 0.04)],
        needs_review=False,
        review_reason=None,
    )


def _rows(*rows: tuple[str, float] | dict[str, float]) -> np.ndarray:
    """Probabilities: ``(label, p)`` spreads the rest evenly; a dict gives every one."""
    out = np.full((len(rows), len(LABELS)), 0.0)
    for i, row in enumerate(rows):
        if isinstance(row, dict):
            out[i] = [row[label] for label in LABELS]
            continue
        label, p = row
        out[i] = (1 - p) / (len(LABELS) - 1)
        out[i, LABELS.index(label)] = p
    return out


RULE = [
    # (id, text, clause probabilities, expected [(label, text)])
    (
        "second department, confident",
        "下水道堵了一个星期了；另外燃气表不走字了",
        [("水务", 0.99), ("燃气", 0.99)],
        [("水务", "下水道堵了一个星期了"), ("燃气", "燃气表不走字了")],
    ),
    (
        "not confident enough",
        "下水道堵了一个星期了；另外燃气表不走字了",
        [("水务", 0.99), {"燃气": 0.496, "城管执法": 0.495, "水务": 0.009}],
        [("水务", "下水道堵了一个星期了；另外燃气表不走字了")],
    ),
    (
        "after a joining word, more than even is enough",
        "下水道堵了一个星期了；另外燃气表不走字了",
        [("水务", 0.99), {"燃气": 0.55, "城管执法": 0.445, "水务": 0.005}],
        [("水务", "下水道堵了一个星期了"), ("燃气", "燃气表不走字了")],
    ),
    (
        "reads as the lead's department too",
        "下水道堵了一个星期了；另外燃气表不走字了",
        [("水务", 0.99), ("燃气", 0.9)],  # the rest, 0.05 each, to 水务 and 城管执法
        [("水务", "下水道堵了一个星期了；另外燃气表不走字了")],
    ),
    (
        "after a joining word, clear enough",
        "下水道堵了一个星期了；另外燃气表不走字了",
        [("水务", 0.99), {"燃气": 0.85, "城管执法": 0.145, "水务": 0.005}],
        [("水务", "下水道堵了一个星期了"), ("燃气", "燃气表不走字了")],
    ),
    (
        "a plain next sentence must be clearer",
        "下水道堵了一个星期了。燃气表不走字了",
        [("水务", 0.99), {"燃气": 0.85, "城管执法": 0.145, "水务": 0.005}],
        [("水务", "下水道堵了一个星期了。燃气表不走字了")],
    ),
    (
        "a plain next sentence must read less as the lead's",
        "下水道堵了一个星期了。燃气表不走字了",
        [("水务", 0.99), {"燃气": 0.95, "城管执法": 0.045, "水务": 0.005}],
        [("水务", "下水道堵了一个星期了。燃气表不走字了")],
    ),
    (
        "a plain next sentence, clear of the lead",
        "下水道堵了一个星期了。燃气表不走字了",
        [("水务", 0.99), {"燃气": 0.95, "城管执法": 0.048, "水务": 0.002}],
        [("水务", "下水道堵了一个星期了"), ("燃气", "燃气表不走字了")],
    ),
    (
        "same department as the lead",
        "下水道堵了一个星期了；另外水压也很低很低",
        [("水务", 0.99), ("水务", 0.99)],
        [("水务", "下水道堵了一个星期了；另外水压也很低很低")],
    ),
    (
        "too short",
        "下水道堵了一个星期了；另外有气",
        [("水务", 0.99), ("燃气", 0.99)],
        [("水务", "下水道堵了一个星期了；另外有气")],
    ),
    (
        "contact details are no problem",
        "下水道堵了一个星期了；联系电话13900001111",
        [("水务", 0.99), ("燃气", 0.99)],
        [("水务", "下水道堵了一个星期了；联系电话13900001111")],
    ),
    (
        "a problem that mentions a telephone is still a problem",
        "下水道堵了一个星期了；另外燃气公司的电话打了十几次都没人接",
        [("水务", 0.99), ("燃气", 0.99)],
        [("水务", "下水道堵了一个星期了"), ("燃气", "燃气公司的电话打了十几次都没人接")],
    ),
    (
        "a problem that ends with the contact details is still a problem",
        "下水道堵了一个星期了；另外燃气表不走字了，联系电话13900001111",
        [("水务", 0.99), ("燃气", 0.99)],
        [("水务", "下水道堵了一个星期了"), ("燃气", "燃气表不走字了，联系电话13900001111")],
    ),
    (
        "masked contact details are no problem",
        "下水道堵了一个星期了；反映人王先生，手机号138****5678",
        [("水务", 0.99), ("燃气", 0.99)],
        [("水务", "下水道堵了一个星期了；反映人王先生，手机号138****5678")],
    ),
    (
        "a detail belongs to the problem before it",
        "燃气表不走字了；一直没人来修啊；另外下水道堵了",
        [("燃气", 0.99), ("城管执法", 0.5), ("水务", 0.99)],
        [("水务", "下水道堵了"), ("燃气", "燃气表不走字了；一直没人来修啊")],
    ),
    (
        "the lead stated second comes first",
        "燃气表不走字了；另外下水道堵了",
        [("燃气", 0.99), ("水务", 0.99)],
        [("水务", "下水道堵了"), ("燃气", "燃气表不走字了")],
    ),
]


@pytest.mark.parametrize(
    ("text", "rows", "expected"), [case[1:] for case in RULE], ids=[case[0] for case in RULE]
)
def test_the_rule(
    text: str, rows: list[tuple[str, float] | dict[str, float]], expected: list[tuple[str, str]]
) -> None:
    found = clauses(text)
    assert len(found) == len(rows)
    problems = split_problems(text, "text", found, _rows(*rows), LABELS, _prediction())
    assert [(p.label, p.text) for p in problems] == expected
    assert all(text[p.start : p.end] == p.text for p in problems)
    assert problems[0].confidence == 0.9  # the lead keeps the whole ticket's confidence


def test_a_comma_splits_where_both_sides_are_sure() -> None:
    text = "小区下水道堵了一个多星期了，燃气表也一直不走字了没人修"
    found = clauses(text, split_commas=True)
    assert [c.cut for c in found] == ["comma", "comma"]
    # rows: the text before the comma, then the text after it
    policy = SplitPolicy(comma_min_support=0.0)
    problems = split_problems(
        text,
        "text",
        found,
        _rows(("水务", 0.99), {"燃气": 0.995, "城管执法": 0.0045, "水务": 0.0005}),
        LABELS,
        _prediction(),
        policy=policy,
    )
    assert [(p.label, p.text) for p in problems] == [
        ("水务", "小区下水道堵了一个多星期了"),
        ("燃气", "燃气表也一直不走字了没人修"),
    ]
    unsure = split_problems(
        text,
        "text",
        found,
        _rows(("水务", 0.99), ("燃气", 0.9)),
        LABELS,
        _prediction(),
        policy=policy,
    )
    assert [p.label for p in unsure] == ["水务"]


#: A whole sentence that reads as its longer problem: the other department is not even in
#: its ranking.
_SURE = Prediction("水务", 0.999, [("水务", 0.999), ("城管执法", 0.001)], False, None)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (
            {"水务": 0.999, "燃气": 0.0005, "城管执法": 0.0005},
            {"燃气": 0.97, "城管执法": 0.0295, "水务": 0.0005},
            ["水务", "燃气"],
        ),
        (  # the text after the comma still reads a little as the lead's
            {"水务": 0.999, "燃气": 0.0005, "城管执法": 0.0005},
            {"燃气": 0.97, "城管执法": 0.025, "水务": 0.005},
            ["水务"],
        ),
        (  # the text before the comma does not read clearly as the lead's (< 0.9)
            {"水务": 0.85, "燃气": 0.1, "城管执法": 0.05},
            {"燃气": 0.97, "城管执法": 0.0295, "水务": 0.0005},
            ["水务"],
        ),
    ],
    ids=["both sides clear", "new side reads as the lead", "lead side unclear"],
)
def test_a_comma_split_needs_no_support_in_the_ranking_but_two_clear_sides(
    before: dict[str, float], after: dict[str, float], expected: list[str]
) -> None:
    text = "小区下水道堵了一个多星期了，燃气表也一直不走字了没人修"
    found = clauses(text, split_commas=True)
    problems = split_problems(text, "text", found, _rows(before, after), LABELS, _SURE)
    assert [p.label for p in problems] == expected


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"min_chars": 0}, "min_chars"),
        ({"min_confidence": 1.5}, "min_confidence"),
        ({"comma_min_support": -0.1}, "comma_min_support"),
        ({"max_clauses": 1}, "max_clauses"),
        ({"max_lead_plain": 2}, "max_lead_plain"),
        ({"comma_max_lead": -1}, "comma_max_lead"),
        ({"comma_min_lead": 1.01}, "comma_min_lead"),
        ({"min_confidence_plain": "high"}, "min_confidence_plain"),
    ],
    ids=[
        "min_chars",
        "min_confidence",
        "comma_min_support",
        "max_clauses",
        "max_lead_plain",
        "comma_max_lead",
        "comma_min_lead",
        "not a number",
    ],
)
def test_a_bad_policy_is_refused_by_name(options: dict[str, Any], named: str) -> None:
    with pytest.raises(DataError, match=named):
        SplitPolicy(**options)


# -- with the demo model ---------------------------------------------------------------

SEVERAL = [
    (
        "stall fumes; sewer",
        "小区楼下的烧烤摊天天占道经营，油烟太大了；另外小区的下水道堵了一个星期，污水都冒出来了",
        {"城管执法", "水务"},
    ),
    (
        "school fees, gas meter",
        "1.孩子学校乱收费，一学期要交好几百的资料费，不给收据 "
        "2.我家燃气表不走字了，燃气公司一直不来修",
        {"教育", "燃气"},
    ),
]
ONE = [
    ("water, details", "停水了！还有水压也很低，放出来的水还是黄的"),
    ("power, numbered symptoms", "1.电压不稳 2.家里灯泡一个月烧了三个 3.空调开不起来"),
    ("site noise and dust", "工地晚上施工太吵了；另外扬尘也很大，窗台上一层灰"),
    ("no split point", "燃气表不走了"),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in SEVERAL], ids=[c[0] for c in SEVERAL]
)
def test_several_problems(tiny_model: RoutingModel, text: str, expected: set[str]) -> None:
    (prediction,) = tiny_model.classify([text])
    problems = find_problems(tiny_model, text, prediction=prediction)
    assert {p.label for p in problems} == expected
    assert problems[0].label == prediction.label
    assert problems[0].confidence == prediction.confidence
    for problem in problems:
        assert problem.field == "text"
        assert text[problem.start : problem.end] == problem.text
        assert problem.text
        assert problem.text[-1] not in "，；。 "


@pytest.mark.parametrize("text", [c[1] for c in ONE], ids=[c[0] for c in ONE])
def test_one_problem_is_never_split(tiny_model: RoutingModel, text: str) -> None:
    (prediction,) = tiny_model.classify([text])
    (problem,) = find_problems(tiny_model, text, prediction=prediction)
    assert (problem.label, problem.confidence) == (prediction.label, prediction.confidence)
    assert (problem.text, problem.start, problem.end, problem.field) == (text, 0, len(text), "text")


def test_the_common_case_does_not_call_the_model_again(
    tiny_model: RoutingModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(documents: object) -> None:
        raise AssertionError("the model was called again")

    (no_split,) = tiny_model.classify(["燃气表不走了燃气公司也不来人"])
    monkeypatch.setattr(tiny_model, "predict_proba", refuse)
    (problem,) = find_problems(tiny_model, "燃气表不走了燃气公司也不来人", prediction=no_split)
    assert problem.label == no_split.label
    # Cut at a comma, but no other department has the support a problem there needs (when
    # the policy asks for some: by default it does not).
    sure = Prediction("燃气", 0.999, [("燃气", 0.999), ("水务", 0.0005)], False, None)
    (problem,) = find_problems(
        tiny_model,
        "燃气表不走了，燃气公司也不来人",
        prediction=sure,
        policy=SplitPolicy(comma_min_support=0.01),
    )
    assert (problem.label, problem.confidence) == ("燃气", 0.999)


def test_a_batch_is_one_model_call_and_the_same_answers(
    tiny_model: RoutingModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [c[1] for c in SEVERAL] + [c[1] for c in ONE]
    one_by_one = [find_problems(tiny_model, text) for text in texts]
    calls = []
    real = tiny_model.predict_proba

    def counted(documents: list[str]) -> np.ndarray:
        calls.append(len(documents))
        return real(documents)

    monkeypatch.setattr(tiny_model, "predict_proba", counted)
    predictions = tiny_model.classify(texts)
    assert find_problems_many(tiny_model, texts, None, predictions) == one_by_one
    assert len(calls) == 1


def test_titles_and_rows_without_a_document(tiny_model: RoutingModel) -> None:
    texts = ["停水了；另外燃气表不走字了", None, "", None]
    titles = ["停水", "燃气表坏了；还有路灯不亮", None, None]
    found = find_problems_many(tiny_model, texts, titles)
    assert [p.field for p in found[0]] == ["text"] * len(found[0])
    assert {p.field for p in found[1]} == {"title"}  # a title-only ticket is read in its title
    assert found[1][0].text in titles[1]
    assert found[2] == []
    assert found[3] == []


def test_bad_calls_say_what_to_do(tiny_model: RoutingModel) -> None:
    with pytest.raises(DataError, match="no text and no title"):
        find_problems(tiny_model, "  ", None)
    with pytest.raises(DataError, match="title must be a string, not int"):
        find_problems(tiny_model, "停水了", 12)
    with pytest.raises(DataError, match="text must be a string, not float"):
        find_problems(tiny_model, float("nan"), "停水")
    with pytest.raises(DataError, match="one title per text"):
        find_problems_many(tiny_model, ["a", "b"], ["t"])
    with pytest.raises(DataError, match="predictions"):
        find_problems_many(tiny_model, ["停水了"], None, [])


def test_to_dict() -> None:
    problem = Problem("下水道堵了", "水务", 0.99, 3, 8, "text")
    assert problem.to_dict() == {
        "text": "下水道堵了",
        "label": "水务",
        "confidence": 0.99,
        "start": 3,
        "end": 8,
        "field": "text",
    }


# -- hostile input ---------------------------------------------------------------------

HOSTILE = {
    "joining words": "另外，" * 7000,
    "numbered list": "".join(f"{i % 9 + 1}.坏了" for i in range(5000)),
    "circled": "①" * 20000,
    "semicolons": "；" * 20000,
    "commas": "，" * 20000,
    "enumerations": "一是" * 10000,
    "digits and dots": "1." * 10000,
    "surrogate": "停水了\udfff；另外\udfff燃气表坏了" * 500,
    "emoji": "😡停水了😡；还有😡" * 2000,
    "markup": "<p>停水了</p><br>另外<b>燃气</b>" * 700,
    "numbers": "13900001111；" * 1700,
}


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_input_is_fast(tiny_model: RoutingModel, text: str) -> None:
    started = time.perf_counter()
    for commas in (False, True):
        clauses(text, split_commas=commas)
    problems = find_problems(tiny_model, text)
    assert time.perf_counter() - started < 5  # generous: linear time is milliseconds
    assert problems
    assert problems[0].field == "text"


def test_ten_times_the_text_is_not_a_hundred_times_slower() -> None:
    def cost(n: int) -> float:
        text = "路灯坏了，井盖丢了；另外" * n
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            clauses(text, split_commas=True, max_clauses=10**9)
            best = min(best, time.perf_counter() - started)
        return best

    assert cost(2000) < 30 * cost(200) + 0.01


# -- the fast cut (one pass of two simple regexes, not _CUT at every character) ----------


@pytest.mark.parametrize(
    "text",
    [
        "（1）路灯坏了；（2）井盖丢了。3.树倒了",
        "（1）（一）①1.1、1)2)",
        "2019.3.5，3.5米",
        "a1.b2.",
        "。。。，，1、2、",
        "无标点的一句话",
    ],
)
def test_cuts_are_the_matches_of_the_cut_pattern(text: str) -> None:
    def spans(matches: Any) -> list[tuple[int, int, str | None]]:
        return [(m.start(), m.end(), m.lastgroup) for m in matches]

    assert spans(_cuts(text)) == spans(_CUT.finditer(text))


def test_cuts_and_clauses_equal_the_slow_pass_on_every_eval_ticket() -> None:
    for text in eval_texts():
        fast = _cuts(text)
        assert [(m.span(), m.lastgroup) for m in fast] == [
            (m.span(), m.lastgroup) for m in _CUT.finditer(text)
        ], text
        assert _numbered(text, fast) == _numbered(text), text


# -- the pieces, found at C speed, equal the plain pass ----------------------------------


def _plain_pieces(text: str) -> list[tuple[int, int, int]]:
    """The pieces of ``text`` by one plain pass over ``_CUT``'s matches (what ``_pieces``
    did before it read the pieces of a text without a numbered list at C speed)."""
    from nlp.problems import _HARD, _MARKING, _OPENER, _OPENER_FIRST, _TRIM

    cuts = list(_CUT.finditer(text))
    numbered = (
        _numbered(text) if any(map(str.isdigit, text)) or any(c in "①②③④⑤⑥⑦⑧⑨⑩" for c in text)
        else set()
    )  # fmt: skip
    bounds = []
    for match in cuts:
        if match.lastgroup == "sep":
            run = match.group()
            strength = 3 if set(run) & set(_MARKING) else 2 if set(run) & set(_HARD) else 1
            bounds.append((match.start(), match.end(), strength))
        elif match.start() in numbered:
            bounds.append((match.start(), match.end(), 3))
    bounds.append((len(text), len(text), 0))
    pieces, position, strength = [], 0, 4
    for cut, after, next_strength in bounds:
        start, end = position, cut
        while start < end and text[start] in _TRIM:
            start += 1
        opener = _OPENER.match(text, start, end) if start < end else None
        if opener is not None and opener.end() > start:
            assert text[start] in _OPENER_FIRST
            strength = max(strength, 3)
            start = opener.end()
            while start < end and text[start] in _TRIM:
                start += 1
        while end > start and text[end - 1] in _TRIM:
            end -= 1
        if end > start:
            pieces.append((start, end, strength))
            strength = next_strength
        else:
            strength = max(strength, next_strength)
        position = after
    return pieces


def _plain_clauses(text: str, split_commas: bool, max_clauses: int) -> list[tuple[int, int, str]]:
    pieces = _plain_pieces(text)
    if not pieces:
        return []
    for level in (3, 2, 1) if split_commas else (3, 2):
        merged: list[list[int]] = []
        for start, end, strength in pieces:
            if merged and strength < level:
                merged[-1][1] = end
            else:
                merged.append([start, end])
        if len(merged) > max_clauses:
            break
        if len(merged) > 1:
            cut = {3: "list", 2: "sentence", 1: "comma"}[level]
            return [(start, end, cut) for start, end in merged]
    return [(pieces[0][0], pieces[-1][1], "list")]


def _fuzz_texts(count: int) -> list[str]:
    """Texts drawn from the characters that cut, open clauses, trim and number lists."""
    rng = np.random.default_rng(15)
    alphabet = list(
        "。！？!?；;\n\r…，,：: \t\u3000、另外还有一是第二其三问题1.2、（1）(2)①②路灯坏了ab3"
    )
    return [
        "".join(rng.choice(alphabet, size=int(rng.integers(0, 40))).tolist()) for _ in range(count)
    ]


HOSTILE_PIECES = [
    "",
    "。。。，，，",
    "另外，",
    "另外，还有。同时",
    "路灯坏了" + " " * 5000 + "井盖",
    "a" + " " * 10_000,
    "\ud800，\udfff；另外\ud800",
    "（一）路灯坏了；（二）井盖丢了",  # a list counted in Chinese, no digit in the text
    "（一）路灯坏了；（二）井盖丢了，3天了",
    "，".join(["路灯坏了"] * 20_000),
]


def test_pieces_and_clauses_equal_the_plain_pass() -> None:
    from nlp.problems import _pieces

    for text in [*eval_texts(), *HOSTILE_PIECES, *_fuzz_texts(3000)]:
        assert _pieces(text) == _plain_pieces(text), text[:60]
        for split_commas in (False, True):
            for most in (2, 6, 12):
                found = clauses(text, split_commas=split_commas, max_clauses=most)
                assert [(c.start, c.end, c.cut) for c in found] == _plain_clauses(
                    text, split_commas, most
                ), text[:60]
