"""Start-up figures: what starting the service and the CLI costs on this machine.

Trains a tiny model on the demo data shipped in the repo (data/demo/appeals.csv) into a
temporary registry, then prints:

- over ``--starts`` (10) starts of ``appeals serve --workers 2`` on a free loopback port: the
  seconds until ``/readyz`` answers 200, until both workers serve, and the worker restarts
  (counted from the server's log: worker processes started beyond the two, workers uvicorn
  found dead or unready); targets: ready in under 10 s, 0 restarts
- over ``--runs`` (5) runs: ``appeals --help`` (target <= 0.5 s), ``appeals models list``
  (settings and registry, no model loaded), ``appeals predict "路灯坏了"``
  with the trained model (target <= 2 s), and a service worker's time from process start to
  answering uvicorn's health check (target <= 2 s) and to serving

The worker figure drives uvicorn's own worker class with the options ``appeals serve`` gives
it. A worker imports the parent's main script before it can answer the health check; this
script stands in for the ``appeals`` script, so it imports what that imports (``service.cli``) at
module level and nothing else heavy.

Usage: .venv/bin/python bench/startup.py [--starts 10] [--runs 5]   (--starts 0: the CLI only)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import service.cli  # noqa: F401  (what the `appeals` script imports; see the docstring)

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo" / "appeals.csv"
HOST = "127.0.0.1"
APPEALS = Path(sys.executable).with_name("appeals")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPEALS_", "PROMETHEUS_"))}
    env.update(extra)
    return env


def train_tiny_model(models_dir: Path) -> None:
    from nlp.io import read_table
    from nlp.registry import Registry
    from nlp.train import TrainConfig, train

    result = train(read_table(DEMO), TrainConfig(calibration_folds=3))
    Registry(models_dir).save(result.model, metrics=result.evaluation.to_dict())


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError:
        return 0, ""


def count_restarts(log: str, workers: int) -> int:
    messages = []
    for line in log.splitlines():
        try:
            messages.append(str(json.loads(line).get("message", "")))
        except ValueError:
            messages.append(line)
    started = sum("Started server process" in m for m in messages)
    failed = sum(("died" in m or "not ready in time" in m) for m in messages)
    return max(0, started - workers) + failed


def start_once(models_dir: Path, tmp: Path, settle: float) -> tuple[float, float, int]:
    """(seconds to /readyz 200, seconds until both workers serve, worker restarts)."""
    port = free_port()
    log_path = tmp / f"serve-{port}.log"
    base = f"http://{HOST}:{port}"
    with log_path.open("wb") as log:
        started = time.perf_counter()
        command = [str(APPEALS), "serve", "--port", str(port), "--workers", "2"]
        server = subprocess.Popen(
            [*command, "--models-dir", str(models_dir)],
            env=clean_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
        ready = both = float("nan")
        try:
            deadline = started + 120
            while time.perf_counter() < deadline and server.poll() is None:
                if _get(f"{base}/readyz")[0] == 200:
                    ready = time.perf_counter() - started
                    break
                time.sleep(0.05)
            while time.perf_counter() < deadline and server.poll() is None:
                if _get(f"{base}/metrics")[1].count("appeals_model_info{") >= 2:
                    both = time.perf_counter() - started
                    break
                time.sleep(0.05)
            time.sleep(settle)  # restarts after start-up would show by now
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
    return ready, both, count_restarts(log_path.read_text(errors="replace"), 2)


def timed(command: list[str], **kwargs: object) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - started


def worker_times(models_dir: Path) -> tuple[float, float]:
    """(seconds from a worker's start to its first health-check answer, to serving), with
    uvicorn's own worker class and the options ``appeals serve`` passes."""
    from uvicorn.config import Config
    from uvicorn.supervisors.multiprocess import Process

    from service.server import uvicorn_options
    from service.settings import Settings

    os.environ["APPEALS_MODELS_DIR"] = str(models_dir)  # the worker reads its settings here
    settings = Settings(log_level="WARNING")
    config = Config(**uvicorn_options(settings, host=HOST, port=free_port(), workers=2))
    sock = config.bind_socket()
    worker = Process(config, [sock])
    started = time.perf_counter()
    worker.start()
    try:
        if not worker.ping(timeout=120):
            raise SystemExit("the worker did not answer its health check within 120 s")
        answered = time.perf_counter() - started
        while not worker.is_ready(timeout=1):
            if time.perf_counter() - started > 120:
                raise SystemExit("the worker did not start serving within 120 s")
            time.sleep(0.01)
        serving = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.join()
        sock.close()
    return answered, serving


def _summary(values: list[float], unit: str = "s") -> str:
    return (
        f"median {statistics.median(values):.2f} {unit}, max {max(values):.2f} {unit} "
        f"({', '.join(f'{v:.2f}' for v in values)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=10, help="starts of --workers 2")
    parser.add_argument("--runs", type=int, default=5, help="runs of each CLI/worker timing")
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds to watch for restarts after ready"
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; appeals = {APPEALS}")
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as name:
        tmp = Path(name)
        models_dir = tmp / "models"
        train_tiny_model(models_dir)

        ready, both, restarts = [], [], []
        for _ in range(args.starts):
            r, b, n = start_once(models_dir, tmp, args.settle)
            ready.append(r)
            both.append(b)
            restarts.append(n)
        if args.starts:
            print(f"appeals serve --workers 2, {args.starts} starts:")
            print(f"  /readyz 200 after: {_summary(ready)} (target < 10 s)")
            print(f"  both workers serving after: {_summary(both)}")
            print(f"  worker restarts: {sum(restarts)} in all ({restarts}) (target 0)")

        env = clean_env()
        helps = [timed([str(APPEALS), "--help"], env=env) for _ in range(args.runs)]
        print(f"appeals --help, {args.runs} runs: {_summary(helps)} (target <= 0.5 s)")
        listing = [str(APPEALS), "models", "list", "--models-dir", str(models_dir)]
        lists = [timed(listing, env=env) for _ in range(args.runs)]
        print(f"appeals models list, {args.runs} runs: {_summary(lists)}")
        predict = [str(APPEALS), "predict", "路灯坏了", "--models-dir", str(models_dir)]
        predicts = [timed(predict, env=env) for _ in range(args.runs)]
        print(f'appeals predict "路灯坏了", {args.runs} runs: {_summary(predicts)} (target <= 2 s)')
        pings, serving = [], []
        for _ in range(args.runs):
            p, s = worker_times(models_dir)
            pings.append(p)
            serving.append(s)
        print(
            f"service worker, start to health-check answer, {args.runs} runs: "
            f"{_summary(pings)} (target <= 2 s)"
        )
        print(
            f"service worker, start to serving (model loading behind /readyz): {_summary(serving)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
