"""What a classify route hands the ticket store's writer: everything the store keeps, and not
the explanation, which would only wait in the writer's queue with the answer (and lengthen
the garbage collector's young collections meanwhile: bench/serve.py --sections store)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from nlp.model import Prediction, Term
from nlp.store import Answer, StoreWriter, TicketStore
from service.routes import _store


class Served:
    name = "default"
    version = "v3"


def test_the_writer_gets_the_stored_fields_without_the_explanation(tmp_path: Path) -> None:
    prediction = Prediction(
        "环境保护",
        0.61,
        [("环境保护", 0.61), ("城乡建设", 0.3)],
        True,
        "low margin",
        ["low_margin"],
        [Term("油烟", 0.4, [("text", 3, 5)]), Term("烧烤", 0.2, [("text", 0, 2)])],
    )
    writer = StoreWriter(TicketStore(f"sqlite:///{tmp_path / 'tickets.db'}"))  # not started
    now = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    ids = _store(writer, Served(), [("t-1", "烧烤油烟，电话13812345678", None, prediction)], now)

    assert ids == ["t-1"]
    queued: Answer = writer._queue.get_nowait()
    assert queued.answered_at == now
    assert queued.prediction.explanation == []
    assert queued.prediction.explanation is not prediction.explanation
    whole = Answer("t-1", queued.text, None, "default", "v3", prediction, queued.answered_at)
    assert queued.row() == whole.row()  # the stored row is the same
    assert prediction.explanation  # the answer sent back keeps its explanation
