"""A real server: `appeals serve` with two workers on a free loopback port, over HTTP.

Hot swap while a thread sends requests (zero failures, the new version served within 10 s),
413 for a chunked body, metrics across workers, and SIGTERM letting requests in flight finish.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from service_testing import TICKET

from nlp.registry import Registry

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

APPEALS = Path(sys.executable).with_name("appeals")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(
    root: Path, tmp_path: Path, *, timeout: float = 120, **extra_env: str
) -> tuple[str, subprocess.Popen[bytes], Path]:
    """`appeals serve --workers 2` on a free port; returns once both workers have loaded
    the model and /readyz says 200 (or the process ended, or ``timeout`` seconds passed).
    Each worker loads it in the background, so one ready worker says nothing of the other."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPEALS_", "PROMETHEUS_"))}
    env["APPEALS_WATCH_INTERVAL"] = "0.5"
    env.update(extra_env)
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(APPEALS), "serve", "--port", str(port), "--workers", "2", "--models-dir", root],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            loaded = log_path.read_text(encoding="utf-8", errors="replace").count(
                '"event": "model_loaded"'
            )
            if loaded >= 2 and httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.1)
    else:
        process.kill()
    if process.poll() is not None:
        pytest.fail(f"server did not start:\n{log_path.read_text()}")
    return base, process, log_path


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def _worker_starts(log_path: Path) -> tuple[int, int]:
    """(worker processes started, workers uvicorn found dead or unready) in a server log."""
    messages = []
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            messages.append(str(json.loads(line).get("message", "")))
        except ValueError:
            messages.append(line)
    started = sum("Started server process" in m for m in messages)
    failed = sum(("died" in m or "not ready in time" in m) for m in messages)
    return started, failed


def _serving(root: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    base, process, _ = _start(root, tmp_path)
    deadline = time.monotonic() + 120
    # Both workers are up once both report their model (metrics in multiprocess mode).
    while time.monotonic() < deadline:
        if httpx.get(f"{base}/metrics", timeout=5).text.count("appeals_model_info{") >= 2:
            break
        time.sleep(0.2)
    yield base, process
    _stop(process)


@pytest.fixture
def server(two_versions: Registry, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A server of its own, for a test that swaps its model or stops it."""
    yield from _serving(two_versions.root, tmp_path)


@pytest.fixture(scope="module")
def read_only_server(
    models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """One server of the read-only registry for the tests that only send it requests
    (starting two workers costs seconds)."""
    yield from _serving(models_dir, tmp_path_factory.mktemp("read_only_server"))


SLOW_WORKER_START = """\
import sys
import time

if "--multiprocessing-fork" in sys.argv:  # a uvicorn worker, not the parent or a helper
    time.sleep(7)
"""


def test_workers_that_start_slowly_are_not_killed(models_dir: Path, tmp_path: Path) -> None:
    """A busy machine, simulated: every worker needs 7 s before it can answer uvicorn's
    health check (uvicorn's default patience was 5 s, so each was killed and restarted; on a
    loaded machine, importing scikit-learn alone took that long). Both then serve."""
    slow = tmp_path / "slow-start"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text(SLOW_WORKER_START, encoding="utf-8")
    pythonpath = os.pathsep.join(filter(None, [str(slow), os.environ.get("PYTHONPATH")]))
    base, process, log_path = _start(models_dir, tmp_path, timeout=60, PYTHONPATH=pythonpath)
    try:
        assert httpx.get(f"{base}/readyz", timeout=5).status_code == 200
        # Both workers serve: each reports its model in the aggregated metrics.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if httpx.get(f"{base}/metrics", timeout=5).text.count("appeals_model_info{") >= 2:
                break
            time.sleep(0.2)
        time.sleep(2)  # a restart would show in the log by now (health checks every 0.5 s)
    finally:
        _stop(process)
    assert _worker_starts(log_path) == (2, 0), log_path.read_text()


def test_malformed_request_gets_the_json_error_shape(
    read_only_server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    """uvicorn rejects these before the app sees them; it used to answer in plain text."""
    base, _ = read_only_server
    port = int(base.rsplit(":", 1)[1])
    for request in (
        b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}",
        b"GET /readyz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    ):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(request)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400"), answer
        assert b"content-type: application/json" in head.lower(), answer
        error = json.loads(body)["error"]
        assert error["code"] == "bad_request"
        assert "could not be parsed" in error["message"]
        assert error["fields"] == []


def test_hot_swap_under_load_drops_nothing(
    server: tuple[str, subprocess.Popen[bytes]], two_versions: Registry
) -> None:
    base, _ = server
    failures: list[str] = []
    versions: list[tuple[float, str]] = []
    stop = threading.Event()

    def send() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while not stop.is_set():
                try:
                    response = client.post("/v1/classify", json={"text": TICKET})
                except httpx.HTTPError as error:
                    failures.append(repr(error))
                    continue
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                else:
                    versions.append((time.monotonic(), response.json()["model"]["version"]))

    senders = [threading.Thread(target=send) for _ in range(4)]
    for sender in senders:
        sender.start()
    try:
        time.sleep(0.5)
        for target in ("v2", "v1"):
            # Activated as `appeals models activate` does it: through the registry, not this
            # server (in this process: a CLI starting on a machine this loaded took 10-20 s).
            assert two_versions.activate("default", target).version == target
            activated = time.monotonic()
            deadline = activated + 10
            # Served by every worker: the last requests (spread over both) all say so.
            while time.monotonic() < deadline:
                recent = [v for t, v in versions[-40:] if t > activated]
                if len(recent) >= 20 and all(v == target for v in recent[-20:]):
                    break
                time.sleep(0.05)
            recent = [v for t, v in versions[-40:] if t > activated]
            assert recent[-20:] == [target] * 20, f"{target} not served within 10 s"
    finally:
        stop.set()
        for sender in senders:
            sender.join()
    assert failures == []
    assert len(versions) > 50


def test_real_server_endpoints(read_only_server: tuple[str, subprocess.Popen[bytes]]) -> None:
    base, _ = read_only_server
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/").status_code == 200
        assert client.get("/docs").status_code == 200
        batch = client.post("/v1/classify/batch", json={"items": [{"text": TICKET}, {"text": ""}]})
        assert [bool(item["error"]) for item in batch.json()["items"]] == [False, True]
        for _ in range(20):
            client.post("/v1/classify", json={"text": TICKET})
        metrics = client.get("/metrics").text
    # Multiprocess mode: one worker's /metrics counts both workers' model gauges.
    assert metrics.count("appeals_model_info{") >= 2
    assert 'route="/v1/classify"' in metrics


def test_chunked_body_over_limit_is_413_over_the_wire(
    read_only_server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    base, _ = read_only_server
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"a" * 65536
        try:
            for _ in range(20):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before we finish sending
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 413")


def test_sigterm_lets_requests_in_flight_finish(
    server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    base, process = server
    host, port = base.removeprefix("http://").split(":")
    items = [{"text": TICKET * 20} for _ in range(256)]
    body = json.dumps({"items": items}, ensure_ascii=False, separators=(",", ":")).encode()
    assert len(body) < 1 << 20  # under the body limit
    request = (
        b"POST /v1/classify/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
    )
    sockets = [socket.create_connection((host, int(port)), timeout=60) for _ in range(4)]
    for sock in sockets:
        sock.sendall(request)
    # Connections are accepted in order: once a later request is answered, the four
    # batches are in the server's hands (classifying takes a while), so SIGTERM finds
    # them in flight rather than waiting in the listen queue.
    assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
    process.send_signal(signal.SIGTERM)
    statuses = []
    for sock in sockets:
        with sock:
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        statuses.append(answer[:12])
    assert process.wait(timeout=60) == 0
    assert statuses == [b"HTTP/1.1 200"] * 4
