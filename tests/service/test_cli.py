"""service.cli: the `appeals` command, in-process; errors exit 2 with one line, no traceback."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from nlp.registry import Registry
from service.cli import main

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "appeals.csv"
DEMO_ROWS = len(pd.read_csv(DEMO, dtype=str, keep_default_na=False))


def _rows(path: Path) -> int:
    return len(pd.read_csv(path, dtype=str, keep_default_na=False))


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> dict:
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    return json.loads(out)  # exactly one JSON object, nothing else on stdout


# --------------------------------------------------------------------------- train
# What the command does with its options, files and registry, trained on a small sample of
# the demo data (demo_sample_csv in tests/conftest.py): accuracy on the demo data is
# tests/nlp/test_train.py's and the README example's business.


def test_train_json_prints_one_object_with_version_and_metrics(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_sample_csv: Path
) -> None:
    models = tmp_path / "models"
    sample = demo_sample_csv
    report = run_json(capsys, "train", sample, "--models-dir", models, "--json")
    assert report["version"] == "v1"
    assert report["active"] is True
    for key in ("n", "accuracy", "macro_f1", "per_class", "top2_accuracy", "ece", "coverage"):
        assert key in report["metrics"], key
    assert report["data"]["train_rows"] + report["data"]["eval_rows"] == _rows(sample)
    manifest = Registry(models).manifest("default", "v1")
    assert manifest["data"]["sha256"] == report["data"]["sha256"]
    assert manifest["config"]["label_col"] == "label"

    second = run_json(capsys, "train", sample, "--models-dir", models, "--json")
    assert (second["version"], second["active"]) == ("v2", False)
    third = run_json(capsys, "train", sample, "--models-dir", models, "--json", "--activate")
    assert (third["version"], third["active"]) == ("v3", True)


def test_train_learner_option_reaches_the_model_and_its_manifest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_sample_csv: Path
) -> None:
    models = tmp_path / "models"
    sample = demo_sample_csv
    run_json(capsys, "train", sample, "--models-dir", models, "--json")
    run_json(
        capsys, "train", sample, "--models-dir", models, "--json", "--learner", "svm", "--jobs", "2"
    )
    registry = Registry(models)
    learners = [registry.manifest("default", v)["config"]["learner"] for v in ("v1", "v2")]
    assert learners == ["svm+nbsvm", "svm"]
    jobs = [registry.manifest("default", v)["config"]["n_jobs"] for v in ("v1", "v2")]
    assert jobs == [1, 2]
    loaded = registry.load("default", "v2")
    assert loaded.pipeline.named_steps["classify"].learner == "svm"


def test_train_prints_a_summary(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_sample_csv: Path
) -> None:
    code, out, _ = run(
        capsys, "train", demo_sample_csv, "--models-dir", tmp_path, "--name", "hotline"
    )
    assert code == 0
    assert "trained hotline@v1" in out
    assert "macro-F1=" in out
    assert "active: v1" in out


def test_train_on_a_body_file_and_a_title_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_sample: pd.DataFrame
) -> None:
    bodies, titles = tmp_path / "bodies.csv", tmp_path / "titles.parquet"
    demo_sample[["text", "label"]].to_csv(bodies, index=False)
    with_title = demo_sample[demo_sample["title"] != ""]
    with_title[["title", "label"]].to_parquet(titles, index=False)
    report = run_json(
        capsys,
        "train",
        bodies,
        titles,
        "--models-dir",
        tmp_path / "m",
        "--json",
        "--title-col",
        "title",
    )
    assert report["data"]["rows"] == len(demo_sample) + len(with_title)
    assert report["data"]["skipped"] == {}


def test_train_with_an_eval_file(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    demo_frame: pd.DataFrame,
    demo_sample_csv: Path,
) -> None:
    held_out = tmp_path / "held_out.jsonl"
    demo_frame.iloc[::10].to_json(held_out, orient="records", lines=True, force_ascii=False)
    report = run_json(
        capsys,
        "train",
        demo_sample_csv,
        "--eval",
        held_out,
        "--models-dir",
        tmp_path / "m",
        "--json",
    )
    assert report["metrics"]["n"] == len(demo_frame.iloc[::10])


# --------------------------------------------------------------------------- evaluate


def test_evaluate_json(capsys: pytest.CaptureFixture[str], models_dir: Path) -> None:
    report = run_json(capsys, "evaluate", DEMO, "--models-dir", models_dir, "--json")
    assert report["n"] == DEMO_ROWS
    assert 0.0 < report["accuracy"] <= 1.0
    assert 0.0 < report["macro_f1"] <= 1.0
    assert sum(row["support"] for row in report["per_class"].values()) == DEMO_ROWS
    assert report["model"] == {"name": "default", "version": "v1"}


def test_evaluate_prints_a_table(capsys: pytest.CaptureFixture[str], models_dir: Path) -> None:
    code, out, _ = run(
        capsys, "evaluate", DEMO, "--models-dir", models_dir, "--model", "default@v1"
    )
    assert code == 0
    assert f"model default@v1 on {DEMO_ROWS} tickets" in out
    assert "城管执法" in out
    assert "coverage" in out


@pytest.mark.parametrize("json_output", [False, True], ids=["table", "json"])
def test_evaluate_warns_on_stderr_when_the_labels_are_not_the_models(
    capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path, json_output: bool
) -> None:
    frame = pd.read_csv(DEMO, dtype=str, keep_default_na=False)
    frame = frame[frame["label"].isin(["燃气", "水务"])].head(20).copy()
    frame.loc[frame.index[:3], "label"] = "劳动和社会保障"
    data = tmp_path / "other_labels.csv"
    frame.to_csv(data, index=False)
    code, out, err = run(
        capsys, "evaluate", data, "--models-dir", models_dir, *(["--json"] if json_output else [])
    )
    assert code == 0
    warnings_shown = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warnings_shown) == 2
    assert "3 of 20 tickets have labels the model does not know" in warnings_shown[0]
    assert "劳动和社会保障 (3)" in warnings_shown[0]
    assert "12 of the model's 14 labels have no ticket in the data" in warnings_shown[1]
    assert "warning" not in out.lower() or json_output
    if json_output:
        assert len(json.loads(out)["warnings"]) == 2


def test_evaluate_on_the_models_labels_warns_nothing(
    capsys: pytest.CaptureFixture[str], models_dir: Path
) -> None:
    code, _, err = run(capsys, "evaluate", DEMO, "--models-dir", models_dir)
    assert code == 0
    assert "warning" not in err


@pytest.mark.parametrize("command", ["evaluate", "train"])
def test_report_dir_writes_a_confusion_matrix_without_missing_glyphs(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    models_dir: Path,
    tmp_path: Path,
    demo_sample_csv: Path,
    command: str,
) -> None:
    report_dir = tmp_path / "reports"
    models = models_dir if command == "evaluate" else tmp_path / "models"
    data = DEMO if command == "evaluate" else demo_sample_csv
    caplog.set_level(logging.WARNING)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, _, err = run(
            capsys, command, data, "--models-dir", models, "--report-dir", report_dir
        )
    assert code == 0, err
    glyph_warnings = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert glyph_warnings == []
    assert not [r for r in caplog.records if "findfont" in r.getMessage()]
    png = report_dir / "confusion.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if command == "evaluate":
        assert (report_dir / "coverage.png").is_file()
        reliability = report_dir / "reliability.png"
        assert reliability.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        evaluation = json.loads((report_dir / "evaluation.json").read_text(encoding="utf-8"))
        assert evaluation["n"] == DEMO_ROWS


# --------------------------------------------------------------------------- predict


def test_predict_prints_the_label_and_the_top_three(
    capsys: pytest.CaptureFixture[str], models_dir: Path
) -> None:
    code, out, _ = run(
        capsys,
        "predict",
        "小区楼下的烧烤摊天天占道经营，油烟太大了",
        "--title",
        "占道经营",
        "--models-dir",
        models_dir,
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("城管执法")
    assert "confidence" in lines[0]
    ranked = [line.split() for line in lines[1:4]]
    assert ranked[0][0] == "城管执法"
    scores = [float(row[1]) for row in ranked]
    assert scores == sorted(scores, reverse=True)
    assert len(ranked) == 3


def test_predict_says_every_reason_with_its_code(
    capsys: pytest.CaptureFixture[str], models_dir: Path
) -> None:
    code, out, _ = run(capsys, "predict", "谢谢", "--models-dir", models_dir)
    assert code == 0
    [review] = [line for line in out.splitlines() if line.startswith("needs review")]
    assert review.startswith("needs review (")
    assert "out_of_scope" in review
    assert "out of scope:" in review
    report = run_json(capsys, "predict", "谢谢", "--models-dir", models_dir, "--json")
    assert "out_of_scope" in report["review_codes"]
    assert report["needs_review"] is True


def test_predict_json(capsys: pytest.CaptureFixture[str], models_dir: Path) -> None:
    report = run_json(
        capsys,
        "predict",
        "燃气泄漏了，楼道里全是煤气味",
        "--models-dir",
        models_dir,
        "--json",
        "--urgency",
    )
    assert report["label"] == "燃气"
    assert report["review_codes"] == ["urgent"]  # a gas leak goes before a person at once
    assert report["urgency"]["level"] == "紧急"
    assert len(report["top_k"]) == 3
    assert report["top_k"][0]["label"] == report["label"]
    assert report["model"] == {"name": "default", "version": "v1"}


# --------------------------------------------------------------------------- models


def test_models_list_activate_rollback(
    capsys: pytest.CaptureFixture[str], registry_copy: Registry, trained
) -> None:
    registry_copy.save(trained.model, name="default", metrics=trained.evaluation.to_dict())
    root = registry_copy.root
    listed = run_json(capsys, "models", "list", "--models-dir", root, "--json")
    [model] = listed["models"]
    assert model["name"] == "default"
    assert [(v["version"], v["active"]) for v in model["versions"]] == [
        ("v1", True),
        ("v2", False),
    ]

    code, out, _ = run(capsys, "models", "list", "--models-dir", root)
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["default:", "*", "v2"]

    code, out, _ = run(capsys, "models", "activate", "v2", "--models-dir", root)
    assert (code, out.strip()) == (0, "default: active version is now v2")
    code, out, _ = run(capsys, "models", "list", "--models-dir", root)
    assert [line.split()[0] for line in out.splitlines()] == ["default:", "v1", "*"]

    assert run_json(capsys, "models", "rollback", "--models-dir", root, "--json") == {
        "name": "default",
        "active": "v1",
    }


def _models_copy(models_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the session registry with a second version, v2 (not active)."""
    models = tmp_path / "models"
    shutil.copytree(models_dir, models)
    shutil.copytree(models / "default" / "v1", models / "default" / "v2")
    manifest_path = models / "default" / "v2" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest_path.write_text(json.dumps({**manifest, "version": "v2"}), encoding="utf-8")
    return models


def test_models_list_shows_a_damaged_version_and_pointer_without_a_traceback(
    capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path
) -> None:
    models = _models_copy(models_dir, tmp_path)
    manifest_path = models / "default" / "v2" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest_path.write_text(json.dumps({**manifest, "libraries": None}), encoding="utf-8")
    code, out, err = run(capsys, "models", "list", "--models-dir", models)
    assert code == 0, err
    header, v1, v2 = out.splitlines()
    assert header == "default:"
    assert v1.split()[:2] == ["*", "v1"]
    assert "macro-F1=" in v1
    assert v2.split()[0] == "v2"
    assert "'libraries' must be an object" in v2

    (models / "default" / "ACTIVE").write_text("v1\n", encoding="utf-8")  # written by hand
    code, out, err = run(capsys, "models", "list", "--models-dir", models)
    assert code == 0
    # none marked active
    assert [line.split()[0] for line in out.splitlines()] == ["default:", "v1", "v2"]
    assert err.startswith("appeals models: warning: the active-version pointer")
    assert "Traceback" not in out + err
    listed = run_json(capsys, "models", "list", "--models-dir", models, "--json")
    [model] = listed["models"]
    assert model["active"] is None
    assert "not JSON" in model["error"]

    # activate repairs the pointer; the damaged version is refused with one line.
    code, out, err = run(capsys, "models", "activate", "v2", "--models-dir", models)
    assert code == 2
    assert err.count("\n") == 1
    assert "'libraries' must be an object" in err
    code, out, _ = run(capsys, "models", "activate", "v1", "--models-dir", models)
    assert (code, out.strip()) == (0, "default: active version is now v1")
    assert Registry(models).active("default").version == "v1"  # type: ignore[union-attr]


def test_models_activate_refuses_a_version_that_cannot_be_loaded(
    capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path
) -> None:
    models = _models_copy(models_dir, tmp_path)
    folder = models / "default" / "v2"
    (folder / "model.joblib").write_bytes(b"not a pickle")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["model.joblib"] = hashlib.sha256(b"not a pickle").hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    pointer = (models / "default" / "ACTIVE").read_bytes()
    code, _, err = run(capsys, "models", "activate", "v2", "--models-dir", models)
    assert code == 2
    assert err.startswith("appeals models: error: default@v2 passed its checks but cannot be")
    assert err.count("\n") == 1
    assert (models / "default" / "ACTIVE").read_bytes() == pointer


def test_the_signing_key_setting_signs_and_guards_versions(
    capsys: pytest.CaptureFixture[str],
    models_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    demo_sample_csv: Path,
) -> None:
    key = "cli-signing-key-for-tests-0123456789"
    models = _models_copy(models_dir, tmp_path)
    monkeypatch.setenv("APPEALS_SIGNING_KEY", key)
    code, _, err = run(capsys, "models", "activate", "v2", "--models-dir", models)
    assert code == 2
    assert "is not signed" in err
    assert "appeals models sign v2" in err
    code, out, _ = run(capsys, "models", "sign", "v2", "--models-dir", models)
    assert (code, out.strip()) == (0, "default@v2: signed")
    code, out, _ = run(capsys, "models", "activate", "v2", "--models-dir", models)
    assert (code, out.strip()) == (0, "default: active version is now v2")
    # Batch tagging checks the signature too (v1 is unsigned, v2 signed).
    tickets = tmp_path / "tickets.csv"
    pd.DataFrame({"text": ["路灯坏了", "小区停水三天了"]}).to_csv(tickets, index=False)
    code, _, err = run(
        capsys,
        "tag",
        tickets,
        "--out",
        tmp_path / "v1.csv",
        "--model",
        "default@v1",
        "--models-dir",
        models,
    )
    assert code == 2
    assert "is not signed" in err
    code, _, err = run(capsys, "tag", tickets, "--out", tmp_path / "v2.csv", "--models-dir", models)
    assert code == 0, err
    assert len(pd.read_csv(tmp_path / "v2.csv")) == 2

    report = run_json(capsys, "train", demo_sample_csv, "--models-dir", models, "--json")
    folder = models / "default" / report["version"]
    assert (folder / "manifest.sig").is_file()
    assert Registry(models, signing_key=key).load("default", report["version"])
    monkeypatch.delenv("APPEALS_SIGNING_KEY")
    code, _, err = run(capsys, "models", "sign", "v1", "--models-dir", models)
    assert code == 2
    assert "no signing key" in err


# --------------------------------------------------------------------------- errors
# Every error path has its row in test_cli_errors.py.


def test_a_singleton_class_trains_when_min_class_size_allows_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_sample: pd.DataFrame
) -> None:
    """One example cannot be held out: it goes to training, and the model knows its label."""
    singleton = tmp_path / "singleton.csv"
    pd.concat(
        [demo_sample, pd.DataFrame({"text": ["只有一条的投诉"], "label": ["孤儿部门"]})]
    ).to_csv(singleton, index=False)
    models = tmp_path / "models"
    code, _, err = run(
        capsys, "train", singleton, "--min-class-size", "1", "--json", "--models-dir", models
    )
    assert code == 0, err
    assert "孤儿部门" in Registry(models).load().labels


def test_the_missing_column_message_names_the_existing_columns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "train", DEMO, "--label-col", "dept", "--models-dir", tmp_path)
    assert code == 2
    for column in ("'id'", "'title'", "'text'", "'label'"):
        assert column in err


# --------------------------------------------------------------------------- shared settings


@pytest.fixture
def two_models(models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registry with the models 'default' (v1 active, v2) and 'hotline' (v1), in a fresh
    working folder without APPEALS_* variables; returns the registry's folder."""
    for variable in ("APPEALS_MODELS_DIR", "APPEALS_MODEL_NAME", "APPEALS_TOP_K"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    registry = tmp_path / "registry"
    shutil.copytree(models_dir, registry)
    shutil.copytree(registry / "default" / "v1", registry / "default" / "v2")
    shutil.copytree(registry / "default", registry / "hotline")
    (registry / "hotline" / "v2").rename(registry / "hotline" / "v2-unused")
    return registry


def test_every_command_reads_the_settings_the_service_reads(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, two_models: Path
) -> None:
    """.env and APPEALS_* give the CLI its defaults, exactly as they give the service its
    settings: `appeals models activate` changes the registry `appeals serve` serves."""
    from service.settings import Settings

    Path(".env").write_text("APPEALS_MODELS_DIR=registry\n", encoding="utf-8")
    assert Settings().models_dir == Path("registry")  # what the service would serve

    code, out, err = run(capsys, "models", "activate", "v2")
    assert (code, out.strip()) == (0, "default: active version is now v2"), err
    assert Registry(two_models).active("default").version == "v2"
    assert not Path("models").exists()  # not the folder the flag used to default to

    assert run_json(capsys, "predict", "停水三天了", "--json")["model"]["version"] == "v2"
    monkeypatch.setenv("APPEALS_MODEL_NAME", "hotline")  # the environment wins over .env
    assert run_json(capsys, "predict", "停水三天了", "--json")["model"]["name"] == "hotline"
    code, out, _ = run(capsys, "models", "rollback")
    assert code == 2  # hotline has no earlier version: the command acted on hotline
    report = run_json(capsys, "evaluate", DEMO, "--json")
    assert report["model"] == {"name": "hotline", "version": "v1"}
    # Flags win over both.
    flagged = run_json(capsys, "predict", "停水", "--json", "--model", "default@v1")
    assert flagged["model"] == {"name": "default", "version": "v1"}
    code, _, err = run(capsys, "predict", "停水", "--models-dir", "elsewhere")
    assert code == 2
    assert "elsewhere holds no models" in err


def test_invalid_settings_are_one_line_naming_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, two_models: Path
) -> None:
    Path(".env").write_text("APPEALS_TOP_K=three\n", encoding="utf-8")
    code, out, err = run(capsys, "models", "list")
    assert code == 2
    assert err.startswith("appeals models: error: invalid settings")
    assert "APPEALS_TOP_K" in err
    assert err.count("\n") == 1
    assert "Traceback" not in out + err


def test_models_list_shows_every_model(
    capsys: pytest.CaptureFixture[str], two_models: Path
) -> None:
    code, out, _ = run(capsys, "models", "list", "--models-dir", two_models)
    assert code == 0
    headers = [line for line in out.splitlines() if not line.startswith((" ", "*"))]
    assert headers == ["default:", "hotline:"]
    listed = run_json(capsys, "models", "list", "--models-dir", two_models, "--json")
    assert [model["name"] for model in listed["models"]] == ["default", "hotline"]
    assert [len(model["versions"]) for model in listed["models"]] == [2, 1]
    only = run_json(
        capsys, "models", "list", "--models-dir", two_models, "--json", "--name", "hotline"
    )
    assert [model["name"] for model in only["models"]] == ["hotline"]


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["predict", "停水", "--model", "hotlin"], id="predict"),
        pytest.param(["evaluate", DEMO, "--model", "hotlin@v1"], id="evaluate"),
        pytest.param(["models", "activate", "v1", "--name", "hotlin"], id="activate"),
        pytest.param(["models", "list", "--name", "hotlin"], id="list"),
        pytest.param(["tag", DEMO, "--out", "tagged.csv", "--model", "hotlin"], id="tag"),
    ],
)
def test_a_misspelt_model_name_lists_the_existing_ones(
    capsys: pytest.CaptureFixture[str], two_models: Path, argv: list
) -> None:
    code, out, err = run(capsys, *argv, "--models-dir", two_models)
    assert code == 2
    assert "no model 'hotlin'" in err
    assert "did you mean 'hotline'?" in err
    assert "it holds: default, hotline" in err
    assert "Traceback" not in out + err
    assert not Path("tagged.csv").exists()


def test_predict_a_title_only_ticket(capsys: pytest.CaptureFixture[str], models_dir: Path) -> None:
    report = run_json(
        capsys, "predict", "--title", "燃气泄漏煤气味", "--models-dir", models_dir, "--json"
    )
    assert report["label"] == "燃气"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    code, out, err = run(capsys, "--version")
    assert (code, out.strip(), err) == (0, f"appeals {version('appeal-router')}", "")


def test_a_usage_error_returns_2_with_argparse_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "predict", "停水", "--explain", "many")
    assert code == 2
    assert "invalid int value: 'many'" in err
    assert "Traceback" not in out + err
