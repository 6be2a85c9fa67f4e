"""The per-worker concurrency limit: requests over it get 503, Retry-After and the JSON error
body at once; health, readiness and metrics are exempt; a freed place is taken again."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from fastapi.testclient import TestClient

from service.middleware import ConcurrencyLimitMiddleware

Messages = list[dict[str, Any]]


def _scope(path: str) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": path, "headers": [], "state": {}}


async def _call(app: Any, path: str) -> Messages:
    sent: Messages = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(_scope(path), receive, send)
    return sent


def test_requests_over_the_limit_get_503_with_retry_after() -> None:
    async def scenario() -> None:
        release = asyncio.Event()
        entered = 0

        async def inner(scope: Any, receive: Any, send: Any) -> None:
            nonlocal entered
            entered += 1
            if scope["path"] == "/v1/classify":
                await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

        app = ConcurrencyLimitMiddleware(inner, limit=lambda scope: 2)
        held = [asyncio.create_task(_call(app, "/v1/classify")) for _ in range(2)]
        while entered < 2:
            await asyncio.sleep(0)
        assert app.active == 2

        refused = await _call(app, "/v1/classify")
        start, body = refused
        assert start["status"] == 503
        headers = dict(start["headers"])
        assert headers[b"retry-after"] == b"1"
        assert headers[b"content-type"] == b"application/json"
        error = json.loads(body["body"])["error"]
        assert error["code"] == "overloaded"
        assert "2 requests in progress" in error["message"]
        assert error["fields"] == []
        assert entered == 2  # the refused request never reached the app

        for path in ("/healthz", "/readyz", "/metrics"):
            assert (await _call(app, path))[0]["status"] == 200, path

        release.set()
        assert [(await task)[0]["status"] for task in held] == [200, 200]
        assert app.active == 0
        release.clear()
        release.set()
        assert (await _call(app, "/v1/classify"))[0]["status"] == 200

    asyncio.run(scenario())


def test_the_app_applies_the_configured_limit(make_client: Any) -> None:
    client = make_client(max_concurrency=1)
    entered, release = threading.Event(), threading.Event()

    def slow() -> dict[str, str]:  # a plain def: runs in the thread pool, the loop stays free
        entered.set()
        release.wait(30)
        return {"status": "done"}

    client.app.add_api_route("/slow-for-test", slow)
    first: list[int] = []
    other = TestClient(client.app)  # a client of its own per thread; the app is the same
    worker = threading.Thread(target=lambda: first.append(other.get("/slow-for-test").status_code))
    worker.start()
    try:
        assert entered.wait(30), first
        response = client.post("/v1/classify", json={"text": "路灯坏了"})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"]["code"] == "overloaded"
        assert response.json()["request_id"] == response.headers["x-request-id"]
        assert client.get("/readyz").status_code == 200  # exempt
    finally:
        release.set()
        worker.join(30)
    assert first == [200]
    assert client.post("/v1/classify", json={"text": "路灯坏了"}).status_code == 200


def test_a_request_over_the_limit_waits_briefly_for_a_place_first_come_first_served() -> None:
    async def scenario() -> None:
        releases: dict[str, asyncio.Event] = {}
        order: list[str] = []

        async def inner(scope: Any, receive: Any, send: Any) -> None:
            name = scope["path"].rsplit("/", 1)[-1]
            order.append(name)
            await releases.setdefault(name, asyncio.Event()).wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

        app = ConcurrencyLimitMiddleware(inner, limit=lambda scope: 1, wait=lambda scope: 5.0)
        first = asyncio.create_task(_call(app, "/v1/first"))
        while order != ["first"]:
            await asyncio.sleep(0)
        second = asyncio.create_task(_call(app, "/v1/second"))
        third = asyncio.create_task(_call(app, "/v1/third"))
        while app.waiting < 2:
            await asyncio.sleep(0)
        assert (app.active, order) == (1, ["first"])
        releases["first"].set()  # its place goes to the longest waiting, not a newcomer
        assert (await first)[0]["status"] == 200
        while order != ["first", "second"]:
            await asyncio.sleep(0)
        assert (app.active, app.waiting) == (1, 1)
        for name in ("second", "third"):
            releases.setdefault(name, asyncio.Event()).set()
        assert [(await task)[0]["status"] for task in (second, third)] == [200, 200]
        assert (app.active, app.waiting, order) == (0, 0, ["first", "second", "third"])

        # No place within the wait: 503, and the timed-out waiter holds no place after.
        app.wait = lambda scope: 0.01
        releases["held"] = asyncio.Event()
        held = asyncio.create_task(_call(app, "/v1/held"))
        while "held" not in order:
            await asyncio.sleep(0)
        assert (await _call(app, "/v1/late"))[0]["status"] == 503
        assert (app.active, app.waiting) == (1, 0)
        releases["held"].set()
        assert (await held)[0]["status"] == 200
        assert app.active == 0
        releases["after"] = asyncio.Event()
        releases["after"].set()
        assert (await _call(app, "/v1/after"))[0]["status"] == 200  # nobody stuck waiting

    asyncio.run(scenario())
