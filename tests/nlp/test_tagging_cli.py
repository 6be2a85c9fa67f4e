"""`appeals tag` end to end, including a real kill -9 and --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from nlp.batch import tag_frame
from nlp.cli import main
from nlp.model import RoutingModel
from nlp.tagging import read_output, work_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def big_input(tmp_path_factory: pytest.TempPathFactory, demo_frame: pd.DataFrame) -> Path:
    """The demo tickets four times over, with a unique id per row (about 2,800 rows)."""
    frame = pd.concat([demo_frame] * 4, ignore_index=True)
    frame["id"] = [f"row{i:05d}" for i in range(len(frame))]
    path = tmp_path_factory.mktemp("big") / "tickets.csv"
    frame.to_csv(path, index=False)
    return path


def _appeals(*args: str | Path, temp: Path | None = None) -> subprocess.Popen[bytes]:
    """`appeals tag ARGS` in a subprocess; ``temp`` is its TMPDIR."""
    env = {**os.environ, "TMPDIR": str(temp)} if temp is not None else None
    return subprocess.Popen(
        [sys.executable, "-m", "nlp.cli", "tag", *map(str, args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _recorded(journal: Path) -> int:
    try:
        return len(journal.read_text(encoding="utf-8").splitlines())
    except FileNotFoundError:
        return 0


@pytest.mark.timeout(300)
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_kill_9_then_resume_loses_and_duplicates_nothing(
    jobs: str, big_input: Path, models_dir: Path, tiny_model: RoutingModel, tmp_path: Path
) -> None:
    out = tmp_path / "tagged.parquet"
    options: list[str | Path] = [
        "--out",
        out,
        "--models-dir",
        models_dir,
        "--chunk-size",
        "20",
        "--jobs",
        jobs,
    ]
    journal = work_dir(out) / "chunks.jsonl"
    total_chunks = -(-len(pd.read_csv(big_input, dtype=str)) // 20)

    temp = tmp_path / "temp"  # where --jobs 2 keeps the chunks in flight
    temp.mkdir()
    run = _appeals(big_input, *options, temp=temp)
    children: list[psutil.Process] = []
    deadline = time.monotonic() + 120
    while _recorded(journal) < 5 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if run.poll() is None:
        children = psutil.Process(run.pid).children(recursive=True)
    os.kill(run.pid, signal.SIGKILL)
    run.communicate()
    recorded = _recorded(journal)
    assert 5 <= recorded < total_chunks, "the run must be killed part-way"
    assert not out.exists()
    # Worker processes of the killed run notice, remove the chunks in flight and exit.
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive
    assert not any(temp.iterdir())

    again = _appeals(big_input, *options, "--resume")
    stdout, stderr = again.communicate(timeout=240)
    assert again.returncode == 0, stderr.decode()
    assert f"of {total_chunks} chunks were already done" in stdout.decode()

    tagged = read_output(out)
    source = pd.read_csv(big_input, dtype=str, keep_default_na=False)
    assert tagged["id"].tolist() == source["id"].tolist()  # none lost, none twice, in order
    expected = tag_frame(source, tiny_model, title_col="title")
    assert tagged["label"].tolist() == expected["label"].tolist()
    assert tagged["confidence"].tolist() == expected["confidence"].astype(float).tolist()
    assert not work_dir(out).exists()


def test_cli_tags_and_prints_a_summary(
    big_input: Path,
    models_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    out = tmp_path / "tagged.jsonl"
    code = main(["tag", str(big_input), "--out", str(out), "--models-dir", str(models_dir)])
    assert code == 0
    printed = capsys.readouterr()
    assert f"tagged 2812 rows into {out} with default@v1" in printed.out
    # stderr is not a terminal here: progress comes as plain log lines, shown without -v.
    assert any("tagged 2812/2812 rows" in r.getMessage() for r in caplog.records)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 2812


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--text-col", "body"], "column(s) 'body' not found"),
        (["--model", "default@v7"], "no version 'v7' of model 'default'"),
        (["--engine", "dask", "--scheduler", "tcp://127.0.0.1:9"], "cannot reach the Dask"),
    ],
    ids=["column", "version", "scheduler"],
)
def test_cli_errors_are_one_line_without_traceback(
    argv: list[str],
    message: str,
    big_input: Path,
    models_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out.csv"
    code = main(["tag", str(big_input), "--out", str(out), "--models-dir", str(models_dir), *argv])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("appeals tag: error: ")
    assert message in err
    assert "Traceback" not in err
    assert not out.exists()
    assert not work_dir(out).exists()
