"""What to label next, from its two clients: ``GET /v1/feedback/queue`` and
``appeals feedback queue``, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from conftest import MakeClient
from service_testing import CLASSIFY_KEY
from store_testing import TEXTS, record

from nlp.analysis.labelling import QUEUE_COLUMNS
from nlp.model import RoutingModel
from nlp.store import TicketStore, import_corrections
from service.cli import main


def answer_and_correct(client: object, labels: list[str]) -> dict[str, str]:
    """Classify every ticket of TEXTS (ids q0..q7), then give q1 another department and
    confirm q2's: the predicted department of each."""
    predicted = {}
    for i, text in enumerate(TEXTS):
        response = client.post("/v1/classify", json={"text": text, "id": f"q{i}"})  # type: ignore[attr-defined]
        assert response.status_code == 200, response.text
        predicted[f"q{i}"] = response.json()["label"]
    other = next(label for label in labels if label != predicted["q1"])
    for ticket_id, label in (("q1", other), ("q2", predicted["q2"])):
        response = client.post("/v1/feedback", json={"id": ticket_id, "label": label})  # type: ignore[attr-defined]
        assert response.status_code == 200, response.text
    return predicted


def test_the_queue_endpoint_ranks_uncorrected_tickets_masked(
    make_client: MakeClient, store_url: str, tiny_model: RoutingModel
) -> None:
    client = make_client(store_url=store_url)
    predicted = answer_and_correct(client, tiny_model.labels)

    response = client.get("/v1/feedback/queue", params={"limit": 50})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["considered"] == len(TEXTS) - 2
    items = body["items"]
    ids = [item["id"] for item in items]
    assert sorted(ids) == sorted(f"q{i}" for i in range(len(TEXTS)) if i not in (1, 2))
    assert [item["rank"] for item in items] == list(range(1, len(items) + 1))
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)
    for item in items:
        assert item["predicted"] == predicted[item["id"]]
        assert item["why"].startswith(item["predicted"])
        assert item["uncertainty"] == pytest.approx(1 - item["margin"], abs=1e-3)
        assert item["answered_at"].endswith("Z")
    phone = next(item for item in items if item["id"] == "q0")
    assert "13812345678" not in response.text
    assert "<PHONE>" in phone["text"]

    top = client.get("/v1/feedback/queue", params={"limit": 2}).json()
    assert [item["id"] for item in top["items"]] == ids[:2]
    later = client.get("/v1/feedback/queue", params={"since": "2100-01-01"}).json()
    assert later == {"considered": 0, "items": []}


def test_the_queue_needs_a_key_and_a_valid_limit(make_client: MakeClient) -> None:
    from service_testing import ADMIN_KEY

    client = make_client(classify_keys=frozenset({CLASSIFY_KEY}), admin_keys=frozenset({ADMIN_KEY}))
    assert client.get("/v1/feedback/queue").status_code == 401
    headers = {"X-API-Key": CLASSIFY_KEY}
    assert client.get("/v1/feedback/queue", headers=headers).status_code == 200
    for bad in ("0", "501", "many"):
        response = client.get("/v1/feedback/queue", params={"limit": bad}, headers=headers)
        assert response.status_code == 422, bad
        error = response.json()["error"]
        assert error["code"] == "invalid_request"
        assert error["fields"][0]["path"] == "query.limit"
    response = client.get("/v1/feedback/queue", params={"since": "soon"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["path"] == "query.since"


def test_the_queue_is_503_when_the_store_is_off(make_client: MakeClient) -> None:
    response = make_client(store_url="off").get("/v1/feedback/queue")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "store_off"
    assert "APPEALS_STORE_URL" in error["message"]


# --------------------------------------------------------------------------- the command
@pytest.fixture
def store(store_url: str) -> Iterator[TicketStore]:
    opened = TicketStore(store_url).open()
    yield opened
    opened.close()


def test_feedback_queue_writes_a_csv_for_excel_that_import_reads_back(
    capsys: pytest.CaptureFixture[str],
    store: TicketStore,
    tmp_path: Path,
    tiny_model: RoutingModel,
) -> None:
    answers = record(store, tiny_model)
    moved = next(label for label in tiny_model.labels if label != answers[3].prediction.label)
    store.set_final("t3", moved, source="api")
    out = tmp_path / "queue.csv"

    code = main(["feedback", "queue", "--store", store.url, "--limit", "4", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert f"4 of {len(TEXTS) - 1} ticket(s) without a final department written" in printed
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads the Chinese
    assert b"13812345678" not in raw
    queue = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert len(queue) == 4
    assert "t3" not in set(queue["id"])
    assert list(queue.columns) == list(QUEUE_COLUMNS)
    assert set(queue["label"]) == {""}

    # The dispatcher fills in the label column; the import reads the file as it is.
    queue.loc[0, "label"] = queue.loc[0, "predicted"]
    report = import_corrections(store, queue, known_labels=tiny_model.labels)
    assert report.stored == 1
    assert set(report.rejected["id"]) == set(queue["id"][1:])  # the blank rows
    assert store.get(queue.loc[0, "id"])["final_label"] == queue.loc[0, "predicted"]


def test_feedback_queue_needs_an_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'tickets.db'}"
    code = main(["feedback", "queue", "--store", store])
    assert code == 2
    assert "appeals feedback queue --out FILE.csv" in capsys.readouterr().err
    code = main(["feedback", "queue", "--store", store, "--out", str(tmp_path / "q.docx")])
    assert code == 2
    assert "q.docx" in capsys.readouterr().err
