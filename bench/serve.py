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
- overload (2 workers): 16 clients for ``--load-seconds`` (60) with their status codes, then
  128 clients, over the per-worker concurrency limit: status codes (only 200 and 503 may
  appear), p99 of the 200s against the 16-client p99, and worker restarts
- the ticket store (1 worker, 8 clients: its concurrency limit): single-ticket req/s,
  p50/p99, errors and the server's CPU time per request with the store on (SQLite, its
  default place in the models folder), off (``APPEALS_STORE_URL=off``) and unreachable
  (PostgreSQL on a port where nothing listens), in ``--store-rounds`` interleaved rounds; the
  ratio store on / store off; the answers the store holds after each run against the
  requests answered, and ``appeals_store_written_total`` / ``appeals_store_dropped_total``
  from /metrics

Usage: .venv/bin/python bench/serve.py [--shared ../shared/data] [--seconds 6]
       [--load-seconds 60] [--sections in-process http swaps overload store]
       [--store off on unreachable] [--store-rounds 3]
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
from typing import Any

import numpy as np
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
SECTIONS = ("in-process", "http", "swaps", "overload", "store")
STORE_MODES = ("off", "on", "unreachable")
#: A store the service cannot reach: nothing listens on port 9 (discard) of the loopback.
UNREACHABLE_STORE = "postgresql+psycopg://x:y@127.0.0.1:9/none"


# --------------------------------------------------------------------------- load generator
@dataclass
class Load:
    """What one client process measured."""

    latencies: list[float] = field(default_factory=list)
    ok_latencies: list[float] = field(default_factory=list)  # of the 200s
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
    port: int,
    requests: list[bytes],
    deadline: float,
    budget: list[int],
    load: Load,
    offset: int,
    wait_retry_after: bool = False,
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
                retry_after = 0.0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                    elif line[:12].lower() == b"retry-after:":
                        retry_after = float(line[12:])
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
                if status == 503 and wait_retry_after:
                    await asyncio.sleep(min(retry_after, max(0.0, deadline - time.perf_counter())))
                continue
            load.ok_latencies.append(load.latencies[-1])
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
    wait_retry_after: bool = False,
) -> None:
    import uvloop

    async def main() -> Load:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        deadline = time.perf_counter() + seconds
        budget = [max_requests]
        load = Load()
        await asyncio.gather(
            *(
                _connection(
                    port, requests, deadline, budget, load, offset + 7919 * c, wait_retry_after
                )
                for c in range(connections)
            )
        )
        return load

    load = uvloop.run(main())
    out.put((load.latencies, load.errors, load.statuses, load.versions, load.ok_latencies))


@dataclass
class Outcome:
    """What all client processes of one run measured together."""

    rate: float  # responses/s, any status
    p50: float  # ms, any status
    p99: float
    errors: int  # transport errors and non-200 answers
    versions: list[list[str]]
    statuses: dict[int, int]
    ok_p99: float  # ms, the 200s only


def drive_outcome(
    port: int,
    requests: list[bytes],
    *,
    clients: int,
    seconds: float,
    max_requests: int,
    processes: int = 2,
    wait_retry_after: bool = False,
) -> Outcome:
    """``clients`` concurrent keep-alive connections spread over client processes; with
    ``wait_retry_after`` a client answered 503 waits as its Retry-After says, else it retries
    at once."""
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
            wait_retry_after,
        )
        worker = mp.Process(target=_client_process, args=args)
        worker.start()
        workers.append(worker)
    results = [queue.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join()
    latencies = np.array([x for r in results for x in r[0]])
    errors = sum(r[1] for r in results)
    statuses: dict[int, int] = {}
    for r in results:
        for status, count in r[2].items():
            statuses[status] = statuses.get(status, 0) + count
    ok = np.array([x for r in results for x in r[4]])
    elapsed = seconds if len(latencies) < max_requests else None
    count = len(latencies)
    # When the count bound ends a run early, rate = count / the slowest process's busy time.
    rate = count / (elapsed or max(latencies.sum() / max(1, clients), 1e-9))
    p50, p99 = (np.percentile(latencies, [50, 99]) * 1000) if count else (float("nan"),) * 2
    ok_p99 = float(np.percentile(ok, 99) * 1000) if len(ok) else float("nan")
    versions = [v for r in results for v in r[3]]
    return Outcome(rate, float(p50), float(p99), errors, versions, statuses, ok_p99)


def drive(
    port: int,
    requests: list[bytes],
    *,
    clients: int,
    seconds: float,
    max_requests: int,
    processes: int = 2,
) -> tuple[float, float, float, int, list[list[str]]]:
    """(req/s, p50 ms, p99 ms, errors, versions seen per connection)."""
    o = drive_outcome(
        port,
        requests,
        clients=clients,
        seconds=seconds,
        max_requests=max_requests,
        processes=processes,
    )
    return o.rate, o.p50, o.p99, o.errors, o.versions


# --------------------------------------------------------------------------- the server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def appeals_script() -> Path:
    """The ``appeals`` script of the environment running this benchmark."""
    return Path(sys.executable).with_name("appeals")


def wait_for_workers(port: int, workers: int, deadline: float) -> bool:
    """True once every worker serves its model: each reports it in /metrics (aggregated
    over workers), since /readyz answers from whichever worker takes the connection."""
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=2) as response:
                if response.read().decode().count("appeals_model_info{") >= workers:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def start_server(
    models_dir: Path,
    workers: int,
    *,
    max_concurrency: int | None = None,
    queue_wait_ms: float | None = None,
    store_url: str | None = None,
) -> tuple[subprocess.Popen[bytes], int]:
    """``appeals serve`` on a free port; ``store_url`` sets APPEALS_STORE_URL (None: unset,
    the store is ``tickets.db`` in ``models_dir``)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPEALS_", "PROMETHEUS_"))}
    env["APPEALS_LOG_LEVEL"] = "WARNING"  # one log line per request would measure the terminal
    if store_url is not None:
        env["APPEALS_STORE_URL"] = store_url
    if max_concurrency is not None:
        env["APPEALS_MAX_CONCURRENCY"] = str(max_concurrency)
    if queue_wait_ms is not None:
        env["APPEALS_QUEUE_WAIT_MS"] = str(queue_wait_ms)
    command = [
        str(appeals_script()),
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
    if wait_for_workers(port, workers, time.time() + 90):
        time.sleep(0.2)
        return server, port
    server.kill()
    raise SystemExit("the server did not become ready within 90 s")


def worker_pids(server: subprocess.Popen[bytes]) -> set[int]:
    """The server's worker processes (uvicorn's spawned children, not its helpers)."""
    pids = set()
    for child in psutil.Process(server.pid).children():
        try:
            if "multiprocessing.resource_tracker" not in " ".join(child.cmdline()):
                pids.add(child.pid)
        except psutil.NoSuchProcess:
            pass
    return pids


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


# --------------------------------------------------------------------------- the figures
def train_models(shared: Path, models_dir: Path, *, versions: int = 2) -> None:
    from nlp import Registry
    from nlp.io import read_table
    from nlp.train import TrainConfig, train

    frame = read_table(shared / "appeals" / "train.csv")
    registry = Registry(models_dir)
    for c in (1.0, 0.5)[:versions]:
        result = train(frame, TrainConfig(C=c))
        version = registry.save(result.model, metrics=result.evaluation.to_dict())
        summary = result.evaluation.summary()
        print(
            f"trained default@{version} (C={c}) in {result.seconds:.1f}s: "
            f"accuracy {summary['accuracy']:.4f} macro-F1 {summary['macro_f1']:.4f}"
        )


def every_field_dispatcher(labels: list[str]) -> Any:
    """The :class:`nlp.Dispatcher` with every field on for a model of the Teddy Cup
    categories: urgency, several problems, location against the demo gazetteer, and the
    Teddy Cup routing table (bench/dispatch_answers.py answers with it too)."""
    from nlp import Dispatcher

    demo = ROOT / "data" / "demo"
    return Dispatcher.load(
        labels=labels,
        urgency=True,
        problems=True,
        gazetteer=demo / "gazetteer.csv",
        city="江州市",
        routing=demo / "routing_teddy.toml",
    )


def in_process(
    models_dir: Path, texts: list[str], count: int, *, fields: bool = False
) -> tuple[float, float, float, float]:
    """Single tickets (explain=8, as the service answers them) and tag_frame batches of 100;
    with ``fields``, every dispatch field on: urgency, several problems, location against
    the demo gazetteer, the Teddy Cup routing table (its pass over each ticket costs the
    same though the masked city is not the demo's). Also prints the CPU time of each
    (``time.thread_time``: what the code costs, which other work on a shared machine
    barely moves, where the wall clock doubles)."""
    from nlp import Registry, tag_frame

    model = Registry(models_dir).load()
    model.warm_up()
    dispatcher = None
    if fields:
        dispatcher = every_field_dispatcher(model.labels)
        model.classify(["预热：燃气泄漏，小区停水"], dispatcher=dispatcher)
    latencies = []
    cpu = []
    by_problems: dict[bool, list[float]] = {False: [], True: []}
    for text in texts[:count]:
        started, started_cpu = time.perf_counter(), time.thread_time()
        [answer] = model.classify([text], top_k=3, explain=8, dispatcher=dispatcher)
        latencies.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - started_cpu)
        if answer.problems is not None:
            by_problems[len(answer.problems) > 1].append(cpu[-1])
    rate = len(latencies) / sum(latencies)
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000
    c50, c99 = np.percentile(cpu, [50, 99]) * 1000
    print(f"  CPU per single ticket: p50 {c50:.3f} ms, p99 {c99:.3f} ms")
    for several, samples in by_problems.items():
        if samples:
            q50, q99 = np.percentile(samples, [50, 99]) * 1000
            kind = "several problems" if several else "one problem"
            print(f"  {kind} ({len(samples)} tickets), CPU: p50 {q50:.3f} ms, p99 {q99:.3f} ms")
    frame = pd.DataFrame({"text": texts[:100]})
    rounds = max(1, count // 100)
    started, started_cpu = time.perf_counter(), time.thread_time()
    for r in range(rounds):
        frame = pd.DataFrame({"text": texts[(r * 100) % 4000 : (r * 100) % 4000 + 100]})
        tag_frame(frame, model, text_col="text", dispatcher=dispatcher)
    batch_rate = rounds * 100 / (time.perf_counter() - started)
    batch_cpu = (time.thread_time() - started_cpu) / (rounds * 100) * 1e6
    print(f"  CPU per ticket of tag_frame, batches of 100: {batch_cpu:.0f} µs")
    return rate, float(p50), float(p99), batch_rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--seconds", type=float, default=6.0, help="per measurement (max 60)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="per measurement")
    parser.add_argument("--swaps", type=int, default=10, help="hot swaps under load")
    parser.add_argument("--swap-interval", type=float, default=2.0, help="seconds between swaps")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--load-seconds", type=float, default=60.0, help="the 16-client run before overload"
    )
    parser.add_argument("--overload-clients", type=int, default=128)
    parser.add_argument(
        "--in-process-tickets", type=int, default=3000, help="tickets the in-process figures time"
    )
    parser.add_argument(
        "--max-concurrency", type=int, default=None, help="per worker (default: the service's)"
    )
    parser.add_argument(
        "--queue-wait-ms",
        type=float,
        default=None,
        help="wait for a place over the limit (default: the service's)",
    )
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=SECTIONS,
        default=list(SECTIONS),
        help="which figures to print (all by default)",
    )
    parser.add_argument(
        "--store",
        nargs="+",
        choices=STORE_MODES,
        default=list(STORE_MODES),
        help="the ticket store section: on (SQLite in the models folder), off, unreachable",
    )
    parser.add_argument(
        "--store-rounds",
        type=int,
        default=3,
        help="rounds of the store modes, interleaved, each starting one mode later",
    )
    parser.add_argument(
        "--store-clients",
        type=int,
        default=8,
        help="clients of the store section (default: the service's limit per worker, so "
        "that no request is refused with 503)",
    )
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
        sections = set(args.sections)
        # Two versions to swap between; one is enough for the other sections.
        train_models(args.shared, models_dir, versions=2 if "swaps" in sections else 1)

        rate = float("nan")
        if sections & {"in-process", "http"}:
            rate, p50, p99, batch_rate = in_process(models_dir, texts, args.in_process_tickets)
            print(
                f"in-process single ticket (explain=8): {rate:,.0f} tickets/s, "
                f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"
            )
            print(f"in-process tag_frame, batches of 100: {batch_rate:,.0f} tickets/s")
        if "in-process" in sections:
            on = in_process(models_dir, texts, args.in_process_tickets, fields=True)
            print(
                f"in-process single ticket, every dispatch field on: {on[0]:,.0f} tickets/s, "
                f"p50 {on[1]:.2f} ms, p99 {on[2]:.2f} ms"
            )
            print(
                f"in-process tag_frame, batches of 100, every dispatch field on: "
                f"{on[3]:,.0f} tickets/s ({batch_rate / on[3] - 1:+.0%} time per ticket)"
            )

        http: dict[int, float] = {}
        for workers in args.workers if "http" in sections else []:
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

        if "swaps" in sections:
            print(hot_swaps(models_dir, singles, args.swaps, args.swap_interval))
        if "overload" in sections:
            for line in overload(
                models_dir,
                singles,
                load_seconds=args.load_seconds,
                seconds=seconds,
                clients=args.overload_clients,
                max_concurrency=args.max_concurrency,
                queue_wait_ms=args.queue_wait_ms,
            ):
                print(line)
        if "store" in sections:
            for line in store_modes(
                models_dir,
                singles,
                modes=args.store,
                rounds=args.store_rounds,
                seconds=seconds,
                clients=args.store_clients,
            ):
                print(line, flush=True)
    return 0


def _statuses(statuses: dict[int, int]) -> str:
    return ", ".join(f"{count:,} x {status}" for status, count in sorted(statuses.items()))


def overload(
    models_dir: Path,
    singles: list[bytes],
    *,
    load_seconds: float,
    seconds: float,
    clients: int,
    max_concurrency: int | None,
    queue_wait_ms: float | None,
) -> list[str]:
    """2 workers: 16 clients for ``load_seconds``, then ``clients`` clients (far over the
    per-worker concurrency limit) for ``seconds``, first retrying a 503 at once, then
    waiting as its Retry-After says."""
    from nlp import Registry
    from service.settings import Settings

    Registry(models_dir).activate("default", "v1")
    server, port = start_server(
        models_dir, 2, max_concurrency=max_concurrency, queue_wait_ms=queue_wait_ms
    )
    defaults = Settings.model_fields
    limit = max_concurrency or f"{defaults['max_concurrency'].default} (default)"
    wait = queue_wait_ms if queue_wait_ms is not None else defaults["queue_wait_ms"].default
    lines = [f"overload: max concurrency per worker {limit}, wait for a place {wait:g} ms"]
    try:
        workers_before = worker_pids(server)
        drive(port, singles, clients=16, seconds=1.5, max_requests=5_000)  # warm-up
        normal = drive_outcome(port, singles, clients=16, seconds=load_seconds, max_requests=10**8)
        non_2xx = sum(n for status, n in normal.statuses.items() if not 200 <= status < 300)
        lines.append(
            f"load, 2 workers, 16 clients, {load_seconds:g} s: {normal.rate:,.0f} req/s, "
            f"p99 {normal.p99:.2f} ms, {non_2xx} non-2xx, "
            f"{normal.errors - non_2xx} transport errors ({_statuses(normal.statuses)})"
        )
        for wait, how in ((False, "retry a 503 at once"), (True, "wait Retry-After")):
            over = drive_outcome(
                port,
                singles,
                clients=clients,
                seconds=seconds,
                max_requests=10**8,
                wait_retry_after=wait,
            )
            others = sorted(set(over.statuses) - {200, 503})
            ok_rate = over.statuses.get(200, 0) / seconds
            lines.append(
                f"overload, 2 workers, {clients} clients that {how}, {seconds:g} s: "
                f"{_statuses(over.statuses)}; statuses other than 200/503: {others or 'none'}; "
                f"{ok_rate:,.0f} req/s answered 200, their p99 {over.ok_p99:.2f} ms = "
                f"{over.ok_p99 / normal.ok_p99:.2f}x the 16-client p99 ({normal.ok_p99:.2f} ms)"
            )
        restarts = len(worker_pids(server) - workers_before)
        lines.append(f"overload: {restarts} worker restarts")
    finally:
        stop_server(server)
    return lines


def metric_values(port: int, name: str) -> dict[str, float]:
    """The samples of metric ``name`` in /metrics, by their labels ("" for none)."""
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values: dict[str, float] = {}
    for row in text.splitlines():
        if row.startswith((name + "{", name + " ")):
            sample, value = row.rsplit(" ", 1)
            labels = sample[len(name) :].strip("{} ")
            values[labels] = values.get(labels, 0.0) + float(value)
    return values


def server_cpu(server: subprocess.Popen[bytes]) -> float:
    """CPU seconds (user + system, every thread) of the server and its workers so far: what a
    request costs, which other work on a shared machine disturbs far less than req/s."""
    total = 0.0
    for process in [psutil.Process(server.pid), *psutil.Process(server.pid).children()]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def store_location(mode: str, models_dir: Path) -> tuple[str | None, str | None]:
    """(APPEALS_STORE_URL for ``mode``, the SQLite URL to count the stored answers in)."""
    if mode == "on":  # unset: the default, tickets.db beside the models
        return None, f"sqlite:///{models_dir / 'tickets.db'}"
    if mode == "off":
        return "off", None
    return UNREACHABLE_STORE, None


def store_run(
    models_dir: Path, singles: list[bytes], mode: str, seconds: float, clients: int
) -> tuple[list[str], float, float]:
    """One server (1 worker) with the store ``mode``: a warm-up, ``seconds`` of ``clients``
    clients, then what the store and /metrics say."""
    from nlp.store import TicketStore

    env_url, count_url = store_location(mode, models_dir)
    for leftover in models_dir.glob("tickets.db*"):  # each run starts from an empty store
        leftover.unlink()
    server, port = start_server(models_dir, 1, store_url=env_url)
    try:
        warm = drive_outcome(port, singles, clients=clients, seconds=1.5, max_requests=5_000)
        cpu = server_cpu(server)
        run = drive_outcome(port, singles, clients=clients, seconds=seconds, max_requests=10**8)
        # The writer is a moment behind: its last batch of the run is counted in the run.
        time.sleep(0.5 if mode == "on" else 0)
        cpu = (server_cpu(server) - cpu) / max(1, sum(run.statuses.values()))
        answered = warm.statuses.get(200, 0) + run.statuses.get(200, 0)
        # The writer is a moment behind the traffic: wait (a little) until it has caught up.
        deadline = time.time() + (10 if mode == "on" else 0)
        while True:
            written = sum(metric_values(port, "appeals_store_written_total").values())
            dropped = metric_values(port, "appeals_store_dropped_total")
            if written + sum(dropped.values()) >= answered or time.time() > deadline:
                break
            time.sleep(0.2)
    finally:
        stop_server(server)
    stored = TicketStore(count_url).counts()["tickets"] if count_url else None
    failed = run.errors + warm.errors
    reasons = ", ".join(f"{k.split('=')[-1].strip(chr(34))} {v:,.0f}" for k, v in dropped.items())
    lines = [
        f"store {mode:<11} 1 worker, {clients} clients, {seconds:g} s: {run.rate:,.0f} req/s, "
        f"p50 {run.p50:.2f} ms, p99 {run.p99:.2f} ms, server CPU {cpu * 1e6:,.0f} us/request, "
        f"{failed} failed requests "
        f"({_statuses(run.statuses)})",
    ]
    if mode != "off":
        held = f"the store holds {stored:,}" if stored is not None else "nothing stored"
        lines.append(
            f"  answered {answered:,} (warm-up included); {held}; /metrics: written "
            f"{written:,.0f}, dropped {sum(dropped.values()):,.0f}"
            + (f" ({reasons})" if reasons else "")
        )
    return lines, run.rate, cpu


def store_modes(
    models_dir: Path,
    singles: list[bytes],
    *,
    modes: list[str],
    rounds: int,
    seconds: float,
    clients: int,
) -> list[str]:
    """Each mode once per round, interleaved (a shared machine drifts); prints each run as it
    ends and returns the ratios store on / store off (of the medians over the rounds)."""
    rates: dict[str, list[float]] = {mode: [] for mode in modes}
    cpus: dict[str, list[float]] = {mode: [] for mode in modes}
    for number in range(1, rounds + 1):
        # Each round starts one mode later: no mode always runs first (or last) in a round.
        shift = (number - 1) % len(modes)
        for mode in modes[shift:] + modes[:shift]:
            run_lines, rate, cpu = store_run(models_dir, singles, mode, seconds, clients)
            rates[mode].append(rate)
            cpus[mode].append(cpu)
            print(f"round {number}: " + "\n".join(run_lines), flush=True)
    summary = []
    for mode in [m for m in ("on", "unreachable") if rates.get(m) and rates.get("off")]:
        each = ", ".join(
            f"{this / off:.2f}" for this, off in zip(rates[mode], rates["off"], strict=True)
        )
        ratio = float(np.median(rates[mode]) / np.median(rates["off"]))
        cost = float(np.median(cpus[mode]) / np.median(cpus["off"]))
        summary.append(
            f"store {mode} / store off: single-ticket req/s {ratio:.2f} (medians of {rounds} "
            f"round(s); each round: {each})" + ("; target >= 0.90" if mode == "on" else "")
        )
        summary.append(
            f"store {mode} / store off: server CPU per request {cost:.2f} (medians: "
            f"{np.median(cpus[mode]) * 1e6:,.0f} / {np.median(cpus['off']) * 1e6:,.0f} us)"
        )
    return summary


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
