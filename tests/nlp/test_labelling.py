"""What to label next: :func:`nlp.analysis.labelling.label_queue` on hand-built store frames."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from nlp.analysis.labelling import QUEUE_COLUMNS, label_queue
from nlp.errors import DataError
from nlp.store import ANSWER_COLUMNS

START = datetime(2026, 12, 1, 8, 0)


def ticket(
    ticket_id: str,
    text: str,
    *,
    label: str = "城乡建设",
    confidence: float = 0.9,
    margin: float = 0.8,
    runner_up: str = "环境保护",
    codes: tuple[str, ...] = (),
    final: str | None = None,
    minutes: int = 0,
) -> dict[str, Any]:
    """One row as :meth:`TicketStore.tickets` returns it."""
    return {
        "id": ticket_id,
        "answered_at": START + timedelta(minutes=minutes),
        "text": text,
        "title": None,
        "model_name": "default",
        "model_version": "v1",
        "label": label,
        "confidence": confidence,
        "margin": margin,
        "top_k": [
            {"label": label, "score": confidence},
            {"label": runner_up, "score": confidence - margin},
        ],
        "needs_review": bool(codes),
        "review_codes": list(codes),
        "final_label": final,
        "final_source": "api" if final else None,
        "final_by": None,
        "final_note": None,
        "corrected_at": START + timedelta(hours=1) if final else None,
    }


def frame(*rows: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(ANSWER_COLUMNS))


# Texts about different things, so that diversity never interferes where it is not tested.
CONFIDENT = "小区门口的路灯坏了一个多月没人修，晚上走路很不安全"
CLOSE = "学校附近的工地晚上施工噪音很大，孩子睡不着觉"
STRANGE = "请问今年的医保缴费标准是多少，在哪里可以办理"


def test_a_close_call_comes_before_a_confident_answer() -> None:
    queue = label_queue(
        frame(
            ticket("confident", CONFIDENT, confidence=0.95, margin=0.9),
            ticket("close", CLOSE, confidence=0.48, margin=0.03, codes=("close_call",)),
        )
    )
    assert queue["id"].tolist() == ["close", "confident"]
    assert queue["rank"].tolist() == [1, 2]
    assert queue.loc[0, "uncertainty"] == pytest.approx(0.97)
    assert "城乡建设 at 0.48, 环境保护 0.03 behind" in queue.loc[0, "why"]


def test_out_of_scope_lifts_a_ticket_above_an_equally_sure_one() -> None:
    queue = label_queue(
        frame(
            ticket("confident", CONFIDENT, margin=0.5),
            ticket("strange", STRANGE, margin=0.5, codes=("out_of_scope",)),
        )
    )
    assert queue["id"].tolist() == ["strange", "confident"]
    assert queue["out_of_scope"].tolist() == [True, False]
    assert queue.loc[0, "score"] == pytest.approx(0.5 + 0.5)
    assert "out of scope" in queue.loc[0, "why"]


def test_a_department_dispatchers_often_correct_comes_first() -> None:
    """Equal margins; the answers of 交通运输 were corrected 4 times out of 4, those of
    城乡建设 confirmed 4 times: disagreement ranks the 交通运输 ticket first."""
    history = [
        ticket(f"t{i}", f"旧工单{i}号", label="交通运输", final="城乡建设", minutes=-i - 10)
        for i in range(4)
    ] + [
        ticket(f"c{i}", f"老工单{i}号", label="城乡建设", final="城乡建设", minutes=-i - 20)
        for i in range(4)
    ]
    queue = label_queue(
        frame(
            *history,
            ticket("building", CONFIDENT, label="城乡建设", margin=0.5),
            ticket("transport", CLOSE, label="交通运输", margin=0.5),
        ),
        prior_corrections=4,
    )
    assert queue["id"].tolist() == ["transport", "building"]
    # Overall 4 of 8 moved (0.5); 交通运输: (4 + 4 * 0.5) / (4 + 4); 城乡建设: (0 + 2) / 8.
    assert queue["disagreement"].tolist() == [0.75, 0.25]
    assert (
        "dispatchers moved 4 of 4 corrected 交通运输 tickets elsewhere (100%)"
        in (queue.loc[0, "why"])
    )


def test_corrected_tickets_are_never_in_the_queue() -> None:
    queue = label_queue(
        frame(
            ticket("done", CLOSE, margin=0.01, final="环境保护"),
            ticket("open", CONFIDENT, margin=0.9),
        )
    )
    assert queue["id"].tolist() == ["open"]


def test_near_duplicates_are_dropped_and_counted() -> None:
    same = "A3区魏家坡小区门口垃圾堆积如山，臭气熏天，多次反映无人处理，请尽快清运"
    rows = [ticket(f"dup{i}", same + "！" * i, margin=0.01 + i / 1000, minutes=i) for i in range(5)]
    rows.append(ticket("other", CLOSE, margin=0.2))
    queue = label_queue(frame(*rows), limit=3)
    assert queue["id"].tolist() == ["dup0", "other"]
    assert queue["similar"].tolist() == [4, 0]
    assert "stands for 4 similar ticket(s)" in queue.loc[0, "why"]
    everything = label_queue(frame(*rows), limit=10, max_similarity=1.0)
    assert len(everything) == 6  # only exact copies count as one at 1.0


def test_limit_and_since() -> None:
    rows = [ticket(f"t{i}", f"第{i}件事：{CLOSE[i:]}{i}", minutes=i * 60) for i in range(6)]
    assert len(label_queue(frame(*rows), limit=2, max_similarity=1.0)) == 2
    recent = label_queue(frame(*rows), since=START + timedelta(hours=4), max_similarity=1.0)
    assert sorted(recent["id"]) == ["t4", "t5"]


def test_the_queue_has_its_columns_even_when_empty() -> None:
    empty = label_queue(frame(ticket("done", CLOSE, final="城乡建设")))
    assert list(empty.columns) == list(QUEUE_COLUMNS)
    assert empty.empty


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"limit": 0}, "limit must be a whole number"),
        ({"limit": 2.5}, "limit must be a whole number"),
        ({"max_similarity": 0}, "max_similarity is a cosine"),
        ({"uncertainty_weight": 0, "scope_weight": 0, "disagreement_weight": 0}, "not all zero"),
        ({"scope_weight": -1}, "non-negative"),
    ],
    ids=["limit-zero", "limit-float", "similarity-zero", "all-weights-zero", "negative-weight"],
)
def test_bad_options_say_what_is_wrong(options: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        label_queue(frame(ticket("a", CLOSE)), **options)


def test_a_frame_without_the_store_columns_is_refused() -> None:
    with pytest.raises(DataError, match="lack the column"):
        label_queue(pd.DataFrame({"id": ["a"], "text": ["x"]}))


def test_a_large_store_stays_quick() -> None:
    """Only the best-scored pool is vectorised: 20,000 tickets take about as long as 2,000
    (a generous bound that catches comparing every ticket with every other)."""
    import time

    def timed(n: int) -> float:
        rows = [
            ticket(f"t{i}", f"第{i}号工单：{CLOSE}{i % 97}", margin=(i % 100) / 100, minutes=i)
            for i in range(n)
        ]
        data = frame(*rows)
        began = time.perf_counter()
        label_queue(data, limit=20)
        return time.perf_counter() - began

    small, large = timed(2_000), timed(20_000)
    assert large < 10 * small + 1.0
