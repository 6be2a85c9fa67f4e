"""Every error path of the `appeals` command, one row each: exit 2, one line on stderr that
says what is wrong (argparse's usage for a malformed command line), never a traceback, and
nothing registered or moved in the registry. A new command or option adds its rows here."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pytest

from service.cli import main

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "appeals.csv"


class Case(NamedTuple):
    argv: list[str | Path]
    says: str  # in the error line (or argparse's usage message)
    env: dict[str, str] | None = None  # APPEALS_* variables set for the row
    setup: str | None = None  # a damage from SETUPS, done to the test's registry first
    usage: bool = False  # a malformed command line: argparse prints its usage and exits 2


def _damage_manifest(models: Path) -> None:
    (models / "default" / "v1" / "manifest.json").write_text("{", encoding="utf-8")


def _damage_pointer(models: Path) -> None:
    (models / "default" / "ACTIVE").write_text("v1\n", encoding="utf-8")


def _tamper_model(models: Path) -> None:
    with (models / "default" / "v1" / "model.joblib").open("ab") as handle:
        handle.write(b"tampered")


def _add_v2(models: Path) -> None:
    shutil.copytree(models / "default" / "v1", models / "default" / "v2")
    path = models / "default" / "v2" / "manifest.json"
    path.write_text(
        json.dumps({**json.loads(path.read_text(encoding="utf-8")), "version": "v2"}),
        encoding="utf-8",
    )


SETUPS: dict[str, Callable[[Path], None]] = {
    "damaged-manifest": _damage_manifest,
    "damaged-pointer": _damage_pointer,
    "tampered-model": _tamper_model,
    "second-version": _add_v2,
}

# {tmp}: the test's folder, holding notes.txt, titles.csv (a title column only), bad.csv
# (not text), tiny.csv (a class of 3), a file out.csv and an empty folder empty/;
# {models}: a writable copy of the session's registry (default@v1, active).
CASES = {
    # ------------------------------------------------------------------ train
    "train-missing-file": Case(["train", "{tmp}/missing.csv"], "no such file"),
    "train-unknown-format": Case(["train", "{tmp}/notes.txt"], "unknown input format"),
    "train-undecodable-csv": Case(["train", "{tmp}/bad.csv"], "cannot be read as csv"),
    "train-folder-without-parquet": Case(["train", "{tmp}/empty"], "holds none"),
    "train-missing-label-col": Case(["train", DEMO, "--label-col", "dept"], "'dept' not found"),
    "train-misnamed-text-col": Case(["train", DEMO, "--text-col", "body"], "'body' not found"),
    "train-misnamed-title-col": Case(
        ["train", DEMO, "--title-col", "subject"], "'subject' not found"
    ),
    "train-tiny-class": Case(["train", "{tmp}/tiny.csv"], "fewer than 5 examples"),
    "train-missing-eval-file": Case(["train", DEMO, "--eval", "{tmp}/nope.csv"], "no such file"),
    "train-name-with-dots": Case(["train", DEMO, "--name", "../x"], "invalid model name '../x'"),
    "train-name-with-slash": Case(["train", DEMO, "--name", "a/b"], "invalid model name 'a/b'"),
    "train-empty-name": Case(["train", DEMO, "--name", ""], "invalid model name ''"),
    "train-registry-is-a-file": Case(
        ["train", DEMO, "--models-dir", "{tmp}/out.csv"], "it is a file, not a folder"
    ),
    "train-report-dir-is-a-file": Case(
        ["train", DEMO, "--report-dir", "{tmp}/out.csv"], "--report-dir"
    ),
    "train-negative-C": Case(["train", DEMO, "--C", "-1"], "must be a number above 0", usage=True),
    "train-nan-C": Case(["train", DEMO, "--C", "nan"], "must be a number above 0", usage=True),
    "train-unknown-segmenter": Case(
        ["train", DEMO, "--segmenter", "thulac"], "invalid choice", usage=True
    ),
    "train-zero-jobs": Case(
        ["train", DEMO, "--jobs", "0"], "must be -1 (every core) or at least 1", usage=True
    ),
    "train-text-jobs": Case(["train", DEMO, "--jobs", "all"], "not a whole number", usage=True),
    "train-unknown-learner": Case(
        ["train", DEMO, "--learner", "forest"], "invalid choice", usage=True
    ),
    "train-bad-env": Case(["train", DEMO], "APPEALS_TOP_K", env={"APPEALS_TOP_K": "three"}),
    "train-feedback-missing-file": Case(
        ["train", DEMO, "--feedback", "{tmp}/nope.csv"], "no such file"
    ),
    "train-feedback-missing-column": Case(
        ["train", DEMO, "--feedback", "{tmp}/fb_nolabel.csv"], "'label' not found"
    ),
    "train-feedback-header-only": Case(
        ["train", DEMO, "--feedback", "{tmp}/fb_header.csv"], "the corrections have no rows"
    ),
    "train-feedback-empty-file": Case(
        ["train", DEMO, "--feedback", "{tmp}/fb_blank.csv"], "the file is empty"
    ),
    "train-feedback-rare-new-label": Case(
        ["train", DEMO, "--feedback", "{tmp}/fb_new.jsonl"], "'地铁' (2)"
    ),
    "train-feedback-without-ids": Case(
        ["train", DEMO, "--feedback", "{tmp}/fb_noid.csv"], "have no ticket id"
    ),
    "train-feedback-zero-weight": Case(
        ["train", DEMO, "--feedback", "{tmp}/fb_new.jsonl", "--feedback-weight", "0"],
        "must be a number above 0",
        usage=True,
    ),
    "train-feedback-holdout-one": Case(
        ["train", DEMO, "--feedback", "{tmp}/fb_new.jsonl", "--feedback-holdout", "1"],
        "must be from 0 up to (not including) 1",
        usage=True,
    ),
    "train-feedback-weight-alone": Case(
        ["train", DEMO, "--feedback-weight", "3"], "add --feedback SOURCE"
    ),
    "train-feedback-damaged-active-model": Case(
        ["train", DEMO, "--feedback", "{tmp}/fb_ok.csv"],
        "manifest.json is not valid JSON",
        setup="damaged-manifest",
    ),
    # ------------------------------------------------------------------ evaluate
    "evaluate-missing-file": Case(["evaluate", "{tmp}/missing.csv"], "no such file"),
    "evaluate-unknown-format": Case(["evaluate", "{tmp}/notes.txt"], "unknown input format"),
    "evaluate-no-label-col": Case(["evaluate", "{tmp}/titles.csv"], "'label' not found"),
    "evaluate-unknown-version": Case(["evaluate", DEMO, "--model", "default@v7"], "no version"),
    "evaluate-malformed-version": Case(
        ["evaluate", DEMO, "--model", "default@latest"], "versions look like 'v3'"
    ),
    "evaluate-bad-name": Case(["evaluate", DEMO, "--model", "../x"], "invalid model name"),
    "evaluate-unknown-model": Case(["evaluate", DEMO, "--model", "nobody"], "it holds: default"),
    "evaluate-empty-registry": Case(
        ["evaluate", DEMO, "--models-dir", "{tmp}/empty"], "holds no models"
    ),
    "evaluate-damaged-manifest": Case(
        ["evaluate", DEMO], "manifest.json is not valid JSON", setup="damaged-manifest"
    ),
    "evaluate-report-dir-is-a-file": Case(
        ["evaluate", DEMO, "--report-dir", "{tmp}/out.csv"], "--report-dir"
    ),
    # ------------------------------------------------------------------ predict
    "predict-empty-text": Case(["predict", ""], "nothing to route"),
    "predict-blank": Case(["predict", " ", "--title", "\u3000"], "nothing to route"),
    "predict-nothing": Case(["predict"], "nothing to route"),
    "predict-empty-title-only": Case(["predict", "--title", ""], "nothing to route"),
    "predict-unknown-model": Case(["predict", "停水了", "--model", "nobody"], "it holds: default"),
    "predict-misspelt-model": Case(
        ["predict", "停水了", "--model", "defualt"], "did you mean 'default'?"
    ),
    "predict-name-with-dots": Case(["predict", "停水了", "--model", "../x"], "invalid model name"),
    "predict-name-with-slash": Case(["predict", "停水了", "--model", "a/b"], "invalid model name"),
    "predict-name-with-space": Case(
        ["predict", "停水了", "--model", "no such/model"], "invalid model name"
    ),
    "predict-unknown-version": Case(["predict", "停水了", "--model", "default@v7"], "no version"),
    "predict-malformed-version": Case(
        ["predict", "停水了", "--model", "default@1"], "versions look like 'v3'"
    ),
    "predict-empty-registry": Case(
        ["predict", "停水了", "--models-dir", "{tmp}/empty"], "holds no models"
    ),
    "predict-missing-registry": Case(
        ["predict", "停水了", "--models-dir", "{tmp}/nowhere"], "holds no models"
    ),
    "predict-damaged-manifest": Case(
        ["predict", "停水了"], "manifest.json is not valid JSON", setup="damaged-manifest"
    ),
    "predict-damaged-pointer": Case(
        ["predict", "停水了"], "active-version pointer", setup="damaged-pointer"
    ),
    "predict-tampered-model": Case(
        ["predict", "停水了"], "does not match its sha256", setup="tampered-model"
    ),
    "predict-bad-explain": Case(
        ["predict", "停水", "--explain", "many"], "invalid int value: 'many'", usage=True
    ),
    "predict-bad-env-name": Case(
        ["predict", "停水了"], "APPEALS_MODEL_NAME", env={"APPEALS_MODEL_NAME": "../x"}
    ),
    "predict-env-empty-registry": Case(
        ["predict", "停水了"], "holds no models", env={"APPEALS_MODELS_DIR": "{tmp}/empty"}
    ),
    # ------------------------------------------------------------------ models
    "list-name-with-dots": Case(["models", "list", "--name", "../x"], "invalid model name"),
    "list-name-with-slash": Case(["models", "list", "--name", "a/b"], "invalid model name"),
    "list-unknown": Case(["models", "list", "--name", "nobody"], "it holds: default"),
    "list-bad-env": Case(["models", "list"], "invalid settings", env={"APPEALS_TOP_K": "x"}),
    "list-unknown-action": Case(["models", "lsit"], "invalid choice", usage=True),
    "activate-without-version": Case(["models", "activate"], "needs a VERSION"),
    "activate-unknown-version": Case(["models", "activate", "v9"], "no version"),
    "activate-malformed-version": Case(["models", "activate", "../v1"], "versions look like"),
    "activate-misspelt-name": Case(
        ["models", "activate", "v1", "--name", "defualt"], "did you mean 'default'?"
    ),
    "activate-name-with-dots": Case(
        ["models", "activate", "v1", "--name", "../x"], "invalid model name"
    ),
    "activate-damaged-manifest": Case(
        ["models", "activate", "v1"], "manifest.json is not valid JSON", setup="damaged-manifest"
    ),
    "activate-tampered": Case(
        ["models", "activate", "v1"], "does not match its sha256", setup="tampered-model"
    ),
    "activate-empty-registry": Case(
        ["models", "activate", "v1", "--models-dir", "{tmp}/empty"], "holds no models"
    ),
    "rollback-nothing": Case(["models", "rollback"], "no earlier active version"),
    "rollback-damaged-pointer": Case(
        ["models", "rollback"], "cannot roll back", setup="damaged-pointer"
    ),
    "sign-without-version": Case(["models", "sign"], "needs a VERSION"),
    "sign-without-key": Case(["models", "sign", "v1"], "no signing key"),
    "signed-registry-unsigned-version": Case(
        ["models", "activate", "v2"],
        "is not signed",
        env={"APPEALS_SIGNING_KEY": "cli-errors-signing-key-0123456789"},
        setup="second-version",
    ),
    # ------------------------------------------------------------------ tag
    "tag-missing-input": Case(["tag", "{tmp}/missing.csv", "--out", "{tmp}/o.csv"], "no such file"),
    "tag-unknown-input-format": Case(
        ["tag", "{tmp}/notes.txt", "--out", "{tmp}/o.csv"], "unknown input format"
    ),
    "tag-unknown-output-format": Case(
        ["tag", DEMO, "--out", "{tmp}/o.txt"], "unknown output format"
    ),
    "tag-output-exists": Case(["tag", DEMO, "--out", "{tmp}/out.csv"], "already exists"),
    "tag-resume-nothing-to-resume": Case(
        ["tag", DEMO, "--out", "{tmp}/out.csv", "--resume"], "no unfinished run to resume"
    ),
    "tag-zero-chunk-size": Case(
        ["tag", DEMO, "--out", "{tmp}/o.csv", "--chunk-size", "0"], "--chunk-size must be"
    ),
    "tag-negative-chunk-size": Case(
        ["tag", DEMO, "--out", "{tmp}/o.csv", "--chunk-size", "-5"], "--chunk-size must be"
    ),
    "tag-word-chunk-size": Case(
        ["tag", DEMO, "--out", "{tmp}/o.csv", "--chunk-size", "big"], "invalid int", usage=True
    ),
    "tag-zero-jobs": Case(["tag", DEMO, "--out", "{tmp}/o.csv", "--jobs", "0"], "--jobs must be"),
    "tag-negative-jobs": Case(
        ["tag", DEMO, "--out", "{tmp}/o.csv", "--jobs", "-2"], "--jobs must be"
    ),
    "tag-unknown-engine": Case(
        ["tag", DEMO, "--out", "{tmp}/o.csv", "--engine", "spark"], "invalid choice", usage=True
    ),
    "tag-without-out": Case(["tag", DEMO], "--out", usage=True),
    "tag-misnamed-text-col": Case(
        ["tag", DEMO, "--out", "{tmp}/o.csv", "--text-col", "body"], "'body' not found"
    ),
    "tag-title-only-file-without-text": Case(
        ["tag", "{tmp}/titles.csv", "--out", "{tmp}/o.csv", "--title-col", "subject"],
        "'subject' not found",
    ),
    "tag-bad-model-name": Case(
        ["tag", DEMO, "--out", "{tmp}/o.csv", "--model", "../x"], "invalid model name"
    ),
    "tag-unknown-version": Case(
        ["tag", DEMO, "--out", "{tmp}/o.csv", "--model", "default@v9"], "no version"
    ),
    "tag-empty-registry": Case(
        ["tag", DEMO, "--out", "{tmp}/o.csv", "--models-dir", "{tmp}/empty"], "holds no models"
    ),
    "tag-damaged-manifest": Case(
        ["tag", DEMO, "--out", "{tmp}/o.csv"],
        "manifest.json is not valid JSON",
        setup="damaged-manifest",
    ),
    "tag-output-in-a-file": Case(
        ["tag", DEMO, "--out", "{tmp}/out.csv/o.csv"], "choose an --out in a folder"
    ),
    # ------------------------------------------------------------------ serve (never starts)
    "serve-negative-port": Case(["serve", "--port", "-1"], "from 0 to 65535", usage=True),
    "serve-port-too-high": Case(["serve", "--port", "70000"], "from 0 to 65535", usage=True),
    "serve-zero-workers": Case(["serve", "--workers", "0"], "at least 1", usage=True),
    "serve-bad-model-name": Case(["serve", "--model", "../x"], "invalid model name"),
    "serve-bad-env": Case(["serve"], "APPEALS_MAX_BODY_BYTES", env={"APPEALS_MAX_BODY_BYTES": "1"}),
    # ------------------------------------------------------------------ the command line
    "no-command": Case([], "required: COMMAND", usage=True),
    "unknown-command": Case(["pridict", "停水"], "invalid choice", usage=True),
}


@pytest.fixture
def workdir(tmp_path: Path, demo_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's folder with the files the rows name, and no APPEALS_* variables nor .env
    around (the rows set their own)."""
    for variable in [v for v in os.environ if v.startswith("APPEALS_")]:
        monkeypatch.delenv(variable)
    monkeypatch.chdir(tmp_path)

    def must_not_start(**options: object) -> int:  # a row that gets this far would serve
        raise AssertionError(f"appeals serve started with {options}")

    monkeypatch.setattr("service.server.serve", must_not_start)
    (tmp_path / "notes.txt").write_text("停水", encoding="utf-8")
    (tmp_path / "bad.csv").write_bytes(b"a\x00\xff\xfe")
    (tmp_path / "out.csv").write_text("text\n停水\n", encoding="utf-8")
    (tmp_path / "empty").mkdir()
    pd.DataFrame({"title": ["路灯坏了", "停水"]}).to_csv(tmp_path / "titles.csv", index=False)
    label = demo_frame["label"].value_counts().index[-1]
    tiny = demo_frame.drop(demo_frame.index[demo_frame["label"] == label][3:])
    tiny.to_csv(tmp_path / "tiny.csv", index=False)
    corrections = pd.DataFrame(
        {"id": ["t1", "t2"], "text": ["地铁太挤了", "地铁站电梯坏了"], "title": "", "label": "地铁"}
    )
    corrections.drop(columns="label").to_csv(tmp_path / "fb_nolabel.csv", index=False)
    corrections.iloc[:0].to_csv(tmp_path / "fb_header.csv", index=False)
    (tmp_path / "fb_blank.csv").write_bytes(b"")
    corrections.to_json(tmp_path / "fb_new.jsonl", orient="records", lines=True)
    corrections.assign(id="", label="水务").to_csv(tmp_path / "fb_noid.csv", index=False)
    corrections.assign(label="水务").to_csv(tmp_path / "fb_ok.csv", index=False)
    return tmp_path


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_a_mistake_is_one_line_and_exit_2_never_a_traceback(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    models_dir: Path,
    workdir: Path,
    case: Case,
) -> None:
    models = workdir / "models"
    shutil.copytree(models_dir, models)
    if case.setup:
        SETUPS[case.setup](models)
    paths = {"tmp": workdir, "models": models}
    argv = [str(arg).format(**paths) for arg in case.argv]
    env = case.env or {}
    names_a_registry = "--models-dir" in argv or "APPEALS_MODELS_DIR" in env
    if argv and argv[0] != "serve" and not names_a_registry:
        argv += ["--models-dir", str(models)]
    for variable, value in env.items():
        monkeypatch.setenv(variable, value.format(**paths))
    before = _files(models)

    code = main(argv)
    out, err = capsys.readouterr()

    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    assert case.says in err, err
    if case.usage:
        assert err.startswith("usage: appeals"), err
        assert err.splitlines()[-1].startswith("appeals"), err
        assert ": error: " in err.splitlines()[-1], err
    else:
        assert err.startswith(f"appeals {argv[0]}: error: "), err
        assert err.count("\n") == 1, err  # one line
    # A failed command registers nothing and moves no pointer.
    assert _files(models) == before


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }
