"""Drift in sight, from its clients: ``appeals monitor`` on a store (SQLite and PostgreSQL) and
the per-version metrics of ``/metrics``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from conftest import MakeClient
from service_testing import TICKET
from store_testing import record
from test_ops_api import _sample

from nlp.model import RoutingModel
from nlp.registry import Registry
from nlp.store import TicketStore
from nlp.train import TrainResult
from service.cli import main

DAY_ONE, DAY_TWO = datetime(2026, 11, 2, 8), datetime(2026, 11, 3, 8)


@pytest.fixture(scope="module")
def registry_with_counts(tmp_path_factory: pytest.TempPathFactory, trained: TrainResult) -> Path:
    """default@v1 with its training distribution in the manifest, as ``appeals train`` saves."""
    root = tmp_path_factory.mktemp("monitored") / "models"
    Registry(root).save(trained.model, name="default", data=trained.data)
    return root


@pytest.fixture
def drifting_store(
    store_url: str, registry_with_counts: Path, demo_frame: pd.DataFrame
) -> Iterator[tuple[TicketStore, RoutingModel, str]]:
    """Day one: 30 tickets mixed like the training data. Day two: 60 tickets of one
    department, 12 of them given another department by dispatchers."""
    model = Registry(registry_with_counts).load("default")
    store = TicketStore(store_url).open()
    mixed = demo_frame.sample(n=30, random_state=1)["text"].tolist()
    record(store, model, mixed, start=DAY_ONE, spacing=timedelta(minutes=5), prefix="a")
    gas = demo_frame[demo_frame["label"] == "燃气"]["text"].head(60).tolist()
    answers = record(store, model, gas, start=DAY_TWO, spacing=timedelta(minutes=5), prefix="b")
    for answer in answers[:12]:
        moved = "城管执法" if answer.prediction.label != "城管执法" else "燃气"
        store.set_final(answer.id, moved, source="api")
    yield store, model, answers[0].prediction.label
    store.close()


def monitor(
    capsys: pytest.CaptureFixture[str], store: TicketStore, models: Path, *options: str
) -> tuple[int, str]:
    code = main(
        [
            "monitor",
            "--store",
            store.url,
            "--models-dir",
            str(models),
            "--since",
            "2026-11-01",
            *options,
        ]
    )
    out, err = capsys.readouterr()
    assert err == ""
    return code, out


def test_monitor_prints_the_days_and_the_alerts(
    capsys: pytest.CaptureFixture[str],
    drifting_store: tuple[TicketStore, RoutingModel, str],
    registry_with_counts: Path,
) -> None:
    store, _, gas = drifting_store
    code, out = monitor(capsys, store, registry_with_counts, "--min-tickets", "50")
    assert code == 1  # an alert fired
    table, alerts = out.split("\n\n")
    lines = table.splitlines()
    assert lines[0].split()[:7] == [
        "day",
        "version",
        "tickets",
        "review",
        "confidence",
        "final",
        "corrected",
    ]
    assert lines[1].split()[:3] == ["2026-11-02", "v1", "30"]
    assert lines[2].split()[:3] == ["2026-11-03", "v1", "60"]
    assert lines[2].split()[5:7] == ["12", "100%"]
    assert alerts.splitlines()[0].startswith("2 alert(s) (shares beyond ±10 points of training")
    share = next(line for line in alerts.splitlines() if " share " in line)
    assert share.strip().startswith(f"2026-11-03 v1: {gas} share ")
    assert "in training (bound ±10 points)" in share
    assert alerts.splitlines()[-1].strip() == (
        "2026-11-03 v1: correction rate 100% above 10% (12 of 12 tickets given a department "
        "were moved)"
    )


def test_monitor_json_and_bounds(
    capsys: pytest.CaptureFixture[str],
    drifting_store: tuple[TicketStore, RoutingModel, str],
    registry_with_counts: Path,
) -> None:
    store, _, gas = drifting_store
    code, out = monitor(capsys, store, registry_with_counts, "--json", "--min-tickets", "50")
    report = json.loads(out)
    assert code == 1
    assert [(d["day"], d["tickets"]) for d in report["days"]] == [
        ("2026-11-02", 30),
        ("2026-11-03", 60),
    ]
    assert report["days"][0]["correction_rate"] is None  # nobody corrected day one
    assert report["days"][1]["correction_rate"] == 1.0
    assert report["days"][1]["shares"][gas] > 0.5
    assert len(report["alerts"]) == 2
    # Wide bounds: nothing to say, exit 0.
    code, out = monitor(
        capsys,
        store,
        registry_with_counts,
        "--share-bound",
        "1",
        "--correction-bound",
        "1",
    )
    assert code == 0
    assert "no alerts (shares beyond ±100 points of training, correction rate above 100%)" in out


def test_monitor_says_when_a_version_has_no_training_distribution(
    capsys: pytest.CaptureFixture[str],
    drifting_store: tuple[TicketStore, RoutingModel, str],
    models_dir: Path,
) -> None:
    """``models_dir`` holds default@v1 saved without its data summary."""
    store, _, _ = drifting_store
    code, out = monitor(capsys, store, models_dir, "--correction-bound", "1")
    assert code == 1
    assert "v1: no training distribution (no data.class_counts in its manifest)" in out


def test_monitor_on_an_empty_period_and_bad_options(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, models_dir: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'tickets.db'}"
    TicketStore(store).open().close()
    code = main(["monitor", "--store", store, "--models-dir", str(models_dir), "--days", "3"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("no tickets answered since ")
    assert main(["monitor", "--store", store, "--share-bound", "10"]) == 2
    assert "a share from 0 to 1" in capsys.readouterr().err
    assert main(["monitor", "--store", store, "--since", "yesterday"]) == 2
    assert "'yesterday' is not a date" in capsys.readouterr().err


# --------------------------------------------------------------------------- /metrics
def test_metrics_count_answers_and_confidence_per_model_version(
    make_client: MakeClient, tiny_model: RoutingModel
) -> None:
    client = make_client(store_url="off")
    before = client.get("/metrics").text
    one = client.post("/v1/classify", json={"text": TICKET}).json()
    batch = client.post(
        "/v1/classify/batch", json={"items": [{"text": TICKET}, {"text": TICKET}]}
    ).json()
    assert [item["label"] for item in batch["items"]] == [one["label"]] * 2
    after = client.get("/metrics").text

    flag = "true" if one["needs_review"] else "false"
    answers = {"model_version": "v1", "label": one["label"], "needs_review": flag}
    assert _sample(after, "appeals_answers_total", **answers) == (
        _sample(before, "appeals_answers_total", **answers) + 3
    )
    count = "appeals_confidence_count"
    assert (
        _sample(after, count, model_version="v1") == _sample(before, count, model_version="v1") + 3
    )
    total = "appeals_confidence_sum"
    grown = _sample(after, total, model_version="v1") - _sample(before, total, model_version="v1")
    assert grown == pytest.approx(3 * one["confidence"], abs=1e-4)
    # The metrics that were there keep their names and labels.
    predictions = "appeals_predictions_total"
    assert _sample(after, predictions, label=one["label"]) == (
        _sample(before, predictions, label=one["label"]) + 3
    )
