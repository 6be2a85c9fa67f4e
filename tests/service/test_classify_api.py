"""POST /v1/classify and /v1/classify/batch: the answer's shape and meaning."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import MakeClient
from fastapi.testclient import TestClient
from service_testing import TICKET

from nlp.errors import DataError
from nlp.model import RoutingModel
from nlp.tagging.frame import tag_frame
from service.settings import Settings


# The tests that take ``client`` only send tickets and read the answers (which depend on
# the model and the settings, not on what was sent before): one started app per module
# serves them all, instead of an app per test (tests/service/conftest.py).
@pytest.fixture(scope="module")
def client(make_module_client: MakeClient) -> TestClient:
    """No keys configured (open, as on loopback)."""
    return make_module_client()


def test_classify_answers_department_confidence_runners_up_and_terms(
    client: TestClient, tiny_model: RoutingModel
) -> None:
    response = client.post("/v1/classify", json={"text": TICKET, "title": "油烟扰民", "id": "t-1"})
    assert response.status_code == 200
    body = response.json()
    [expected] = tiny_model.classify([TICKET], ["油烟扰民"], top_k=3, explain=8)
    assert body["id"] == "t-1"
    assert body["label"] == expected.label
    assert body["confidence"] == pytest.approx(expected.confidence)
    assert [item["label"] for item in body["top_k"]] == [label for label, _ in expected.top_k]
    assert len(body["top_k"]) == 3
    assert body["top_k"][0]["score"] >= body["top_k"][1]["score"] >= body["top_k"][2]["score"]
    assert body["needs_review"] is expected.needs_review
    assert body["model"] == {"name": "default", "version": "v1"}
    terms = [t["term"] for t in body["explanation"]]
    assert terms == [t.term for t in expected.explanation]
    assert all(t["weight"] > 0 for t in body["explanation"])
    assert response.headers["x-request-id"]


def test_classify_without_title_or_id(client: TestClient) -> None:
    """With the ticket store on (the default), a ticket sent without an id gets one, so that
    feedback can name it; two tickets never get the same."""
    first = client.post("/v1/classify", json={"text": "孩子学校乱收补课费"}).json()
    second = client.post("/v1/classify", json={"text": "孩子学校乱收补课费"}).json()
    assert re.fullmatch(r"[0-9a-f]{32}", first["id"])
    assert first["id"] != second["id"]
    assert first["label"]


def test_classify_without_id_and_no_store(make_client: MakeClient) -> None:
    client = make_client(store_url="off")
    body = client.post("/v1/classify", json={"text": "孩子学校乱收补课费"}).json()
    assert body["id"] is None
    assert body["label"]


@pytest.mark.parametrize(
    ("policy", "needs_review", "reason_starts"),
    [
        pytest.param({"min_confidence": 1.0, "min_margin": 0.0}, True, "confidence", id="low-conf"),
        pytest.param({"min_confidence": 0.0, "min_margin": 1.0}, True, "top two", id="close-call"),
        pytest.param({"min_confidence": 0.0, "min_margin": 0.0}, False, None, id="never"),
    ],
)
def test_review_policy_comes_from_settings(
    make_client: object, policy: dict[str, float], needs_review: bool, reason_starts: str | None
) -> None:
    client = make_client(**policy)  # type: ignore[operator]
    body = client.post("/v1/classify", json={"text": TICKET}).json()
    assert body["needs_review"] is needs_review
    if reason_starts is None:
        assert body["review_reason"] is None
    else:
        assert body["review_reason"].startswith(reason_starts)


def test_review_policy_defaults_are_the_library_defaults() -> None:
    from nlp.model import ReviewPolicy

    assert Settings().policy == ReviewPolicy()


def test_batch_answers_in_input_order_with_errors_in_place(
    client: TestClient, tiny_model: RoutingModel
) -> None:
    items = [
        {"text": "小区停水三天了没人管", "id": "a"},
        {"text": "   ", "id": "blank"},
        {"text": "孩子学校乱收补课费", "title": "乱收费"},
        "not an object",
        {"text": 42, "id": "wrong-type"},
        {"text": "医院看病排队太久", "id": "d", "extra": 1},
        {"text": "医院看病排队太久", "id": "e"},
    ]
    response = client.post("/v1/classify/batch", json={"items": items, "explain": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == {"name": "default", "version": "v1"}
    results = body["items"]
    assert [r["index"] for r in results] == list(range(len(items)))
    ids = [r["id"] for r in results]
    # Item 2 was answered without an id: the store gave it one (items in error get none).
    assert ids[:2] + ids[3:] == ["a", "blank", None, "wrong-type", "d", "e"]
    assert re.fullmatch(r"[0-9a-f]{32}", ids[2])
    failed = {r["index"]: r["error"] for r in results if r["error"] is not None}
    assert set(failed) == {1, 3, 4, 5}
    assert failed[1]["fields"][0]["path"] == "body.items.1.text"
    assert failed[4]["fields"][0]["path"] == "body.items.4.text"
    assert failed[5]["fields"][0]["path"] == "body.items.5.extra"
    for index in (0, 2, 6):
        assert results[index]["label"] in tiny_model.labels
        assert len(results[index]["top_k"]) == 3
        assert len(results[index]["explanation"]) <= 3
    for index in failed:
        assert results[index]["label"] is None
        assert results[index]["top_k"] == []
    single = client.post("/v1/classify", json={"text": "孩子学校乱收补课费", "title": "乱收费"})
    assert results[2]["label"] == single.json()["label"]
    assert results[2]["confidence"] == pytest.approx(single.json()["confidence"], abs=1e-6)


@pytest.mark.parametrize(
    ("ticket", "policy", "codes"),
    [
        pytest.param({"text": "谢谢"}, {}, "out_of_scope", id="thanks"),
        pytest.param({"text": "我的 wifi 和 5G 信号都不好，移动公司不管"}, {}, "out_of_scope",
                     id="telecom"),
        pytest.param({"text": TICKET}, {"min_confidence": 1.0, "min_margin": 1.0},
                     ["low_confidence", "close_call"], id="both"),
        pytest.param({"text": TICKET}, {"min_confidence": 0.0, "min_margin": 0.0}, [], id="none"),
    ],
)  # fmt: skip
def test_review_codes_in_single_and_batch_answers(
    make_client: object, ticket: dict[str, str], policy: dict[str, float], codes: object
) -> None:
    client = make_client(**policy)  # type: ignore[operator]
    single = client.post("/v1/classify", json=ticket).json()
    [item] = client.post("/v1/classify/batch", json={"items": [ticket]}).json()["items"]
    for answer in (single, item):
        if isinstance(codes, str):
            assert codes in answer["review_codes"]
        else:
            assert answer["review_codes"] == codes
        assert answer["needs_review"] is bool(answer["review_codes"])
    if codes == ["low_confidence", "close_call"]:
        assert "confidence" in single["review_reason"]
        assert "top two" in single["review_reason"]


def test_openapi_documents_review_codes(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("ClassifyResponse", "BatchItemResult"):
        codes = schemas[name]["properties"]["review_codes"]
        assert codes["items"]["enum"] == ["low_confidence", "close_call", "out_of_scope", "urgent"]
    assert schemas["ClassifyResponse"]["examples"][0]["review_codes"] == []


def test_batch_review_reason_matches_needs_review(make_client: object) -> None:
    client = make_client(min_confidence=1.0)  # type: ignore[operator]
    results = client.post("/v1/classify/batch", json={"items": [{"text": TICKET}]}).json()["items"]
    assert results[0]["needs_review"] is True
    assert results[0]["review_reason"].startswith("confidence")


def test_batch_without_explain_has_no_terms(client: TestClient) -> None:
    results = client.post("/v1/classify/batch", json={"items": [{"text": TICKET}]}).json()["items"]
    assert results[0]["explanation"] == []


def test_batch_of_only_invalid_items(client: TestClient) -> None:
    response = client.post("/v1/classify/batch", json={"items": [{"text": ""}, None]})
    assert response.status_code == 200
    assert all(item["error"] for item in response.json()["items"])


def test_empty_batch(client: TestClient) -> None:
    response = client.post("/v1/classify/batch", json={"items": []})
    assert response.status_code == 200
    assert response.json()["items"] == []


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Ｈｅｌｌｏ　１２３４５", id="full-width"),
        pytest.param("<p>&nbsp;停水&amp;停电</p>", id="markup"),
        pytest.param("\x01\x02", id="control-only"),
        pytest.param("😀" * 50, id="emoji"),
        pytest.param("x" * 20_000, id="at-limit"),
        pytest.param("請問醫院掛號怎麼這麼難", id="traditional"),
    ],
)
def test_odd_but_valid_text_is_answered(client: TestClient, text: str) -> None:
    response = client.post("/v1/classify", json={"text": text})
    assert response.status_code == 200, response.text


# --------------------------------------------------------------------------- title or body
@pytest.mark.parametrize(
    ("text", "title"),
    [
        pytest.param(None, "油烟扰民", id="title-only"),
        pytest.param("", "油烟扰民", id="empty-text"),
        pytest.param("  \n", "油烟扰民", id="blank-text"),
        pytest.param("小区楼下烧烤摊油烟太大", None, id="body-only"),
        pytest.param("小区楼下烧烤摊油烟太大", "   ", id="blank-title"),
    ],
)
def test_a_ticket_needs_a_title_or_a_body_whichever_exist(
    client: TestClient, tiny_model: RoutingModel, text: str | None, title: str | None
) -> None:
    """As in training and `appeals tag`: the document is the title and the body, whichever
    exist. The API, `RoutingModel.classify` and `tag_frame` answer alike."""
    ticket = {key: value for key, value in (("text", text), ("title", title)) if value is not None}
    response = client.post("/v1/classify", json=ticket)
    assert response.status_code == 200, response.text
    [expected] = tiny_model.classify([text], [title], top_k=3)
    assert response.json()["label"] == expected.label
    assert response.json()["confidence"] == pytest.approx(expected.confidence)
    tagged = tag_frame(
        pd.DataFrame({"text": [text], "title": [title]}, dtype=object),
        tiny_model,
        text_col="text",
        title_col="title",
    )
    assert tagged["label"].tolist() == [expected.label]
    batch = client.post("/v1/classify/batch", json={"items": [ticket]}).json()["items"]
    assert batch[0]["error"] is None
    assert batch[0]["label"] == expected.label


def test_the_library_refuses_a_ticket_without_text_or_title(tiny_model: RoutingModel) -> None:
    with pytest.raises(DataError, match="no text and no title"):
        tiny_model.classify(["停水了", " "], [None, ""])


# --------------------------------------------------------------------------- ids
@pytest.mark.parametrize(
    "ticket_id",
    [
        pytest.param(0, id="zero"),
        pytest.param(7, id="small"),
        pytest.param(-3, id="negative"),
        pytest.param(2**53 + 1, id="past-float-precision"),
        pytest.param(20240115000123456789, id="20-digits"),
        pytest.param(10**128 - 1, id="128-digits"),
        pytest.param("0007", id="string-with-zeros"),
        pytest.param("工单-\x00-1", id="string-with-nul"),
        pytest.param("", id="empty-string"),
    ],
)
def test_ids_are_echoed_exactly_as_sent(client: TestClient, ticket_id: str | int) -> None:
    raw_id = json.dumps(ticket_id)
    body = '{"title": "油烟扰民", "id": ' + raw_id + "}"
    headers = {"Content-Type": "application/json"}
    response = client.post("/v1/classify", content=body.encode(), headers=headers)
    assert response.status_code == 200, response.text
    if isinstance(ticket_id, int):
        assert f'"id":{raw_id}' in response.text  # the same digits, never a float
    echoed = response.json()["id"]
    assert (type(echoed), echoed) == (type(ticket_id), ticket_id)

    batch = '{"items": [' + body + ', {"text": "", "id": ' + raw_id + "}]}"
    items = client.post("/v1/classify/batch", content=batch.encode(), headers=headers).json()
    for item in items["items"]:  # answered, and refused (no text): the id comes back both times
        assert (type(item["id"]), item["id"]) == (type(ticket_id), ticket_id)
    assert [item["error"] is None for item in items["items"]] == [True, False]


@pytest.mark.parametrize(
    ("raw_id", "says"),
    [
        pytest.param('"\\udfff"', "lone surrogate", id="lone-surrogate"),
        pytest.param('"a\\ud800b"', "lone surrogate", id="surrogate-inside"),
        pytest.param("1" + "0" * 128, "128 digits", id="129-digits"),
        pytest.param("1" + "0" * 400, "128 digits", id="10**400"),
        pytest.param("1e309", "string or an integer", id="1e309"),
        pytest.param("2.5", "string or an integer", id="fraction"),
        pytest.param("true", "string or an integer", id="bool"),
        pytest.param('{"nested": ["\\udfff"]}', "string or an integer", id="nested-junk"),
    ],
)
def test_a_batch_item_with_a_bad_id_gets_its_error_entry_not_a_500(
    client: TestClient, raw_id: str, says: str
) -> None:
    """A lone surrogate in a batch item's id used to be echoed back and fail serialisation
    (a 500 for the whole batch): now the item gets its error entry, without the id."""
    body = '{"items": [{"text": "停水", "id": ' + raw_id + '}, {"text": "停水", "id": "ok"}]}'
    response = client.post(
        "/v1/classify/batch", content=body.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    bad, good = response.json()["items"]
    assert bad["id"] is None
    assert bad["label"] is None
    assert bad["error"]["code"] == "invalid_item"
    [field] = bad["error"]["fields"]
    assert field["path"] == "body.items.0.id"
    assert says in field["message"]
    assert bad["error"]["message"] == f"body.items.0.id: {field['message']}"
    assert (good["id"], good["error"]) == ("ok", None)


def test_a_batch_item_without_text_or_title_says_so(client: TestClient) -> None:
    items = [{"title": "油烟扰民", "id": 1}, {"text": " ", "title": "", "id": 2}]
    results = client.post("/v1/classify/batch", json={"items": items}).json()["items"]
    assert results[0]["label"]
    assert results[1]["error"]["fields"][0]["path"] == "body.items.1.text"
    assert "a text or a title" in results[1]["error"]["message"]
    assert results[1]["id"] == 2


def test_the_schema_documents_title_or_body_and_numeric_ids(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["ClassifyRequest"]
    assert "required" not in schema  # text or title: neither alone is required
    id_types = {option["type"] for option in schema["properties"]["id"]["anyOf"]}
    assert id_types == {"string", "integer", "null"}
    assert {"title": "油烟扰民", "id": 202401150001} in schema["examples"]


@pytest.mark.parametrize(
    ("text", "title"),
    [
        pytest.param(TICKET, "油烟扰民", id="body-and-title"),
        pytest.param("孩子学校乱收补课费", None, id="body"),
        pytest.param(None, "燃气泄漏煤气味", id="title-only"),
        pytest.param("谢谢", None, id="content-free"),
    ],
)
def test_every_client_serialises_the_same_answer_record(
    make_client: object,
    tiny_model: RoutingModel,
    models_dir: object,
    capsys: pytest.CaptureFixture[str],
    text: str | None,
    title: str | None,
) -> None:
    """API single, API batch, `appeals predict --json` and tag_frame give the model's
    answer record (Prediction.to_dict) value for value, urgency, location, dispatch and
    problems included: one record, one serialisation."""
    from nlp.dispatch import Dispatcher
    from service.cli import main

    demo = Path(__file__).resolve().parents[2] / "data" / "demo"
    files = {"gazetteer": demo / "gazetteer.csv", "routing": demo / "routing.toml"}
    explain = 4
    client = make_client(  # type: ignore[operator]
        explain_terms=explain,
        urgency=True,
        problems=True,
        gazetteer=files["gazetteer"],
        gazetteer_city="江州市",
        routing_table=files["routing"],
    )
    dispatcher = Dispatcher.load(
        labels=tiny_model.labels, urgency=True, problems=True, city="江州市", **files
    )
    [prediction] = tiny_model.classify(
        [text], [title], top_k=3, explain=explain, dispatcher=dispatcher
    )
    record = prediction.to_dict()
    assert list(record) == ["label", "confidence", "top_k", "needs_review", "review_reason",
                            "review_codes", "explanation", "urgency", "location", "dispatch",
                            "problems"]  # fmt: skip
    assert all(record[name] is not None for name in ("urgency", "location", "dispatch", "problems"))

    ticket = {"text": text, "title": title}
    single = client.post("/v1/classify", json=ticket).json()
    assert {key: single[key] for key in record} == record

    batch = client.post("/v1/classify/batch", json={"items": [ticket], "explain": explain})
    [item] = batch.json()["items"]
    assert {key: item[key] for key in record} == record

    argv = ["predict", *([text] if text else []), *(["--title", title] if title else [])]
    options = ["--gazetteer", str(files["gazetteer"]), "--city", "江州市"]
    options += ["--routing", str(files["routing"]), "--urgency", "--problems"]
    assert (
        main(
            [*argv, *options, "--models-dir", str(models_dir), "--json", "--explain", str(explain)]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert {key: printed[key] for key in record} == record

    frame = pd.DataFrame({"text": [text], "title": [title]}, dtype=object)
    [row] = tag_frame(
        frame, tiny_model, title_col="title", explain=explain, dispatcher=dispatcher
    ).to_dict("records")
    assert {key: row[key] for key in record} == record


def test_terms_are_words_as_sent_with_where_they_stand(client: TestClient) -> None:
    """Traditional input is named as typed; each span points into the title or the text as
    sent, so the page (and any client) can mark exactly those characters."""
    ticket = {"title": " 燃氣洩漏", "text": "廚房裡燃氣洩漏了，請儘快派人來看看"}
    body = client.post("/v1/classify", json=ticket).json()
    terms = {term["term"]: term for term in body["explanation"]}
    assert "燃氣洩漏" in terms
    assert terms["燃氣洩漏"]["spans"] == [
        {"field": "title", "start": 1, "end": 5},
        {"field": "text", "start": 3, "end": 7},
    ]
    assert not {"請", "儘快", "请尽快"} & set(terms)
    for term in body["explanation"]:
        for span in term["spans"]:
            assert ticket[span["field"]][span["start"] : span["end"]] == term["term"]
