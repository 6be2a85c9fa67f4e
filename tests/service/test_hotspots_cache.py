"""GET /v1/hotspots keeps its answer per query for APPEALS_HOTSPOTS_CACHE seconds: a repeated
query is computed once, a query after the time-to-live again (the cache's clock is replaced:
no sleeps); 0 turns it off; deleting a ticket drops the kept answers."""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from conftest import MakeClient

from nlp.model import RoutingModel
from nlp.store import Answer, TicketStore, utc_now

PLANT = (
    "丽发新城小区旁边的搅拌站半夜还在开工，噪音太大，粉尘满天飞，电话13812345678",
    "丽发新城小区旁边的搅拌站夜里施工，噪音扰民，粉尘污染严重",
    "投诉丽发新城小区附近搅拌站噪音和粉尘，晚上根本睡不着",
    "丽发新城小区边上的搅拌站天天夜间施工，粉尘噪音严重影响居民生活",
)


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store_url(tmp_path: Path, tiny_model: RoutingModel) -> str:
    url = f"sqlite:///{tmp_path / 'hot.db'}"
    store = TicketStore(url).open()
    now = utc_now()
    store.record(
        [
            Answer(f"h{i}", text, None, "default", "v1", p, now - timedelta(hours=30 - i))
            for i, (text, p) in enumerate(zip(PLANT, tiny_model.classify(list(PLANT)), strict=True))
        ]
    )
    store.close()
    return url


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the calls of the library's nlp.hotspots.hotspots (the route imports it by name)."""
    calls: list[int] = []
    module = import_module("nlp.hotspots")  # (nlp.hotspots, the attribute, is the function)
    real = module.hotspots

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "hotspots", counting)
    return calls


def _table(client: Any, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/hotspots", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_repeated_query_is_computed_once_until_the_ttl_passes(
    make_client: MakeClient, store_url: str, computed: list[int]
) -> None:
    client = make_client(store_url=store_url)  # APPEALS_HOTSPOTS_CACHE: 60 s by default
    cache = client.app.state.hotspots_cache  # type: ignore[attr-defined]
    assert cache.ttl == 60
    clock = cache.clock = Clock()

    first = _table(client, window="7d")
    assert first["problems"][0]["ids"] == ["h0", "h1", "h2", "h3"]
    clock.now += 59
    assert _table(client, window="7d") == first
    assert len(computed) == 1

    _table(client, window="7d", top=3)  # another query: computed on its own
    assert len(computed) == 2

    clock.now += 1  # 60 s after the first answer: expired
    again = _table(client, window="7d")
    assert len(computed) == 3
    assert again["problems"] == first["problems"]


def test_zero_turns_the_cache_off(
    make_client: MakeClient, store_url: str, computed: list[int]
) -> None:
    client = make_client(store_url=store_url, hotspots_cache=0)
    _table(client)
    _table(client)
    assert len(computed) == 2


def test_a_deleted_ticket_leaves_the_kept_answer(
    make_client: MakeClient, store_url: str, computed: list[int]
) -> None:
    client = make_client(store_url=store_url)
    client.app.state.hotspots_cache.clock = Clock()  # type: ignore[attr-defined]
    assert "h3" in _table(client)["problems"][0]["ids"]
    assert client.delete("/v1/tickets/h3").status_code == 200
    assert _table(client)["problems"][0]["ids"] == ["h0", "h1", "h2"]
    assert len(computed) == 2


def test_an_invalid_query_is_answered_each_time_and_never_kept(
    make_client: MakeClient, store_url: str, computed: list[int]
) -> None:
    client = make_client(store_url=store_url)
    for _ in range(2):
        response = client.get("/v1/hotspots", params={"window": "soon"})
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_request"
    assert len(client.app.state.hotspots_cache) == 0  # type: ignore[attr-defined]
    assert computed == []


@pytest.mark.parametrize("value", ["-1", "x"])
def test_a_bad_setting_is_refused(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from service.settings import Settings

    monkeypatch.setenv("APPEALS_HOTSPOTS_CACHE", value)
    with pytest.raises(ValidationError, match="hotspots_cache"):
        Settings()
