"""The closed loop on ../shared/data: serve a model, let a dispatcher correct its wrong answers
through the API, retrain on the corrections, and see how much of the way to a model trained
on everything that goes. Prints; asserts nothing.

    .venv/bin/python bench/feedback.py [--shared ../shared/data] [--part 0.3] [--weight 2]
        [--seed 0] [--sample N] [--confirm 0] [--reviewed] [--no-refit] [--accepted W]

The protocol. Only the ``split=train`` bodies of ``appeals/train.csv`` are used to train and as
traffic (``titles.csv`` holds titles of dev messages too, so no title is used at all).

- base: a stratified ``--part`` of those bodies (by ``--seed``); the model served is trained
  on it (``appeals train``'s defaults).
- traffic: the other bodies (``--sample`` of them, for a quick run), in a random order, sent
  with their ids through ``POST /v1/classify/batch`` (100 a request) of the real app
  (``service.app.create_app()`` in a FastAPI TestClient), whose ticket store is a SQLite file
  in a temporary folder.
- the dispatcher: for every wrong answer, ``POST /v1/feedback`` with the true department;
  ``--confirm`` (default 0) is the share of right answers it confirms as well (a correction
  that agrees with the model is a training row too); with ``--reviewed`` it also gives the
  department of every right answer the service flagged for review (at a dispatch centre the
  person asked to check a ticket records its department whether the answer was right or not).
- after: ``nlp.train.train(base, config, feedback=TicketStore(url).corrections())`` with
  ``TrainConfig(feedback_weight=--weight)``; the corrections are the store's masked text.
  ``feedback_holdout`` keeps its default: that share of the corrections (by ticket id) is held
  out from a first model, which the promotion gate's figures measure, and the model that
  ships is then trained on every correction, as ``appeals train --feedback`` does
  (``--no-refit``: the measured model ships, as before ``feedback_refit``).
- with ``--accepted W``, beside: the same retraining plus the stored answers nobody corrected,
  labelled with the served model's answer, each counting ``W`` (``appeals train --feedback
  --feedback-accepted W``). It assumes that dispatchers correct every wrong answer, which this
  simulated one does: a real centre has the answers dispatched and never bounced.
- everything: base + every traffic row with its true label (the bound the loop aims at).

Scored: macro-F1 on ``test.csv`` (921 whole messages, title + body, never trained or tuned
on) and on the ``split=dev`` bodies (never trained on; where a weight may be chosen). The
gap recovered is (after - before) / (everything - before) on ``test.csv``: target >= 0.5.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient
from sklearn.model_selection import train_test_split

from nlp.evaluate import evaluate
from nlp.model import RoutingModel
from nlp.registry import Registry
from nlp.store import TicketStore
from nlp.train import TrainConfig, TrainResult, read_accepted, train

ROOT = Path(__file__).resolve().parents[1]
#: Tickets per ``POST /v1/classify/batch`` request.
CHUNK = 100


@dataclass
class Loop:
    """What one pass of the loop did: the served model, what it answered, the corrections
    the store gave back, and the model retrained on them."""

    before: TrainResult
    predicted: list[str]
    corrected: int  # wrong answers the dispatcher corrected
    confirmed: int  # right answers the dispatcher confirmed
    corrections: pd.DataFrame
    accepted: pd.DataFrame  # stored answers nobody corrected, with the served model's label
    stored: int  # answers the store held after the traffic
    after: TrainResult


def split_part(frame: pd.DataFrame, *, part: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(base, traffic): a stratified ``part`` of ``frame`` and the rest, the rest shuffled."""
    base, traffic = train_test_split(
        frame, train_size=part, stratify=frame["label"], random_state=seed
    )
    return base.reset_index(drop=True), traffic.reset_index(drop=True)


@contextmanager
def serving(models_dir: Path, store_url: str, **settings: Any) -> Iterator[TestClient]:
    """The service's app on the active model of ``models_dir``, its store at ``store_url``,
    settings overridden as the service's tests do."""
    from service.app import create_app
    from service.settings import Settings, get_settings

    overrides = Settings(
        models_dir=models_dir, store_url=store_url, log_level="WARNING", **settings
    )
    app = create_app()
    app.dependency_overrides[get_settings] = lambda: overrides
    with TestClient(app) as client:
        if not app.state.holder.wait_first_load(120):
            raise SystemExit("the served model did not load within 120 s")
        yield client


def _post(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    if response.status_code != 200:
        raise SystemExit(f"POST {path} answered {response.status_code}: {response.text[:300]}")
    answer: dict[str, Any] = response.json()
    return answer


def send_traffic(
    client: TestClient, traffic: pd.DataFrame, *, chunk: int = CHUNK
) -> tuple[list[str], list[bool]]:
    """Every traffic row through ``POST /v1/classify/batch`` with its id: the labels answered,
    and whether each was flagged for a person to check."""
    labels: list[str] = []
    flagged: list[bool] = []
    for start in range(0, len(traffic), chunk):
        rows = traffic.iloc[start : start + chunk]
        items = [
            {"id": str(ticket_id), "text": text, **({"title": title} if title else {})}
            for ticket_id, text, title in zip(rows["id"], rows["text"], rows["title"], strict=True)
        ]
        answer = _post(client, "/v1/classify/batch", {"items": items, "explain": 0})
        for item in answer["items"]:
            if item.get("error"):
                raise SystemExit(f"ticket {item['id']} was not answered: {item['error']}")
            labels.append(item["label"])
            flagged.append(bool(item["needs_review"]))
    return labels, flagged


def dispatch(
    client: TestClient,
    traffic: pd.DataFrame,
    predicted: Sequence[str],
    flagged: Sequence[bool],
    *,
    confirm: float,
    reviewed: bool,
    rng: np.random.Generator,
) -> tuple[int, int]:
    """The dispatcher: ``POST /v1/feedback`` with the true department of every wrong answer,
    of every flagged right one when ``reviewed`` (the person the service asked to check gives
    the department either way), and of a ``confirm`` share of the other right ones:
    (corrected, confirmed)."""
    corrected = confirmed = 0
    for ticket_id, truth, label, check in zip(
        traffic["id"], traffic["label"], predicted, flagged, strict=True
    ):
        if label != truth:
            corrected += 1
        elif (reviewed and check) or rng.random() < confirm:
            confirmed += 1
        else:
            continue
        _post(client, "/v1/feedback", {"id": str(ticket_id), "label": truth})
    return corrected, confirmed


def closed_loop(
    base: pd.DataFrame,
    traffic: pd.DataFrame,
    *,
    config: TrainConfig,
    workdir: Path,
    eval_frame: pd.DataFrame | None = None,
    confirm: float = 0.0,
    reviewed: bool = False,
    seed: int = 0,
) -> Loop:
    """Train on ``base`` and serve it, send ``traffic``, correct the wrong answers through the
    API, and retrain on ``base`` + the store's corrections. ``eval_frame``: what ``train``
    reports on (then every row of ``base`` trains; else it holds out a share of them)."""
    before = train(base, config, eval_frame=eval_frame)
    models_dir = workdir / "models"
    Registry(models_dir).save(before.model, metrics=before.evaluation.to_dict())
    store_url = f"sqlite:///{models_dir / 'tickets.db'}"
    with serving(models_dir, store_url) as client:
        predicted, flagged = send_traffic(client, traffic)
        corrected, confirmed = dispatch(
            client,
            traffic,
            predicted,
            flagged,
            confirm=confirm,
            reviewed=reviewed,
            rng=np.random.default_rng(seed),
        )
    store = TicketStore(store_url).open(create=False)
    try:
        stored = store.counts()["tickets"]
        corrections = store.corrections()
    finally:
        store.close()
    accepted = read_accepted(store_url)
    after = train(base, config, eval_frame=eval_frame, feedback=corrections)
    return Loop(before, predicted, corrected, confirmed, corrections, accepted, stored, after)


def macro_f1(model: RoutingModel, frame: pd.DataFrame, *, title_col: str | None) -> float:
    return float(evaluate(model, frame, title_col=title_col).macro_f1)


def read(shared: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(shared / "appeals" / name, dtype=str, keep_default_na=False)


def gap_recovered(before: float, after: float, everything: float) -> float:
    """(after - before) / (everything - before): the share of the way the loop went."""
    gap = everything - before
    return (after - before) / gap if gap > 0 else float("nan")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--part", type=float, default=0.3, help="share of the training bodies served first"
    )
    parser.add_argument(
        "--weight",
        type=float,
        nargs="+",
        default=[TrainConfig().feedback_weight],
        help="how many times a correction counts (TrainConfig.feedback_weight); several: "
        "one retraining each, on the same corrections",
    )
    parser.add_argument("--seed", type=int, default=0, help="the part, the order of traffic")
    parser.add_argument(
        "--sample", type=int, default=None, help="send only this many traffic rows (quick run)"
    )
    parser.add_argument(
        "--confirm", type=float, default=0.0, help="share of right answers confirmed too"
    )
    parser.add_argument(
        "--reviewed",
        action="store_true",
        help="the dispatcher also gives the department of every right answer the service "
        "flagged for review (the person asked to check confirms it)",
    )
    parser.add_argument(
        "--no-refit",
        action="store_true",
        help="ship the model the held-out corrections measured (feedback_refit=False), "
        "as before the model that ships learnt every correction",
    )
    parser.add_argument(
        "--accepted",
        type=float,
        default=None,
        metavar="W",
        help="beside: retrain with the answers nobody corrected as well, each counting W",
    )
    args = parser.parse_args(argv)
    if args.accepted is not None and not args.accepted > 0:
        raise SystemExit(f"--accepted must be a positive number, not {args.accepted}")
    if not 0 < args.part < 1:
        raise SystemExit(f"--part must be between 0 and 1, not {args.part}")
    if not 0 <= args.confirm <= 1:
        raise SystemExit(f"--confirm must be between 0 and 1, not {args.confirm}")
    if not (args.shared / "appeals" / "train.csv").is_file():
        raise SystemExit(f"{args.shared}/appeals/train.csv not found: this needs ../shared/data")

    bodies = read(args.shared, "train.csv").assign(title="")
    unseen = read(args.shared, "test.csv")
    dev = bodies[bodies["split"] == "dev"].reset_index(drop=True)
    rows = bodies[bodies["split"] == "train"].drop(columns="split").reset_index(drop=True)
    base, traffic = split_part(rows, part=args.part, seed=args.seed)
    if args.sample is not None:
        traffic = traffic.iloc[: args.sample].reset_index(drop=True)
    config = replace(
        TrainConfig(), feedback_weight=args.weight[0], feedback_refit=not args.no_refit
    )
    print(
        f"split=train bodies: {len(rows):,}; the served model learns {len(base):,} "
        f"(--part {args.part:g}, --seed {args.seed}); traffic: the other {len(traffic):,}; "
        f"feedback_holdout {config.feedback_holdout:g}, feedback_refit "
        f"{config.feedback_refit}; scored on test.csv "
        f"({len(unseen)} whole messages) and {len(dev):,} dev bodies",
        flush=True,
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-feedback-") as tmp:
        loop = closed_loop(
            base,
            traffic,
            config=config,
            workdir=Path(tmp),
            eval_frame=dev,
            confirm=args.confirm,
            reviewed=args.reviewed,
            seed=args.seed,
        )
    afters = {args.weight[0]: loop.after}
    for weight in args.weight[1:]:
        afters[weight] = train(
            base,
            replace(config, feedback_weight=weight),
            eval_frame=dev,
            feedback=loop.corrections,
        )
    with_accepted = None
    if args.accepted is not None:
        with_accepted = train(
            base,
            replace(config, accepted_weight=args.accepted),
            eval_frame=dev,
            feedback=loop.corrections,
            accepted=loop.accepted,
        )
    everything = train(pd.concat([base, traffic], ignore_index=True), config, eval_frame=dev)
    used = loop.after.data.get("feedback", {})
    # What the model that ships trained on: with the refit, the held-out corrections too.
    shipped = used.get("used", 0) + (used.get("held_out", 0) if used.get("refit") else 0)
    print(
        f"traffic answered: {len(loop.predicted):,} "
        f"({loop.corrected / max(1, len(traffic)):.1%} wrong); the store holds {loop.stored:,}; "
        f"sent to POST /v1/feedback: {loop.corrected:,} corrections of wrong answers + "
        f"{loop.confirmed:,} confirmations (--confirm {args.confirm:g}"
        f"{', --reviewed' if args.reviewed else ''}); the store gave back "
        f"{len(loop.corrections):,}: {used.get('held_out', 0):,} held out to measure a first "
        f"model for the promotion gate, {shipped:,} trained on by the model that ships; "
        f"answers nobody corrected: {len(loop.accepted):,}"
    )
    table = [("before: the served model", f"{len(base):,} bodies", loop.before.model)]
    table += [
        (
            f"after the loop, weight {weight:g}",
            f"{len(base):,} + {shipped:,} corrections",
            after.model,
        )
        for weight, after in afters.items()
    ]
    if with_accepted is not None:
        accepted_used = with_accepted.data["accepted"]["used"]
        table.append(
            (
                f"after, + accepted answers, weight {args.accepted:g}",
                f"{len(base):,} + {shipped:,} + {accepted_used:,}",
                with_accepted.model,
            )
        )
    table.append(
        (
            "everything: part + all traffic labelled",
            f"{len(base) + len(traffic):,} bodies",
            everything.model,
        )
    )
    scores = []
    print(f"\n  {'model':<42} {'trained on':<26} {'test.csv':>9} {'dev bodies':>11}")
    for name, trained_on, model in table:
        test_f1 = macro_f1(model, unseen, title_col="title")
        dev_f1 = macro_f1(model, dev, title_col=None)
        scores.append((test_f1, dev_f1))
        print(f"  {name:<42} {trained_on:<26} {test_f1:>9.4f} {dev_f1:>11.4f}")
    (before_test, before_dev), (all_test, all_dev) = scores[0], scores[-1]
    print()
    names = [f"weight {weight:g}" for weight in afters]
    if with_accepted is not None:
        names.append(f"weight {args.weight[0]:g} + accepted answers {args.accepted:g}")
    for what, (after_test, after_dev) in zip(names, scores[1:-1], strict=True):
        test_share = gap_recovered(before_test, after_test, all_test)
        dev_share = gap_recovered(before_dev, after_dev, all_dev)
        print(
            f"  {what}: gap recovered {test_share:.2f} on test.csv "
            f"({after_test - before_test:+.4f} of {all_test - before_test:+.4f}; target >= 0.5), "
            f"{dev_share:.2f} on dev bodies ({after_dev - before_dev:+.4f} of "
            f"{all_dev - before_dev:+.4f})"
        )
    print(
        f"  corrections it took: {loop.corrected + loop.confirmed:,} sent, "
        f"{shipped:,} trained on, against {len(traffic):,} labelled rows for "
        f"everything; {time.perf_counter() - started:.0f} s in all"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
