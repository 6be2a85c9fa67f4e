"""One JSON log line per request: id, route, status, latency, label, model version; never the
ticket text by default, and everything masked."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from service_testing import TICKET

from nlp.text import normalise
from service.logs import JsonFormatter, log_config, masked
from tests.nlp.personal_data import Generator


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name == "service.access"
    ]


def test_one_structured_line_per_request(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    with caplog.at_level(logging.INFO, logger="service.access"):
        response = client.post(
            "/v1/classify", json={"text": TICKET}, headers={"X-Request-ID": "req-123"}
        )
    [line] = _lines(caplog)
    assert response.headers["x-request-id"] == "req-123"
    assert line["request_id"] == "req-123"
    assert line["route"] == "/v1/classify"
    assert line["method"] == "POST"
    assert line["status"] == 200
    assert line["latency_ms"] > 0
    assert line["label"] == response.json()["label"]
    assert line["model_version"] == "v1"
    assert line["level"] == "INFO"
    assert "ts" in line


def test_ticket_text_is_not_logged_by_default(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    with caplog.at_level(logging.DEBUG):
        client.post("/v1/classify", json={"text": TICKET})
        client.post("/v1/classify", json={"text": TICKET, "bad": 1})
        client.post("/v1/classify/batch", json={"items": [{"text": TICKET}, {"text": 1}]})
    text = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "烧烤摊" not in text
    assert "13812345678" not in text
    assert len(_lines(caplog)) == 3


def test_logged_text_when_enabled_is_masked(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(log_text=True)
    with caplog.at_level(logging.INFO, logger="service.access"):
        client.post("/v1/classify", json={"text": TICKET})
    [line] = _lines(caplog)
    assert "烧烤摊" in line["text"]
    assert "13812345678" not in line["text"]
    assert "<PHONE>" in line["text"]


def test_a_hostile_request_id_is_replaced(make_client: Any) -> None:
    client = make_client()
    response = client.get("/healthz", headers={"X-Request-ID": "13812345678 <script>"})
    assert response.headers["x-request-id"] != "13812345678 <script>"


@pytest.mark.parametrize(
    ("value", "leak"),
    [
        pytest.param("call 13812345678", "13812345678", id="str"),
        pytest.param({"a": ["身份证 110101199003071234"]}, "110101199003071234", id="nested"),
        pytest.param(("ＱＱ邮箱 a.b@qq.com",), "a.b@qq.com", id="tuple"),
        pytest.param("１３８１２３４５６７８", "１３８１２３４５６７８", id="full-width"),
        # The logs prepare text as normalise does: entities, traditional characters, white
        # space and invisible characters hide nothing.
        pytest.param("聯繫人：張三", "張三", id="traditional-contact"),
        pytest.param("車牌粵B12345", "B12345", id="traditional-province"),
        pytest.param("电话138&#49;2345678", "2345678", id="entity"),
        pytest.param("电话138  1234  5678", "5678", id="double-spaces"),
        pytest.param("电话138\u200b1234\u200b5678", "5678", id="zero-width-spaces"),
    ],
)
def test_masked_reaches_every_string(value: Any, leak: str) -> None:
    assert leak not in json.dumps(masked(value), ensure_ascii=False)


def test_logged_text_masks_every_generated_item(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Every generated item of personal data (tests/nlp/personal_data.py, every category) sent
    in an appeal with text logging on: none of it reaches the log, and the logged text is
    what the model saw, the appeal's normal form. The log is the point here, not the ticket
    store: the store is off, which spares each of the 2,000 requests a third of its cost."""
    client = make_client(log_text=True, store_url="off")
    tickets = list(Generator(seed=20240602).tickets(60))
    assert len(tickets) >= 2_000
    with caplog.at_level(logging.INFO, logger="service.access"):
        for _, ticket, _ in tickets:
            assert client.post("/v1/classify", json={"text": ticket}).status_code == 200
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records if r.name == "service.access"]
    assert len(lines) == len(tickets)
    survivors = [
        (item.category, item.raw, line)
        for (item, _, expected), line in zip(tickets, lines, strict=True)
        if json.loads(line)["text"] != normalise(expected)
        or any(secret in _without_random_ids(line) for secret in item.secrets)
    ]
    assert survivors == []


def _without_random_ids(line: str) -> str:
    """The logged line without its random hex request id, in which a short secret (the "bc"
    of bc@example.org) can appear by chance."""
    payload = json.loads(line)
    payload.pop("request_id", None)
    return json.dumps(payload, ensure_ascii=False)


def test_exceptions_are_masked_too() -> None:
    try:
        raise ValueError("bad ticket from 13812345678")
    except ValueError:
        import sys

        record = logging.LogRecord("service", logging.ERROR, "", 0, "oops", (), sys.exc_info())
    line = JsonFormatter().format(record)
    assert "13812345678" not in line
    assert "<PHONE>" in json.loads(line)["exception"]


def test_log_config_is_json_for_service_and_uvicorn() -> None:
    config = log_config("warning")
    assert config["loggers"]["service"]["level"] == "WARNING"
    assert config["loggers"]["uvicorn.error"]["handlers"] == ["json"]
    assert config["formatters"]["json"]["()"] is JsonFormatter
