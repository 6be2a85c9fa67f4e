"""A hot-spot report (:func:`nlp.hotspots.hotspots`) taken apart for a reader: how each top
group's tickets arrived day by day, what each part of the heat index adds, and one group's
tickets. Everything here reads the report's tables, whose texts are already masked."""

from __future__ import annotations

import pandas as pd

from nlp.errors import DataError
from nlp.hotspots import HEAT_PARTS, HotspotReport, heat_parts

__all__ = ["heat_breakdown", "hotspot_tickets", "hotspot_timeline"]


def hotspot_timeline(report: HotspotReport) -> pd.DataFrame:
    """Tickets per day of each top group: one row per day from the first top ticket's day to
    the last one's (days without tickets are 0), one column per 问题ID in rank order."""
    messages = report.messages
    columns = list(report.problems["问题ID"])
    if messages.empty:
        return pd.DataFrame(columns=columns, index=pd.DatetimeIndex([], name="day"), dtype=int)
    days = pd.to_datetime(messages["留言时间"], format="%Y/%m/%d %H:%M:%S").dt.normalize()
    counts = pd.crosstab(days.rename("day"), messages["问题ID"])
    every_day = pd.date_range(counts.index.min(), counts.index.max(), freq="D", name="day")
    return counts.reindex(index=every_day, columns=columns, fill_value=0).rename_axis(
        columns="问题ID"
    )


def heat_breakdown(report: HotspotReport) -> pd.DataFrame:
    """One row per top group, in rank order: 热度排名, 问题ID, 地点/人群, the four parts of its
    heat index (``users``, ``tickets``, ``rate``, ``reactions``: each already multiplied by
    ``recency``, so they add up to ``heat``), ``recency`` and ``heat``."""
    groups = report.groups.set_index("problem_id")
    rows = []
    for rank, problem_id, place in report.problems[["热度排名", "问题ID", "地点/人群"]].itertuples(
        index=False
    ):
        group = groups.loc[problem_id]
        parts = heat_parts(
            tickets=int(group["tickets"]),
            users=int(group["users"]),
            days=float(group["days"]),
            likes=float(group["likes"]),
            dislikes=float(group["dislikes"]),
            age_days=float(group["age_days"]),
            half_life=report.half_life_days,
        )
        rows.append(
            {
                "热度排名": rank,
                "问题ID": problem_id,
                "地点/人群": place,
                **{name: parts[name] for name in HEAT_PARTS},
                "recency": parts["recency"],
                "heat": group["heat"],
            }
        )
    return pd.DataFrame(
        rows, columns=["热度排名", "问题ID", "地点/人群", *HEAT_PARTS, "recency", "heat"]
    )


def hotspot_tickets(report: HotspotReport, *, rank: int = 1) -> pd.DataFrame:
    """The tickets (热点问题留言明细表 rows, masked) of the group ranked ``rank``, in time
    order."""
    ranks = report.problems["热度排名"].tolist()
    if rank not in ranks:
        shown = f"1 to {len(ranks)}" if ranks else "none: the report has no hot spot"
        raise DataError(f"no hot spot ranked {rank}; the ranks are {shown}")
    problem_id = report.problems.loc[report.problems["热度排名"] == rank, "问题ID"].iloc[0]
    return report.messages[report.messages["问题ID"] == problem_id].reset_index(drop=True)
