"""Drift in sight: :func:`daily_summary` and :func:`drift_alerts` on a hand-built store frame,
with the numbers worked out by hand."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import pandas as pd
import pytest

from nlp.analysis.monitor import (
    SUMMARY_COLUMNS,
    daily_summary,
    drift_alerts,
    label_shares,
    training_distribution,
)
from nlp.errors import DataError
from nlp.store import ANSWER_COLUMNS


def answer(
    day: int,
    label: str,
    *,
    version: str = "v1",
    confidence: float = 0.9,
    review: bool = False,
    final: str | None = None,
    hour: int = 9,
) -> dict[str, Any]:
    row = dict.fromkeys(ANSWER_COLUMNS)
    row.update(
        id=f"{day}-{label}-{hour}-{confidence}-{final}-{version}",
        answered_at=datetime(2026, 12, day, hour),
        text="……",
        model_name="default",
        model_version=version,
        label=label,
        confidence=confidence,
        margin=0.5,
        top_k=[],
        needs_review=review,
        review_codes=[],
        final_label=final,
    )
    return row


# 1 December, v1: four tickets, 城乡建设 x3 and 环境保护 x1; one flagged for review;
# confidences 0.9, 0.8, 0.6, 0.5; two given a final department, one of them moved.
# 2 December: v1 one ticket (环境保护, no final); v2 two tickets (交通运输, both given a final
# department, one moved). Hours differ so that ids differ.
ROWS = [
    answer(1, "城乡建设", confidence=0.9, final="城乡建设", hour=8),
    answer(1, "城乡建设", confidence=0.8, final="环境保护", hour=9),
    answer(1, "城乡建设", confidence=0.6, hour=10),
    answer(1, "环境保护", confidence=0.5, review=True, hour=23),
    answer(2, "环境保护", confidence=0.7, hour=0),
    answer(2, "交通运输", version="v2", confidence=0.4, review=True, final="交通运输", hour=1),
    answer(2, "交通运输", version="v2", confidence=0.8, final="城乡建设", hour=2),
]


@pytest.fixture
def summary() -> pd.DataFrame:
    return daily_summary(pd.DataFrame(ROWS, columns=list(ANSWER_COLUMNS)))


def test_daily_summary_per_day_and_version(summary: pd.DataFrame) -> None:
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    keys = list(zip(summary["day"], summary["model_version"], strict=True))
    assert keys == [(date(2026, 12, 1), "v1"), (date(2026, 12, 2), "v1"), (date(2026, 12, 2), "v2")]
    assert summary["tickets"].tolist() == [4, 1, 2]
    assert summary["review_rate"].tolist() == [0.25, 0.0, 0.5]
    assert summary["mean_confidence"].tolist() == pytest.approx([0.7, 0.7, 0.6])
    assert summary["final"].tolist() == [2, 0, 2]
    assert summary["changed"].tolist() == [1, 0, 1]
    rates = summary["correction_rate"].tolist()
    assert rates[0] == 0.5
    assert math.isnan(rates[1])
    assert rates[2] == 0.5
    assert summary["shares"].tolist() == [
        {"城乡建设": 0.75, "环境保护": 0.25},
        {"环境保护": 1.0},
        {"交通运输": 1.0},
    ]


def test_label_shares_is_a_table(summary: pd.DataFrame) -> None:
    table = label_shares(summary)
    assert list(table.columns) == ["交通运输", "城乡建设", "环境保护"]
    assert table.loc[(date(2026, 12, 1), "v1")].tolist() == [0.0, 0.75, 0.25]


def test_drift_alerts_name_the_department_and_the_bound(summary: pd.DataFrame) -> None:
    training = {"城乡建设": 50, "环境保护": 30, "交通运输": 20}  # counts: 50 %, 30 %, 20 %
    alerts = drift_alerts(
        summary.iloc[:1],
        training_shares={"v1": training},
        share_bound=0.10,
        correction_bound=0.4,
        min_tickets=1,
        min_final=1,
    )
    assert alerts == [
        "2026-12-01 v1: 城乡建设 share 75% vs 50% in training (bound ±10 points)",
        "2026-12-01 v1: 交通运输 share 0% vs 20% in training (bound ±10 points)",
        "2026-12-01 v1: correction rate 50% above 40% (1 of 2 tickets given a department "
        "were moved)",
    ]


def test_no_alert_within_the_bounds_or_on_thin_days(summary: pd.DataFrame) -> None:
    training = {"城乡建设": 0.75, "环境保护": 0.25}
    assert (
        drift_alerts(
            summary.iloc[:1],
            training_shares=training,  # one mapping for every version
            share_bound=0.05,
            correction_bound=0.5,  # 50 % is not above 50 %
            min_tickets=1,
            min_final=1,
        )
        == []
    )
    # The defaults ask for 30 tickets and 10 final departments a day: these days are too thin.
    assert (
        drift_alerts(summary, training_shares={"v1": {"城乡建设": 1}, "v2": {"城乡建设": 1}}) == []
    )


def test_a_version_without_training_distribution_is_said_once(summary: pd.DataFrame) -> None:
    alerts = drift_alerts(
        summary, training_shares={"v1": {"城乡建设": 0.75, "环境保护": 0.25}}, min_tickets=1
    )
    assert alerts == [
        "2026-12-02 v1: 城乡建设 share 0% vs 75% in training (bound ±10 points)",
        "2026-12-02 v1: 环境保护 share 100% vs 25% in training (bound ±10 points)",
        "v2: no training distribution (no data.class_counts in its manifest); its department "
        "shares are not checked",
    ]


def test_training_distribution_from_a_manifest() -> None:
    manifest = {"data": {"class_counts": {"城乡建设": 3, "环境保护": 1}}}
    assert training_distribution(manifest) == {"城乡建设": 0.75, "环境保护": 0.25}
    assert training_distribution({"data": {}}) == {}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"training_shares": {"v1": {"城乡建设": -1}}}, "give a count or a share"),
        ({"training_shares": {"v1": "城乡建设"}}, "give department -> share"),
        ({"training_shares": {}, "share_bound": 10}, "share_bound is a share"),
        ({"training_shares": ["v1"]}, "maps each model version"),
    ],
    ids=["negative-count", "not-a-mapping", "bound-in-points", "a-list"],
)
def test_bad_options_say_what_is_wrong(
    summary: pd.DataFrame, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(DataError, match=message):
        drift_alerts(summary, **options)


def test_empty_store_and_wrong_frame() -> None:
    empty = daily_summary(pd.DataFrame(columns=list(ANSWER_COLUMNS)))
    assert list(empty.columns) == list(SUMMARY_COLUMNS)
    assert empty.empty
    assert drift_alerts(empty, training_shares={}) == []
    with pytest.raises(DataError, match="lack the column"):
        daily_summary(pd.DataFrame({"label": ["城乡建设"]}))
