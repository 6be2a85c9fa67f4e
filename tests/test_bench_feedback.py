"""bench/feedback.py's closed loop on the demo data: the served app stores every answer, the
simulated dispatcher's corrections go through POST /v1/feedback into the store, and the model
is retrained on them. Figures are bench/feedback.py's to print, not this test's to assert."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bench.feedback import closed_loop, main, split_part
from nlp.train import TrainConfig


def test_the_loop_stores_answers_and_corrections_and_retrains_on_them(
    demo_frame: pd.DataFrame, tmp_path: Path
) -> None:
    base, traffic = split_part(demo_frame, part=0.3, seed=0)
    traffic = traffic.iloc[:150].reset_index(drop=True)
    config = TrainConfig(calibration_folds=3, out_of_scope_rate=None, feedback_holdout=0.0)
    loop = closed_loop(base, traffic, config=config, workdir=tmp_path, confirm=0.2, seed=1)

    assert len(loop.predicted) == loop.stored == len(traffic)
    wrong = [
        ticket_id
        for ticket_id, truth, got in zip(traffic.id, traffic.label, loop.predicted, strict=True)
        if truth != got
    ]
    assert loop.corrected == len(wrong) > 0  # the demo model is not perfect on 150 tickets
    assert loop.confirmed > 0
    corrections = loop.corrections
    assert len(corrections) == loop.corrected + loop.confirmed
    assert set(wrong) <= set(corrections.id)
    truth = dict(zip(traffic.id, traffic.label, strict=True))
    assert (corrections.label == corrections.id.map(truth)).all()  # the dispatcher's labels
    assert (corrections.source == "api").all()
    # Retrained on the base rows and every correction (none held out here).
    used = loop.after.data["feedback"]
    assert used["rows"] == len(corrections) == used["used"]
    assert loop.after.data["train_rows"] == loop.before.data["train_rows"] + len(corrections)


def test_main_refuses_a_part_outside_0_1(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--part must be between 0 and 1"):
        main(["--shared", str(tmp_path), "--part", "1.5"])
