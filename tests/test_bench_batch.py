"""bench/batch.py's summary: medians of the rounds; --jobs 2 over --jobs 1, Dask over --jobs 2."""

from __future__ import annotations

import pytest

from bench.batch import report


def test_report_gives_medians_and_the_ratio_of_each_round(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rates = {
        "jobs1": {1: 7_000.0, 2: 7_400.0, 3: 6_800.0},
        "jobs2": {1: 13_000.0, 2: 14_000.0, 3: 13_300.0, 4: 13_100.0},
    }
    report(rates, {"jobs1": 500 * 2**20, "jobs2": 1_000 * 2**20}, 1_000_000)
    lines = capsys.readouterr().out.splitlines()
    assert "7,000 tickets/s" in lines[1]
    assert "(6,800 - 7,400, 3 run(s))" in lines[1]
    assert "500 MB" in lines[1]
    assert "13,200 tickets/s" in lines[2]
    assert "6,600 per core" in lines[2]
    # Each round pairs runs made minutes apart (13,000 / 7,000, 14,000 / 7,400, 13,300 /
    # 6,800); round 4, with no --jobs 1 run (stopped by --timeout), gives no ratio.
    assert lines[3].startswith("--jobs 2 / --jobs 1: 1.89x, the median of its rounds")
    assert "(1.86x, 1.89x, 1.96x)" in lines[3]


def test_report_gives_dask_as_a_share_of_jobs_2_round_by_round(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rates = {
        "jobs2": {1: 10_000.0, 2: 12_000.0},
        "dask2": {1: 8_000.0, 2: 10_800.0, 3: 9_000.0},
    }
    report(rates, {"jobs2": 2**30, "dask2": 2**30}, 200_000)
    lines = capsys.readouterr().out.splitlines()
    # Round 3, with no --jobs 2 run, gives no share; no --jobs 1 run, no --jobs 2 / --jobs 1.
    assert lines[3] == (
        "dask LocalCluster(2) / --jobs 2: 85%, the median of its rounds (80%, 90%); target >= 85%"
    )
    assert len(lines) == 4


def test_children_cpu_counts_a_reaped_child_and_its_reaped_children() -> None:
    """The CPU-s column: a run's processes, grandchildren included once their parent
    reaps them (as the CLI does its workers and Dask's nanny its worker)."""
    import subprocess
    import sys

    from bench.batch import _children_cpu

    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    nested = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}])"
    before = _children_cpu()
    subprocess.run([sys.executable, "-c", nested], check=True)
    assert _children_cpu() - before >= 0.3
