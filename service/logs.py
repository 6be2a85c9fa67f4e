"""Structured logs: one JSON object per line, every string masked for personal data.

The service never logs ticket text unless ``APPEALS_LOG_TEXT`` is set, and even then what is
written is its normal form (:func:`nlp.normalise`: entities decoded, width folded, simplified,
white space collapsed, personal data masked), as is every other string (messages, exception
text, tracebacks), because a resident's phone number can hide anywhere. The logs mask exactly
what the model's input masks, 聯繫人：張三 and numbers split by zero-width spaces included.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from nlp.text import normalise

__all__ = ["JsonFormatter", "log_config", "masked"]

_STANDARD = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


def masked(value: Any) -> Any:
    """``value`` with personal data masked in every string it holds (each string in its
    normal form: a traceback comes out on one line)."""
    if isinstance(value, str):
        return normalise(value)
    if isinstance(value, dict):
        return {str(k): masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return masked(str(value))


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", ...extra}`` on one line, masked."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(masked(payload), ensure_ascii=False, default=str)


def log_config(level: str = "INFO") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for uvicorn's ``log_config``: JSON lines on stderr
    for the service's loggers and uvicorn's, applied in every worker. uvicorn's access log is
    off; :class:`service.middleware.RequestLogMiddleware` writes a better one."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    logger = {"handlers": ["json"], "level": level.upper(), "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"json": handler},
        "loggers": {
            "service": logger,
            "nlp": logger,
            "uvicorn": logger,
            "uvicorn.error": logger,
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
