"""A hot-spot report taken apart (nlp.analysis.hotspots), as notebook 04 shows it."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from nlp.analysis import heat_breakdown, hotspot_tickets, hotspot_timeline
from nlp.errors import DataError
from nlp.hotspots import HEAT_PARTS, HotspotReport, heat_index, heat_parts, hotspots
from tests.nlp.hotspot_fixtures import PHONE, board


@pytest.fixture(scope="module")
def report() -> HotspotReport:
    return hotspots(board(), window="7d", top=5)


def _problem_id(report: HotspotReport, members: set[str]) -> int:
    for problem_id, group in report.messages.groupby("问题ID"):
        if set(group["留言编号"]) == members:
            return int(problem_id)
    raise AssertionError(f"no top group with {members}")


_PARTS = [
    pytest.param(
        dict(tickets=6, users=5, days=14), {"recency": 1.0}, id="fresh"
    ),
    pytest.param(
        dict(tickets=6, users=5, days=14, likes=20, dislikes=9, age_days=30, half_life=30),
        {"recency": 0.5},
        id="one-half-life-old",
    ),
    pytest.param(
        dict(tickets=1, users=1, days=0.5, age_days=-3),
        {"recency": 1.0, "rate": 10 * 0.5 * math.log(2)},  # one ticket a day, not two
        id="under-a-day-counts-as-one",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("given", "expected"), _PARTS)
def test_heat_parts_add_up_to_the_heat_index(
    given: dict[str, float], expected: dict[str, float]
) -> None:
    parts = heat_parts(**given)  # type: ignore[arg-type]
    assert sum(parts[name] for name in HEAT_PARTS) == pytest.approx(heat_index(**given))  # type: ignore[arg-type]
    for name, value in expected.items():
        assert parts[name] == pytest.approx(value)


def test_heat_parts_reject_a_half_life_of_zero() -> None:
    with pytest.raises(DataError, match="half_life must be more than zero"):
        heat_parts(tickets=3, users=3, days=1, half_life=0)


def test_the_report_keeps_the_half_life_it_cooled_with(report: HotspotReport) -> None:
    # the period runs 2020-04-20 10:00 to 2020-05-14 20:00: 24.4 days
    assert report.half_life_days == pytest.approx(24 + 10 / 24)
    assert hotspots(board(), half_life_days=10).half_life_days == 10


def test_heat_breakdown_explains_each_top_group(report: HotspotReport) -> None:
    breakdown = heat_breakdown(report)
    assert list(breakdown["问题ID"]) == list(report.problems["问题ID"])
    assert list(breakdown["热度排名"]) == list(report.problems["热度排名"])
    parts = breakdown[list(HEAT_PARTS)].sum(axis=1)
    assert parts.to_numpy() == pytest.approx(breakdown["heat"].to_numpy(), abs=0.01)
    assert breakdown["recency"].between(0, 1).all()
    plant = breakdown.iloc[0]
    assert plant["reactions"] > 0  # the plant's tickets have likes
    assert plant["recency"] == pytest.approx(1.0)  # its last ticket ends the period


def test_the_timeline_counts_each_groups_tickets_per_day(report: HotspotReport) -> None:
    timeline = hotspot_timeline(report)
    assert list(timeline.columns) == list(report.problems["问题ID"])
    days = pd.to_datetime(timeline.index)
    assert days[0] == pd.Timestamp("2020-04-20")
    assert days[-1] == pd.Timestamp("2020-05-14")
    assert len(days) == 25  # every day, the quiet ones too
    plant = timeline[_problem_id(report, {"m1", "m2", "m3", "m4", "m5", "m6"})]
    busy = {f"{day:%m-%d}" for day, count in plant.items() if count}
    assert busy == {"05-01", "05-03", "05-05", "05-08", "05-12", "05-14"}
    sizes = report.messages.groupby("问题ID").size()
    assert timeline.sum().to_dict() == sizes.to_dict()


def test_no_hot_spot_is_an_empty_timeline_and_breakdown() -> None:
    quiet = hotspots(board(), min_size=10)
    assert quiet.problems.empty
    assert hotspot_timeline(quiet).empty
    assert heat_breakdown(quiet).empty


def test_one_groups_tickets_in_time_order_and_masked(report: HotspotReport) -> None:
    plant = hotspot_tickets(report, rank=1)
    assert list(plant["留言编号"]) == ["m1", "m2", "m3", "m4", "m5", "m6"]
    assert list(plant["留言时间"]) == sorted(plant["留言时间"])
    cells = " ".join(str(cell) for row in plant.itertuples(index=False) for cell in row)
    assert PHONE not in cells
    assert "<PHONE>" in cells


@pytest.mark.parametrize("rank", [0, 4, 99])
def test_a_rank_that_is_not_there_says_which_are(report: HotspotReport, rank: int) -> None:
    with pytest.raises(DataError, match=rf"no hot spot ranked {rank}; the ranks are 1 to 3"):
        hotspot_tickets(report, rank=rank)


def test_a_report_without_hot_spots_has_no_rank() -> None:
    with pytest.raises(DataError, match="the report has no hot spot"):
        hotspot_tickets(hotspots(board(), min_size=10))
