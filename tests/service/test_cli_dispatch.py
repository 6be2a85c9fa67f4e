"""`appeals predict` and `appeals tag` with urgency, location, dispatch and problems: the
options, the settings they default to, and bad files refused with their row (also by
`appeals serve`, before any worker starts)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from nlp.dispatch import DISPATCH_FIELDS
from nlp.tagging.output import read_output
from service.cli import main

ROOT = Path(__file__).resolve().parents[2]
GAZETTEER = ROOT / "data" / "demo" / "gazetteer.csv"
ROUTING = ROOT / "data" / "demo" / "routing.toml"
OPTIONS = [
    "--urgency",
    "--problems",
    "--gazetteer",
    str(GAZETTEER),
    "--city",
    "江州市",
    "--routing",
    str(ROUTING),
]
TWO = "工地噪音太大，晚上打桩；另外桂花路128号下水道堵了"
GAS = "燃气泄漏了，闻到很大的煤气味，在锦绣华庭3栋"
BAD_TABLE = 'units = ["甲"]\n[[rule]]\nlabel = "燃气"\nlead = "乙"\n'


@pytest.fixture(autouse=True)
def _no_operator_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "GAZETTEER",
        "GAZETTEER_CITY",
        "ROUTING_TABLE",
        "URGENCY",
        "URGENCY_VETO",
        "PROBLEMS",
    ):
        monkeypatch.delenv(f"APPEALS_{name}", raising=False)


def test_predict_prints_every_field(capsys: pytest.CaptureFixture[str], models_dir: Path) -> None:
    assert main(["predict", TWO, "--models-dir", str(models_dir), *OPTIONS]) == 0
    out = capsys.readouterr().out
    assert "urgency: 一般: " in out
    assert "place: 东湖区 / 建设街道 / 锦绣社区" in out
    assert "lead unit: " in out
    assert "problems: 2" in out
    assert "1. 住建 (" in out
    assert "2. 水务 (" in out
    assert main(["predict", GAS, "--models-dir", str(models_dir), *OPTIONS]) == 0
    out = capsys.readouterr().out
    assert "urgency: 紧急: 疑似燃气泄漏" in out
    assert "needs review (urgent): urgent: 疑似燃气泄漏" in out
    assert "lead unit: 市燃气集团抢修中心" in out


def test_predict_json_has_null_fields_for_parts_turned_off(
    capsys: pytest.CaptureFixture[str], models_dir: Path
) -> None:
    argv = ["predict", GAS, "--models-dir", str(models_dir), "--json"]
    assert main(argv) == 0  # defaults: every part off
    printed = json.loads(capsys.readouterr().out)
    assert all(printed[name] is None for name in DISPATCH_FIELDS)
    assert printed["review_codes"] == []
    assert main([*argv, "--urgency", "--problems"]) == 0  # no gazetteer nor table
    printed = json.loads(capsys.readouterr().out)
    assert printed["urgency"]["level"] == "紧急"
    assert printed["review_codes"] == ["urgent"]
    assert printed["problems"][0]["label"] == printed["label"]
    assert printed["location"] is None
    assert printed["dispatch"] is None


def test_the_urgency_veto_option_and_setting(
    capsys: pytest.CaptureFixture[str], models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--urgency-veto (else APPEALS_URGENCY_VETO) reaches the detector; a value out of range
    is refused before anything runs, naming the option and the range."""
    video = "最近老刷到电梯坠落的短视频，看得心慌，建议物业把维保记录贴出来"
    argv = ["predict", video, "--models-dir", str(models_dir), "--urgency", "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["urgency"]["level"] == "一般"
    assert main([*argv, "--urgency-veto", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["urgency"]["level"] == "紧急"
    monkeypatch.setenv("APPEALS_URGENCY_VETO", "0")
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["urgency"]["level"] == "紧急"
    monkeypatch.delenv("APPEALS_URGENCY_VETO")
    assert main([*argv, "--urgency-veto", "0.7"]) == 2
    assert "--urgency-veto: must be from 0 up to (not including) 0.5" in capsys.readouterr().err


def test_the_settings_stand_in_for_the_options(
    capsys: pytest.CaptureFixture[str], models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPEALS_GAZETTEER", str(GAZETTEER))
    monkeypatch.setenv("APPEALS_GAZETTEER_CITY", "江州市")
    monkeypatch.setenv("APPEALS_ROUTING_TABLE", str(ROUTING))
    assert main(["predict", TWO, "--models-dir", str(models_dir), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["location"]["street"] == "建设街道"
    assert printed["dispatch"]["lead"] is not None


@pytest.mark.parametrize("command", ["predict", "tag", "serve"])
def test_a_bad_routing_table_is_one_line_naming_the_row(
    command: str,
    capsys: pytest.CaptureFixture[str],
    models_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import service.server

    def no_server(**options: object) -> int:
        raise AssertionError("the server started with a bad routing table")

    monkeypatch.setattr(service.server, "serve", no_server)
    table = tmp_path / "routing.toml"
    table.write_text(BAD_TABLE, encoding="utf-8")
    monkeypatch.setenv("APPEALS_ROUTING_TABLE", str(table))
    monkeypatch.setenv("APPEALS_STORE_URL", "off")
    tickets = tmp_path / "in.csv"
    pd.DataFrame({"text": [GAS]}).to_csv(tickets, index=False)
    argv = {
        "predict": ["predict", GAS],
        "tag": ["tag", str(tickets), "--out", str(tmp_path / "out.parquet")],
        "serve": ["serve"],
    }[command]
    assert main([*argv, "--models-dir", str(models_dir)]) == 2
    captured = capsys.readouterr()
    assert f"{table} line 2: lead '乙' is not in units" in captured.err
    assert "Traceback" not in captured.err
    assert not (tmp_path / "out.parquet").exists()


def test_tag_writes_the_dispatch_columns(
    capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path
) -> None:
    tickets = tmp_path / "in.csv"
    pd.DataFrame({"title": ["", "燃气"], "text": [TWO, GAS]}).to_csv(tickets, index=False)
    out = tmp_path / "out.csv"
    argv = ["tag", str(tickets), "--out", str(out), "--models-dir", str(models_dir)]
    assert main([*argv, *OPTIONS]) == 0
    tagged = read_output(out)
    assert list(tagged.columns)[-len(DISPATCH_FIELDS) :] == list(DISPATCH_FIELDS)
    assert [p["label"] for p in tagged["problems"][0]] == ["住建", "水务"]
    assert tagged["urgency"][1]["level"] == "紧急"
    assert tagged["dispatch"][1]["lead"]["unit"] == "市燃气集团抢修中心"
    assert tagged["location"][0]["street"] == "建设街道"
    plain = tmp_path / "plain.csv"
    argv[3] = str(plain)
    assert main([*argv, "--no-urgency", "--no-problems"]) == 0
    assert not set(DISPATCH_FIELDS) & set(read_output(plain).columns)


def test_the_resume_command_repeats_the_dispatch_options() -> None:
    from service.cli import _resume_command, build_parser

    argv = ["tag", "in.csv", "--out", "out.parquet", *OPTIONS, "--no-problems"]
    command = _resume_command(build_parser().parse_args(argv))
    assert f"--gazetteer {GAZETTEER}" in command
    assert "--city '江州市'" in command  # shlex quotes non-ASCII words
    assert f"--routing {ROUTING}" in command
    assert command.endswith("--no-problems --resume")
    assert "--no-urgency" not in command
