"""`appeals tag` end to end, including a real kill -9 and --resume."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from nlp.model import RoutingModel
from nlp.tagging.frame import tag_frame
from nlp.tagging.output import read_output
from nlp.tagging.runstate import work_dir
from service.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def big_input(tmp_path_factory: pytest.TempPathFactory, demo_frame: pd.DataFrame) -> Path:
    """703 demo tickets four times over, with a unique id per row (2,812 rows)."""
    frame = pd.concat([demo_frame.head(703)] * 4, ignore_index=True)
    frame["id"] = [f"row{i:05d}" for i in range(len(frame))]
    path = tmp_path_factory.mktemp("big") / "tickets.csv"
    frame.to_csv(path, index=False)
    return path


def _appeals(*args: str | Path, temp: Path | None = None) -> subprocess.Popen[bytes]:
    """`appeals tag ARGS` in a subprocess; ``temp`` is its TMPDIR."""
    env = {**os.environ, "TMPDIR": str(temp)} if temp is not None else None
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", "tag", *map(str, args)],
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
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import distributed

    # Nothing listens on port 9: the engine's client retries until its 10 s timeout, then
    # fails as it would after any timeout. A 2 s one reaches the same error sooner.
    client = distributed.Client
    monkeypatch.setattr(
        distributed, "Client", lambda address, *, timeout: client(address, timeout="2s")
    )
    out = tmp_path / "out.csv"
    code = main(["tag", str(big_input), "--out", str(out), "--models-dir", str(models_dir), *argv])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("appeals tag: error: ")
    assert message in err
    assert "Traceback" not in err
    assert not out.exists()
    assert not work_dir(out).exists()


# --------------------------------------------------------------------------- stopped runs
def _stopped_run(
    big_input: Path, out: Path, models_dir: Path, jobs: str
) -> subprocess.Popen[bytes]:
    """`appeals tag` in a session of its own, as a terminal runs it: a signal sent to its
    process group reaches the workers too, as Ctrl-C does."""
    options = ["--models-dir", str(models_dir), "--chunk-size", "20", "--jobs", jobs]
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", "tag", str(big_input), "--out", str(out), *options],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        # Ctrl-C's usual meaning, even when the suite runs with SIGINT ignored (which a
        # child inherits): `appeals tag` rightly ignores it then, as a background job.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for_first_chunk(run: subprocess.Popen[bytes], journal: Path) -> None:
    deadline = time.monotonic() + 120
    while _recorded(journal) < 1 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert run.poll() is None, "the run ended before it could be stopped"


def _continue(line: str, big_input: Path, out: Path, tiny_model: RoutingModel) -> None:
    """The command the line names, run as it is: it finishes with every row exactly once."""
    command = shlex.split(line.split("continue with: ", 1)[1])
    assert command[:2] == ["appeals", "tag"]
    assert command[-1] == "--resume"
    again = subprocess.run(
        [sys.executable, "-m", "service.cli", *command[1:]],
        cwd=ROOT,
        capture_output=True,
        timeout=240,
        check=False,
    )
    assert again.returncode == 0, again.stderr.decode()
    assert "chunks were already done" in again.stdout.decode()
    tagged = read_output(out)
    source = pd.read_csv(big_input, dtype=str, keep_default_na=False)
    assert tagged["id"].tolist() == source["id"].tolist()  # none lost, none twice, in order
    expected = tag_frame(source, tiny_model, title_col="title")
    assert tagged["label"].tolist() == expected["label"].tolist()


def _last_line(stderr: bytes, pattern: str) -> str:
    """The one line a stopped run ends with; nothing else but log lines before it."""
    text = stderr.decode()
    assert "Traceback" not in text, text
    lines = text.strip().splitlines()
    assert re.fullmatch(pattern, lines[-1]), lines[-1]
    assert all(" INFO nlp.tagging: " in line for line in lines[:-1]), text
    return lines[-1]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_ends_with_one_line_then_resume(
    jobs: str, big_input: Path, models_dir: Path, tiny_model: RoutingModel, tmp_path: Path
) -> None:
    out = tmp_path / "tagged.parquet"
    run = _stopped_run(big_input, out, models_dir, jobs)
    _wait_for_first_chunk(run, work_dir(out) / "chunks.jsonl")
    os.killpg(run.pid, signal.SIGINT)  # the whole group, workers included, as Ctrl-C
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130, stderr.decode()[-3000:]
    line = _last_line(
        stderr,
        r"appeals tag: interrupted; kept (\d+) of 141 chunks \([\d,]+ of 2,812 rows\) in "
        r"\S+\.parts; continue with: appeals tag .* --jobs " + jobs + " --resume",
    )
    kept = int(re.findall(r"kept (\d+) of", line)[0])
    assert kept == _recorded(work_dir(out) / "chunks.jsonl") >= 1
    _continue(line, big_input, out, tiny_model)


@pytest.mark.timeout(300)
def test_a_worker_killed_ends_with_one_line_then_resume(
    big_input: Path, models_dir: Path, tiny_model: RoutingModel, tmp_path: Path
) -> None:
    out = tmp_path / "tagged.parquet"
    run = _stopped_run(big_input, out, models_dir, "2")
    _wait_for_first_chunk(run, work_dir(out) / "chunks.jsonl")
    workers = [
        child
        for child in psutil.Process(run.pid).children(recursive=True)
        if "spawn_main" in " ".join(child.cmdline())  # not the resource tracker
    ]
    assert len(workers) == 1
    workers[0].kill()
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 2
    line = _last_line(
        stderr,
        r"appeals tag: error: a worker process died \(killed, or out of memory: .*\); kept \d+ "
        r"of 141 chunks .*; continue with: appeals tag .* --jobs 2 --resume",
    )
    _continue(line, big_input, out, tiny_model)


def test_cli_csv_encoding(big_input: Path, models_dir: Path, tmp_path: Path) -> None:
    plain, excel = tmp_path / "plain.csv", tmp_path / "excel.csv"
    common = ["--models-dir", str(models_dir), "--chunk-size", "1000"]
    assert main(["tag", str(big_input), "--out", str(excel), *common]) == 0
    argv = ["tag", str(big_input), "--out", str(plain), *common, "--csv-encoding", "utf-8"]
    assert main(argv) == 0
    assert excel.read_bytes().startswith(b"\xef\xbb\xbfid,")
    assert plain.read_bytes().startswith(b"id,")
    assert excel.read_bytes()[3:] == plain.read_bytes()
    assert read_output(excel).equals(read_output(plain))


def test_resume_command_repeats_the_options() -> None:
    from service.cli import _resume_command, build_parser

    options = [
        "--model",
        "hotline@v3",
        "--models-dir",
        "models",
        "--text-col",
        "详情",
        "--jobs",
        "4",
    ]
    args = build_parser().parse_args(
        ["tag", "my tickets.csv", "--out", "out.csv", *options, "--csv-encoding", "utf-8", "--json"]
    )
    assert _resume_command(args) == (
        "appeals tag 'my tickets.csv' --out out.csv --model hotline@v3 --models-dir models "
        "--text-col '详情' --chunk-size 2000 --jobs 4 --csv-encoding utf-8 --json --resume"
    )
