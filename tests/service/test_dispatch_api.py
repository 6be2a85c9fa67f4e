"""Urgency, location, dispatch and problems in the API: single and batch answers, the OpenAPI
schema, the settings that turn each on, /metrics, bad files, and swaps the files refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from nlp.dispatch import DISPATCH_FIELDS, DispatchConfig
from nlp.errors import ModelIntegrityError
from nlp.registry import Registry
from nlp.train import TrainConfig, train
from service.holder import ModelHolder

ROOT = Path(__file__).resolve().parents[2]
GAZETTEER = ROOT / "data" / "demo" / "gazetteer.csv"
ROUTING = ROOT / "data" / "demo" / "routing.toml"
ALL_ON = {
    "urgency": True,
    "problems": True,
    "gazetteer": GAZETTEER,
    "gazetteer_city": "江州市",
    "routing_table": ROUTING,
}

GAS = {"title": "燃气", "text": "燃气泄漏了，闻到很大的煤气味，在锦绣华庭3栋", "id": "g1"}
TWO = {"text": "工地噪音太大，晚上打桩；另外桂花路128号下水道堵了", "id": "t2"}


def check_fields(answer: dict[str, Any]) -> None:
    assert answer["urgency"]["level"] in ("紧急", "较急", "一般")
    assert set(answer["location"]) >= {"district", "street", "community", "grid", "mentions"}
    assert answer["dispatch"]["lead"]["role"] == "主办"
    assert answer["problems"][0]["label"] == answer["label"]


def test_single_ticket_has_every_field(make_client: Any) -> None:
    client: TestClient = make_client(**ALL_ON)
    gas = client.post("/v1/classify", json=GAS).json()
    check_fields(gas)
    assert gas["urgency"]["level"] == "紧急"
    assert gas["needs_review"] is True
    assert "urgent" in gas["review_codes"]
    assert gas["location"]["street"] == "建设街道"
    assert gas["dispatch"]["lead"]["unit"] == "市燃气集团抢修中心"
    two = client.post("/v1/classify", json=TWO).json()
    check_fields(two)
    assert [p["label"] for p in two["problems"]] == ["住建", "水务"]
    assert all(p["lead"] for p in two["problems"])


def test_batch_answers_equal_single_answers(make_client: Any) -> None:
    client: TestClient = make_client(**ALL_ON, explain_terms=0)
    body = client.post("/v1/classify/batch", json={"items": [GAS, TWO, {"text": " "}]}).json()
    items = body["items"]
    assert items[2]["error"]["code"] == "invalid_item"
    assert all(items[2][name] is None for name in DISPATCH_FIELDS)
    for item, ticket in zip(items[:2], (GAS, TWO), strict=True):
        single = client.post("/v1/classify", json=ticket).json()
        check_fields(item)
        for name in (*DISPATCH_FIELDS, "needs_review", "review_codes"):
            assert item[name] == single[name], name


def test_urgency_and_problems_without_location_and_dispatch(make_client: Any) -> None:
    client: TestClient = make_client(urgency=True, problems=True)
    answer = client.post("/v1/classify", json=GAS).json()
    assert answer["urgency"]["level"] == "紧急"
    assert answer["problems"][0]["lead"] is None  # no routing table
    assert answer["location"] is None
    assert answer["dispatch"] is None


def test_by_default_every_part_is_off(client: TestClient) -> None:
    """Off by default while they cost more than the routing itself; make run turns them on."""
    answer = client.post("/v1/classify", json=GAS).json()
    assert all(answer[name] is None for name in DISPATCH_FIELDS)
    assert "urgent" not in answer["review_codes"]


def test_the_schema_documents_every_field_with_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("ClassifyResponse", "BatchItemResult"):
        properties = schema[name]["properties"]
        for field in DISPATCH_FIELDS:
            assert properties[field].get("description"), (name, field)
    example = schema["ClassifyResponse"]["examples"][0]
    assert set(DISPATCH_FIELDS) <= set(example)
    batch_example = schema["BatchResponse"]["examples"][0]["items"]
    assert batch_example[1]["review_codes"] == ["urgent"]
    assert "urgent" in schema["ClassifyResponse"]["properties"]["review_codes"]["items"]["enum"]


def _urgent_total(client: TestClient) -> float:
    text = client.get("/metrics").text
    lines = [line for line in text.splitlines() if line.startswith("appeals_urgent_total ")]
    return float(lines[0].split()[1])


def test_urgent_answers_are_counted(make_client: Any) -> None:
    client: TestClient = make_client(peer=("127.0.0.1", 50000), urgency=True)
    before = _urgent_total(client)
    client.post("/v1/classify", json=GAS)
    client.post("/v1/classify/batch", json={"items": [GAS, TWO]})
    assert _urgent_total(client) == before + 2


def test_the_urgency_veto_follows_the_setting(make_client: Any) -> None:
    """APPEALS_URGENCY_VETO: unset, the model overrules the terms' 紧急 of a video; 0, the
    terms' 紧急 stands (and the ticket goes to a person)."""
    video = {"text": "最近老刷到电梯坠落的短视频，看得心慌，建议物业把维保记录贴出来"}
    vetoed = make_client(urgency=True).post("/v1/classify", json=video).json()
    assert vetoed["urgency"]["level"] == "一般"
    assert "但与紧急的示例不符" in vetoed["urgency"]["reason"]
    kept = make_client(urgency=True, urgency_veto=0.0).post("/v1/classify", json=video).json()
    assert kept["urgency"]["level"] == "紧急"
    assert "urgent" in kept["review_codes"]


@pytest.mark.parametrize(
    ("setting", "content", "message"),
    [
        pytest.param(
            "routing_table",
            'units = ["甲"]\n\n[[rule]]\nlabel = "没有这个部门"\nlead = "甲"\n',
            "line 3: unknown label '没有这个部门'",
            id="routing-unknown-label",
        ),
        pytest.param(
            "gazetteer",
            "district,street,community,grid,place,kind,aliases\n"
            "东湖区,建设街道,锦绣社区,一,甲小区,estate,\n"
            "东湖区,建设街道,锦绣社区,一,甲小区,estate,\n",
            "line 3: place '甲小区' is already listed on line 2",
            id="gazetteer-duplicate",
        ),
        pytest.param(
            "urgency_terms",
            '[[rule]]\nlevel = "很急"\nreason = "x"\nterms = ["火"]\n',
            "rule 1 (x): level must be 紧急 or 较急",
            id="urgency-level",
        ),
    ],
)
def test_a_bad_file_is_refused_at_start_naming_the_row(
    make_client: Any, tmp_path: Path, setting: str, content: str, message: str
) -> None:
    path = tmp_path / f"bad-{setting}"
    path.write_text(content, encoding="utf-8")
    client: TestClient = make_client(urgency=True, **{setting: path})
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert message in ready.json()["reason"]
    refused = client.post("/v1/classify", json=GAS)
    assert refused.status_code == 503
    assert message in refused.json()["error"]["message"]


@pytest.fixture(scope="module")
def fewer_labels(demo_sample: pd.DataFrame) -> Any:
    """A model that has no 燃气 department: the demo routing table does not fit it."""
    return train(demo_sample[demo_sample["label"] != "燃气"], TrainConfig(calibration_folds=3))


def test_a_swap_the_routing_table_does_not_fit_is_refused(
    registry_copy: Registry, fewer_labels: Any
) -> None:
    config = DispatchConfig(routing=str(ROUTING), urgency=False, problems=False)
    registry_copy.save(fewer_labels.model, name="default", activate=False)
    holder = ModelHolder(registry_copy, "default", dispatch=config)
    assert holder.refresh().version == "v1"  # type: ignore[union-attr]
    # Through the API's activation: refused before the pointer moves.
    with pytest.raises(ModelIntegrityError, match=r"routing\.toml line \d+: unknown label '燃气'"):
        holder.activate("v2")
    assert registry_copy.active_version("default") == "v1"
    # Moved behind the service's back (appeals models activate): the worker refuses the swap.
    registry_copy.activate("default", "v2")
    holder.refresh()
    serving = holder.serving
    assert serving is not None
    assert serving.model.version == "v1"
    assert serving.dispatcher is not None
    assert holder.last_failure is not None
    assert "unknown label '燃气'" in holder.last_failure.reason
