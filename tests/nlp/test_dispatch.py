"""The dispatcher: urgency, location, dispatch and problems in the answer record."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from nlp.dispatch import DISPATCH_FIELDS, DispatchConfig, Dispatcher
from nlp.documents import compose_documents
from nlp.errors import DataError
from nlp.location import locate
from nlp.model import ANSWER_FIELDS, REVIEW_CODES, Prediction, RoutingModel
from tests.nlp.eval_texts import eval_tickets

ROOT = Path(__file__).resolve().parents[2]
GAZETTEER = ROOT / "data" / "demo" / "gazetteer.csv"
ROUTING = ROOT / "data" / "demo" / "routing.toml"
CITY = "江州市"

GAS = "燃气泄漏了，闻到很大的煤气味，在锦绣华庭3栋"
TWO = "工地噪音太大，晚上打桩；另外桂花路128号下水道堵了"
BENCH = "东湖公园里有一张长椅坏了，希望修一下"


@pytest.fixture(scope="module")
def dispatcher(tiny_model: RoutingModel) -> Dispatcher:
    return Dispatcher.load(
        labels=tiny_model.labels,
        urgency=True,
        problems=True,
        gazetteer=GAZETTEER,
        city=CITY,
        routing=ROUTING,
    )


def test_every_field_is_in_the_record_and_null_without_a_dispatcher(
    tiny_model: RoutingModel,
) -> None:
    [answer] = tiny_model.classify([GAS])
    record = answer.to_dict()
    assert tuple(record) == ANSWER_FIELDS
    assert {name: record[name] for name in DISPATCH_FIELDS} == dict.fromkeys(DISPATCH_FIELDS)
    assert "urgent" not in answer.review_codes


@pytest.mark.parametrize(
    ("text", "level", "district", "street", "lead", "labels"),
    [
        pytest.param(
            GAS, "紧急", "东湖区", "建设街道", "市燃气集团抢修中心", ["燃气"], id="gas-leak"
        ),
        pytest.param(TWO, "一般", "东湖区", "建设街道", None, ["住建", "水务"], id="two-problems"),
    ],
)
def test_every_field_filled(
    tiny_model: RoutingModel,
    dispatcher: Dispatcher,
    text: str,
    level: str,
    district: str,
    street: str,
    lead: str | None,
    labels: list[str],
) -> None:
    [answer] = tiny_model.classify([text], dispatcher=dispatcher)
    record = answer.to_dict()
    assert record["urgency"]["level"] == level
    assert set(record["urgency"]) == {"level", "reason", "terms"}
    assert (record["location"]["district"], record["location"]["street"]) == (district, street)
    assert record["location"]["mentions"]
    assert record["dispatch"]["lead"]["role"] == "主办"
    if lead is not None:
        assert record["dispatch"]["lead"]["unit"] == lead
    assert [problem["label"] for problem in record["problems"]] == labels
    for problem in record["problems"]:
        assert text[problem["start"] : problem["end"]] == problem["text"]
        assert problem["lead"]  # the routing table names a unit for each problem


def test_an_urgent_ticket_always_goes_to_a_person(
    tiny_model: RoutingModel, dispatcher: Dispatcher
) -> None:
    [answer] = tiny_model.classify([GAS], dispatcher=dispatcher)
    assert answer.confidence > 0.9  # confident: the policy alone would not flag it
    assert answer.needs_review
    assert answer.review_codes[-1] == "urgent"
    assert "urgent" in REVIEW_CODES
    assert answer.review_reason is not None
    assert answer.review_reason.startswith("urgent: ")
    [calm] = tiny_model.classify([BENCH], dispatcher=dispatcher)
    assert calm.urgency is not None
    assert calm.urgency.level != "紧急"
    assert "urgent" not in calm.review_codes


def test_parts_not_configured_stay_null(tiny_model: RoutingModel) -> None:
    only_urgency = Dispatcher.load(labels=tiny_model.labels, urgency=True)
    assert only_urgency.fields == ("urgency",)
    [answer] = tiny_model.classify([GAS], dispatcher=only_urgency)
    record = answer.to_dict()
    assert record["urgency"]["level"] == "紧急"
    assert record["location"] is record["dispatch"] is record["problems"] is None


def test_routing_without_a_gazetteer_falls_back(tiny_model: RoutingModel) -> None:
    routing_only = Dispatcher.load(
        labels=tiny_model.labels, urgency=False, routing=ROUTING, problems=False
    )
    [answer] = tiny_model.classify([BENCH], dispatcher=routing_only)
    assert answer.location is None
    assert answer.dispatch is not None
    assert all("{" not in unit.unit for unit in answer.dispatch.assist)


def test_answer_keeps_row_errors(tiny_model: RoutingModel, dispatcher: Dispatcher) -> None:
    found = compose_documents([GAS, "   ", None], [None, None, "燃气泄漏"])
    answers = tiny_model.answer(found, dispatcher=dispatcher)
    assert answers[1] == "empty_text"
    assert isinstance(answers[0], Prediction)
    assert isinstance(answers[2], Prediction)
    assert answers[2].urgency is not None
    assert answers[2].urgency.level == "紧急"
    assert answers[2].problems
    assert answers[2].problems[0].problem.field == "title"


def test_batch_equals_one_by_one(tiny_model: RoutingModel, dispatcher: Dispatcher) -> None:
    texts = [GAS, TWO, BENCH]
    batch = [p.to_dict() for p in tiny_model.classify(texts, dispatcher=dispatcher)]
    single = [tiny_model.classify([t], dispatcher=dispatcher)[0].to_dict() for t in texts]
    assert batch == single


@pytest.mark.parametrize(
    ("routing", "gazetteer", "message"),
    [
        pytest.param(
            'units = ["甲"]\n\n[[rule]]\nlabel = "没有这个部门"\nlead = "甲"\n',
            None,
            "line 3: unknown label '没有这个部门'",
            id="unknown-label",
        ),
        pytest.param(
            'units = ["甲"]\n[[rule]]\nlabel = "燃气"\nlead = "乙"\n',
            None,
            "line 2: lead '乙' is not in units",
            id="unknown-unit",
        ),
        pytest.param(
            None,
            "district,street,community,grid,place,kind,aliases\n东湖区,建设街道,锦绣社区,一,甲小区,castle,\n",
            "line 2: unknown kind 'castle'",
            id="gazetteer-kind",
        ),
    ],
)
def test_bad_files_are_refused_naming_the_row(
    tiny_model: RoutingModel,
    tmp_path: Path,
    routing: str | None,
    gazetteer: str | None,
    message: str,
) -> None:
    paths: dict[str, Path] = {}
    for name, content in (("routing.toml", routing), ("gazetteer.csv", gazetteer)):
        if content is not None:
            paths[name] = tmp_path / name
            paths[name].write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        Dispatcher.load(
            labels=tiny_model.labels,
            urgency=False,
            routing=paths.get("routing.toml"),
            gazetteer=paths.get("gazetteer.csv"),
        )
    assert message in str(caught.value)
    assert str(tmp_path) in str(caught.value)  # the file is named


def test_a_table_that_does_not_fit_other_labels_is_refused(tiny_model: RoutingModel) -> None:
    with pytest.raises(DataError, match=r"routing\.toml line \d+: unknown label '燃气'"):
        Dispatcher.load(
            labels=[label for label in tiny_model.labels if label != "燃气"],
            urgency=False,
            routing=ROUTING,
        )


def test_config_pickles_and_builds_once(tiny_model: RoutingModel) -> None:
    config = DispatchConfig(
        urgency=True, problems=True, gazetteer=str(GAZETTEER), city=CITY, routing=str(ROUTING)
    )
    again = pickle.loads(pickle.dumps(config))
    assert again == config
    built = config.build(labels=tiny_model.labels)
    assert again.build(labels=tiny_model.labels) is built
    assert built.fields == DISPATCH_FIELDS


VIDEO = "最近老刷到电梯坠落的短视频，看得心慌，建议物业把维保记录贴出来"


def test_the_urgency_veto_is_a_setting_of_the_dispatcher(tiny_model: RoutingModel) -> None:
    """``urgency_veto`` reaches the urgency detector (0: the terms' 紧急 always stands), and
    a value the detector refuses is refused when the dispatcher is built."""
    [answer] = tiny_model.classify([VIDEO])
    default = DispatchConfig(urgency=True).load(labels=tiny_model.labels)
    assert default.urgency is not None
    default.enrich([answer], [VIDEO])
    assert answer.urgency is not None
    assert answer.urgency.level == "一般"  # vetoed: the model reads a video, not a fall
    never = DispatchConfig(urgency=True, urgency_veto=0.0).load(labels=tiny_model.labels)
    assert never.urgency is not None
    assert never.urgency.veto_threshold == 0.0
    [again] = tiny_model.classify([VIDEO])
    never.enrich([again], [VIDEO])
    assert again.urgency is not None
    assert again.urgency.level == "紧急"
    assert DispatchConfig(urgency=True, urgency_veto=0.0).describe()["urgency_veto"] == 0.0
    with pytest.raises(DataError, match="veto_threshold"):
        DispatchConfig(urgency=True, urgency_veto=0.6).load(labels=tiny_model.labels)


def test_problems_need_the_model(dispatcher: Dispatcher, tiny_model: RoutingModel) -> None:
    [answer] = tiny_model.classify([BENCH])
    with pytest.raises(DataError, match="needs the model"):
        dispatcher.enrich([answer], [BENCH])


def test_the_lead_problem_goes_to_the_tickets_lead_unit(
    tiny_model: RoutingModel, dispatcher: Dispatcher
) -> None:
    for text in (GAS, TWO, BENCH):
        [answer] = tiny_model.classify([text], dispatcher=dispatcher)
        assert answer.problems is not None
        assert answer.dispatch is not None
        assert answer.dispatch.lead is not None
        assert answer.problems[0].lead == answer.dispatch.lead.unit


def test_each_ticket_read_once_answers_as_each_part_alone(tiny_model: RoutingModel) -> None:
    """The dispatcher folds and normalises each ticket once for every part: the answers are
    those of the parts called on the ticket as sent, on every ticket of the evaluation sets."""
    dispatcher = Dispatcher.load(
        labels=tiny_model.labels, urgency=True, gazetteer=GAZETTEER, city=CITY, routing=ROUTING
    )
    assert dispatcher.urgency is not None
    assert dispatcher.gazetteer is not None
    assert dispatcher.routing is not None
    assert dispatcher.routing.keyword_labels  # the keywords are read from the normal form
    tickets = eval_tickets()
    texts = [text for text, _ in tickets]
    titles = [title for _, title in tickets]
    answers = tiny_model.answer(compose_documents(texts, titles), dispatcher=dispatcher)
    for answer, text, title in zip(answers, texts, titles, strict=True):
        if isinstance(answer, str):
            continue
        head = title if title and title.strip() else None
        urgency = dispatcher.urgency.assess(text, title=head)
        place = locate(text, head, gazetteer=dispatcher.gazetteer)
        routed = dispatcher.routing.route(
            answer.label, location=place, text=f"{head}\n{text}" if head else text
        )
        assert (answer.urgency, answer.location, answer.dispatch) == (urgency, place, routed)
