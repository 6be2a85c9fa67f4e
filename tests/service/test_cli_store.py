"""`appeals store` and `appeals feedback import|export`, in-process, on SQLite and on a real
PostgreSQL server: schema, status, purges, corrections from a dispatch platform's file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from nlp.model import Prediction
from nlp.registry import Registry
from nlp.store import Answer, TicketStore, utc_now
from service.cli import main

PHONE = "13812345678"


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _answered(store_url: str, ids: list[str], label: str) -> None:
    prediction = Prediction(label, 0.9, [(label, 0.9)], False, None)
    with TicketStore(store_url).open() as store:
        store.record(
            [
                Answer(i, f"路灯坏了，电话{PHONE}", "路灯", "default", "v1", prediction, utc_now())
                for i in ids
            ]
        )


def test_store_upgrade_then_status(capsys: pytest.CaptureFixture[str], store_url: str) -> None:
    code, out, _ = run(capsys, "store", "status", "--store", store_url, "--json")
    assert code == 1  # no schema yet
    assert json.loads(out)["schema"] is None
    code, out, _ = run(capsys, "store", "upgrade", "--store", store_url)
    assert (code, "upgraded from empty to schema 0001" in out) == (0, True)
    code, out, _ = run(capsys, "store", "upgrade", "--store", store_url)
    assert "already at schema 0001" in out
    code, out, _ = run(capsys, "store", "status", "--store", store_url, "--json")
    status = json.loads(out)
    assert (code, status["schema"], status["tickets"], status["corrected"]) == (0, "0001", 0, 0)
    assert "appeals:appeals@" not in status["store"]  # the password is never printed


def test_store_purge_by_id_file_and_age(
    capsys: pytest.CaptureFixture[str], store_url: str, tmp_path: Path
) -> None:
    _answered(store_url, ["a", "b", "c", "d"], "城乡建设")
    code, out, _ = run(capsys, "store", "purge", "--store", store_url, "--id", "a", "--id", "x")
    assert code == 0
    assert "deleted 1 of 2" in out
    assert "1 id(s) were not stored" in out
    ids = tmp_path / "deletion_requests.csv"
    pd.DataFrame({"工单编号": ["b", "c"]}).to_csv(ids, index=False)
    code, out, err = run(capsys, "store", "purge", "--store", store_url, "--ids-file", ids)
    assert code == 2
    assert "'id'" in err
    assert "工单编号" in err
    code, out, _ = run(
        capsys, "store", "purge", "--store", store_url, "--ids-file", ids, "--id-col", "工单编号"
    )
    assert "deleted 2 of 2" in out
    code, out, _ = run(capsys, "store", "purge", "--store", store_url, "--older-than", "1")
    assert "deleted 0 ticket(s)" in out
    code, _, err = run(capsys, "store", "purge", "--store", store_url)
    assert code == 2
    assert "--id ID" in err
    with TicketStore(store_url) as store:
        assert store.tickets()["id"].tolist() == ["d"]


def test_feedback_import_and_export(
    capsys: pytest.CaptureFixture[str], store_url: str, tmp_path: Path, models_dir: Path
) -> None:
    labels = Registry(models_dir).manifest("default", "v1")["labels"]
    _answered(store_url, ["t1", "t2", "t3"], labels[0])
    corrections = tmp_path / "派单结果.csv"
    pd.DataFrame(
        {
            "id": ["t1", "t2", "t404", "t3"],
            "label": [labels[1], "不存在的部门", labels[1], labels[0]],
        }
    ).to_csv(corrections, index=False)
    common = ("--store", store_url, "--models-dir", models_dir)
    code, out, _ = run(capsys, "feedback", "import", corrections, *common)
    assert code == 1  # some rows were rejected: they are in the rejects file, not lost
    assert "2 of 4 correction(s) stored" in out
    rejects = pd.read_csv(tmp_path / "派单结果.rejected.csv", dtype=str)
    assert rejects["id"].tolist() == ["t2", "t404"]
    assert rejects["row"].tolist() == ["2", "3"]
    assert "不存在的部门" in rejects["reason"][0]

    code, out, _ = run(
        capsys, "feedback", "import", corrections, *common, "--allow-new-label", "--json"
    )
    assert json.loads(out)["stored"] == 3

    export = tmp_path / "corrections.csv"
    code, out, _ = run(capsys, "feedback", "export", "--out", export, *common)
    assert code == 0
    frame = pd.read_csv(export, dtype=str, encoding="utf-8-sig")
    assert sorted(frame["id"]) == ["t1", "t2", "t3"]
    assert {"text", "title", "label", "predicted"} <= set(frame.columns)
    assert not frame["text"].str.contains(PHONE).any()

    everything = tmp_path / "tickets.parquet"
    code, _, _ = run(capsys, "feedback", "export", "--all", "--out", everything, *common)
    assert len(pd.read_parquet(everything)) == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"", "empty", id="empty-file"),
        pytest.param("工单编号,部门\nt1,水务\n".encode(), "'id'", id="wrong-columns"),
        pytest.param(b"\xff\xfe\x00garbage", "cannot be read", id="binary"),
    ],
)
def test_feedback_import_of_a_malformed_file_is_one_clear_line(
    capsys: pytest.CaptureFixture[str],
    store_url: str,
    tmp_path: Path,
    content: bytes,
    message: str,
) -> None:
    _answered(store_url, ["t1"], "水务")
    path = tmp_path / "corrections.csv"
    path.write_bytes(content)
    code, _, err = run(
        capsys, "feedback", "import", path, "--store", store_url, "--allow-new-label"
    )
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    with TicketStore(store_url) as store:
        assert store.counts()["corrected"] == 0


def test_store_commands_say_when_the_store_is_off_or_unreachable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("APPEALS_STORE_URL", "off")
    code, _, err = run(capsys, "store", "status")
    assert code == 2
    assert "off" in err
    assert "--store" in err
    code, _, err = run(
        capsys, "store", "status", "--store", "postgresql+psycopg://u:secret@127.0.0.1:9/x"
    )
    assert code == 2
    assert "Connection refused" in err or "connection" in err
    assert "secret" not in err
    code, _, err = run(capsys, "feedback", "export", "--out", tmp_path / "x.xlsx", "--store", "x")
    assert code == 2
    assert "unknown output format" in err


def test_train_on_the_stores_corrections(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    store_url: str,
    tmp_path: Path,
    demo_frame: pd.DataFrame,
    demo_sample_csv: Path,
) -> None:
    """`appeals train DATA --feedback` alone reads the corrections of the service's store
    (APPEALS_STORE_URL), and the new version's manifest says how many it used. DATA is a
    small sample of the demo data: what is checked is the plumbing, not the accuracy."""
    rows = demo_frame.sample(12, random_state=0)
    ids = [f"c{i}" for i in range(len(rows))]
    prediction = Prediction("水务", 0.5, [("水务", 0.5)], True, "low confidence")
    with TicketStore(store_url).open() as store:
        store.record(
            [
                Answer(i, text, None, "default", "v1", prediction, utc_now())
                for i, text in zip(ids, rows["text"], strict=True)
            ]
        )
        for ticket_id, label in zip(ids, rows["label"], strict=True):
            store.set_final(ticket_id, label, source="api")
    monkeypatch.setenv("APPEALS_STORE_URL", store_url)
    models = tmp_path / "models"
    code, out, err = run(
        capsys, "train", demo_sample_csv, "--models-dir", models, "--feedback", "--json"
    )
    assert code == 0, err
    used = json.loads(out)["data"]["feedback"]
    assert used["rows"] == 12
    assert used["used"] + used["held_out"] == 12
    assert "appeals:appeals@" not in used["source"]  # the password stays out of the manifest
    manifest = Registry(models).manifest("default", "v1")
    assert manifest["data"]["feedback"]["rows"] == 12
