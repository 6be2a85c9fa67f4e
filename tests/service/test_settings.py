"""Settings: APPEALS_* environment variables, comma-separated keys, one cached instance."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.server import is_loopback
from service.settings import Settings, get_settings


def test_environment_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPEALS_MODELS_DIR", "/srv/models")
    monkeypatch.setenv("APPEALS_MIN_CONFIDENCE", "0.7")
    monkeypatch.setenv("APPEALS_MAX_BATCH_ITEMS", "64")
    monkeypatch.setenv("APPEALS_CLASSIFY_KEYS", "k1, k2,")
    monkeypatch.setenv("APPEALS_ADMIN_KEYS", "root")
    settings = Settings()
    assert settings.models_dir == Path("/srv/models")
    assert settings.min_confidence == 0.7
    assert settings.max_batch_items == 64
    assert settings.classify_keys == {"k1", "k2"}
    assert settings.admin_keys == {"root"}
    assert settings.auth_enabled


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("APPEALS_CLASSIFY_KEYS", "APPEALS_ADMIN_KEYS", "PROMETHEUS_MULTIPROC_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert not settings.auth_enabled
    assert settings.max_body_bytes == 1 << 20
    assert settings.max_batch_items == 256
    assert settings.model_name == "default"
    assert settings.prometheus_multiproc_dir is None


@pytest.mark.parametrize("name", ["a@v1", "../x", "", "x y"])
def test_model_name_is_validated(name: str) -> None:
    with pytest.raises(ValueError, match="model_name"):
        Settings(model_name=name)


def test_get_settings_is_cached() -> None:
    assert get_settings() is get_settings()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_start_up_overload_and_access_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (defaults.max_concurrency, defaults.queue_wait_ms) == (8, 5.0)
    assert defaults.worker_healthcheck_timeout == 30
    assert not defaults.metrics_public
    assert defaults.docs_public
    monkeypatch.setenv("APPEALS_MAX_CONCURRENCY", "4")
    monkeypatch.setenv("APPEALS_QUEUE_WAIT_MS", "0")
    monkeypatch.setenv("APPEALS_WORKER_HEALTHCHECK_TIMEOUT", "90")
    monkeypatch.setenv("APPEALS_METRICS_PUBLIC", "true")
    monkeypatch.setenv("APPEALS_DOCS_PUBLIC", "false")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.max_concurrency, settings.queue_wait_ms) == (4, 0)
    assert settings.worker_healthcheck_timeout == 90
    assert settings.metrics_public
    assert not settings.docs_public


@pytest.mark.parametrize(
    ("name", "value"),
    [("max_concurrency", 0), ("worker_healthcheck_timeout", 0), ("queue_wait_ms", -1)],
)
def test_limits_are_validated(name: str, value: int) -> None:
    with pytest.raises(ValueError, match=name):
        Settings(**{name: value})


@pytest.mark.parametrize(("raw", "value"), [("", None), ("0", 0.0), ("0.1", 0.1)])
def test_the_urgency_veto_setting(monkeypatch: pytest.MonkeyPatch, raw: str, value: float) -> None:
    """APPEALS_URGENCY_VETO: empty is unset (the library's default), 0 stays 0 (no veto)."""
    monkeypatch.setenv("APPEALS_URGENCY_VETO", raw)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.urgency_veto == value
    assert settings.dispatch.urgency_veto == value


@pytest.mark.parametrize("value", [-0.1, 0.5, 2])
def test_the_urgency_veto_is_validated(value: float) -> None:
    with pytest.raises(ValueError, match="urgency_veto"):
        Settings(urgency_veto=value)
