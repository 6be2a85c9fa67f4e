"""Hot spots (热点问题): tickets about the same problem at the same place, grouped over time and
ranked by how hot they are, as the two tables of the Teddy Cup 2020 hot-spot task.

    >>> report = hotspots(frame, window="7d", top=5)
    >>> report.problems    # 热度排名, 问题ID, 热度指数, 时间范围, 地点/人群, 问题描述
    >>> report.messages  # 问题ID, 留言编号, 留言用户, 留言主题, 留言时间, 留言详情, 点赞数, 反对数

How tickets are grouped: a :class:`~nlp.similar.SimilarIndex` of the tickets (masked text,
time order) links each ticket to its earlier tickets within ``window`` whose similarity is at
least ``link_threshold`` and that name the same place (two tickets of which one names no place
need twice that similarity: vague requests would chain otherwise); the groups are
the connected components of those links (``scipy.sparse.csgraph``). The window bounds a link,
not a group: a problem reported every few days for months is one group. Groups with fewer than
``min_size`` tickets are not hot spots.

The heat index (热度指数) of a group, documented here and in the README::

    heat = 10 * (ln(1 + users) + 0.5 ln(1 + tickets) + 0.5 ln(1 + tickets per day)
                 + 0.25 ln(1 + likes + dislikes)) * 2 ** (-age / half_life)

``users``: distinct writers (the ticket count when the data has no user column); ``tickets
per day``: tickets over the days from the first to the last (at least one day); likes and
dislikes (点赞数, 反对数) when the data has them; ``age``: days from the group's last ticket to
the end of the period (``until``, else the last ticket of the data), so a problem that stopped
a month ago counts half. People count more than posts (one person posting ten times is not ten
people), arrival speed and support from readers add, and everything grows slowly (logarithms)
so that no single part decides. :func:`heat_parts` gives what each part adds.

地点/人群: the masked division most named in the group (``A市A5区``), its most named place
(an estate, road, village, school, company: :func:`nlp.similar.place_keys`) and the most named
group of people (业主, 家长, 投资人 ...). 问题描述: the group's defining words: content words (no
stop words or placeholders, :func:`nlp.explain.is_content_word`) ranked by how much more often the
group's tickets use them than all tickets do (TF-IDF of the group), places and people left out.
Every text shown is the masked normal form (:func:`nlp.text.normalise`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from nlp.documents import require_columns
from nlp.errors import DataError
from nlp.similar import SimilarIndex, content_words, parse_times, parse_window
from nlp.text import normalise

if TYPE_CHECKING:
    from nlp.location import Gazetteer

__all__ = [
    "CROWD_WORDS",
    "HEAT_HALF_LIFE_DAYS",
    "HEAT_PARTS",
    "MESSAGES_FILE",
    "MESSAGE_COLUMNS",
    "PROBLEMS_FILE",
    "PROBLEM_COLUMNS",
    "HotspotReport",
    "heat_index",
    "heat_parts",
    "hotspots",
    "write_report",
]

#: 热点问题表's columns.
PROBLEM_COLUMNS = ("热度排名", "问题ID", "热度指数", "时间范围", "地点/人群", "问题描述")
#: 热点问题留言明细表's columns.
MESSAGE_COLUMNS = (
    "问题ID",
    "留言编号",
    "留言用户",
    "留言主题",
    "留言时间",
    "留言详情",
    "点赞数",
    "反对数",
)
#: Groups of people a hot spot's writers belong to, most specific first.
CROWD_WORDS = (
    "投资人",
    "出借人",
    "购房者",
    "业主",
    "家长",
    "学生",
    "村民",
    "居民",
    "住户",
    "商户",
    "车主",
    "司机",
    "员工",
    "职工",
    "工人",
    "农民工",
    "教师",
    "老师",
    "患者",
    "老人",
    "考生",
    "租户",
    "消费者",
    "学员",
)
#: Days after which a group's heat halves when no new ticket came (:func:`heat_index`'s
#: default; :func:`hotspots` uses the period's length unless told).
HEAT_HALF_LIFE_DAYS = 30.0
_MIN_HALF_LIFE_DAYS = 7.0
#: Similarity at or above which two tickets at the same place are linked into one group
#: (stricter than a likely repeat: a link chains, so it must be surer).
DEFAULT_LINK_THRESHOLD = 0.20

_DIVISION = re.compile(r"[A-Z]市[A-Z][0-9]{0,2}[区县]|[A-Z][0-9]{1,2}[区县]|[A-Z]市")
_CROWD = re.compile("|".join(CROWD_WORDS))


@dataclass
class HotspotReport:
    """The two tables, and what is behind them.

    ``problems`` (热点问题表) and ``messages`` (热点问题留言明细表) are the competition's tables
    for the ``top`` groups; ``groups`` has every group of at least ``min_size`` tickets with
    the parts of its heat index (``tickets, users, days, rate, likes, dislikes, age_days,
    heat``, and ``members``: the 留言编号 of its tickets); ``rows`` says for every input row
    its 问题ID or why it has none (``reason``: ``empty_text``, ``outside_period``,
    ``no_group``, ``not_top``)."""

    problems: pd.DataFrame
    messages: pd.DataFrame
    groups: pd.DataFrame
    rows: pd.DataFrame
    window: timedelta | None
    period: tuple[datetime, datetime]
    notes: list[str] = field(default_factory=list)
    #: the half-life (days) the heat indices were cooled with (:func:`heat_parts`)
    half_life_days: float = HEAT_HALF_LIFE_DAYS


#: The parts of the heat index, as :func:`heat_parts` names them.
HEAT_PARTS = ("users", "tickets", "rate", "reactions")


def heat_parts(
    *,
    tickets: int,
    users: int,
    days: float,
    likes: float = 0.0,
    dislikes: float = 0.0,
    age_days: float = 0.0,
    half_life: float = HEAT_HALF_LIFE_DAYS,
) -> dict[str, float]:
    """What each part adds to the heat index of a group: ``users``, ``tickets``, ``rate``
    (tickets per day) and ``reactions`` (likes + dislikes), each already cooled by
    ``recency`` (``2 ** (-age / half_life)``, also returned), so that the four parts add up
    to :func:`heat_index`."""
    if half_life <= 0:
        raise DataError(f"half_life must be more than zero days, not {half_life}")
    recency = 2.0 ** (-max(age_days, 0.0) / half_life)
    rate = tickets / max(days, 1.0)
    weighted = {
        "users": math.log1p(users),
        "tickets": 0.5 * math.log1p(tickets),
        "rate": 0.5 * math.log1p(rate),
        "reactions": 0.25 * math.log1p(max(likes, 0.0) + max(dislikes, 0.0)),
    }
    return {**{k: 10.0 * v * recency for k, v in weighted.items()}, "recency": recency}


def heat_index(
    *,
    tickets: int,
    users: int,
    days: float,
    likes: float = 0.0,
    dislikes: float = 0.0,
    age_days: float = 0.0,
    half_life: float = HEAT_HALF_LIFE_DAYS,
) -> float:
    """The heat index of a group (see the module's documentation for the formula)."""
    parts = heat_parts(
        tickets=tickets,
        users=users,
        days=days,
        likes=likes,
        dislikes=dislikes,
        age_days=age_days,
        half_life=half_life,
    )
    return sum(parts[name] for name in HEAT_PARTS)


def _numbers(values: Sequence[object], *, what: str) -> np.ndarray:
    series = pd.to_numeric(pd.Series(list(values), dtype=object).replace("", 0), errors="coerce")
    bad = np.flatnonzero(series.isna().to_numpy())
    if len(bad):
        shown = ", ".join(f"row {i + 1} ({values[i]!r})" for i in bad[:3])
        raise DataError(f"{what}: {len(bad)} value(s) are not numbers: {shown}")
    return series.to_numpy(dtype=float)


def _texts(frame: pd.DataFrame, column: str | None, *, what: str) -> list[object]:
    """A text column's values; numbers where text goes are an error naming the rows."""
    if column is None or column not in frame.columns:
        return [None] * len(frame)
    values = frame[column].tolist()
    bad = [
        i
        for i, value in enumerate(values)
        if not isinstance(value, str)
        and value is not None
        and value is not pd.NA
        and not (isinstance(value, float) and value != value)
    ]
    if bad:
        shown = ", ".join(f"row {i + 1} ({values[i]!r})" for i in bad[:3])
        raise DataError(
            f"{what} column {column!r}: {len(bad)} value(s) are not text: {shown}; name the "
            "right column"
        )
    return values


def _day(value: Any, *, what: str) -> np.datetime64 | None:
    if value is None:
        return None
    try:
        return parse_times([value], what=what)[0]
    except DataError:
        raise DataError(f"{what} {value!r} is not a date; write it as 2019-11-01") from None


def hotspots(
    frame: pd.DataFrame,
    *,
    id_col: str = "id",
    time_col: str = "time",
    text_col: str = "text",
    title_col: str | None = "title",
    user_col: str | None = "user",
    likes_col: str | None = "likes",
    dislikes_col: str | None = "dislikes",
    since: Any = None,
    until: Any = None,
    window: str | timedelta | None = "7d",
    top: int = 5,
    min_size: int = 3,
    link_threshold: float = DEFAULT_LINK_THRESHOLD,
    half_life_days: float | None = None,
    gazetteer: Gazetteer | None = None,
) -> HotspotReport:
    """Group the tickets answered in [``since``, ``until``) about the same problem at the
    same place, rank the groups by heat, and build the two tables for the ``top`` groups.

    Required columns: ``id_col``, ``time_col`` and ``text_col`` (or ``title_col``); user,
    likes and dislikes are used when present. Raises :class:`DataError` for a missing
    column, times or counts that do not parse, a number where text goes, or a period with no
    tickets."""
    if top < 1:
        raise DataError(f"top must be at least 1, not {top}")
    if min_size < 2:
        raise DataError(
            f"min_size must be at least 2 (a hot spot has several tickets), not {min_size}"
        )
    require_columns(frame, [id_col, time_col], what="tickets")
    has_title = title_col is not None and title_col in frame.columns
    if text_col not in frame.columns and not has_title:
        require_columns(frame, [text_col], what="tickets")
    if frame.empty:
        raise DataError("the data has no rows: there is nothing to group")
    span = parse_window(window)
    texts = _texts(frame, text_col, what="text")
    titles = _texts(frame, title_col if has_title else None, what="title")
    times = parse_times(frame[time_col].tolist(), what=f"column {time_col!r}")
    likes = (
        _numbers(frame[likes_col].tolist(), what=f"column {likes_col!r}")
        if likes_col and likes_col in frame.columns
        else np.zeros(len(frame))
    )
    dislikes = (
        _numbers(frame[dislikes_col].tolist(), what=f"column {dislikes_col!r}")
        if dislikes_col and dislikes_col in frame.columns
        else np.zeros(len(frame))
    )
    users = (
        [str(u) for u in frame[user_col].tolist()]
        if user_col and user_col in frame.columns
        else [f"#{i}" for i in range(len(frame))]
    )
    ids = [str(v) for v in frame[id_col].tolist()]
    if len(set(ids)) != len(ids):
        duplicated = next(i for i, count in Counter(ids).items() if count > 1)
        raise DataError(
            f"column {id_col!r}: the id {duplicated!r} is used twice; ids must be unique"
        )
    start_at, end_at = _day(since, what="since"), _day(until, what="until")
    inside = np.ones(len(frame), dtype=bool)
    if start_at is not None:
        inside &= times >= start_at
    if end_at is not None:
        inside &= times < end_at
    if not inside.any():
        raise DataError(
            f"no tickets between {since or 'the start'} and {until or 'the end'} "
            f"(the data runs from {pd.Timestamp(times.min()):%Y-%m-%d} to "
            f"{pd.Timestamp(times.max()):%Y-%m-%d}); widen --since/--until"
        )
    positions = np.flatnonzero(inside)
    index = SimilarIndex(gazetteer=gazetteer)
    index.add(
        ids=[str(i) for i in positions],  # row positions, so the index maps back to rows
        times=list(times[positions]),
        texts=[texts[i] for i in positions],
        titles=[titles[i] for i in positions],
    )
    row_of = np.array([int(i) for i in index.ids], dtype=np.int64)
    reason = np.full(len(frame), "outside_period", dtype=object)
    reason[positions] = "empty_text"
    reason[row_of] = "no_group"
    problem_of = np.full(len(frame), None, dtype=object)

    links = index.neighbours(window=span, min_score=link_threshold, k=20)
    # Tickets that name no place link only when very alike: a vague request (请加快…建设)
    # would otherwise chain every such request into one group.
    named = np.array([bool(keys) for keys in index.places])
    both_named = named[links["source"].to_numpy()] & named[links["target"].to_numpy()]
    links = links[links["same_place"] & (both_named | (links["score"] >= 2 * link_threshold))]
    n = len(row_of)
    graph = sp.coo_matrix(
        (np.ones(len(links)), (links["source"].to_numpy(), links["target"].to_numpy())),
        shape=(n, n),
    )
    from scipy.sparse.csgraph import connected_components

    _, component = connected_components(graph, directed=False)
    sizes = np.bincount(component, minlength=1)
    period_end = end_at if end_at is not None else times[positions].max()
    period_start = start_at if start_at is not None else times[positions].min()
    half_life = half_life_days or max(
        float((period_end - period_start) / np.timedelta64(1, "D")), _MIN_HALF_LIFE_DAYS
    )
    docs = index.documents
    places = index.places
    # the words that describe a ticket: its title's when it has one (a writer's summary),
    # else its document's
    document_words = [
        content_words(normalise(titles[r])) if _has_text(titles[r]) else content_words(doc)
        for r, doc in zip(row_of, docs, strict=True)
    ]
    df = Counter(word for words in document_words for word in set(words))
    groups: list[dict[str, Any]] = []
    for label in np.flatnonzero(sizes >= min_size):
        members = np.flatnonzero(component == label)  # index positions, time order
        rows = row_of[members]
        first, last = times[rows].min(), times[rows].max()
        days = (last - first) / np.timedelta64(1, "D")
        age = (period_end - last) / np.timedelta64(1, "D")
        n_users = len({users[r] for r in rows})
        parts = {
            "tickets": float(len(rows)),
            "users": float(n_users),
            "days": max(float(days), 1.0),
            "likes": float(likes[rows].sum()),
            "dislikes": float(dislikes[rows].sum()),
            "age_days": max(float(age), 0.0),
        }
        parts["rate"] = parts["tickets"] / parts["days"]
        heat = heat_index(
            tickets=len(rows),
            users=n_users,
            days=parts["days"],
            likes=parts["likes"],
            dislikes=parts["dislikes"],
            age_days=parts["age_days"],
            half_life=half_life,
        )
        where = _where([docs[m] for m in members], [places[m] for m in members])
        groups.append(
            {
                **parts,
                "heat": round(heat, 2),
                "first": pd.Timestamp(first),
                "last": pd.Timestamp(last),
                "place": where,
                "description": _describe(
                    [document_words[m] for m in members],
                    df,
                    len(docs),
                    " ".join([where, *_top_places([places[m] for m in members], 3)]),
                ),
                "members": [ids[r] for r in rows],
                "_rows": rows,
            }
        )
    groups.sort(key=lambda g: (-g["heat"], -g["tickets"], g["first"]))
    for number, group in enumerate(groups, start=1):
        group["problem_id"] = number
        problem_of[group["_rows"]] = number
        reason[group["_rows"]] = "not_top" if number > top else ""
    shown = groups[:top]
    problems = pd.DataFrame(
        [
            (
                rank,
                g["problem_id"],
                g["heat"],
                f"{g['first']:%Y/%m/%d} 至 {g['last']:%Y/%m/%d}",
                g["place"],
                g["description"],
            )
            for rank, g in enumerate(shown, start=1)
        ],
        columns=list(PROBLEM_COLUMNS),
    )
    message_rows = []
    for g in shown:
        for r in sorted(g["_rows"], key=lambda r: times[r]):
            message_rows.append(
                (
                    g["problem_id"],
                    ids[r],
                    users[r] if user_col and user_col in frame.columns else "",
                    _masked(titles[r]),
                    f"{pd.Timestamp(times[r]):%Y/%m/%d %H:%M:%S}",
                    _masked(texts[r]),
                    int(likes[r]),
                    int(dislikes[r]),
                )
            )
    messages = pd.DataFrame(message_rows, columns=list(MESSAGE_COLUMNS))
    group_frame = pd.DataFrame(
        [{k: v for k, v in g.items() if k != "_rows"} for g in groups],
        columns=[
            "problem_id",
            "heat",
            "tickets",
            "users",
            "days",
            "rate",
            "likes",
            "dislikes",
            "age_days",
            "first",
            "last",
            "place",
            "description",
            "members",
        ],
    )
    row_frame = pd.DataFrame(
        {
            "留言编号": ids,
            "问题ID": [
                p if p is not None and r != "not_top" else None
                for p, r in zip(problem_of, reason, strict=True)
            ],
            "group": problem_of,
            "reason": reason,
        }
    )
    notes = []
    if not groups:
        notes.append(
            f"no group of {min_size} or more tickets about the same problem at the same place"
        )
    return HotspotReport(
        problems=problems,
        messages=messages,
        groups=group_frame,
        rows=row_frame,
        window=span,
        period=(
            pd.Timestamp(period_start).to_pydatetime(),
            pd.Timestamp(period_end).to_pydatetime(),
        ),
        notes=notes,
        half_life_days=half_life,
    )


def _has_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _masked(value: object) -> str:
    return normalise(value) if isinstance(value, str) else ""


def _where(documents: Sequence[str], places: Sequence[frozenset[str]]) -> str:
    """地点/人群: the most named masked division, place and group of people."""
    divisions = Counter(
        match for doc in documents for match in set(_DIVISION.findall(doc)) if len(match) > 2
    )
    named = Counter(key for keys in places for key in keys)
    # a place named by one ticket only is more likely a misread phrase than the group's place
    named = Counter({k: c for k, c in named.items() if c >= 2}) or named
    crowds = Counter(word for doc in documents for word in set(_CROWD.findall(doc)))
    parts: list[str] = []
    if divisions:
        parts.append(_most_common(divisions, 1)[0][0])
    if named:
        place, count = _most_common(named, 1)[0]
        # a longer name that contains the most named one says more (伊景园滨河苑 for 滨河苑)
        longer = [k for k, c in named.items() if place in k and k != place and c * 2 >= count]
        place = max(longer, key=len) if longer else place
        # two names written together (伊景园滨河苑: an estate and its phase) are one place
        for other, _ in _most_common(named, 5):
            for joined in (other + place, place + other):
                if other != place and sum(joined in doc for doc in documents) * 3 >= count:
                    place = joined
                    break
            else:
                continue
            break
        if not parts or place not in parts[0]:
            parts.append(place)
    if crowds:
        parts.append(_most_common(crowds, 1)[0][0])
    return " ".join(parts)


def _most_common(counts: Counter[str], n: int | None = None) -> list[tuple[str, int]]:
    """``counts.most_common(n)`` with ties broken by the key: the order of a Counter built
    from sets of strings changes from one process to the next (hash randomisation)."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ranked if n is None else ranked[:n]


def _top_places(places: Sequence[frozenset[str]], n: int = 8) -> list[str]:
    return [key for key, _ in _most_common(Counter(k for keys in places for k in keys), n)]


def _describe(
    words: Sequence[Sequence[str]], df: Counter[str], total: int, where: str, *, terms: int = 4
) -> str:
    """问题描述: the group's most defining content words (TF-IDF over the group), not its place
    or people, in the order the group's tickets most often use them."""
    counts = Counter(word for ticket in words for word in set(ticket))
    scored = []
    pieces = {where[i : i + 2] for i in range(len(where) - 1)}
    for word, count in counts.items():
        if (
            any(word[i : i + 2] in pieces for i in range(len(word) - 1))
            or any(crowd in word for crowd in CROWD_WORDS)
            or _DIVISION.search(word)
            or word[0] in "市区县省"  # the end of a masked division cut off its name (市伊)
        ):
            continue
        if count < max(2, math.ceil(0.3 * len(words))):
            continue
        scored.append((count * math.log((1 + total) / (1 + df[word])), word))
    scored.sort(reverse=True)
    chosen: list[str] = []
    for _, word in scored:
        if any(word in other or other in word for other in chosen):
            continue
        chosen.append(word)
        if len(chosen) == terms:
            break
    return "、".join(chosen)


#: The files :func:`write_report` writes, without their extension.
PROBLEMS_FILE = "热点问题表"
MESSAGES_FILE = "热点问题留言明细表"


def write_report(report: HotspotReport, out_dir: str | Path) -> list[Path]:
    """Write both tables into ``out_dir`` (created if needed) as CSV for Excel (UTF-8 with a
    byte-order mark) and as Parquet; returns the paths written."""
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{folder}: not a folder; name a folder for the tables with --out")
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, table in ((PROBLEMS_FILE, report.problems), (MESSAGES_FILE, report.messages)):
        csv_path = folder / f"{name}.csv"
        table.to_csv(csv_path, index=False, encoding="utf-8-sig")
        parquet_path = folder / f"{name}.parquet"
        table.to_parquet(parquet_path, index=False)
        written += [csv_path, parquet_path]
    return written
