"""The cost of ``repeat_of`` in the classify endpoint: p50 / p99 of ``POST /v1/classify`` in
process (FastAPI's TestClient, the real app) with ``APPEALS_REPEATS`` off and on, against a
similar-ticket index built from a ticket store of ``--tickets`` messages. Prints; asserts
nothing.

    .venv/bin/python bench/repeats_api.py [--tickets 2000] [--requests 300] [--rounds 1]

``--rounds N`` runs off and on N times, alternately, and prints the median p50 of each and
their difference: on a shared machine, the load of the moment moves single runs by more
than what is measured.

The messages are ``../shared/data/appeals/unlabeled.csv`` (the demo tickets when it is
absent): the first ``--tickets`` go into the store (answered over the last 20 days), the
next ``--requests`` are classified. The model is the demo model, trained first.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi.testclient import TestClient
from pydantic import SecretStr

from nlp.registry import Registry
from nlp.store import Answer, TicketStore, utc_now
from nlp.train import TrainConfig, train
from service.app import create_app
from service.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[1]
UNLABELED = ROOT.parent / "shared" / "data" / "appeals" / "unlabeled.csv"
DEMO = ROOT / "data" / "demo" / "appeals.csv"


def _texts() -> tuple[list[str], str]:
    if UNLABELED.is_file():
        frame = pd.read_csv(UNLABELED, dtype=str, keep_default_na=False)
        return [f"{t}。{x}" for t, x in zip(frame["title"], frame["text"], strict=True)], (
            str(UNLABELED.relative_to(ROOT.parent))
        )
    frame = pd.read_csv(DEMO, dtype=str, keep_default_na=False)
    return frame["text"].tolist(), str(DEMO.relative_to(ROOT))


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    return statistics.median(ordered) * 1000, ordered[int(0.99 * (len(ordered) - 1))] * 1000


def _lookup_p50(app: Any, settings: Settings, asked: list[str]) -> float:
    """p50 (ms) of the classify route's repeat lookup alone (service.routes._repeat_of: what
    repeat_of adds to a request), for the same messages, in this process."""
    from service.routes import _repeat_of

    app.state.similar.flush(60)  # the index at rest: the lookup alone, not the thread's work
    seconds = []
    for i, text in enumerate(asked):
        begin = time.perf_counter()
        _repeat_of(app.state.similar, settings, text, None, f"lookup{i}", utc_now())
        seconds.append(time.perf_counter() - begin)
    return _percentiles(seconds)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=2000, help="tickets in the store")
    parser.add_argument("--requests", type=int, default=300, help="classify requests timed")
    parser.add_argument("--rounds", type=int, default=1, help="runs of off and on, alternately")
    args = parser.parse_args()

    texts, source = _texts()
    stored = texts[: args.tickets]
    asked = texts[args.tickets : args.tickets + args.requests]
    if len(asked) < args.requests:
        raise SystemExit(f"{source} has {len(texts)} messages; ask for fewer")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        trained = train(pd.read_csv(DEMO, dtype=str, keep_default_na=False), TrainConfig())
        model = trained.model
        Registry(root / "models").save(model, name="default")
        url = f"sqlite:///{root / 'tickets.db'}"
        store = TicketStore(url).open()
        now = utc_now()
        span = timedelta(days=20) / max(len(stored), 1)
        predictions = model.classify(stored)
        store.record(
            [
                Answer(f"s{i}", text, None, model.name, model.version or "v1", p, now - i * span)
                for i, (text, p) in enumerate(zip(stored, predictions, strict=True))
            ]
        )
        store.close()
        print(f"{len(stored)} stored tickets and {len(asked)} requests from {source}")
        medians: dict[bool, list[float]] = {False: [], True: []}
        for repeats in [False, True] * max(args.rounds, 1):
            settings = Settings(
                models_dir=root / "models",
                store_url=SecretStr(url),
                repeats=repeats,
                log_level="WARNING",
            )
            app = create_app()
            app.dependency_overrides[get_settings] = lambda settings=settings: settings
            with TestClient(app) as client:
                assert app.state.holder.wait_first_load(120)
                started = time.perf_counter()
                while not app.state.similar.ready:
                    time.sleep(0.05)
                built = time.perf_counter() - started
                for text in asked[:20]:  # warm up
                    client.post("/v1/classify", json={"text": text})
                app.state.writer.flush(30)
                app.state.similar.flush(60)
                seconds, found = [], 0
                for i, text in enumerate(asked):
                    begin = time.perf_counter()
                    response = client.post("/v1/classify", json={"text": text, "id": f"q{i}"})
                    seconds.append(time.perf_counter() - begin)
                    found += response.json()["repeat_of"] is not None
                p50, p99 = _percentiles(seconds)
                medians[repeats].append(p50)
                lookup = _lookup_p50(app, settings, asked) if repeats else None
                print(
                    f"repeats {'on ' if repeats else 'off'}: classify p50 {p50:.2f} ms, "
                    f"p99 {p99:.2f} ms; repeat_of set for {found} of {len(asked)}; index of "
                    f"{len(app.state.similar)} tickets ready {built:.1f} s after the model"
                    + (f"; the repeat lookup alone p50 {lookup:.2f} ms" if lookup else "")
                )
        if args.rounds > 1:
            off, on = statistics.median(medians[False]), statistics.median(medians[True])
            print(
                f"median of {args.rounds} rounds: classify p50 {off:.2f} ms off, {on:.2f} ms on "
                f"({on - off:+.2f} ms)"
            )


if __name__ == "__main__":
    main()
