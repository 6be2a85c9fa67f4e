"""One JSON log line per request: id, route, status, latency, label, model version; never the
ticket text by default, and everything masked."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from service_testing import TICKET

from service.logs import JsonFormatter, log_config, masked


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
    ],
)
def test_masked_reaches_every_string(value: Any, leak: str) -> None:
    assert leak not in json.dumps(masked(value), ensure_ascii=False)


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
