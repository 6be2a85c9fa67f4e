"""The cost of ``repeat_of`` in the classify endpoint: ``POST /v1/classify`` in process
(FastAPI's TestClient, the real app) against a similar-ticket index built from a ticket
store of ``--tickets`` messages, each message sent twice in turn, once with
``APPEALS_REPEATS`` off and once on (alternating which goes first), to the same app. Prints
the p50 of each and the median of the paired differences; asserts nothing.

    .venv/bin/python bench/repeats_api.py [--tickets 2000] [--requests 300] [--rounds 1]

Pairs, not one run off and another on: on a shared machine the load of the moment moves
separate runs by more than what is measured, while the two requests of a pair meet the same
load. Both requests of a pair feed the index (its thread runs either way), so the difference
is what the lookup adds to a request. ``--rounds N``: N rounds of ``--requests`` messages,
each round the next ones (a message asked again would find its own first copy).

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
    rounds = max(args.rounds, 1)
    asked = texts[args.tickets : args.tickets + rounds * args.requests]
    if len(asked) < rounds * args.requests:
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
        print(f"{len(stored)} stored tickets and {len(asked)} messages asked from {source}")
        on, off = (
            Settings(
                models_dir=root / "models",
                store_url=SecretStr(url),
                repeats=repeats,
                log_level="WARNING",
            )
            for repeats in (True, False)
        )
        app = create_app()
        app.dependency_overrides[get_settings] = lambda: on  # what the app starts with
        with TestClient(app) as client:
            assert app.state.holder.wait_first_load(120)
            started = time.perf_counter()
            while not app.state.similar.ready:
                time.sleep(0.05)
            built = time.perf_counter() - started

            def send(settings: Settings, text: str, ticket: str) -> tuple[float, bool]:
                app.dependency_overrides[get_settings] = lambda: settings
                begin = time.perf_counter()
                response = client.post("/v1/classify", json={"text": text, "id": ticket})
                seconds = time.perf_counter() - begin
                return seconds, response.json()["repeat_of"] is not None

            for i, text in enumerate(stored[-20:]):  # warm up
                send(on, text, f"w{i}")
                send(off, text, f"v{i}")
            app.state.writer.flush(30)
            app.state.similar.flush(60)
            times: dict[bool, list[float]] = {False: [], True: []}
            differences, found = [], 0
            for round_ in range(rounds):  # each round its own messages
                for i, text in enumerate(asked[round_ * args.requests :][: args.requests]):
                    first = (i + round_) % 2 == 0  # on first in half the pairs
                    order = [(True, on), (False, off)] if first else [(False, off), (True, on)]
                    took = {}
                    for repeats, settings in order:
                        took[repeats], hit = send(settings, text, f"q{round_}-{i}-{repeats}")
                        found += hit and repeats
                        times[repeats].append(took[repeats])
                    differences.append(took[True] - took[False])
            lookup = _lookup_p50(app, on, asked[: args.requests])
        off_p50, off_p99 = _percentiles(times[False])
        on_p50, on_p99 = _percentiles(times[True])
        print(
            f"classify p50 {off_p50:.2f} ms off (p99 {off_p99:.2f}), {on_p50:.2f} ms on "
            f"(p99 {on_p99:.2f}); paired difference p50 "
            f"{statistics.median(differences) * 1000:+.2f} ms over {len(differences)} pairs"
        )
        print(
            f"repeat_of set for {found} of {len(times[True])}; index of "
            f"{len(app.state.similar)} tickets, ready {built:.1f} s after the model; the "
            f"repeat lookup alone p50 {lookup:.2f} ms"
        )


if __name__ == "__main__":
    main()
