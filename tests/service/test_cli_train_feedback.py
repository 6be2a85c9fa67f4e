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
