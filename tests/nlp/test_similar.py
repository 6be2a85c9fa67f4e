"""Similar tickets and likely repeats (nlp.similar).

The tickets are written for these tests: a night-time mixing plant at one village reported
three times, the same kind of complaint at another village, property fees at two estates, and
unrelated tickets around them.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from nlp.errors import DataError
from nlp.similar import (
    LONG_VETO_SCORE,
    NAMED_MAX_CHARS,
    RepeatKeys,
    SimilarIndex,
    documents_of,
    named_pair,
    parse_times,
    parse_window,
    place_keys,
    problem_keys,
    problem_vetoed,
    repeat_keys,
    same_place,
    same_problem,
)

TICKETS = pd.DataFrame(
    [
        (
            "s1",
            "2020-05-01 21:00",
            "松林村搅拌站半夜开工",
            "松林村村口的搅拌站每天半夜还在生产，噪音太大睡不着觉",
        ),
        (
            "s2",
            "2020-05-03 08:10",
            "",
            "松林村那个混凝土搅拌站晚上噪音扰民，罐车来来回回，请环保部门管一管",
        ),
        ("s3", "2020-05-04 19:30", "投诉搅拌站", "杏花村的搅拌站晚上噪音很大，吵得睡不着"),
        ("s4", "2020-05-05 10:00", "物业费上涨", "梧桐苑物业擅自上调物业费，没有开业主大会"),
        ("s5", "2020-05-06 10:00", "", "银杏苑物业费涨价没有公示，业主们意见很大"),
        ("s6", "2020-05-06 12:00", "医保咨询", "异地就医的医保怎么报销，需要准备什么材料"),
        ("s7", "2020-03-01 09:00", "", "松林村搅拌站夜间施工噪音扰民，罐车很多"),
    ],
    columns=["id", "time", "title", "text"],
)


@pytest.fixture(scope="module")
def index() -> SimilarIndex:
    return SimilarIndex.from_frame(TICKETS)


def test_a_repeat_at_the_same_place_is_found_first(index: SimilarIndex) -> None:
    found = index.similar(
        "松林村搅拌站夜里还在干活，噪音吵死人了", time="2020-05-08", window="30d", k=3
    )
    assert found[0].id in {"s1", "s2"}
    assert found[0].repeat
    assert found[0].same_place
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)


def test_the_same_problem_at_another_village_is_not_a_repeat(index: SimilarIndex) -> None:
    found = {m.id: m for m in index.similar("杏花村搅拌站晚上噪音扰民", time="2020-05-08", k=7)}
    assert found["s3"].repeat
    assert not found["s1"].repeat
    assert not found["s1"].same_place


def test_property_fees_at_two_estates_are_same_topic_only(index: SimilarIndex) -> None:
    found = {m.id: m for m in index.similar("银杏苑物业乱涨物业费", time="2020-05-09", k=7)}
    assert found["s5"].repeat
    assert "s4" not in found or not found["s4"].repeat


def test_the_time_window_is_respected(index: SimilarIndex) -> None:
    ids = [m.id for m in index.similar("松林村搅拌站噪音", time="2020-05-08", window="30d", k=7)]
    assert "s7" not in ids  # two months earlier
    assert "s7" in [m.id for m in index.similar("松林村搅拌站噪音", time="2020-05-08", window=None)]
    # only earlier tickets: nothing before the first one
    assert index.similar("松林村搅拌站噪音", time="2020-03-01 08:00", window=None) == []


def test_appended_tickets_are_found() -> None:
    index = SimilarIndex.from_frame(TICKETS)
    assert (
        index.add(
            ids=["n1"],
            times=["2020-05-07 09:00"],
            texts=["石桥镇菜市场门口的下水道堵了，污水漫到路上"],
        )
        == 1
    )
    found = index.similar("石桥镇菜市场门口下水道堵塞污水横流", time="2020-05-08")
    assert found[0].id == "n1"
    assert found[0].repeat
    assert len(index) == len(TICKETS) + 1


def test_many_appends_one_by_one_keep_time_order_and_refit() -> None:
    index = SimilarIndex()
    for i in range(40):
        index.add(ids=[f"t{i}"], times=[f"2020-06-{(40 - i) % 28 + 1:02d}"], texts=[f"第{i}号投诉"])
    times = index.times
    assert len(index) == 40
    assert (times[1:] >= times[:-1]).all()


def test_text_is_masked_in_the_index() -> None:
    index = SimilarIndex()
    index.add(ids=["p"], times=["2020-01-01"], texts=["搅拌站噪音，联系电话13812345678"])
    assert "13812345678" not in index.documents[0]
    assert "<PHONE>" in index.documents[0]


def test_neighbours_pairs_earlier_tickets_within_the_window(index: SimilarIndex) -> None:
    pairs = index.neighbours(window="7d")
    ids, times = index.ids, index.times
    assert (pairs["target"] < pairs["source"]).all()
    assert ((times[pairs["source"]] - times[pairs["target"]]) <= pd.Timedelta(days=7)).all()
    repeats = {(ids[s], ids[t]) for s, t in pairs.loc[pairs["repeat"], ["source", "target"]].values}
    assert ("s2", "s1") in repeats
    assert ("s3", "s1") not in repeats
    assert ("s3", "s2") not in repeats


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("36h", timedelta(hours=36)),
        ("2w", timedelta(weeks=2)),
        (None, None),
    ],
)
def test_windows_parse(window: str | None, expected: timedelta | None) -> None:
    assert parse_window(window) == expected


@pytest.mark.parametrize("window", ["seven days", "0d", "-3d", ""])
def test_bad_windows_say_how_to_write_one(window: str) -> None:
    with pytest.raises(DataError, match="window"):
        parse_window(window)


def test_bad_input_gets_clear_errors() -> None:
    with pytest.raises(DataError, match="not found"):
        SimilarIndex.from_frame(TICKETS.drop(columns=["time"]))
    with pytest.raises(DataError, match=r"not times: row 2 \('yesterday'\)"):
        parse_times(["2020-01-01", "yesterday"])
    with pytest.raises(DataError, match="must be text"):
        SimilarIndex().add(ids=["x"], times=["2020-01-01"], texts=[42])
    with pytest.raises(DataError, match="text or a title"):
        SimilarIndex.from_frame(TICKETS).similar("  ")


def test_place_keys_and_the_veto() -> None:
    a = place_keys("A市A3区梧桐苑3栋楼下的垃圾站太臭")
    assert "梧桐苑" in a
    assert not same_place(a, place_keys("银杏苑门口垃圾站很臭"))
    assert same_place(a, frozenset())  # a ticket that names no place is not told apart


def test_ten_times_the_tickets_is_not_a_hundred_times_slower() -> None:
    def build(n: int) -> float:
        frame = pd.DataFrame(
            {
                "id": [str(i) for i in range(n)],
                "time": pd.date_range("2020-01-01", periods=n, freq="h").astype(str),
                "text": [f"第{i % 97}小区第{i % 13}栋楼下噪音扰民问题{i}" for i in range(n)],
            }
        )
        start = time.perf_counter()
        index = SimilarIndex.from_frame(frame)
        index.neighbours(window="2d")
        return time.perf_counter() - start

    build(50)  # warm up the segmenter
    small, large = build(100), build(1000)
    assert large < 100 * max(small, 0.01)


def test_the_index_is_rebuilt_from_the_ticket_store_after_a_restart(tmp_path: Path) -> None:
    from nlp.model import Prediction
    from nlp.store import Answer, TicketStore

    url = f"sqlite:///{tmp_path / 'tickets.db'}"
    prediction = Prediction("生态环境", 0.9, [("生态环境", 0.9)], False, None)
    at = datetime(2020, 5, 1, 21, 0)
    with TicketStore(url).open() as store:
        store.record(
            [
                Answer(
                    row.id, row.text, row.title, "default", "v1", prediction, at + timedelta(days=i)
                )
                for i, row in enumerate(TICKETS.itertuples())
            ]
        )
    now = at + timedelta(days=10)
    with TicketStore(url).open() as store:  # a new process: only the store is left
        index = SimilarIndex.from_store(store, window="30d", now=now)
    assert len(index) == len(TICKETS)
    found = index.similar("松林村搅拌站夜里噪音扰民", time=now, window="30d")
    assert found[0].id in {"s1", "s2", "s7"}
    assert found[0].repeat
    with TicketStore(url).open() as store:
        assert len(SimilarIndex.from_store(store, window="2d", now=now)) < len(TICKETS)


def test_tickets_added_one_by_one_are_found_like_a_batch() -> None:
    batch = SimilarIndex.from_frame(TICKETS)
    single = SimilarIndex()
    for row in TICKETS.itertuples():
        single.add(ids=[row.id], times=[row.time], texts=[row.text], titles=[row.title])
    for text in ("杏花村搅拌站晚上噪音扰民", "银杏苑物业乱涨物业费", "松林村搅拌站夜里噪音"):
        from_batch = batch.similar(text, time="2020-05-09", k=1)
        from_single = single.similar(text, time="2020-05-09", k=1)
        assert [m.id for m in from_batch] == [m.id for m in from_single]


# A different problem at the same estate: the estate's rare name makes the two tickets' cosine
# look like a repeat's, what they complain about (a lift, the parking fee) does not.
SAME_ESTATE = pd.DataFrame(
    [
        ("e1", "2020-06-01 09:00", "紫荆花园5栋电梯又坏了，上周还困了人，物业一直拖着不修"),
        ("e2", "2020-06-03 10:00", "紫荆花园物业把停车费从一百涨到两百五，业主都不同意"),
        ("e3", "2020-06-04 11:00", "紫荆花园的电梯三天两头停，老人只能爬楼梯，物业不管"),
    ],
    columns=["id", "time", "text"],
)


def test_a_different_problem_at_the_same_estate_is_not_a_repeat() -> None:
    index = SimilarIndex.from_frame(SAME_ESTATE.iloc[:2])
    query = "紫荆花园电梯故障，物业修了又坏"
    found = {m.id: m for m in index.similar(query, time="2020-06-10", k=5)}
    assert found["e1"].repeat
    parking = found["e2"]
    # what made it a repeat before: the same place and a score over the threshold
    assert parking.same_place
    assert parking.score >= index.repeat_threshold
    assert not parking.repeat


# One lift complaint, written as a long letter twice: the second calls the lift 升降梯 (not
# on the word list) and mentions parking in passing, so their problem keys share nothing.
_LETTER_START = (
    "尊敬的领导：您好！我们是紫荆花园小区的住户，小区建成已经十几年了，住着好几百户人家，其中"
    "有不少行动不便的老人和需要接送上学的孩子，平时大家相处和睦，对社区的工作也一直很支持。"
)
_LETTER_END = (
    "我们多次找过社区和相关单位，每次都说会尽快研究，可是到现在一直没有下文，大家心里都很着急。"
    "希望领导能够重视我们老百姓的实际困难，早日督促有关方面给出一个明确的处理时间表，让大家能"
    "安心过日子，谢谢！"
)
LIFT_LETTERS = pd.DataFrame(
    [
        ("L1", "2020-06-01 09:00", _LETTER_START + "最近三号楼的电梯经常故障，上下楼非常不便。"),
        (
            "L2",
            "2020-06-03 09:00",
            _LETTER_START
            + "最近三号楼的升降梯三天两头坏在半路，老人只能在楼道里歇脚，晚上回来停车都难。",
        ),
    ],
    columns=["id", "time", "text"],
)


def test_long_letters_this_alike_pass_the_problem_veto() -> None:
    letters = LIFT_LETTERS.assign(text=LIFT_LETTERS["text"] + _LETTER_END)
    documents = [documents_of([text])[0] or "" for text in letters["text"]]
    keys = [repeat_keys(d, place_keys(d)) for d in documents]
    assert min(k.chars for k in keys) > NAMED_MAX_CHARS
    assert not same_problem(keys[0].problems, keys[1].problems)
    (pair,) = SimilarIndex.from_frame(letters).neighbours(window="7d", min_score=0.0).itertuples()
    assert pair.score >= LONG_VETO_SCORE
    assert not pair.same_problem  # hot spots still link by the problem alone
    assert pair.repeat
    (match,) = SimilarIndex.from_frame(letters.iloc[:1]).similar(
        letters["text"][1], time="2020-06-03 10:00", k=1
    )
    assert match.repeat
    # the same two complaints as short posts: the veto holds
    short = SimilarIndex.from_frame(LIFT_LETTERS).neighbours(window="7d", min_score=0.0)
    assert short["score"].iloc[0] >= LONG_VETO_SCORE
    assert not short["repeat"].iloc[0]


def test_problem_vetoed_lets_only_long_letters_this_alike_through() -> None:
    here = frozenset({"紫荆花园"})
    lift, parking = frozenset({"电梯"}), frozenset({"停车"})
    long, short = NAMED_MAX_CHARS + 1, NAMED_MAX_CHARS
    assert problem_vetoed(0.9, RepeatKeys(here, lift, short), RepeatKeys(here, parking, short))
    assert problem_vetoed(
        LONG_VETO_SCORE - 0.01, RepeatKeys(here, lift, long), RepeatKeys(here, parking, short)
    )
    assert not problem_vetoed(
        LONG_VETO_SCORE, RepeatKeys(here, lift, short), RepeatKeys(here, parking, long)
    )
    assert not problem_vetoed(0.0, RepeatKeys(here, lift, short), RepeatKeys(here, lift, short))


def test_neighbours_use_the_same_problem_rule() -> None:
    index = SimilarIndex.from_frame(SAME_ESTATE)
    pairs = index.neighbours(window="7d", min_score=0.0)
    ids = index.ids
    marked = {(ids[s], ids[t]): r for s, t, r in pairs[["source", "target", "repeat"]].values}
    assert marked[("e3", "e1")]
    assert pairs["same_place"].all()
    assert not marked.get(("e2", "e1"), False)
    assert not marked.get(("e3", "e2"), False)
    # the problem on its own, whatever the score (hot spots link by it at their own score)
    problem = {
        (ids[s], ids[t]): p for s, t, p in pairs[["source", "target", "same_problem"]].values
    }
    assert problem[("e3", "e1")]
    assert not problem[("e2", "e1")]


@pytest.mark.parametrize(
    ("document", "places", "expected"),
    [
        ("紫荆花园5栋电梯又坏了，困了人", frozenset({"紫荆花园"}), {"电梯"}),
        ("反映物业擅自上调停车收费标准", frozenset(), {"停车", "涨价"}),
        ("我家老人今年被取消了低保", frozenset(), {"补贴"}),
        ("楼上装修天天电钻响，吵得睡不着", frozenset(), {"施工", "噪音"}),
        # a place's name is not what the ticket complains about
        ("路灯花园停水两天了", frozenset({"路灯花园"}), {"供水"}),
        ("咨询一下办理流程", frozenset(), set()),
        # terms with a context: a department's name is no complaint, a flat handed over is
        # the background of a complaint about its walls, not a late delivery
        ("请卫生部门和消防部门来查一查", frozenset(), set()),
        ("楼道堆满杂物，消防通道堵了", frozenset(), {"消防"}),
        ("刚交房半年外墙就开裂了", frozenset(), {"房屋质量"}),
        ("合同写的去年交房，现在还没交房", frozenset(), {"交房"}),
        ("这周已经停了三次水", frozenset(), {"供水"}),
        # the longer word wins: 加班费 is wages, not a class fee (班费)
        ("天天加班到十点，加班费一分没有", frozenset(), {"工资"}),
        ("房东拖着押金不给", frozenset(), {"租房"}),
        ("房东按一块五一度收电费", frozenset(), {"供电"}),
    ],
    ids=[
        *("lift", "parking-fee", "allowance", "two-objects", "place-cut-out", "nothing-known"),
        *("departments", "fire-exit", "handed-over", "late-delivery", "water-cut-counted"),
        *("overtime-pay", "deposit", "landlords-power-price"),
    ],
)
def test_problem_keys(document: str, places: frozenset[str], expected: set[str]) -> None:
    assert problem_keys(document, places) == expected


def test_same_problem_tells_apart_only_when_both_name_one() -> None:
    assert not same_problem(frozenset({"电梯"}), frozenset({"停车"}))
    assert same_problem(frozenset({"电梯", "物业服务"}), frozenset({"电梯"}))
    assert same_problem(frozenset({"电梯"}), frozenset())  # nothing known: not told apart


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ("今年入冬以来，华新小区4栋的暖气一直是温的", "华新小区"),
        ("丰收市场外面又摆满了摊", "丰收市场"),
        ("A市A2区紫荆花园小区电梯坏了", "紫荆花园"),
    ],
    ids=["estate-ending-in-区", "market-ending-in-市场", "masked-divisions"],
)
def test_place_keys_keep_estates_whose_names_end_like_a_division(document: str, key: str) -> None:
    assert key in place_keys(document)


@pytest.mark.parametrize(
    ("document", "keys"),
    [
        ("桃源新村中心广场每天晚上有人跳广场舞", {"桃源新村", "中心广场"}),
        ("投诉通达驾校拒绝退还学员培训费", {"通达驾校"}),
        ("反映南山公寓转供电加价，请发改委或市场监管部门查处", {"南山公寓"}),
        ("反映华新小区供热不达标，请热力公司上门检测", {"华新小区", "热力公司"}),
        ("沙河靠近化工厂那一段的河水变黑了", {"化工厂"}),
        ("咨询一下在妇幼保健院做手术怎么报销", {"妇幼保健院"}),
        ("反映小区暖气冰凉", set()),
    ],
    ids=[
        *("square-dance", "refuse", "ask-a-department", "ask-a-company", "near", "maternity"),
        "an-ending-alone",
    ],
)
def test_place_keys_cut_the_words_before_a_name(document: str, keys: set[str]) -> None:
    assert place_keys(document) == keys


def test_villagers_are_not_a_village() -> None:
    assert place_keys("反映青龙村采石场爆破作业导致村民房屋开裂") == {"青龙村"}


def test_one_estate_or_market_by_two_of_its_names_is_one_place() -> None:
    assert same_place(frozenset({"紫荆花园"}), frozenset({"紫荆小区"}))
    assert same_place(frozenset({"丰收市场"}), frozenset({"丰收农贸市场"}))
    assert not same_place(frozenset({"实验小学"}), frozenset({"实验中学"}))
    assert not same_place(frozenset({"紫荆花园"}), frozenset({"金穗家园"}))


# Two phrasings of one problem at one estate that share few words: the cosine alone is under
# the general threshold, naming the same place and the same problem makes them a repeat.
FEW_WORDS = pd.DataFrame(
    [
        ("h1", "2020-12-01 09:00", "", "沐兰苑暖气摸着冰凉，屋里才十四度"),
        (
            "h2",
            "2020-12-05 09:00",
            "",
            "反映沐兰苑暖气温度低，集中供热温度不达标，请热力公司上门检测管网",
        ),
        ("h3", "2020-12-06 09:00", "", "家里暖气不热，屋里十几度"),
    ],
    columns=["id", "time", "title", "text"],
)


def test_naming_the_same_place_and_problem_lowers_the_threshold() -> None:
    index = SimilarIndex.from_frame(FEW_WORDS.iloc[:1])
    assert index.named_repeat_threshold < index.repeat_threshold
    (match,) = index.similar(FEW_WORDS.text[1], time="2020-12-05 10:00", k=1)
    assert index.named_repeat_threshold <= match.score < index.repeat_threshold
    assert match.same_place
    assert match.repeat
    # without the place named on one side, the same score is not enough
    (unnamed,) = index.similar(FEW_WORDS.text[2], time="2020-12-06 10:00", k=1)
    assert index.named_repeat_threshold <= unnamed.score < index.repeat_threshold
    assert not unnamed.repeat
    # ... and neither is it without the lower threshold
    strict = SimilarIndex.from_frame(
        FEW_WORDS.iloc[:1], named_repeat_threshold=index.repeat_threshold
    )
    (again,) = strict.similar(FEW_WORDS.text[1], time="2020-12-05 10:00", k=1, min_score=0.0)
    assert not again.repeat


def test_neighbours_use_the_lower_threshold_too() -> None:
    index = SimilarIndex.from_frame(FEW_WORDS.iloc[:2])
    pairs = index.neighbours(window="7d", min_score=0.0)
    assert pairs["repeat"].tolist() == [True]


# The same heating complaint inside a letter of more than NAMED_MAX_CHARS characters, which
# names other problems too: sharing a place and a problem with it is weak evidence there.
LONG_LETTER = (
    "尊敬的领导：您好！我是沐兰苑三期的一名老业主，在这里住了快十年。今年入冬以来，"
    + FEW_WORDS.text[1]
    + "。屋里冰凉，老人孩子都冻感冒了，我们多次打物业电话，物业说是热力公司的事，热力公司又说"
    "是小区内部管网的事，互相推诿，到现在也没有人来处理。另外，小区去年就说要改造的二次供水"
    "设施至今没有动工，每到夏天高峰期楼上就没水。我们都是普通工薪家庭，盼望这个冬天能过得"
    "暖和一点。恳请有关部门尽快督促解决，给老百姓一个说法，谢谢！"
)


def test_the_lower_threshold_holds_between_short_tickets_only() -> None:
    assert len(documents_of([LONG_LETTER])[0] or "") > NAMED_MAX_CHARS
    index = SimilarIndex.from_frame(FEW_WORDS.iloc[:1])
    (match,) = index.similar(LONG_LETTER, time="2020-12-05 10:00", k=1)
    assert index.named_repeat_threshold <= match.score < index.repeat_threshold
    assert match.same_place
    assert not match.repeat
    letters = pd.concat(
        [FEW_WORDS.iloc[:1], FEW_WORDS.iloc[1:2].assign(text=LONG_LETTER)], ignore_index=True
    )
    pairs = SimilarIndex.from_frame(letters).neighbours(window="7d", min_score=0.0)
    assert pairs["same_problem"].tolist() == [True]
    assert pairs["repeat"].tolist() == [False]


def test_named_pair_needs_both_places_a_shared_problem_and_short_tickets() -> None:
    heating = frozenset({"供暖"})
    here = frozenset({"沐兰苑"})
    short = RepeatKeys(here, heating, 40)
    assert named_pair(short, short)
    assert not named_pair(short, RepeatKeys(frozenset(), heating, 40))
    assert not named_pair(short, RepeatKeys(here, frozenset({"电梯"}), 40))
    assert named_pair(short, RepeatKeys(here, heating, NAMED_MAX_CHARS))
    assert not named_pair(short, RepeatKeys(here, heating, NAMED_MAX_CHARS + 1))


def test_bad_thresholds_are_refused() -> None:
    with pytest.raises(DataError, match="named_repeat_threshold must be in"):
        SimilarIndex(named_repeat_threshold=0.0)
    assert SimilarIndex(repeat_threshold=0.03).named_repeat_threshold == 0.03
