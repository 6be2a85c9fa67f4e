"""`appeals hotspots`: both tables written as CSV (for Excel) and Parquet, the top table
printed, bad input answered with one line and exit status 2."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nlp.hotspots import MESSAGE_COLUMNS, PROBLEM_COLUMNS
from service.cli import main
from tests.nlp.hotspot_fixtures import PHONE, board


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def board_csv(tmp_path: Path) -> Path:
    path = tmp_path / "board.csv"
    board().to_csv(path, index=False)
    return path


def test_writes_both_tables_and_prints_the_top(
    capsys: pytest.CaptureFixture[str], board_csv: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    code, out, err = run(
        capsys, "hotspots", board_csv, "--window", "7d", "--top", "2", "--out", out_dir
    )
    assert (code, err) == (0, "")
    assert "热度排名" in out
    assert "松林村" in out
    problems = pd.read_csv(out_dir / "热点问题表.csv", encoding="utf-8-sig", dtype=str)
    messages = pd.read_csv(out_dir / "热点问题留言明细表.csv", encoding="utf-8-sig", dtype=str)
    assert tuple(problems.columns) == PROBLEM_COLUMNS
    assert tuple(messages.columns) == MESSAGE_COLUMNS
    assert len(problems) == 2
    assert (out_dir / "热点问题表.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # Excel's BOM
    parquet = pd.read_parquet(out_dir / "热点问题留言明细表.parquet")
    assert list(parquet["留言编号"]) == list(messages["留言编号"])
    assert PHONE not in (out_dir / "热点问题留言明细表.csv").read_text(encoding="utf-8-sig")


@pytest.mark.parametrize(
    ("change", "extra", "message"),
    [
        pytest.param(lambda f: f.drop(columns=["time"]), [], "'time' not found", id="no-time"),
        pytest.param(lambda f: f.assign(time="soon"), [], "are not times", id="times-do-not-parse"),
        pytest.param(
            lambda f: f, ["--since", "2030-01-01"], "no tickets between", id="empty-window"
        ),
        pytest.param(lambda f: f, ["--window", "weekly"], "not a time window", id="bad-window"),
        pytest.param(lambda f: f.iloc[:0], [], "no rows", id="empty-file"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    change,
    extra,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    path = tmp_path / "bad.csv"
    change(board()).to_csv(path, index=False)
    code, _, err = run(capsys, "hotspots", path, *extra)
    assert code == 2
    assert err.startswith("appeals hotspots: error:")
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_missing_file_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "hotspots", tmp_path / "none.csv")
    assert code == 2
    assert "none.csv" in err
