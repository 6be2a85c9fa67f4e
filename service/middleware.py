"""Pure ASGI middleware (no ``BaseHTTPMiddleware``: it costs a task and a copy per request).

:class:`BodyLimitMiddleware` answers 413 when a body is over the limit, whether announced by
``Content-Length`` or discovered while reading a chunked body (counted by Starlette's own
``RequestBodyLimitMiddleware``). :class:`ConcurrencyLimitMiddleware`
answers 503 with ``Retry-After`` when a worker already handles its limit of requests, so the
admitted ones keep their latency. :class:`RequestLogMiddleware` gives each request an id,
writes one JSON log line when it ends and feeds the metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import deque
from functools import lru_cache
from typing import Any

from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics
from service.errors import error_body, too_large_message

__all__ = ["BodyLimitMiddleware", "ConcurrencyLimitMiddleware", "RequestLogMiddleware"]

access_log = logging.getLogger("service.access")


async def _send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    """A whole JSON response from a middleware, before (or instead of) the app's."""
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": start + headers})
    await send({"type": "http.response.body", "body": body})


def _too_large_body(limit: int, request_id: str | None) -> bytes:
    body = error_body("body_too_large", too_large_message(limit))
    return json.dumps({"error": body, "request_id": request_id}).encode()


class BodyLimitMiddleware:
    """413 for a body over ``limit(scope)`` bytes, as the API's JSON error.

    Starlette's ``RequestBodyLimitMiddleware`` counts the bytes of a body without
    ``Content-Length`` (chunked) as a route reads them and raises its 413 ``HTTPException``,
    which :mod:`service.errors` answers in our shape. What is ours: the limit, read from the
    settings for each request (so test overrides reach it), and ``Content-Length``: over the
    limit, the JSON 413 is sent at once (Starlette would answer in plain text if the route
    does not read the body); within it, the request goes straight to the app, since the
    server never hands it more bytes than that.
    """

    def __init__(self, app: ASGIApp, *, limit: Any) -> None:
        self.app = app
        self.limit = limit  # a callable, so test overrides of the settings reach it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit: int = self.limit(scope)
        declared = _declared_length(scope)
        if declared is not None:
            if declared > limit:
                request_id = scope.get("state", {}).get("request_id")
                await _send_json(
                    send, 413, _too_large_body(limit, request_id), [(b"connection", b"close")]
                )
                return
            # The server hands the app at most Content-Length bytes: nothing to count, and
            # no wrapper around every receive and send of the request.
            await self.app(scope, receive, send)
            return
        await RequestBodyLimitMiddleware(self.app, max_body_size=limit)(scope, receive, send)


def _declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``; None when it has none (a chunked body) or it is not
    a number."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class ConcurrencyLimitMiddleware:
    """At most ``limit()`` requests in this worker at once. One over it waits up to
    ``wait()`` seconds for a place (a place is handed to the longest waiting, first come first
    served); one that gets none in time is answered 503 with ``Retry-After`` and the JSON
    error body, instead of joining a queue that only grows and slows every admitted request.
    The short wait absorbs the bursts of a normal load (connections do not split evenly
    across workers), so the limit can sit near what a worker keeps up with. Health,
    readiness and metrics are exempt: a probe must see the worker even when it is busy."""

    EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})
    RETRY_AFTER = 1  # seconds

    def __init__(self, app: ASGIApp, *, limit: Any, wait: Any = None) -> None:
        self.app = app
        # Callables, so test overrides of the settings reach them.
        self.limit = limit
        self.wait = wait if wait is not None else (lambda scope: 0.0)
        self.active = 0  # one event loop per worker: no lock needed
        self.waiting = 0
        self._waiters: deque[asyncio.Future[None]] = deque()  # cancelled ones are skipped

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.EXEMPT:
            await self.app(scope, receive, send)
            return
        limit: int = self.limit(scope)
        if self.active < limit and not self.waiting:
            self.active += 1
        elif not await self._wait_for_a_place(float(self.wait(scope))):
            await self._reject(send, limit, scope.get("state", {}).get("request_id"))
            return
        try:
            # Admission first, work after: without this turn of the loop, a request that
            # computes without awaiting (single tickets) would finish before the next one
            # is counted, and the queue would grow unseen in the loop instead of here.
            await asyncio.sleep(0)
            await self.app(scope, receive, send)
        finally:
            self._leave()

    async def _wait_for_a_place(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for a place handed over by :meth:`_leave`; True if got."""
        if seconds <= 0:
            return False
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self.waiting += 1
        try:
            async with asyncio.timeout(seconds):
                await waiter
            return True
        except TimeoutError:
            # Handed a place at the very moment the time ran out: it is ours all the same.
            if waiter.done() and not waiter.cancelled():
                return True
            waiter.cancel()  # _leave skips it
            return False
        finally:
            self.waiting -= 1

    def _leave(self) -> None:
        """Hand this place to the longest waiting request, or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the place changes hands: active stays as it is
                return
        self.active -= 1

    @staticmethod
    @lru_cache(maxsize=8)
    def _error(limit: int, retry_after: int) -> dict[str, Any]:
        # Built once per limit: under overload, every request turned away would build it anew.
        message = (
            f"the server is busy ({limit} requests in progress in this worker); "
            f"retry after {retry_after} s"
        )
        return error_body("overloaded", message)

    async def _reject(self, send: Send, limit: int, request_id: str | None) -> None:
        error = self._error(limit, self.RETRY_AFTER)
        body = json.dumps({"error": error, "request_id": request_id}).encode()
        await _send_json(send, 503, body, [(b"retry-after", str(self.RETRY_AFTER).encode())])


class RequestLogMiddleware:
    """Request id (``X-Request-ID`` in and out), one JSON log line and metrics per request.

    Routes add what they know (label, model version, item count) to ``request.state``; the
    ticket text is never among it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        state["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            metrics.observe_request(route_path, method, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                record: dict[str, Any] = {
                    "event": "request",
                    "request_id": request_id,
                    "method": method,
                    "route": route_path,
                    "status": status,
                    "latency_ms": round(seconds * 1000, 3),
                }
                for key in ("label", "model_version", "items", "needs_review", "text"):
                    if key in state:
                        record[key] = state[key]
                access_log.info("request", extra=record)


def _incoming_request_id(scope: Scope) -> str | None:
    """A caller's X-Request-ID if it is a plain token (it ends up in logs and headers)."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if 0 < len(text) <= 64 and all(c.isalnum() or c in "-_." for c in text):
                return text
            return None
    return None
