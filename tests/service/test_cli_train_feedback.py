"""`appeals train DATA --feedback FILE`: corrections as extra training data, the gate on the
held-out ones, and what the new version's manifest records. Error rows: test_cli_errors.py."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from nlp.registry import Registry
from nlp.train import is_held_out
from service.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def files(tmp_path: Path, demo_frame: pd.DataFrame) -> tuple[Path, Path, pd.DataFrame]:
    """A small training file and an Excel file of corrections (other demo tickets)."""
    data, corrections_file = tmp_path / "base.csv", tmp_path / "corrections.xlsx"
    demo_frame.groupby("label").head(30).to_csv(data, index=False)
    rows = demo_frame.groupby("label").nth(list(range(30, 36)))
    corrections = rows[["id", "text", "title", "label"]].reset_index(drop=True)
    corrections.to_excel(corrections_file, index=False)
    return data, corrections_file, corrections


def test_train_with_a_feedback_file_reports_and_records_the_corrections(
    capsys: pytest.CaptureFixture[str],
    registry_copy: Registry,
    files: tuple[Path, Path, pd.DataFrame],
) -> None:
    data, corrections_file, corrections = files
    held = sum(is_held_out(i, 0.25) for i in corrections["id"])
    code, out, err = run(
        capsys,
        "train",
        data,
        "--feedback",
        corrections_file,
        "--feedback-weight",
        "3",
        "--feedback-holdout",
        "0.25",
        "--models-dir",
        registry_copy.root,
    )
    assert code == 0, err
    used = len(corrections) - held
    assert 0 < held < len(corrections)
    assert (
        f"corrections: {len(corrections)} rows, {used} trained on (weight 3), {held} held out"
        in out
    )
    assert f"held-out corrections n={held}" in out
    assert "against the active default@v1:" in out
    assert "  corrections: accuracy " in out
    assert "promotion gate: " in out
    assert "held-out corrections (n=" in out  # the gate's reason on them
    recorded = registry_copy.manifest("default", "v2")["data"]["feedback"]
    assert recorded | {"sha256": None} == {
        "rows": len(corrections),
        "used": used,
        "held_out": held,
        "weight": 3.0,
        "holdout": 0.25,
        "refit": True,
        "skipped": {},
        "new_labels": [],
        "sha256": None,
        "source": str(corrections_file),
    }
    assert registry_copy.active_version("default") == "v1"  # not asked to activate


def test_activate_with_feedback_needs_the_gate(
    capsys: pytest.CaptureFixture[str],
    registry_copy: Registry,
    files: tuple[Path, Path, pd.DataFrame],
    tmp_path: Path,
) -> None:
    """Corrections that move every gas ticket to the power department, counted heavily: the
    candidate learns them, loses the gas department on the usual rows, and is refused."""
    data, _, corrections = files
    wrong = corrections[corrections["label"] == "燃气"].assign(label="供电")
    wrong_file = tmp_path / "wrong.jsonl"
    wrong.to_json(wrong_file, orient="records", lines=True, force_ascii=False)
    code, out, err = run(
        capsys,
        "train",
        data,
        "--feedback",
        wrong_file,
        "--feedback-weight",
        "50",
        "--feedback-holdout",
        "0",
        "--models-dir",
        registry_copy.root,
        "--activate",
        "--json",
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["gate"]["passed"] is False
    assert any("recall of '燃气'" in reason for reason in report["gate"]["reasons"])
    assert report["active"] is False
    assert registry_copy.active_version("default") == "v1"
    assert report["data"]["feedback"]["used"] == len(wrong)
    assert report["feedback_metrics"] is None  # none held out


@pytest.mark.parametrize(
    ("source", "recorded"),
    [
        ("corrections.csv", "corrections.csv"),
        ("sqlite:///models/tickets.db", "sqlite:///models/tickets.db"),
        (
            "postgresql+psycopg://appeals:s3cret@db.local/tickets",
            "postgresql+psycopg://appeals:***@db.local/tickets",
        ),
    ],
    ids=["file", "sqlite", "postgresql-with-password"],
)
def test_the_manifest_never_records_a_store_password(source: str, recorded: str) -> None:
    from service.cli import _feedback_source

    assert _feedback_source(source) == recorded


def test_train_with_accepted_answers_from_the_store(
    capsys: pytest.CaptureFixture[str],
    registry_copy: Registry,
    files: tuple[Path, Path, pd.DataFrame],
    tmp_path: Path,
) -> None:
    """--feedback-accepted: the store's answers nobody corrected train too, with the model's
    label; the corrected ones are corrections; the manifest records both."""
    from nlp.model import Prediction
    from nlp.store import Answer, TicketStore, utc_now

    data, corrections_file, corrections = files
    url = f"sqlite:///{tmp_path / 'tickets.db'}"
    answers = [
        Answer(
            id=str(row.id),
            text=str(row.text),
            title=None,
            model_name="default",
            model_version="v1",
            prediction=Prediction(
                label=str(row.label),
                confidence=0.9,
                top_k=[(str(row.label), 0.9)],
                needs_review=False,
                review_reason=None,
                review_codes=[],
            ),
            answered_at=utc_now(),
        )
        for row in corrections.itertuples()
    ]
    with TicketStore(url) as store:
        store.open().record(answers)
        store.set_final(str(corrections["id"].iloc[0]), "供电", source="api")
    argv = ("train", data, "--feedback", url, "--models-dir", registry_copy.root)
    code, out, err = run(capsys, *argv, "--feedback-accepted", "0.5", "--json")
    assert code == 0, err
    report = json.loads(out)["data"]
    assert report["feedback"]["rows"] == 1
    assert report["accepted"] == {
        "rows": len(corrections) - 1,
        "used": len(corrections) - 1,
        "weight": 0.5,
        "left_out": {},
        "source": url,
    }
    code, out, err = run(capsys, *argv, "--feedback-accepted", "0.5")
    assert code == 0, err
    assert f"accepted answers (nobody corrected them): {len(corrections) - 1} rows" in out
    # Without the store's answers there is nothing to accept: a clear error, no training.
    for wrong in (
        ("train", data, "--feedback", corrections_file, "--feedback-accepted", "0.5"),
        ("train", data, "--feedback-accepted", "0.5"),
    ):
        code, out, err = run(capsys, *wrong, "--models-dir", registry_copy.root)
        assert code == 2
        assert "--feedback-accepted" in err
        assert "Traceback" not in err
