"""APPEALS_SIMILAR: the similar-ticket index can be turned off. Off, no index is built or
fed, /v1/similar answers 503 similar_off naming the setting, /readyz says so, and a start
with APPEALS_REPEATS on is refused in one line."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import MakeClient
from pydantic import ValidationError

from nlp.live_similar import LiveSimilarIndex
from service.cli import main
from service.settings import REPEATS_NEED_SIMILAR, Settings

TEXT = "锦绣华庭小区北门的烧烤摊天天占道经营，晚上油烟和噪音太大，联系电话13812345678"


def _index_threads() -> int:
    return sum(thread.name == "similar-index" for thread in threading.enumerate())


def test_the_index_is_on_by_default() -> None:
    assert Settings().similar is True
    assert Settings(similar=False).similar is False


def test_repeats_without_the_index_are_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(repeats=True, similar=False)
    (error,) = raised.value.errors()
    assert error["msg"] == REPEATS_NEED_SIMILAR
    assert "APPEALS_SIMILAR" in error["msg"]
    assert "APPEALS_REPEATS" in error["msg"]
    assert Settings(repeats=True).repeats  # with the index (the default), repeats are fine


def test_serve_with_repeats_and_no_index_stops_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("APPEALS_REPEATS", "true")
    monkeypatch.setenv("APPEALS_SIMILAR", "false")
    assert main(["serve", "--models-dir", str(tmp_path / "models"), "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("appeals serve: error: invalid settings")
    assert REPEATS_NEED_SIMILAR in err
    assert "Traceback" not in err


def test_off_no_index_is_built_or_fed(make_client: MakeClient) -> None:
    before = _index_threads()
    client = make_client(similar=False)
    assert client.app.state.similar is None  # type: ignore[attr-defined]
    assert _index_threads() == before
    answer = client.post("/v1/classify", json={"text": TEXT, "id": "s1"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["repeat_of"] is None
    batch = client.post("/v1/classify/batch", json={"items": [{"text": TEXT, "id": "s2"}]})
    assert batch.status_code == 200, batch.text
    # the store still keeps the answers, and a purge still works without the index
    assert client.app.state.writer.flush(10)  # type: ignore[attr-defined]
    assert client.delete("/v1/tickets/s1").status_code == 200


def test_off_similar_answers_503_naming_the_setting(make_client: MakeClient) -> None:
    client = make_client(similar=False)
    response = client.post("/v1/similar", json={"text": TEXT})
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["error"]["code"] == "similar_off"
    assert "APPEALS_SIMILAR=true" in body["error"]["message"]
    assert body["request_id"] == response.headers["x-request-id"]


def test_readyz_says_whether_the_index_is_on(make_client: MakeClient) -> None:
    off = make_client(similar=False).get("/readyz").json()
    assert off["similar"].startswith("off (APPEALS_SIMILAR=false)")
    on = make_client()
    assert isinstance(on.app.state.similar, LiveSimilarIndex)  # type: ignore[attr-defined]
    assert not on.get("/readyz").json()["similar"].startswith("off")


def test_the_index_reads_the_store_through_the_workers_writer(make_client: MakeClient) -> None:
    """One store connection per worker, and the index reads only once the writer has opened
    the store (the two creating one new schema at once stopped the writer for good)."""
    app: Any = make_client().app
    assert app.state.similar.store is app.state.writer
    assert app.state.writer.tickets().empty
