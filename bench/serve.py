"""HTTP serving figures on ../shared/data: req/s and latency, batch tickets/s, hot swaps.

Loopback only, bounded in time and count. Trains a model on ``appeals/train.csv`` through the
library into a temporary registry (twice, so there are two versions to swap between), starts
``appeals serve`` with 1 and 2 workers, and drives it from separate client processes
(asyncio on uvloop over raw keep-alive sockets, so the client is cheap), then prints:

- in-process single-ticket tickets/s and p50/p99, batch-of-100 tickets/s
- HTTP single-ticket req/s and p50/p99 at 1 and 16 concurrent clients, 1 and 2 workers
- HTTP batch-of-100 tickets/s
- the ratio of HTTP to in-process throughput
- hot swaps under load (2 workers, 16 clients) and the number of failed requests

Usage: .venv/bin/python bench/serve.py [--shared ../shared/data] [--seconds 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


# --------------------------------------------------------------------------- load generator
@dataclass
class Load:
    """What one client process measured."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    versions: list[list[str]] = field(default_factory=list)  # per connection, in order


def _request(path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _connection(
    port: int, requests: list[bytes], deadline: float, budget: list[int], load: Load, offset: int
) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    i = offset
    seen: list[str] = []
    load.versions.append(seen)
    try:
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            payload = requests[i % len(requests)]
            i += 1
            started = time.perf_counter()
            try:
                writer.write(payload)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                load.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
                continue
            load.latencies.append(time.perf_counter() - started)
            load.statuses[status] = load.statuses.get(status, 0) + 1
            if status != 200:
                load.errors += 1
                continue
            at = body.find(b'"version":"')
            if at >= 0:
                version = body[at + 11 : body.index(b'"', at + 11)].decode()
                if not seen or seen[-1] != version:
                    seen.append(version)
    finally:
        writer.close()


def _client_process(
    port: int,
    requests: list[bytes],
    connections: int,
    seconds: float,
    max_requests: int,
    offset: int,
    start_at: float,
    out: mp.Queue,  # type: ignore[type-arg]
) -> None:
    import uvloop

    async def main() -> Load:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        deadline = time.perf_counter() + seconds
        budget = [max_requests]
        load = Load()
        await asyncio.gather(
            *(
                _connection(port, requests, deadline, budget, load, offset + 7919 * c)
                for c in range(connections)
            )
        )
        return load

    load = uvloop.run(main())
    out.put((load.latencies, load.errors, load.statuses, load.versions, seconds))


def drive(
    port: int,
    requests: list[bytes],
    *,
    clients: int,
    seconds: float,
    max_requests: int,
    processes: int = 2,
) -> tuple[float, float, float, int, list[list[str]]]:
    """(req/s, p50 ms, p99 ms, errors, versions seen per connection) for ``clients`` concurrent
    keep-alive connections spread over client processes."""
    processes = max(1, min(processes, clients))
    queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    start_at = time.time() + 0.5
    workers = []
    for p in range(processes):
        share = clients // processes + (1 if p < clients % processes else 0)
        args = (
            port,
            requests,
            share,
            seconds,
            max_requests // processes,
            104729 * p,
            start_at,
            queue,
        )
        worker = mp.Process(target=_client_process, args=args)
        worker.start()
        workers.append(worker)
    results = [queue.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join()
    latencies = np.array([x for r in results for x in r[0]])
    errors = sum(r[1] for r in results)
    elapsed = seconds if len(latencies) < max_requests else None
    count = len(latencies)
    # When the count bound ends a run early, rate = count / the slowest process's busy time.
    rate = count / (elapsed or max(latencies.sum() / max(1, clients), 1e-9))
    p50, p99 = (np.percentile(latencies, [50, 99]) * 1000) if count else (float("nan"),) * 2
    return rate, float(p50), float(p99), errors, [v for r in results for v in r[3]]


# --------------------------------------------------------------------------- the server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_server(models_dir: Path, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPEALS_", "PROMETHEUS_"))}
    env["APPEALS_LOG_LEVEL"] = "WARNING"  # one log line per request would measure the terminal
    command = [
        str(ROOT / ".venv" / "bin" / "appeals"),
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--models-dir",
        str(models_dir),
    ]
    server = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/readyz", timeout=2) as response:
                if response.status == 200:
                    # Every worker warms up in its lifespan before it accepts connections.
                    time.sleep(1.0 if workers > 1 else 0.2)
                    return server, port
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not become ready within 90 s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


# --------------------------------------------------------------------------- the figures
def train_models(shared: Path, models_dir: Path) -> None:
    from nlp import Registry
    from nlp.data import read_table
    from nlp.train import TrainConfig, train

    frame = read_table(shared / "appeals" / "train.csv")
    registry = Registry(models_dir)
    for c in (1.0, 0.5):
        result = train(frame, TrainConfig(C=c))
        version = registry.save(result.model, metrics=result.evaluation.to_dict())
        summary = result.evaluation.summary()
        print(
            f"trained default@{version} (C={c}) in {result.seconds:.1f}s: "
            f"accuracy {summary['accuracy']:.4f} macro-F1 {summary['macro_f1']:.4f}"
        )


def in_process(models_dir: Path, texts: list[str], count: int) -> tuple[float, float, float, float]:
    from nlp import Registry, tag_frame

    model = Registry(models_dir).load()
    model.warm_up()
    latencies = []
    for text in texts[:count]:
        started = time.perf_counter()
        model.classify([text], top_k=3, explain=8)
        latencies.append(time.perf_counter() - started)
    rate = len(latencies) / sum(latencies)
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000
    frame = pd.DataFrame({"text": texts[:100]})
    rounds = max(1, count // 100)
    started = time.perf_counter()
    for r in range(rounds):
        frame = pd.DataFrame({"text": texts[(r * 100) % 4000 : (r * 100) % 4000 + 100]})
        tag_frame(frame, model, text_col="text")
    batch_rate = rounds * 100 / (time.perf_counter() - started)
    return rate, float(p50), float(p99), batch_rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--seconds", type=float, default=6.0, help="per measurement (max 60)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="per measurement")
    parser.add_argument("--swaps", type=int, default=10, help="hot swaps under load")
    parser.add_argument("--swap-interval", type=float, default=2.0, help="seconds between swaps")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    seconds = min(args.seconds, 60.0)
    data = args.shared / "appeals" / "train.csv"
    if not data.is_file():
        raise SystemExit(f"{data} not found: this benchmark needs ../shared/data")
    texts = pd.read_csv(data, dtype=str, keep_default_na=False)["text"].tolist()
    rng = np.random.default_rng(0)
    texts = [texts[i] for i in rng.permutation(len(texts))]
    lengths = [len(t) for t in texts]
    print(
        f"tickets: {len(texts)} from {data} (mean {np.mean(lengths):.0f} chars, "
        f"median {np.median(lengths):.0f}); {os.cpu_count()} CPUs"
    )

    singles = [
        _request("/v1/classify", json.dumps({"text": t}, ensure_ascii=False).encode())
        for t in texts[:3000]
    ]
    batches = [
        _request(
            "/v1/classify/batch",
            json.dumps(
                {"items": [{"text": t} for t in texts[i : i + 100]]}, ensure_ascii=False
            ).encode(),
        )
        for i in range(0, 3000, 100)
    ]

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        models_dir = Path(tmp) / "models"
        train_models(args.shared, models_dir)

        rate, p50, p99, batch_rate = in_process(models_dir, texts, 3000)
        print(
            f"in-process single ticket (explain=8): {rate:,.0f} tickets/s, "
            f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"
        )
        print(f"in-process tag_frame, batches of 100: {batch_rate:,.0f} tickets/s")

        http: dict[int, float] = {}
        for workers in args.workers:
            server, port = start_server(models_dir, workers)
            try:
                drive(port, singles, clients=16, seconds=1.5, max_requests=5_000)  # warm-up
                for clients in (1, 16):
                    r, q50, q99, errors, _ = drive(
                        port,
                        singles,
                        clients=clients,
                        seconds=seconds,
                        max_requests=args.max_requests,
                        processes=1 if clients == 1 else 2,
                    )
                    print(
                        f"HTTP single ticket, {workers} worker(s), {clients:>2} clients: "
                        f"{r:,.0f} req/s, p50 {q50:.2f} ms, p99 {q99:.2f} ms, {errors} errors"
                    )
                    if clients == 16:
                        http[workers] = r
                r, q50, q99, errors, _ = drive(
                    port, batches, clients=4, seconds=seconds, max_requests=args.max_requests
                )
                print(
                    f"HTTP batch of 100, {workers} worker(s), 4 clients: {r * 100:,.0f} "
                    f"tickets/s ({r:,.1f} req/s, p50 {q50:.1f} ms, p99 {q99:.1f} ms), "
                    f"{errors} errors"
                )
            finally:
                stop_server(server)
        for workers, r in http.items():
            print(
                f"HTTP / in-process throughput, {workers} worker(s) at 16 clients: {r / rate:.2f}"
            )

        print(hot_swaps(models_dir, singles, args.swaps, args.swap_interval))
    return 0


def hot_swaps(models_dir: Path, singles: list[bytes], swaps: int, interval: float) -> str:
    """Swap v1 <-> v2 every ``interval`` s under 16 clients on 2 workers; count failures."""
    from nlp import Registry

    registry = Registry(models_dir)
    registry.activate("default", "v1")
    server, port = start_server(models_dir, 2)
    try:
        seconds = interval * swaps + 4
        outcome: list[tuple[float, float, float, int, list[list[str]]]] = []
        driver = threading.Thread(
            target=lambda: outcome.append(
                drive(port, singles, clients=16, seconds=seconds, max_requests=10**7)
            )
        )
        driver.start()
        time.sleep(2.0)
        for i in range(swaps):
            registry.activate("default", "v2" if i % 2 == 0 else "v1")  # as the CLI does
            time.sleep(interval)
        driver.join(timeout=seconds + 120)
        rate, _, p99, errors, versions = outcome[0]
    finally:
        stop_server(server)
    changes = max(len(v) - 1 for v in versions)
    return (
        f"hot swaps under load (2 workers, 16 clients): {swaps} activations every "
        f"{interval} s, up to {changes} version changes seen on one connection, "
        f"{errors} failed requests, "
        f"{rate:,.0f} req/s, p99 {p99:.2f} ms"
    )


if __name__ == "__main__":
    sys.exit(main())
