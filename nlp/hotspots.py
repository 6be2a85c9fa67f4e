"""Hot spots (热点问题): tickets about the same problem at the same place, grouped over time and
ranked by how hot they are, as the two tables of the Teddy Cup 2020 hot-spot task.

    >>> report = hotspots(frame, window="7d", top=5)
    >>> report.problems    # 热度排名, 问题ID, 热度指数, 时间范围, 地点/人群, 问题描述
    >>> report.messages  # 问题ID, 留言编号, 留言用户, 留言主题, 留言时间, 留言详情, 点赞数, 反对数

How tickets are grouped: a :class:`~nlp.similar.SimilarIndex` of the tickets (masked text,
time order) links each ticket to its earlier tickets within ``window`` whose similarity is at
least ``link_threshold``, that name the same place and that complain about the same problem
(:func:`nlp.similar.same_problem`: two tickets whose objects on the word list differ, a broken
lift and the parking fee of one estate, are not linked, however alike their estate makes
them; two tickets of which one names no place need twice that similarity: vague requests
would chain otherwise); the groups are
the connected components of those links (``scipy.sparse.csgraph``). The window bounds a link,
not a group: a problem reported every few days for months is one group. Groups with fewer than
``min_size`` tickets are not hot spots.

The tickets are walked through in time order, a block at a time (:class:`_Linker`): each
block is prepared (here, or by worker processes: ``jobs``), linked to the tickets before it,
and then the index forgets the tickets no later one can reach, so it holds one window, not the
data; a file is read in chunks (:func:`nlp.io.iter_chunks`) and its text is not held whole
when its tickets are in time order, or nearly.

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
(an estate, road, village, school, company: :func:`nlp.similar.place_keys`; a name counts
with the names that share four characters with it, the ways one estate is written) and the
most named group of people (业主, 家长, 投资人 ...). 问题描述: the group's defining words:
content words (no stop words or placeholders, :func:`nlp.explain.is_content_word`) ranked by
how much more often the group's tickets use them than all tickets do (TF-IDF of the group),
places and people left out.
Every text shown is the masked normal form (:func:`nlp.text.normalise`).
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import os
import re
import sys
from array import array
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from nlp.documents import require_columns
from nlp.errors import DataError, WorkerLostError
from nlp.io import iter_chunks
from nlp.similar import (
    PreparedBlock,
    SimilarIndex,
    content_words,
    documents_of,
    parse_times,
    parse_window,
    prepare_block,
)
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


def _texts(
    frame: pd.DataFrame, column: str | None, *, what: str, first_row: int = 0
) -> list[object]:
    """A text column's values; numbers where text goes are an error naming the rows
    (``first_row``: the frame's first row in its file)."""
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
        shown = ", ".join(f"row {first_row + i + 1} ({values[i]!r})" for i in bad[:3])
        raise DataError(
            f"{what} column {column!r}: {len(bad)} value(s) are not text: {shown}; name the "
            "right column"
        )
    return values


def _strings(values: pd.Series) -> pd.Series:
    """Each value as its ``str``, in a column of strings: a few bytes a ticket, where a list
    of Python strings costs some 70 (ids and writers are kept for the whole run)."""
    return pd.Series([str(value) for value in values.tolist()], dtype="str")


def _day(value: Any, *, what: str) -> np.datetime64 | None:
    if value is None:
        return None
    try:
        return parse_times([value], what=what)[0]
    except DataError:
        raise DataError(f"{what} {value!r} is not a date; write it as 2019-11-01") from None


def hotspots(
    data: pd.DataFrame | str | Path,
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
    jobs: int = 1,
) -> HotspotReport:
    """Group the tickets answered in [``since``, ``until``) about the same problem at the
    same place, rank the groups by heat, and build the two tables for the ``top`` groups.

    Required columns: ``id_col``, ``time_col`` and ``text_col`` (or ``title_col``); user,
    likes and dislikes are used when present. Raises :class:`DataError` for a missing
    column, times or counts that do not parse, a number where text goes, or a period with no
    tickets. ``jobs``: processes that prepare the tickets (mask, segment, count, find places)
    while this one links them (-1: one per core; no more than there are blocks of
    :data:`TASK_ROWS` tickets); the answer is the same for any number.

    ``data``: a frame, or a file (CSV, Excel, JSON Lines, Parquet) read in chunks with
    :func:`nlp.io.iter_chunks`: once for ids, times, writers and counts (the text is checked
    and let go), once more for the text in time order, and last for the rows of the tables.
    The text of a file whose tickets are in time order (as exports are), or nearly (a chunk
    is held until the walk has taken its tickets), is never held whole; a file far out of
    time order is read whole once, for its text."""
    if jobs == -1:
        jobs = os.cpu_count() or 1
    if jobs < 1:
        raise DataError(f"jobs must be -1 (one per core) or at least 1, not {jobs}")
    if top < 1:
        raise DataError(f"top must be at least 1, not {top}")
    if min_size < 2:
        raise DataError(
            f"min_size must be at least 2 (a hot spot has several tickets), not {min_size}"
        )
    small = [c for c in (id_col, time_col, user_col, likes_col, dislikes_col) if c]
    fields: _Fields
    if isinstance(data, pd.DataFrame):
        frame = data
        has_title = _check_columns(frame, id_col, time_col, text_col, title_col)
        fields = _ListFields(
            _texts(frame, text_col, what="text"),
            _texts(frame, title_col if has_title else None, what="title"),
        )
    else:
        frame, fields = _scan(Path(data), small, id_col, time_col, text_col, title_col)
    if frame.empty:
        raise DataError("the data has no rows: there is nothing to group")
    span = parse_window(window)
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
    users = _strings(frame[user_col]) if user_col and user_col in frame.columns else None
    ids = _strings(frame[id_col])
    duplicated = ids[ids.duplicated(keep=False)]
    if len(duplicated):
        raise DataError(
            f"column {id_col!r}: the id {duplicated.iloc[0]!r} is used twice; ids must be unique"
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
    order = positions[np.argsort(times[positions], kind="stable")]
    linker = _Linker(span=span, link_threshold=link_threshold, gazetteer=gazetteer)
    # no more workers than blocks: a worker takes seconds to start, a block as long to prepare
    workers = min(jobs, -(-len(order) // TASK_ROWS))
    for rows, block, words in _prepared_blocks(
        fields.blocks(order, TASK_ROWS), gazetteer=gazetteer, jobs=workers
    ):
        linker.add(rows, times[rows], block, words)
    grouping = linker.finish()
    row_of = grouping.rows
    reason = np.full(len(frame), "outside_period", dtype=object)
    reason[positions] = "empty_text"
    reason[row_of] = "no_group"
    problem_of = np.full(len(frame), None, dtype=object)
    component = grouping.component
    sizes = np.bincount(component, minlength=1)
    period_end = end_at if end_at is not None else times[positions].max()
    period_start = start_at if start_at is not None else times[positions].min()
    half_life = half_life_days or max(
        float((period_end - period_start) / np.timedelta64(1, "D")), _MIN_HALF_LIFE_DAYS
    )
    held = grouping.held
    grouped = np.flatnonzero(sizes[component] >= min_size)
    written = fields.get(sorted(row_of[grouped].tolist()))  # title and text, as given
    documents = dict(
        zip(
            written,
            documents_of([text for _, text in written.values()], [t for t, _ in written.values()]),
            strict=True,
        )
    )
    groups: list[dict[str, Any]] = []
    for label in np.flatnonzero(sizes >= min_size):
        members = np.flatnonzero(component == label).tolist()  # ticket numbers, time order
        rows = row_of[members]
        first, last = times[rows].min(), times[rows].max()
        days = (last - first) / np.timedelta64(1, "D")
        age = (period_end - last) / np.timedelta64(1, "D")
        n_users = len(rows) if users is None else users.iloc[rows].nunique()
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
        where = _where(
            [documents[r] or "" for r in rows.tolist()], [held[m].places for m in members]
        )
        groups.append(
            {
                **parts,
                "heat": round(heat, 2),
                "first": pd.Timestamp(first),
                "last": pd.Timestamp(last),
                "place": where,
                "description": _describe(
                    [held[m].words for m in members],
                    grouping.df,
                    len(row_of),
                    " ".join([where, *_top_places([held[m].places for m in members], 3)]),
                ),
                "members": ids.iloc[rows].tolist(),
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
            title, text = written[r]
            message_rows.append(
                (
                    g["problem_id"],
                    ids.iloc[r],
                    "" if users is None else users.iloc[r],
                    _masked(title),
                    f"{pd.Timestamp(times[r]):%Y/%m/%d %H:%M:%S}",
                    _masked(text),
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


# ----------------------------------------------------------------------------- linking

#: Tickets prepared before the first links are asked for: the index's IDF is fitted on them
#: all at once (data of up to this many tickets is grouped as if indexed in one go); later
#: tickets are linked a block at a time, and the IDF is refitted whenever the tickets seen
#: have doubled (:class:`~nlp.similar.SimilarIndex`).
FIRST_BLOCK_ROWS = 20_000
#: Tickets one preparation task holds (a block of the walk through time).
TASK_ROWS = 2_000


@dataclass(frozen=True, slots=True)
class _Held:
    """What a group needs of a linked ticket: its places and describing words (each once,
    interned: a word is one string however many tickets use it)."""

    places: frozenset[str]
    words: tuple[str, ...]


class _Vocabulary:
    """Strings as integer codes: each distinct string once, coded in the order first seen."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}
        self.strings: list[str] = []

    def code(self, string: str) -> int:
        """The code of ``string`` (the next one, when it is new)."""
        code = self._codes.get(string)
        if code is None:
            code = self._codes[string] = len(self.strings)
            self.strings.append(string)
        return code


class _HeldTickets:
    """The places and words (:class:`_Held`) of linked tickets, by ticket number, given in
    increasing number: each ticket's place keys and words as codes into two vocabularies,
    in flat integer arrays. A ticket costs a few bytes a place and a word, where its own set
    and tuple cost hundreds of bytes: over a million tickets the linked ones are many."""

    def __init__(self) -> None:
        self._numbers = array("q")
        self._places, self._words = _Vocabulary(), _Vocabulary()
        self._place_codes, self._word_codes = array("i"), array("i")
        self._place_ends, self._word_ends = array("q"), array("q")  # each ticket's last + 1

    def append(self, number: int, held: _Held) -> None:
        """Keep ``held`` as ticket ``number``'s (more than any number given before)."""
        if self._numbers and number <= self._numbers[-1]:
            raise ValueError(f"ticket {number} given after ticket {self._numbers[-1]}")
        self._numbers.append(number)
        self._place_codes.extend(self._places.code(key) for key in held.places)
        self._place_ends.append(len(self._place_codes))
        self._word_codes.extend(self._words.code(word) for word in held.words)
        self._word_ends.append(len(self._word_codes))

    def __getitem__(self, number: int) -> _Held:
        at = bisect.bisect_left(self._numbers, number)
        if at == len(self._numbers) or self._numbers[at] != number:
            raise KeyError(number)
        places = self._place_codes[self._place_ends[at - 1] if at else 0 : self._place_ends[at]]
        words = self._word_codes[self._word_ends[at - 1] if at else 0 : self._word_ends[at]]
        return _Held(
            frozenset(self._places.strings[code] for code in places),
            tuple(self._words.strings[code] for code in words),
        )


@dataclass
class _Grouping:
    #: input row of each ticket with a document, in time order (its number is the position)
    rows: np.ndarray
    #: the group label of each
    component: np.ndarray
    #: the linked tickets' places and words, by number (no other ticket can be grouped)
    held: _HeldTickets
    #: in how many tickets each describing word is, over all tickets
    df: Counter[str]


class _Linker:
    """Links tickets, given block by block in time order, to their earlier tickets within
    the window (:meth:`SimilarIndex.neighbours` for the block's tickets), and then forgets
    the tickets no later one can reach: the index holds one window, not the whole data, and
    of the tickets that left it only those with a link are kept (for their group's place
    and description). Memory follows the window and the grouped tickets, not the data."""

    def __init__(
        self, *, span: timedelta | None, link_threshold: float, gazetteer: Gazetteer | None
    ) -> None:
        self._index = SimilarIndex(gazetteer=gazetteer)
        self._span = span
        self._threshold = link_threshold
        self._waiting: list[tuple[np.ndarray, np.ndarray, PreparedBlock]] = []
        self._rows: list[np.ndarray] = []
        self._count = 0  # tickets with a document so far; a ticket's number is its position
        self._base = 0  # number of the index's first row (the ones before it were forgotten)
        self._asked = 0  # tickets from this number on have not been asked for their links yet
        self._recent: dict[int, _Held] = {}  # the tickets of the index, by number
        self._linked: set[int] = set()  # those of them with a link
        self._held = _HeldTickets()  # the tickets with a link that left the index
        self._sources: list[np.ndarray] = []
        self._targets: list[np.ndarray] = []
        self._df: Counter[str] = Counter()

    def add(
        self, rows: np.ndarray, times: np.ndarray, block: PreparedBlock, words: list[list[str]]
    ) -> None:
        """A block of tickets (input ``rows``, parsed ``times``, in time order, later than
        every ticket given before), prepared; ``words``: each kept ticket's describing
        words."""
        numbers = np.full(len(rows), -1, dtype=np.int64)
        numbers[block.kept] = np.arange(self._count, self._count + len(block.kept))
        for j, i in enumerate(block.kept):
            unique = tuple(map(sys.intern, words[j]))
            self._recent[int(numbers[i])] = _Held(block.places[j], unique)
            self._df.update(unique)
        self._rows.append(np.asarray(rows)[block.kept])
        self._count += len(block.kept)
        self._waiting.append((numbers, times, block))
        if self._count >= FIRST_BLOCK_ROWS:
            self._link()

    def _link(self) -> None:
        """Index the waiting blocks, link their tickets, forget what no later one reaches."""
        index = self._index
        if len(self._waiting) == 1:
            numbers, times, block = self._waiting[0]
        else:  # the first block: one add, so that the IDF is fitted on all of it at once
            numbers = np.concatenate([w[0] for w in self._waiting])
            times = np.concatenate([w[1] for w in self._waiting])
            block = _joined([w[2] for w in self._waiting])
        self._waiting = []
        index.add_block([str(n) for n in numbers], times, block)
        links = index.neighbours(
            window=self._span,
            min_score=self._threshold,
            k=20,
            first_source=self._asked - self._base,
        )
        source = links["source"].to_numpy() + self._base
        target = links["target"].to_numpy() + self._base
        # Tickets that name no place link only when very alike: a vague request (请加快…建设)
        # would otherwise chain every such request into one group.
        named = np.fromiter(
            (
                bool(self._recent[s].places) and bool(self._recent[t].places)
                for s, t in zip(source.tolist(), target.tolist(), strict=True)
            ),
            dtype=bool,
            count=len(source),
        )
        keep = (links["same_place"].to_numpy() & links["same_problem"].to_numpy()) & (
            named | (links["score"].to_numpy() >= 2 * self._threshold)
        )
        self._sources.append(source[keep])
        self._targets.append(target[keep])
        self._linked.update(np.concatenate([source[keep], target[keep]]).tolist())
        self._asked = self._count
        if self._span is not None and len(times):
            dropped = index.forget_before(np.max(times) - np.timedelta64(self._span))
            for number in range(self._base, self._base + dropped):
                self._keep_if_linked(number)
            self._base += dropped

    def _keep_if_linked(self, number: int) -> None:
        """Ticket ``number`` leaves the index: kept (compactly) when it has a link."""
        held = self._recent.pop(number)
        if number in self._linked:
            self._linked.remove(number)
            self._held.append(number, held)

    def finish(self) -> _Grouping:
        """The groups: connected components of the links."""
        if self._waiting:
            self._link()
        for number in sorted(self._recent):
            self._keep_if_linked(number)
        from scipy.sparse.csgraph import connected_components

        source = np.concatenate(self._sources) if self._sources else np.empty(0, np.int64)
        target = np.concatenate(self._targets) if self._targets else np.empty(0, np.int64)
        n = self._count
        graph = sp.coo_matrix((np.ones(len(source)), (source, target)), shape=(n, n))
        _, component = connected_components(graph, directed=False)
        rows = np.concatenate(self._rows) if self._rows else np.empty(0, np.int64)
        return _Grouping(rows.astype(np.int64), component, self._held, self._df)


def _joined(blocks: list[PreparedBlock]) -> PreparedBlock:
    """Several prepared blocks as one."""
    documents: list[str | None] = []
    kept: list[int] = []
    for block in blocks:
        kept += [len(documents) + i for i in block.kept]
        documents += block.documents
    return PreparedBlock(
        documents,
        kept,
        [p for block in blocks for p in block.places],
        [w for block in blocks for w in block.words],
        sp.vstack([block.counts for block in blocks], format="csr"),
    )


def _prepare_task(
    texts: list[object], titles: list[object], gazetteer: Gazetteer | None
) -> tuple[PreparedBlock, list[list[str]]]:
    """A block prepared for the index, and each kept ticket's describing words: its title's
    content words when it has a title (a writer's summary), else its document's."""
    block = prepare_block(texts, titles, gazetteer=gazetteer)
    words = [
        list(
            dict.fromkeys(
                content_words(normalise(title))
                if isinstance(title := titles[i], str) and title.strip()
                else block.words[j]
            )
        )
        for j, i in enumerate(block.kept)
    ]
    return dataclasses.replace(block, words=[]), words  # the index needs no words


_WORKER_GAZETTEER: list[Gazetteer | None] = []


def _start_worker(gazetteer: Gazetteer | None) -> None:
    _WORKER_GAZETTEER.append(gazetteer)


def _worker_task(
    texts: list[object], titles: list[object]
) -> tuple[PreparedBlock, list[list[str]]]:
    return _prepare_task(texts, titles, _WORKER_GAZETTEER[0])


def _prepared_blocks(
    blocks: Iterator[tuple[np.ndarray, list[object], list[object]]],
    *,
    gazetteer: Gazetteer | None,
    jobs: int,
) -> Iterator[tuple[np.ndarray, PreparedBlock, list[list[str]]]]:
    """Blocks of tickets (input rows, texts, titles) prepared, in order: here (``jobs`` 1),
    or by ``jobs`` worker processes a few blocks ahead."""
    if jobs == 1:
        for rows, texts, titles in blocks:
            yield (rows, *_prepare_task(texts, titles, gazetteer))
        return
    from concurrent.futures.process import BrokenProcessPool

    try:
        yield from _prepared_by_workers(blocks, gazetteer=gazetteer, jobs=jobs)
    except BrokenProcessPool as error:
        raise WorkerLostError(
            "a process preparing tickets died (killed, or out of memory: then use fewer --jobs)"
        ) from error


def _prepared_by_workers(
    blocks: Iterator[tuple[np.ndarray, list[object], list[object]]],
    *,
    gazetteer: Gazetteer | None,
    jobs: int,
) -> Iterator[tuple[np.ndarray, PreparedBlock, list[list[str]]]]:
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor

    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(gazetteer,),
    ) as pool:
        ahead: deque[tuple[np.ndarray, Future[tuple[PreparedBlock, list[list[str]]]]]] = deque()
        for rows, texts, titles in blocks:
            ahead.append((rows, pool.submit(_worker_task, texts, titles)))
            if len(ahead) > 2 * jobs:
                done, future = ahead.popleft()
                yield (done, *future.result())
        while ahead:
            done, future = ahead.popleft()
            yield (done, *future.result())


# ----------------------------------------------------------------------------- reading

#: Rows a file is read by at a time.
READ_ROWS = 20_000


def _check_columns(
    frame: pd.DataFrame, id_col: str, time_col: str, text_col: str, title_col: str | None
) -> bool:
    """Whether the tickets have a title column; a :class:`DataError` when a required
    column is missing."""
    require_columns(frame, [id_col, time_col], what="tickets")
    has_title = title_col is not None and title_col in frame.columns
    if text_col not in frame.columns and not has_title:
        require_columns(frame, [text_col], what="tickets")
    return has_title


class _Fields:
    """The text and title of the tickets, read when needed."""

    def blocks(
        self, order: np.ndarray, size: int
    ) -> Iterator[tuple[np.ndarray, list[object], list[object]]]:
        """The rows of ``order``, ``size`` at a time, with their texts and titles."""
        raise NotImplementedError

    def get(self, rows: list[int]) -> dict[int, tuple[object, object]]:
        """The title and text of each of ``rows`` (in file order)."""
        raise NotImplementedError


class _ListFields(_Fields):
    def __init__(self, texts: list[object], titles: list[object]) -> None:
        self.texts, self.titles = texts, titles

    def blocks(
        self, order: np.ndarray, size: int
    ) -> Iterator[tuple[np.ndarray, list[object], list[object]]]:
        for start in range(0, len(order), size):
            rows = order[start : start + size]
            yield rows, [self.texts[r] for r in rows], [self.titles[r] for r in rows]

    def get(self, rows: list[int]) -> dict[int, tuple[object, object]]:
        return {r: (self.titles[r], self.texts[r]) for r in rows}


class _FileFields(_Fields):
    """A file's text and title columns, read again in chunks when needed."""

    def __init__(self, path: Path, text_col: str | None, title_col: str | None) -> None:
        self.path, self.text_col, self.title_col = path, text_col, title_col

    def _chunks(self) -> Iterator[tuple[int, list[object], list[object]]]:
        for chunk in iter_chunks(self.path, chunk_size=READ_ROWS):
            first = int(chunk.index[0]) if len(chunk) else 0
            texts: list[object] = (
                chunk[self.text_col].tolist() if self.text_col else [None] * len(chunk)
            )
            titles: list[object] = (
                chunk[self.title_col].tolist() if self.title_col else [None] * len(chunk)
            )
            yield first, texts, titles

    def blocks(
        self, order: np.ndarray, size: int
    ) -> Iterator[tuple[np.ndarray, list[object], list[object]]]:
        if _held_at_once(order) > len(order) // 2:
            # far out of time order: its text is read whole, once
            texts: list[object] = []
            titles: list[object] = []
            for _, chunk_texts, chunk_titles in self._chunks():
                texts += chunk_texts
                titles += chunk_titles
            yield from _ListFields(texts, titles).blocks(order, size)
            return
        # in time order, or nearly: a chunk is held until the walk has taken its rows, and
        # each text is let go as it is taken
        chunks = self._chunks()
        firsts: list[int] = []  # the first row of each chunk held
        held: list[tuple[list[object], list[object]]] = []
        lowest = np.minimum.accumulate(order[::-1])[::-1]  # the lowest row still to take
        for start in range(0, len(order), size):
            rows = order[start : start + size]
            texts, titles = [], []
            for r in rows.tolist():
                while not firsts or r >= firsts[-1] + len(held[-1][0]):
                    first, chunk_texts, chunk_titles = next(chunks)
                    firsts.append(first)
                    held.append((chunk_texts, chunk_titles))
                at = bisect.bisect_right(firsts, r) - 1
                chunk_texts, chunk_titles = held[at]
                texts.append(chunk_texts[r - firsts[at]])
                titles.append(chunk_titles[r - firsts[at]])
                chunk_texts[r - firsts[at]] = chunk_titles[r - firsts[at]] = None
            if start + size < len(order):
                while firsts and firsts[0] + len(held[0][0]) <= lowest[start + size]:
                    del firsts[0], held[0]
            yield rows, texts, titles

    def get(self, rows: list[int]) -> dict[int, tuple[object, object]]:
        wanted = np.array(sorted(set(rows)), dtype=np.int64)
        found: dict[int, tuple[object, object]] = {}
        for first, texts, titles in self._chunks():
            lo, hi = np.searchsorted(wanted, [first, first + len(texts)])
            for r in wanted[lo:hi].tolist():
                found[r] = (titles[r - first], texts[r - first])
        return found


def _held_at_once(order: np.ndarray) -> int:
    """The most tickets a walk through ``order`` (rows of a file read in order) must hold at
    once: the ticket at row ``order[k]`` is taken once every row up to the furthest row of
    ``order[:k + 1]`` is read, and the rows read by then that come later in ``order`` wait."""
    if not len(order):
        return 0
    read = np.searchsorted(np.sort(order), np.maximum.accumulate(order), side="right")
    return int(np.max(read - np.arange(1, len(order) + 1)))


def _scan(
    path: Path,
    keep: list[str],
    id_col: str,
    time_col: str,
    text_col: str,
    title_col: str | None,
) -> tuple[pd.DataFrame, _FileFields]:
    """A file's ``keep`` columns (ids, times, writers, counts) as one frame, its text and
    title checked chunk by chunk and let go, and a way to read them again."""
    parts: list[pd.DataFrame] = []
    has_title = has_text = False
    for chunk in iter_chunks(path, chunk_size=READ_ROWS):
        unreadable = chunk.attrs.get("unreadable", ())
        if len(unreadable):
            raise DataError(
                f"{path}: cannot be read as jsonl: record {int(chunk.index[unreadable[0]]) + 1} "
                "(counting non-blank lines from 1) is not a JSON object; fix or remove it"
            )
        if not parts:
            has_title = _check_columns(chunk, id_col, time_col, text_col, title_col)
            has_text = text_col in chunk.columns
        first = int(chunk.index[0]) if len(chunk) else 0
        _texts(chunk, text_col if has_text else None, what="text", first_row=first)
        _texts(chunk, title_col if has_title else None, what="title", first_row=first)
        parts.append(chunk[[column for column in keep if column in chunk.columns]])
    frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    fields = _FileFields(path, text_col if has_text else None, title_col if has_title else None)
    return frame, fields


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
        place = _most_told(named, places)
        count = named[place]
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
        if parts and place.startswith(parts[0]) and len(place) > len(parts[0]):
            place = place[len(parts[0]) :]  # A6区 月亮岛路, not A6区 A6区月亮岛路
        if not parts or place not in parts[0]:
            parts.append(place)
    if crowds:
        parts.append(_most_common(crowds, 1)[0][0])
    return " ".join(parts)


#: Two place names share a run of this many characters: one place, written two ways
#: (绿地海外滩二期楼盘 and 紧挨着绿地海外滩小区).
_SAME_PLACE_RUN = 4
#: How many of a group's most named places compete for 地点.
_PLACE_CANDIDATES = 20


def _most_told(named: Counter[str], places: Sequence[frozenset[str]]) -> str:
    """The group's place: of its most named places, the one whose names (itself and every
    name sharing a run of ``_SAME_PLACE_RUN`` characters with it) the most tickets use, then
    the most named. Writers name one estate many ways (绿地海外滩二期楼盘, 绿地海外滩小区,
    海外滩小区): counted apart, a school two of them pass (A4区实验小学) would outnumber it."""
    runs: dict[str, set[str]] = {}
    for name in named:
        for run in _runs(name):
            runs.setdefault(run, set()).add(name)
    best, best_rank = "", (-1, -1)
    for name, count in _most_common(named, _PLACE_CANDIDATES):
        family = {name}.union(*(runs[run] for run in _runs(name)))
        rank = (sum(1 for keys in places if not family.isdisjoint(keys)), count)
        if rank > best_rank:
            best, best_rank = name, rank
    return best


def _runs(name: str) -> set[str]:
    """Every run of ``_SAME_PLACE_RUN`` characters of ``name``."""
    return {name[i : i + _SAME_PLACE_RUN] for i in range(len(name) - _SAME_PLACE_RUN + 1)}


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
