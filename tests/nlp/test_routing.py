"""The routing table: a label, the place and the ticket's words -> lead and assisting units."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from nlp.errors import DataError
from nlp.location import Gazetteer, Location, locate
from nlp.routing import RoutingTable
from nlp.text import normalise
from tests.nlp.eval_texts import eval_texts

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo"
DEPARTMENTS = pd.read_csv(DEMO / "departments.csv", dtype=str)["name"].tolist()
TEDDY = ["城乡建设", "劳动和社会保障", "教育文体", "商贸旅游", "环境保护", "卫生计生", "交通运输"]


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.from_csv(DEMO / "gazetteer.csv", city="江州市")


@pytest.fixture(scope="module")
def demo(gazetteer: Gazetteer) -> RoutingTable:
    return RoutingTable.load(DEMO / "routing.toml", labels=DEPARTMENTS, gazetteer=gazetteer)


def test_the_shipped_tables_load_and_cover_every_label(demo: RoutingTable) -> None:
    assert {rule.label for rule in demo.rules} == set(DEPARTMENTS)
    teddy = RoutingTable.load(DEMO / "routing_teddy.toml", labels=TEDDY)
    assert {rule.label for rule in teddy.rules} == set(TEDDY)


@pytest.mark.shared_data
def test_the_teddy_labels_are_the_benchmark_labels() -> None:
    path = ROOT.parent / "shared" / "data" / "appeals" / "train.csv"
    if not path.exists():
        pytest.skip("../shared/data not beside the project")
    labels = set(pd.read_csv(path, dtype=str, usecols=["label"])["label"])
    assert labels == set(TEDDY)


# text, label -> lead, assisting units, the rule's line
ROUTES = [
    pytest.param(
        "桂花路128号旁边有人占道摆摊",
        "城管执法",
        "东湖区城管执法大队",
        ["建设街道办事处", "锦绣社区居委会"],
        "in 东湖区",
        id="district-rule",
    ),
    pytest.param(
        "翡翠湾门口有人占道摆摊",
        "城管执法",
        "市城管执法局",
        ["滨江街道办事处"],
        "line ",
        id="default-rule-with-the-street-office",
    ),
    pytest.param(
        "锦绣华庭有煤气味，好像泄漏了",
        "燃气",
        "市燃气集团抢修中心",
        ["市消防救援支队", "市应急管理局", "建设街道办事处"],
        "with ",
        id="keyword-rule",
    ),
    pytest.param(
        "翡翠湾楼道堆满杂物",
        "街道社区/物业",
        "滨江街道办事处",
        ["翡翠湾社区居委会", "翡翠湾社区第一网格"],
        "街道社区/物业",
        id="lead-from-the-place",
    ),
    pytest.param(
        "楼道堆满杂物",
        "街道社区/物业",
        "市住建局物业管理科",
        [],
        "街道社区/物业",
        id="lead-falls-back-without-a-place",
    ),
    pytest.param(
        "化工园区晚上偷排废气",
        "生态环境",
        "北塘区生态环境分局",
        ["金港街道办事处"],
        "in 北塘区",
        id="another-district",
    ),
]


@pytest.mark.parametrize(("text", "label", "lead", "assist", "rule"), ROUTES)
def test_route(
    demo: RoutingTable,
    gazetteer: Gazetteer,
    text: str,
    label: str,
    lead: str,
    assist: list[str],
    rule: str,
) -> None:
    dispatch = demo.route(label, location=locate(text, gazetteer=gazetteer), text=text)
    assert dispatch.lead is not None
    assert dispatch.lead.unit == lead
    assert [unit.unit for unit in dispatch.assist] == assist
    assert dispatch.rule.startswith("line ")
    assert rule in dispatch.rule


def test_keywords_win_over_the_district_and_to_dict_is_json(demo: RoutingTable) -> None:
    table = RoutingTable.from_text(
        textwrap.dedent(
            """\
            units = ["市局", "东湖分局", "抢修队", "西岭分局"]
            [[rule]]
            label = "燃气"
            lead = "市局"
            [[rule]]
            label = "燃气"
            district = "东湖区"
            lead = "东湖分局"
            [[rule]]
            label = "燃气"
            district = "东湖区"
            street = "建设街道"
            lead = "西岭分局"
            [[rule]]
            label = "燃气"
            keywords = ["泄漏"]
            lead = "抢修队"
            assist = ["{street}办事处", "{grid}"]
            """
        ),
        labels=["燃气"],
    )
    at = Location(district="东湖区", street="建设街道", community="锦绣社区")
    assert table.route("燃气", location=at, text="燃气泄漏").lead.unit == "抢修队"  # type: ignore[union-attr]
    assert table.route("燃气", location=at, text="燃气费贵").lead.unit == "西岭分局"  # type: ignore[union-attr]
    elsewhere = Location(district="东湖区", street="文昌街道")
    assert table.route("燃气", location=elsewhere).lead.unit == "东湖分局"  # type: ignore[union-attr]
    assert table.route("燃气").lead.unit == "市局"  # type: ignore[union-attr]
    dispatch = table.route("燃气", location=at, text="燃氣洩漏")  # traditional words match too
    data = json.loads(json.dumps(dispatch.to_dict(), ensure_ascii=False))
    assert data["lead"] == {"unit": "抢修队", "role": "主办", "template": "抢修队"}
    assert data["assist"] == [
        {"unit": "建设街道办事处", "role": "协办", "template": "{street}办事处"}
    ]
    assert data["unresolved"] == ["{grid}"]  # the location has no grid: left out, and said
    assert data["rule"] == "line 14: 燃气 with 泄漏"


def test_a_label_without_a_rule_gets_an_empty_dispatch(demo: RoutingTable) -> None:
    dispatch = demo.route("不存在的部门")
    assert dispatch.lead is None
    assert dispatch.to_dict()["lead"] is None


GOOD_RULE = '[[rule]]\nlabel = "燃气"\nlead = "市局"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            'units = ["市局"]\n[[rule]]\nlabel = "天气"\nlead = "市局"\n',
            "line 2: unknown label '天气'",
            id="unknown-label",
        ),
        pytest.param(
            'units = ["市局"]\n[[rule]]\nlabel = "燃气"\nlead = ""\n',
            "line 2: lead is empty",
            id="empty-lead",
        ),
        pytest.param(
            'units = ["市局"]\n[[rule]]\nlabel = "燃气"\nlead = "市局"\nassist = [""]\n',
            "line 2: assist holds ''",
            id="empty-assist",
        ),
        pytest.param(
            'units = ["市局"]\n[[rule]]\nlabel = "燃气"\nlead = "区局"\n',
            "line 2: lead '区局' is not in units",
            id="undeclared-unit",
        ),
        pytest.param(
            'units = ["市局"]\n\n' + GOOD_RULE + 'assist = ["{town}办"]\n',
            "line 3: assisting unit '{town}办' has the placeholder {town}",
            id="unknown-placeholder",
        ),
        pytest.param(
            'units = ["市局"]\n' + GOOD_RULE + 'assist = ["{street办"]\n',
            "unbalanced brace",
            id="unbalanced-brace",
        ),
        pytest.param(
            'units = ["市局"]\n[[rule]]\nlabel = "燃气"\nlead = "{street}办事处"\n',
            "line 2: lead '{street}办事处' is filled from the ticket's place; add fallback",
            id="lead-placeholder-without-fallback",
        ),
        pytest.param(
            'units = ["市局"]\n' + GOOD_RULE + "\n" + GOOD_RULE,
            "line 6: a second rule for '燃气' \\(the first is on line 2\\)",
            id="duplicate",
        ),
        pytest.param(
            'units = ["市局"]\n'
            + GOOD_RULE
            + 'keywords = ["泄漏", "煤气"]\n'
            + GOOD_RULE
            + 'keywords = ["煤气"]\n',
            "line 6: keyword\\(s\\) 煤气 already route '燃气' on line 2",
            id="conflicting-keywords",
        ),
        pytest.param(
            'units = ["市局"]\n' + GOOD_RULE + 'town = "x"\n',
            "line 2: unknown key\\(s\\) town",
            id="unknown-key",
        ),
        pytest.param(
            'units = ["市局"]\n' + GOOD_RULE + 'keywords = "泄漏"\n',
            "line 2: keywords must be a list",
            id="keywords-not-a-list",
        ),
        pytest.param(GOOD_RULE, "give units", id="no-units"),
        pytest.param('units = ["市局"]\n', "no \\[\\[rule\\]\\] tables", id="no-rules"),
        pytest.param('units = ["市局"\n', "not valid TOML", id="bad-toml"),
        pytest.param(
            'units = ["{street}"]\n' + GOOD_RULE,
            "placeholders belong in rules",
            id="placeholder-in-units",
        ),
    ],
)
def test_a_bad_table_is_refused_naming_the_row(text: str, message: str) -> None:
    with pytest.raises(DataError, match=message.replace("{", "\\{").replace("}", "\\}")):
        RoutingTable.from_text(text, labels=["燃气"])


def test_places_are_checked_against_the_gazetteer(gazetteer: Gazetteer) -> None:
    text = 'units = ["市局"]\n' + GOOD_RULE + 'district = "东湖区"\nstreet = "滨江街道"\n'
    with pytest.raises(
        DataError, match="line 2: street '滨江街道' is not in the gazetteer under 东湖区"
    ):
        RoutingTable.from_text(text, labels=["燃气"], gazetteer=gazetteer)
    RoutingTable.from_text(text, labels=["燃气"])  # without a gazetteer it is not checked


def test_a_missing_or_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such routing table"):
        RoutingTable.load(tmp_path / "nowhere.toml", labels=["燃气"])
    path = tmp_path / "gbk.toml"
    path.write_bytes('units = ["市局"]\n'.encode("gbk"))
    with pytest.raises(DataError, match="not UTF-8"):
        RoutingTable.load(path, labels=["燃气"])


def test_inline_rules_are_numbered() -> None:
    text = (
        'units = ["市局"]\n'
        'rule = [{label = "燃气", lead = "市局"}, {label = "天气", lead = "市局"}]\n'
    )
    with pytest.raises(DataError, match="rule 2: unknown label"):
        RoutingTable.from_text(text, labels=["燃气"])


def test_a_normal_form_given_routes_as_the_text(demo: RoutingTable, gazetteer: Gazetteer) -> None:
    labels = sorted({rule.label for rule in demo.rules})
    assert demo.keyword_labels  # the keywords are read from the normal form
    for index, text in enumerate(eval_texts()[:600]):
        label = labels[index % len(labels)]
        place = locate(text, gazetteer=gazetteer)
        expected = demo.route(label, location=place, text=text)
        assert demo.route(label, location=place, text=text, normal=normalise(text)) == expected
