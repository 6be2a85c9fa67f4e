"""Where it happened: place mentions in a ticket, resolved against the city's gazetteer.

``locate(text, title=None, gazetteer=...)`` finds every place a ticket names and fills the
district, street office (街道办, or 镇/乡), community (社区, or 村) and grid (网格) of the place
the problem is at, so that a routing table can send the ticket to the street office and grid
that own it::

    >>> gazetteer = Gazetteer.from_csv("data/demo/gazetteer.csv", city="江州市")
    >>> locate("桂花路128号旁边堆了建筑垃圾", gazetteer=gazetteer).to_dict()["street"]
    '建设街道'

What is found (in the text width-folded and simplified as :func:`nlp.text.normalise` does, so
traditional and full-width input work; offsets and texts refer to the text as sent, through
:func:`nlp.text.normalise_aligned` when folding changes the length):

- **places of the gazetteer**, by name or alias (``锦绣华庭``, ``锦绣小区``, ``市一医院``), with
  what follows them on the same address: phase, house number, building, unit, floor, room,
  gate, relative words, and after a relative word ``的`` and the thing it locates, whatever
  it is (``桂花路128号旁边``, ``幸福里3栋2单元``, ``锦绣华庭北门对面的烧烤店``,
  ``锦绣华庭门口的路灯``); not the object the problem is about when no relative word comes
  first (``桂花路128号`` in ``桂花路128号下水道堵了``): the cut of ``data/eval/README.md``'s
  "How mentions are cut"; two
  roads joined by 与/和 at a crossing are one mention (``学府路与香樟路交叉口``);
- **administrative divisions**: the city's own districts, street offices, communities and grids
  (from the gazetteer), the city's name (``Gazetteer.from_csv(..., city=)``), and the provinces,
  prefecture cities and counties of the whole country (from the ``cpca`` package's division
  table); a run of them is one mention (``湖南省长沙市岳麓区``, ``西岭区枫林街道枫林社区``), and a
  run directly followed by a place is one mention with it (``桐江区江畔人家小区南门``);
- **masked divisions and places** of real exports (``A市A3区``, ``西地省``, ``K8县``, ``XX镇XX村``,
  ``某某小区``, ``***路***号``): found, never resolved, never constraining a resolution;
- **other named places** by their ending (``…小区``, ``…花园``, ``…家园``, ``…苑``, ``…路12号``,
  ``…医院``, ``…小学``, ``…村`` …) when the gazetteer does not know them: found, not resolved;
- **vague references** (``镇上``, ``县城``, ``县里``, ``市里``, ``我家楼下``, ``我们小区门口``,
  ``单位门口``, ``隔壁单元``): found,
  not resolved; one about the writer's own surroundings (``小区门口``) is a mention only when
  the ticket names no community or place of the city.

Which place the problem is at, when several are named (documented order, first wins):

1. a mention after a self-correction (``不对，是…``, ``应该是…``);
2. mentions that are not the writer's home (``我住…``, ``家住…``, ``…的业主``) before those
   that are, unless they are only a district, street office or vague word of the city
   (``我在东湖区上班，家住南港区滨河新村，小区停水``: the home);
3. the finest mention: a place (4) before a road named without a house number (3.5), a
   community (3), a street office (2), a district or a place outside the city (1), the city
   or a vague reference (0);
4. the first in reading order (the title before the text).

A mention outside the city (a province, city or county of the country's table that is not the
gazetteer's) resolves to nothing: the ticket is not the city's to dispatch. A place the
gazetteer lists more than once under one name (an alias such as ``实验小学``, a road split by
house number such as ``桂花路``) is narrowed by, in turn: the house number against the stretch's
range (``桂花路1-199号``), a number with 栋/单元 (an estate, not a road), the qualifier in
brackets of a canonical name written near the mention (``新城路(三期段)`` and ``三期的新城路``),
the divisions of the same mention, and the districts of the ticket's other mentions; what is
left ambiguous resolves to the part of the path its candidates share (``桂花路`` alone: the
district only).

Why ``cpca`` for the national divisions: it ships exactly the table we need (3,511 provinces,
cities and counties with their codes, 155 kB of CSV) in a 77 kB MIT-licensed wheel; its
dependencies (pandas, pyahocorasick) are small or already ours. ``jionlp`` (Apache-2.0) also
ships them, but its wheel is 16.5 MB and pulls ``jiojio`` (a 148 MB segmenter), it prints a
banner on import (0.6 s), and its ``parse_location`` takes about 5.5 ms a call, ten times our
whole budget. We do not import ``cpca`` itself (its ``__init__`` uses the deprecated
``pkg_resources``, and ``cpca.transform`` costs about 110 µs a call through pandas): we read
its ``resources/adcodes.csv`` once.

Why ``ahocorasick_rs`` for matching: the gazetteer's names and aliases and the country's
divisions (about 4,300 keys) go into one leftmost-longest Aho-Corasick automaton, built once
per gazetteer (20 ms). With ``pyahocorasick``, which ``cpca`` uses, one pass over a
5,000-character letter took 3 ms (about 0.6 µs a character, even with no match: its trie
looks a character up among a node's children, some 1,500 at the root for Chinese names);
``ahocorasick_rs`` (Apache-2.0, Rust) took 93 µs for the same letter. A ticket then costs one
pass of the automaton and a few bounded regular expressions.
"""

from __future__ import annotations

import csv
import importlib.util
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import ahocorasick_rs

from nlp.errors import DataError
from nlp.text import AlignedText, fold_width, normalise_aligned, simplify, to_simplified

__all__ = [
    "GAZETTEER_COLUMNS",
    "PLACE_KINDS",
    "Gazetteer",
    "Location",
    "Mention",
    "Place",
    "locate",
    "locate_simplified",
]

#: The columns of a gazetteer file, in this order.
GAZETTEER_COLUMNS = ("district", "street", "community", "grid", "place", "kind", "aliases")
#: The kinds of place a gazetteer row may have (extend with ``from_csv(..., kinds=)``).
PLACE_KINDS = ("estate", "road", "market", "school", "hospital", "park", "landmark", "village")

_PATH = ("district", "street", "community", "grid")

# ----------------------------------------------------------------------------- the data


@dataclass(frozen=True, slots=True)
class Place:
    """One row of the gazetteer: a place, the path of divisions it belongs to, and, for a
    road's stretch, its house-number range (``桂花路1-199号``) or qualifier (``新城路(三期段)``)."""

    row: int  # line number in the file
    district: str
    street: str
    community: str
    grid: str
    name: str
    kind: str
    low: int | None = None  # house-number range of a road stretch (桂花路1-199号)
    high: int | None = None
    qualifier: str = ""  # 三期 in 新城路(三期段)

    @property
    def path(self) -> tuple[str, str, str, str]:
        return (self.district, self.street, self.community, self.grid)


@dataclass(frozen=True, slots=True)
class _Division:
    """An administrative division: the city's own (level district/street/community/grid, with
    its path), the city itself (level city), or the country's (level province/city/county,
    ``national`` True, with its code)."""

    level: str
    path: tuple[str, ...] = ()
    national: bool = False
    code: str = ""


_Entry = Place | _Division

_STRETCH = re.compile(r"^(?P<base>.+?)(?P<low>\d{1,5})-(?P<high>\d{1,5})号$")
_QUALIFIED = re.compile(r"^(?P<base>.+?)\((?P<qualifier>[^()]{1,10})\)$")


def _fold(name: str) -> str:
    """The form names are matched in: the normal form's width and script, brackets folded."""
    return to_simplified(fold_width(name)).strip()


@lru_cache(maxsize=1)
def _national_divisions() -> tuple[tuple[str, str, str], ...]:
    """(name, level, code) of every province, prefecture city and county in ``cpca``'s table,
    with the short names residents write (湖南, 长沙, 广西) for provinces and cities."""
    spec = importlib.util.find_spec("cpca")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the package 'cpca' (China's administrative divisions) is not installed: "
            "pip install cpca"
        )
    table = Path(next(iter(spec.submodule_search_locations))) / "resources" / "adcodes.csv"
    found: list[tuple[str, str, str]] = []
    with table.open(encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle):
            name, code = record["name"].strip(), record["adcode"][:6]
            level = (
                "province" if code.endswith("0000") else "city" if code.endswith("00") else "county"
            )
            if len(name) < 3 or name in _NOT_NAMES:
                continue  # 城区, 郊区, 矿区, 市辖区: words, not names
            found.append((name, level, code))
            short = _short_name(name, level)
            if short:
                found.append((short, level, code))
    return tuple(found)


# Names in the table that are words or placeholders rather than places.
_NOT_NAMES = frozenset({"市辖区", "省直辖县级行政区划", "自治区直辖县级行政区划", "县"})
# Short city names that are everyday words or common road names (安康 in 祝您安康, 中山路,
# 开封 in 已开封不退, 三明治, 白银首饰, 来宾, 日照时间).
_SHORT_NAME_WORDS = frozenset(
    {
        "安康", "大同", "黄山", "白山", "中山", "长治", "吉安", "永州", "平凉", "通化", "本溪",
        "开封", "三明", "白银", "来宾", "海口", "普洱", "日照", "朝阳", "大庆",
    }
)  # fmt: skip
_PROVINCE_SUFFIX = re.compile(r"(?:省|市|特别行政区|壮族自治区|回族自治区|维吾尔自治区|自治区)$")


def _short_name(name: str, level: str) -> str:
    if level == "province":
        short = _PROVINCE_SUFFIX.sub("", name)
    elif level == "city" and name.endswith("市"):
        short = name[:-1]
    else:
        return ""
    return short if len(short) >= 2 and short not in _SHORT_NAME_WORDS else ""


@dataclass(frozen=True, slots=True, eq=False)
class Gazetteer:
    """The city's places and the street office, community and grid each belongs to.

    Build it with :meth:`from_csv` (or :meth:`from_rows`); it is immutable and holds the
    automaton every :func:`locate` call uses, so build it once per process.
    """

    places: tuple[Place, ...]
    city: str | None
    _automaton: Any = field(repr=False)
    _buckets: tuple[tuple[_Entry, ...], ...] = field(repr=False)
    _kinds: tuple[str, ...] = field(repr=False)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        *,
        city: str | None = None,
        kinds: Iterable[str] = PLACE_KINDS,
    ) -> Gazetteer:
        """Read and check a gazetteer file (UTF-8 CSV, header
        ``district,street,community,grid,place,kind,aliases``; ``aliases`` separated by ``|``).

        ``city`` is the city's name (``江州市``; written ``江州`` too), which the file does not
        hold. Raises :class:`~nlp.errors.DataError` naming the file and line for a missing or
        unknown column, an empty cell, an unknown kind, a place listed twice, or a grid,
        community or street that belongs to two parents.
        """
        path = Path(path)
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.reader(handle)
                header = next(reader, None)
                if header is None:
                    raise DataError(
                        f"{path}: the gazetteer is empty; it needs the header "
                        f"{','.join(GAZETTEER_COLUMNS)}"
                    )
                rows = [(reader.line_num, row) for row in reader]
        except FileNotFoundError as error:
            raise DataError(f"{path}: no such gazetteer file") from error
        except UnicodeDecodeError as error:
            raise DataError(f"{path}: not UTF-8 text ({error.reason}); save it as UTF-8") from error
        except csv.Error as error:
            raise DataError(f"{path}: not a readable CSV file ({error})") from error
        return cls.from_rows(header, rows, city=city, kinds=kinds, source=str(path))

    @classmethod
    def from_rows(
        cls,
        header: Sequence[str],
        rows: Iterable[tuple[int, Sequence[str]]],
        *,
        city: str | None = None,
        kinds: Iterable[str] = PLACE_KINDS,
        source: str = "gazetteer",
    ) -> Gazetteer:
        """:meth:`from_csv` on rows already read: ``(line number, cells)`` pairs."""
        columns = [name.strip() for name in header]
        unknown = [name for name in columns if name not in GAZETTEER_COLUMNS]
        if unknown:
            raise DataError(
                f"{source} line 1: unknown column(s) {', '.join(map(repr, unknown))}; "
                f"the columns are {','.join(GAZETTEER_COLUMNS)}"
            )
        missing = [name for name in GAZETTEER_COLUMNS if name not in columns]
        if missing:
            raise DataError(f"{source} line 1: missing column(s) {', '.join(missing)}")
        if len(set(columns)) != len(columns):
            raise DataError(f"{source} line 1: a column is named twice")
        allowed = frozenset(kinds)
        index = {name: columns.index(name) for name in GAZETTEER_COLUMNS}
        places: list[Place] = []
        aliases: list[tuple[str, ...]] = []
        seen: dict[str, int] = {}
        parent: dict[tuple[str, ...], tuple[tuple[str, ...], int]] = {}
        for line, cells in rows:
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            where = f"{source} line {line}"
            if len(cells) != len(columns):
                raise DataError(f"{where}: {len(cells)} cells, the header has {len(columns)}")
            value = {name: _fold(cells[index[name]]) for name in GAZETTEER_COLUMNS}
            for name in GAZETTEER_COLUMNS[:-1]:
                if not value[name]:
                    raise DataError(f"{where}: empty {name}; every column but aliases is needed")
            if value["kind"] not in allowed:
                raise DataError(
                    f"{where}: unknown kind {value['kind']!r}; "
                    f"use one of {', '.join(sorted(allowed))}"
                )
            name = value["place"]
            if name in seen:
                raise DataError(
                    f"{where}: place {name!r} is already listed on line {seen[name]}; give each "
                    "place one row (tell two places apart by their names, e.g. 新城路(一期段), "
                    "and put the shared name in aliases)"
                )
            seen[name] = line
            path_ = tuple(value[name] for name in _PATH)
            # a street has one district, a community one street (within its district)
            for level, key, parent_path in (
                ("street", ("street", path_[1]), path_[:1]),
                ("community", ("community", path_[0], path_[2]), path_[:2]),
            ):
                known = parent.setdefault(key, (parent_path, line))
                if known[0] != parent_path:
                    name_ = path_[1] if level == "street" else path_[2]
                    raise DataError(
                        f"{where}: {level} {name_!r} is under {'/'.join(parent_path)} here but "
                        f"under {'/'.join(known[0])} on line {known[1]}; a {level} has one parent"
                    )
            stretch = _STRETCH.match(name)
            qualified = _QUALIFIED.match(name)
            places.append(
                Place(
                    line,
                    path_[0],
                    path_[1],
                    path_[2],
                    path_[3],
                    name,
                    value["kind"],
                    low=int(stretch["low"]) if stretch else None,
                    high=int(stretch["high"]) if stretch else None,
                    qualifier=qualified["qualifier"].removesuffix("段") if qualified else "",
                )
            )
            extra = [_fold(alias) for alias in cells[index["aliases"]].split("|")]
            aliases.append(tuple(alias for alias in extra if alias and alias != name))
        if not places:
            raise DataError(f"{source}: the gazetteer has no places")
        return cls._build(tuple(places), tuple(aliases), city=_fold(city) if city else None)

    @classmethod
    def _build(
        cls, places: tuple[Place, ...], aliases: tuple[tuple[str, ...], ...], *, city: str | None
    ) -> Gazetteer:
        entries: dict[str, list[_Entry]] = {}

        def add(key: str, entry: _Entry) -> None:
            bucket = entries.setdefault(key, [])
            if entry not in bucket:
                bucket.append(entry)

        for name, level, code in _national_divisions():
            add(name, _Division(level, national=True, code=code))
        for place, names in zip(places, aliases, strict=True):
            for key in (place.name, *names):
                add(key, place)
                base = _QUALIFIED.match(key)
                if base:  # 新城路(一期段) is written 新城路
                    add(base["base"], place)
            for depth, level in enumerate(_PATH[:3], start=1):
                add(place.path[depth - 1], _Division(level, place.path[:depth]))
                if level == "street" and place.street.endswith("街道"):
                    add(place.street + "办事处", _Division(level, place.path[:depth]))
                    add(place.street + "办", _Division(level, place.path[:depth]))
                if level == "community" and place.community.endswith("社区"):
                    add(place.community + "居委会", _Division(level, place.path[:depth]))
                if level == "community" and place.community.endswith("村"):
                    add(place.community + "委会", _Division(level, place.path[:depth]))
        if city:
            for key in {city, city.removesuffix("市")} - {""}:
                entries[key] = [_Division("city", (city,))]
        for key in _LOCAL_CITY_WORDS:
            entries.setdefault(key, [_Division("city", (city or "",))])
        keys = sorted(key for key in entries if len(key) >= 2)
        # A DFA: the same matches as the default automaton, found in about two thirds of
        # the time (the national divisions make it thousands of names).
        automaton = ahocorasick_rs.AhoCorasick(
            keys,
            matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
            implementation=ahocorasick_rs.Implementation.DFA,
        )
        buckets = tuple(tuple(entries[key]) for key in keys)
        kinds = tuple(
            "place" if any(isinstance(entry, Place) for entry in bucket) else "division"
            for bucket in buckets
        )
        return cls(places, city, automaton, buckets, kinds)

    def __len__(self) -> int:
        return len(self.places)


_LOCAL_CITY_WORDS = ("本市", "我市", "贵市", "市里", "县城", "城里")

# ----------------------------------------------------------------------------- the result


@dataclass(frozen=True, slots=True)
class Mention:
    """A place as the ticket wrote it: ``text`` is ``field``'s value ``[start:end]`` (the title or
    the text as sent; ``start``/``end`` are None in the rare text whose normal form could not be
    aligned, and ``text`` is then the normal form). ``kind`` is the gazetteer kind of a place
    it knows (estate, road …), or division, masked, place (named, not in the gazetteer) or
    vague."""

    text: str
    start: int | None
    end: int | None
    kind: str
    field: str
    place: str | None = None  # the gazetteer's name for it, when it resolves to one place
    problem: bool = False  # the mention the problem is at

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "kind": self.kind,
            "field": self.field,
            "place": self.place,
            "problem": self.problem,
        }


@dataclass(frozen=True, slots=True)
class Location:
    """Where the ticket's problem is: the gazetteer path of its place (empty strings where it
    cannot be told), the canonical place, and every mention."""

    district: str = ""
    street: str = ""
    community: str = ""
    grid: str = ""
    place: str = ""
    mentions: tuple[Mention, ...] = ()

    @property
    def resolved(self) -> bool:
        """Whether the ticket could be placed at all (at least its district)."""
        return bool(self.district)

    def to_dict(self) -> dict[str, Any]:
        return {
            "district": self.district,
            "street": self.street,
            "community": self.community,
            "grid": self.grid,
            "place": self.place,
            "mentions": [mention.to_dict() for mention in self.mentions],
        }


# ----------------------------------------------------------------------------- extraction

_HAN = "\u4e00-\u9fff"
_NUM = "0-9〇零一二三四五六七八九十百两"
# What may follow a place on the same address, and belongs to the mention as a dispatcher
# names the place: phase, house number, building, unit, floor, room (digits or 十二栋,
# 二单元, 一楼), then up to three relative words (门口, 旁边, 对面 …), each perhaps after a
# part of the place (皮革厂围墙后面, 5号楼楼道里). After a relative word, 的 (or 那个, 那条,
# 那段 …) and the thing so located belong to it too when that thing is a place, a structure
# or a stall (江畔人家对面的工地, 枫林苑北边的围墙, 学校对面那个小卖部), not when it is an
# object (锦绣华庭门口的路灯, 枫林路上的梧桐树: see _located_noun). A part or an object right
# after the address, with no relative word,
# is what the problem is about, not where (桂花路128号 in 桂花路128号下水道堵了,
# 东风路80号 in 东风路80号的早餐店…). The rule is data/eval/README.md's "How mentions are
# cut"; data/demo/locations_tune.csv is labelled by it. Every part is a bounded run or a
# word list, so matching is linear in the length of the tail.
# 外 as "outside" (南门外, 厂区外), not the first character of a word (外卖, 外地, 外墙 …).
_OUTSIDE = "外(?![卖地省市县国资企籍墙机皮观来包出人债汇科])"
_RELATIVE_WORDS = (
    "大门口|门口|门前|路口|交叉口|十字路口|旁边|对面|对过|附近|后面|前面|周边|周围|那一带|这一带|一带|"
    "沿线|两边|两侧|楼下|楼上|里面|边上|那边|这边|那里|这里|外面|背后|隔壁|下面|底下|顶上|"
    "那一片|这一片|路边|外侧|内侧|村口|[湖河江塘]边|"
    "[东南西北]{1,2}(?:边|面|侧|头|角)|"
    "(?:[东南西北]{1,2}|正|后|侧)门(?:口|前|外面|外边|" + _OUTSIDE + ")?"
)
_RELATIVE = (
    rf"(?:的)?(?:{_RELATIVE_WORDS})|里|旁|内|上(?![周个次午班学月年面报访门下级述])"
    rf"|{_OUTSIDE}"
)
_PART = (
    "工地|围墙|草坪|绿化带|空地|停车场|地下车库|车库|广场|健身器材|垃圾站|垃圾桶|垃圾池|"
    "变压器|配电箱|电线杆|路灯|井盖|公厕|厕所|排水沟|水沟|下水道|人行道|路面|天桥|桥洞|"
    "住院部|门诊部|急诊|食堂|操场|宿舍楼|大排档|烧烤摊|摊位|商铺|门面|网吧|仓库|厂房|施工队|"
    "小卖部|超市|菜场|菜市场|夜市|公交站|站台|楼道|电梯|院子|门卫室|地库|楼顶|大坝|村委会"
)
# The thing a relative word locates, after 的 (锦绣华庭门口的路灯, 港湾小区8栋楼下的垃圾桶,
# 东湖公园里面的湖水): a noun phrase of at most _NOUN_MAX characters that ends at the first
# character that heads a noun (灯, 桶, 树, 站 …) not followed by another (路灯, 窨井盖 and
# 公交站台 go on; 垃圾桶冒烟 stops). Without a head before the predicate (发绿, 被, 又 …) or
# within reach, the mention ends at the relative word: what follows is not a thing with a
# place (我们这边的物价, 村里的干部, 镇上的人: people are not located either).
_NOUN_MAX = 8
_NOUN_HEADS = frozenset(
    "灯桶树栓牌井盖箱杆管沟坑墙门棚亭台阶椅柱栏闸池塘河湖桥路道巷街场站店铺摊位馆厅室所院园水"
    "房楼屋厂库车器材泵梯带地厕线桩架板窗班司点区部队市机筒坊档吧子泉坝堤渠田林铁坡"
)
# The last character of a located noun that is a place, a structure or a stall (工地,
# 围墙, 小卖部, 水果摊, 公共厕所, 山坡, 路口, 人行道, 老房子); any other noun is an object
# (路灯, 井盖, 护栏, 广告牌, 化粪池, 台阶, 湖水) and stays out of the mention. Decided on
# data/demo/locations_blind.csv, where two annotators who had only the guide agreed on it.
_PLACE_NOUN_ENDS = frozenset(
    "地场站店铺摊位馆厅室所厕院园房楼屋厂库路道巷街桥河湖塘墙部口坡坝堤渠田林亭棚吧档坊区点市台带"
    "司班"
)
# What joins a relative word to the thing it locates: 的, or a demonstrative and its
# measure word (南湖实验学校对面那个工地, 卫生室门前那段路).
_LINK = re.compile(r"的|那(?:个|座|条|段|一段|片|家|间|处|块|所)")
# Heads that go on a noun already headed (路灯, 公交站台, 停车场, 污水井, 房子, 湖水), not
# parts of it (化粪池盖板, 公厕门, 老房子墙体); 盖 only after 井 (窨井盖); 水 heads only where
# the predicate follows (湖水发绿, not 水果店).
_NOUN_SECOND_HEADS = frozenset("灯台道库棚场站梯闸阶位桥路车井管子塘铺杆水牌块口")
_NOUN_SECOND_ONLY = _NOUN_SECOND_HEADS - _NOUN_HEADS  # 块: 地块 ends there
_PEOPLE = re.compile(
    r"人(?![行民工防])|居民|住户|村民|干部|孩子|小孩|学生|老人|业主|群众|家长|领导|工作人员|员工|商户|租户|租客"
)
_NOUN_BREAK = re.compile(
    r"[被把让给都也还又再就才已没不有在是很真太变坏破断塌裂掉冒漏堵满占乱飘淹溢吵响晃歪缺宰拆砍"
    r"挖偷往从到跟和与及这那的了堆两几，。、；：！？,.;:!? ]"
    r"|天天|每天|每晚|晚上|夜里|夜间|半夜|白天|一直|一到|常年|经常|总是|老是|好几|好多|"
    r"发[绿臭黑黄出霉烂]|全[是都部黑坏]|锈[了穿蚀断]|松[了动脱]"
)


def _located_place(text: str, start: int) -> int:
    """Where the noun phrase that starts at ``start`` (after 的 or 那个 …) ends when it is a
    place (:data:`_PLACE_NOUN_ENDS`), else ``start``."""
    end = _located_noun(text, start)
    if end == start:
        return start
    if text.startswith("味道", end - 2):
        return start  # 造纸厂那边的味道: a smell, not a road
    last = text[end - 1]
    if last == "块" and text.startswith("地块", end - 2):
        return end  # 锦绣华庭南面的地块: a plot of land
    if last == "子" and end - 2 >= start:
        last = text[end - 2]  # 房子 as 房, 篦子 as 篦
    return end if last in _PLACE_NOUN_ENDS else start


def _located_noun(text: str, start: int) -> int:
    """Where the noun phrase that starts at ``start`` (after 的) ends, or ``start``."""
    if _PEOPLE.match(text, start):
        return start
    stop = min(len(text), start + _NOUN_MAX)
    for position in range(start, stop):
        char = text[position]
        if not ("\u4e00" <= char <= "\u9fff") or (
            position > start and _NOUN_BREAK.match(text, position)
        ):
            return start  # no head before the predicate
        if char in _NOUN_HEADS:
            if not _goes_on(text, position + 1):
                return position + 1
            if text[position + 1] in _NOUN_SECOND_ONLY:
                return position + 2  # a second head that heads nothing further (地块)
    return start


def _goes_on(text: str, position: int) -> bool:
    """Whether the noun headed just before ``position`` goes on with a second head."""
    if position >= len(text):
        return False
    char, head = text[position], text[position - 1]
    if head == "水":
        return "\u4e00" <= char <= "\u9fff" and not _NOUN_BREAK.match(text, position)
    return (
        char in _NOUN_SECOND_HEADS
        or (char == "盖" and head == "井")
        or (char == "所" and head == "厕")  # 公共厕所
    )


# A crossing is a place itself: what follows it after 的 is not part of the mention
# (沿河路和滨河路交叉口 in …交叉口的信号灯坏了).
_ENDS_CROSSING = re.compile(r"(?:路口|交叉口|十字路口|交口|交汇处)$")
# A mention that ends with a relative word (and may so run on through 的 and a noun).
_ENDS_RELATIVE = re.compile(rf"(?:{_RELATIVE_WORDS}|里|旁|内|上)$")
_ADDRESS_TAIL = re.compile(
    rf"(?:小区|花园|新村|片区)?"
    rf"(?:[{_NUM}]{{1,3}}期)?"
    rf"(?:[(（][^()（）]{{1,16}}[)）])?"
    rf"(?:[0-9]{{1,5}}(?:-[0-9]{{1,5}})?号(?:院|楼(?![下上]))?)?"
    rf"(?:[0-9A-Za-z]{{1,4}}(?:栋|幢|号楼|座|楼|区)|[{_NUM}]{{1,3}}(?:栋|幢|号楼|座))?"
    rf"(?:[0-9{_NUM}]{{1,3}}单元)?"
    rf"(?:(?:[0-9]{{1,2}}|[一二三四五六七八九十]{{1,3}})(?:楼|层)(?![下上道房梯顶]))?"
    rf"(?:[0-9]{{1,5}}(?:室|户|号)|(?<=[栋幢元])[0-9]{{3,4}}(?![0-9多余来年元块米岁个次天号室户楼层%.]))?"
    rf"(?:(?:(?:{_PART})?(?:{_RELATIVE})){{1,3}})?"
)
# After a district, street office or the city, only a word that widens it (西岭区那边).
_DIVISION_TAIL = re.compile(r"那边|这边|那一带|这一带|一带|附近|周边")
_BRACKET = re.compile(r"[(（]")
_MAX_PARTS = 8
_ROAD_ENDINGS = ("路", "大道", "街", "巷", "里", "道")
_GRID = re.compile(
    rf"第[{_NUM}]{{1,3}}网格|[{_NUM}]{{1,3}}号网格|(?<![第{_NUM}])[一二三四五六七八九十]{{1,2}}网格"
)
_MASKED = re.compile(
    r"(?:[A-Z](?<![A-Za-z0-9][A-Z])[0-9]{0,2}|[东西南北中]地|X(?<![A-Za-z0-9]X)X{0,2}"
    r"|x(?<![A-Za-z0-9]x)x{1,2}|某某?|\*{1,3})"
    r"(?:省|市|区|县|镇|乡|街道|社区|村|小区|花园|路|街|大道|号|栋|单元|学校|中学|小学|医院|公司)"
    r"(?:[0-9*]{1,5}(?:号楼|号|栋|单元))*"
)
# Places the gazetteer does not know, told by their ending.
_ENDING = re.compile(
    r"(?:小区|花园|家园|新村|公寓|大厦|广场|商场|市场|菜场|公园|医院|卫生院|诊所|小学|中学|"
    r"幼儿园|学校|大学|超市|饭店|酒店|宾馆|餐厅|大排档|药店|药房|加油站|"
    r"村|路(?<!线路)(?!线)|大道|街|巷|苑|府(?<!政府)|湾|园)"
)
_NAME_STOP = frozenset(
    "的在住是我你他她们这那个了和与及到从向往对把被让给有没不也都就还又很太请于去来说要想能会"
    "里上下中前后边旁门口每天晚早年月日号楼栋单元室期小大条段些所一"
    "，。、；：！？,.;:!?()（）【】[]\"'“”‘’ \n\t"
)
# Words that start a phrase ending like a place without naming one (民办幼儿园, 附近村,
# 导致小区): skipped before the name; what is left must still be two characters.
_GENERIC_PREFIX = re.compile(
    r"(?:民办|公办|公立|私立|培训|农村|附近|周边|周围|全体|部分|当地|本组|本村|导致|管理|居民|"
    r"严禁|非法|合格|安置|闲置|乡镇|新农|主义|整个|各个|其他|其它|所有|普通|正规|无证|公共|老旧|"
    r"高档|商品|小型|大型|相关|有关|这些|那些|一些|多个|几个|每个|好几个|发展|希望|规划|建设|"
    r"美丽|房地产|派位|快速|群众|私人|个体|建材|外地|本地|临时|露天)+"
)
# Everyday words with a place ending.
_GENERIC_PLACES = (
    "走投无路", "自谋生路", "十字路", "水泥路", "铁路", "公路", "新农村", "入园", "马路", "满街",
)  # fmt: skip


def _skip_generic(text: str, start: int, stop: int) -> int:
    match = _GENERIC_PREFIX.match(text, start, stop)
    return match.end() if match else start


_VAGUE = re.compile(
    r"(?:我家|我们家|咱家|我们|咱们|我们这|我们那)(?:楼下|楼上|隔壁|门口|对面|后面|前面|旁边|小区|"
    r"村口|村|镇|这条街|那条街|这栋楼|单元|附近|那边|这边|这一片|这片)"
    r"|(?:小区|单位|公司|学校|菜市场|菜场)(?:[东南西北]{1,2}(?:边|面|侧|门)|门口|楼下|里面|外面|"
    r"旁边|对面|后面)"
    r"|镇上|县城|县里|乡里|市里|村里|隔壁楼|隔壁单元|对面楼"
    # the writer's own building, named by its number alone (震得我们14栋窗户都在抖)
    r"|(?:(?<=我们)|(?<=咱们)|(?<=我家)|(?<=住的)|(?<=我住))[0-9]{1,3}(?:栋|幢|号楼)"
)
# What may follow a vague reference: relative words (我们小区门口); 的 and the noun they
# locate (小区南边的工地) are added as after a place (_located_noun).
_VAGUE_TAIL = re.compile(rf"(?:{_RELATIVE}){{0,3}}")
# A vague reference to the writer's own surroundings, resolved to their home when named.
_OWN = re.compile(r"^(?:我|咱|小区|单位|公司|学校|菜市场|菜场|隔壁|对面)")
# Masked divisions and places, vague references and grids, in one pass.
_OTHER = re.compile(
    rf"(?P<masked>{_MASKED.pattern})|(?P<vague>{_VAGUE.pattern})|(?P<grid>{_GRID.pattern})"
)
# The characters a match of _OTHER can start with: re tries each of its branches at every
# character of a text, this class finds the places worth trying at once (see _others).
# Chinese numerals and 第 start only a grid, which ends in 网格: a text without it skips
# them (digits start the writer's building too: 我们14栋).
_OTHER_START = re.compile(rf"[A-Zx东西南北中某*我咱小镇县乡市村隔对单公学菜第{_NUM}]")
_OTHER_START_NO_GRID = re.compile(r"[A-Zx东西南北中某*我咱小镇县乡市村隔对单公学菜0-9]")


def _others(text: str) -> list[re.Match[str]]:
    """``list(_OTHER.finditer(text))``, the same matches, in a fraction of the time: _OTHER
    is only tried where _OTHER_START says a match can start, past the end of the last one
    (its look-behinds still see the characters before)."""
    found: list[re.Match[str]] = []
    reached = 0
    match_at = _OTHER.match
    starts = _OTHER_START if "网格" in text else _OTHER_START_NO_GRID
    for candidate in starts.finditer(text):
        position = candidate.start()
        if position < reached:
            continue
        match = match_at(text, position)
        if match is not None:
            found.append(match)
            reached = match.end()
    return found


_HOME_BEFORE = re.compile(r"(?:我住|住在|家住|我家在|我家住|本人住|我是|本人是|我们是|我家是)$")
_HOME_AFTER = re.compile(r"^(?:的)?(?:业主|居民|住户)")
# What a match of _HOME_BEFORE ends with, and what one of _HOME_AFTER starts with (one of
# _CORRECTION_BEFORE has 是 or 更正).
_HOME_BEFORE_NEEDS = frozenset("住在是")
_HOME_AFTER_FIRST = "的业居住"
_CORRECTION_BEFORE = re.compile(r"(?:不对|不是[^，。,]{0,12})[，,]?是$|应该是$|更正[：:，,]?$")


@dataclass(slots=True)
class _Token:
    start: int  # in the normal form
    end: int
    kind: str  # place, division, masked, named, vague, grid
    entries: tuple[_Entry, ...] = ()


@dataclass(slots=True)
class _Candidate:
    start: int
    end: int
    tokens: list[_Token]
    field: str
    rank: float = 0
    home: bool = False
    corrected: bool = False
    outside: bool = False
    path: tuple[str, ...] = ()
    place: Place | None = None
    kind: str = "division"
    ambiguous: tuple[Place, ...] = ()
    core_end: int = 0  # where the mention ended before its address tail
    located: bool = False  # ran on through 的 and the noun a relative word locates
    link: tuple[int, int] = (0, 0)  # where that 的 (or 那个 …) is, when located


def _tokens(text: str, gazetteer: Gazetteer) -> list[_Token]:
    """Every place-like piece of ``text`` (normal form), non-overlapping, in order."""
    found: list[_Token] = []
    buckets, kinds = gazetteer._buckets, gazetteer._kinds
    for index, start, end in gazetteer._automaton.find_matches_as_indexes(text):
        found.append(_Token(start, end, kinds[index], buckets[index]))
    covered = bytearray(len(text) + 1)
    for token in found:
        covered[token.start : token.end] = b"\1" * (token.end - token.start)
    extra: list[_Token] = []
    for match in _others(text):
        start, end = match.span()
        if not any(covered[start:end]):
            extra.append(_Token(start, end, match.lastgroup or "vague"))
            covered[start:end] = b"\1" * (end - start)
    for match in _ENDING.finditer(text):
        ending, end = match.span()
        if covered[ending] or covered[end - 1]:
            continue
        start = ending
        while start > 0 and ending - start < 6 and not covered[start - 1]:
            char = text[start - 1]
            if char in _NAME_STOP or not ("\u4e00" <= char <= "\u9fff"):
                break
            start -= 1
        if ending - start < 2:
            continue  # too short a name, before any generic word is skipped
        start = _skip_generic(text, start, ending)
        if ending - start >= 2 and not text[start:end].endswith(_GENERIC_PLACES):
            extra.append(_Token(start, end, "named"))
            covered[start:end] = b"\1" * (end - start)
    found.extend(extra)
    found.sort(key=lambda token: token.start)
    return found


def _is_road(token: _Token) -> bool:
    return any(isinstance(entry, Place) and entry.kind == "road" for entry in token.entries)


def _roadlike(token: _Token, text: str) -> bool:
    return token.kind in ("place", "named") and (
        _is_road(token) or text[token.start : token.end].endswith(_ROAD_ENDINGS)
    )


_CROSSING = re.compile("交叉口|十字路口|路口|交汇处|交口")


def _candidates(text: str, gazetteer: Gazetteer, field_name: str) -> list[_Candidate]:
    """Group tokens into mentions: a run of divisions, with the place right after it, and
    the address that follows a place."""
    tokens = _tokens(text, gazetteer)
    found: list[_Candidate] = []
    for token in tokens:
        previous = found[-1] if found else None
        # an address has a few parts (province to grid, or a crossing): the cap keeps a run of
        # thousands of adjacent names linear
        adjacent = (
            previous is not None
            and previous.end == token.start
            and len(previous.tokens) < _MAX_PARTS
        )
        if (
            previous is not None
            and previous.end + 1 == token.start
            and text[previous.end] in "与和跟"
            and _roadlike(previous.tokens[-1], text)
            and _roadlike(token, text)
            and _CROSSING.match(text, token.end)
        ):
            # 云谷路与创新路交叉口: one place, resolved by the first road
            previous.tokens.append(_Token(token.start, token.end, "crossing"))
            previous.end = token.end
            continue
        if adjacent and previous is not None:
            kinds = {part.kind for part in previous.tokens}
            last = previous.tokens[-1]
            joins = (
                (
                    token.kind in ("division", "masked", "grid")
                    and kinds <= {"division", "masked", "grid"}
                )
                or (
                    token.kind in ("place", "named", "masked")
                    and kinds <= {"division", "masked", "grid"}
                )
                or (token.kind == "vague" and last.kind in ("place", "named", "masked"))
                or (
                    # a village's grid (桃源村第一网格), as a community's
                    token.kind == "grid"
                    and last.kind in ("place", "named")
                    and text[last.start : last.end].endswith("村")
                )
                or (
                    # a crossing (云谷路创新路口) or a road's stretch (老街幸福里18号)
                    token.kind in ("place", "named")
                    and last.kind in ("place", "named")
                    and (_is_road(last) or text[last.start : last.end].endswith(_ROAD_ENDINGS))
                )
            )
            if joins:
                previous.tokens.append(token)
                previous.end = token.end
                continue
        found.append(_Candidate(token.start, token.end, [token], field_name))
    kept: list[_Candidate] = []
    for candidate in found:
        if kept and candidate.start < kept[-1].end:
            previous = kept[-1]
            bracket = _BRACKET.search(text, previous.core_end, previous.end)
            if bracket and candidate.end <= previous.end:
                continue  # inside the bracket of 长丰路（港口路至滨河新村段）: part of it
            if (
                previous.located
                and candidate.end <= previous.end
                and all(not token.entries for token in candidate.tokens)
            ):
                continue  # the noun 我家后面的养猪场 ends with, not a place of the gazetteer
            previous.end = candidate.start  # a tail may not run into the next mention
            if previous.located and previous.end == previous.link[1]:
                # the noun is the next mention, a place of the gazetteer: the relative
                # mention ends before 的 (or 那个 …), as it would without it
                previous.end, previous.located = previous.link[0], False
        last = candidate.tokens[-1]
        candidate.core_end = candidate.end
        if last.kind in ("place", "named", "masked", "crossing") or (
            last.kind == "division"
            and any(isinstance(e, _Division) and e.level == "community" for e in last.entries)
        ):
            tail = _ADDRESS_TAIL.match(text, candidate.end)
        elif last.kind == "vague":
            tail = _VAGUE_TAIL.match(text, candidate.end)  # 我们小区门口
        else:
            tail = _DIVISION_TAIL.match(text, candidate.end)
        if tail and tail.end() > candidate.end:
            candidate.end = tail.end()
        # 枫林路上的梧桐树, 我家门口的窨井盖: the relative word in the tail, or in the vague
        # reference itself (not 和平里的路灯: 里 ends the estate's name)
        relative_from = candidate.start if last.kind == "vague" else candidate.core_end
        link = _LINK.match(text, candidate.end)
        if (
            link
            and candidate.end > relative_from
            and _ENDS_RELATIVE.search(text, relative_from, candidate.end)
            and not _ENDS_CROSSING.search(text, relative_from, candidate.end)
        ):
            noun_end = _located_place(text, link.end())
            if noun_end > link.end():
                candidate.link = link.span()
                candidate.end, candidate.located = noun_end, True
        kept.append(candidate)
    return kept


# ----------------------------------------------------------------------------- resolution

_HOUSE_NUMBER = re.compile(r"([0-9]{1,5})号(?!楼)")
_BUILDING = re.compile(r"[0-9A-Za-z]{1,4}(?:栋|幢|号楼|座|单元)")
_RANKS = {"place": 4, "community": 3, "grid": 3, "street": 2, "district": 1}


def _narrow(options: Sequence[Place], text: str, candidate: _Candidate) -> list[Place]:
    """The places ``options`` (one name, several rows) that the mention's own words allow."""
    said = text[candidate.start : candidate.end]
    left = list(options)

    def keep(test: Any) -> None:
        nonlocal left
        kept = [place for place in left if test(place)]
        if kept:
            left = kept

    number = _HOUSE_NUMBER.search(said)
    if number and len(left) > 1:
        house = int(number[1])
        keep(lambda p: p.low is not None and p.high is not None and p.low <= house <= p.high)
    if _BUILDING.search(said) and len(left) > 1:
        keep(lambda p: p.kind != "road")
    if len(left) > 1:
        window = text[max(0, candidate.start - 8) : candidate.end + 8]
        keep(lambda p: bool(p.qualifier) and p.qualifier in window)
    return left


def _resolve(candidate: _Candidate, text: str) -> None:
    """Fill ``candidate``'s path, place, rank and kind from its tokens."""
    local: list[_Division] = []
    national: list[_Division] = []
    places: list[Place] = []
    kinds = [token.kind for token in candidate.tokens]
    for token in candidate.tokens:
        if token.kind == "place":
            places = [entry for entry in token.entries if isinstance(entry, Place)]
            continue
        if not token.entries:  # masked, named, vague, a grid: not the gazetteer's
            continue
        divisions = [entry for entry in token.entries if isinstance(entry, _Division)]
        mine = [entry for entry in divisions if not entry.national]
        if mine:
            local.extend(mine[:1] if len({entry.path for entry in mine}) == 1 else [])
        elif divisions:
            national.append(divisions[0])
    if national and (not local or any(entry.level in ("province", "city") for entry in national)):
        # a division of the country that is not the city's: the problem is elsewhere
        candidate.outside = True
        candidate.rank = 1 if any(entry.level == "county" for entry in national) else 0
        candidate.kind = "division"
        return
    grid = (
        next(text[t.start : t.end] for t in candidate.tokens if t.kind == "grid")
        if "grid" in kinds
        else ""
    )
    prefix: tuple[str, ...] = ()
    for division in local:
        if division.level != "city" and len(division.path) > len(prefix):
            prefix = division.path
    if places:
        matching = [place for place in places if place.path[: len(prefix)] == prefix]
        options = _narrow(matching or places, text, candidate)
        candidate.kind = options[0].kind if len({p.kind for p in options}) == 1 else "place"
        said = text[candidate.start : candidate.end]
        # a road named without a house number spans many places: coarser than one place
        candidate.rank = 3.5 if candidate.kind == "road" and not _HOUSE_NUMBER.search(said) else 4
        if len(options) == 1:
            candidate.place = options[0]
            candidate.path = options[0].path
        else:
            candidate.ambiguous = tuple(options)
            candidate.path = _shared(options)
        return
    if kinds[-1] in ("named", "masked"):
        candidate.kind = "place" if kinds[-1] == "named" else "masked"
        candidate.rank = 4 if kinds[-1] == "named" else 3
        return
    if "masked" in kinds and not prefix:
        candidate.kind = "masked"
        return
    if kinds == ["vague"]:
        candidate.kind = "vague"
        return
    if kinds == ["grid"]:
        candidate.kind = "vague"
        return
    candidate.kind = "division"
    candidate.path = prefix
    if grid and len(prefix) == 3:
        candidate.path = (*prefix, grid)
    candidate.rank = _RANKS[_PATH[len(prefix) - 1]] if prefix else 0


def _shared(options: Sequence[Place]) -> tuple[str, ...]:
    """The longest path prefix every option has."""
    shared: list[str] = []
    for depth in range(4):
        values = {place.path[depth] for place in options}
        if len(values) != 1:
            break
        shared.append(values.pop())
    return tuple(shared)


def _narrow_by_owner(found: Sequence[_Candidate], text: str) -> None:
    """An ambiguous place written as part of the mention just before it (北塘区老街的幸福里:
    the lane of 北塘区's 老街, not 东湖区's estate) keeps the options under that mention's
    path, as deep as some option goes."""
    for previous, candidate in itertools.pairwise(found):
        if (
            not candidate.ambiguous
            or not previous.path
            or previous.outside
            or text[previous.end : candidate.start] != "的"
        ):
            continue
        for depth in range(len(previous.path), 0, -1):
            kept = [p for p in candidate.ambiguous if p.path[:depth] == previous.path[:depth]]
            if kept:
                break
        if len(kept) == 1:
            candidate.place, candidate.path, candidate.ambiguous = kept[0], kept[0].path, ()
        elif kept:
            candidate.ambiguous, candidate.path = tuple(kept), _shared(kept)


def _coarse(candidate: _Candidate) -> bool:
    """A mention of the city coarser than a community: no better than the writer's home."""
    return not candidate.outside and candidate.rank < 3


def _context(candidates: Sequence[_Candidate]) -> set[str]:
    """The districts of the ticket's mentions that resolve unambiguously inside the city."""
    return {
        other.path[0]
        for other in candidates
        if other.path and not other.outside and not other.ambiguous
    }


# ----------------------------------------------------------------------------- the front door


@dataclass(frozen=True, slots=True)
class _SameLength:
    """A normal form whose characters stand where the original's do."""

    text: str
    original: str

    def original_span(self, start: int, end: int) -> tuple[int, int] | None:
        return (start, end) if 0 <= start < end <= len(self.text) else None


def _normal_form(text: str, simplified: str | None = None) -> AlignedText | _SameLength:
    """``text`` width-folded and simplified, as :func:`nlp.text.normalise` does. Most tickets
    keep their length, so each character stays where it was (a quarter of the cost of
    :func:`nlp.text.normalise_aligned`); markup, or a fold that changes the length (an
    invisible character dropped, ㎡ unfolded), takes the aligned path. Personal data need not
    be masked here: a phone number is no place, and nothing of the text is logged.
    ``simplified``: :func:`nlp.text.simplify` of ``text``, when the caller has it."""
    if "<" not in text and "&" not in text:
        normal = simplify(text) if simplified is None else simplified
        if len(normal) == len(text):
            return _SameLength(normal, text)
    return normalise_aligned(text)


def locate(text: str, title: str | None = None, *, gazetteer: Gazetteer) -> Location:
    """Every place mention of the ticket (``title`` first, then ``text``), and the gazetteer
    path of the place its problem is at (see the module's documentation for the order in
    which mentions are chosen). Never raises on any string: a ticket that names no place the
    gazetteer knows gets empty fields."""
    return locate_simplified(text, title, gazetteer=gazetteer)


def locate_simplified(
    text: str,
    title: str | None = None,
    *,
    gazetteer: Gazetteer,
    simplified_text: str | None = None,
    simplified_title: str | None = None,
) -> Location:
    """:func:`locate`, given the :func:`nlp.text.simplify` of ``text`` and of ``title`` where
    the caller has them (None: worked out here), so that a ticket read by several parts is
    folded and converted once (:meth:`nlp.dispatch.Dispatcher.enrich`). The same answer as
    :func:`locate` whatever is given, as long as it is what :func:`~nlp.text.simplify`
    returns."""
    fields: list[tuple[str, AlignedText | _SameLength]] = []
    if title:
        fields.append(("title", _normal_form(title, simplified_title)))
    fields.append(("text", _normal_form(text or "", simplified_text if text else None)))
    candidates: list[_Candidate] = []
    texts_of = {name: aligned.text for name, aligned in fields}
    for name, aligned in fields:
        normal = aligned.text
        found = _candidates(normal, gazetteer, name)
        for candidate in found:
            _resolve(candidate, normal)
            # Each pattern only where a character it cannot do without is there: most
            # mentions have none of them around.
            before = normal[max(0, candidate.start - 6) : candidate.start]
            after = normal[candidate.end : candidate.end + 4]
            candidate.home = bool(
                (_HOME_BEFORE_NEEDS.intersection(before) and _HOME_BEFORE.search(before))
                or (after[:1] in _HOME_AFTER_FIRST and _HOME_AFTER.match(after))
            )
            window = normal[max(0, candidate.start - 16) : candidate.start]
            candidate.corrected = bool(
                ("是" in window or "更正" in window) and _CORRECTION_BEFORE.search(window)
            )
        _narrow_by_owner(found, normal)
        candidates.extend(found)
    if any(c.rank >= 3 and not c.outside for c in candidates):
        # a vague word for the writer's surroundings (小区门口, 我家楼下) is a mention only
        # when the ticket names no place
        candidates = [
            c
            for c in candidates
            if not (c.kind == "vague" and _OWN.match(texts_of[c.field][c.start : c.end]))
        ]
    districts = _context(candidates)  # narrow an ambiguous place by the districts named elsewhere
    for candidate in candidates:
        if candidate.ambiguous:
            kept = [place for place in candidate.ambiguous if place.district in districts]
            if len(kept) == 1:
                candidate.place, candidate.path, candidate.ambiguous = kept[0], kept[0].path, ()
            elif kept:
                candidate.path = _shared(kept)
    problem = min(
        range(len(candidates)),
        key=lambda i: (
            not candidates[i].corrected,
            candidates[i].home or _coarse(candidates[i]),
            -candidates[i].rank,
            i,
        ),
        default=None,
    )
    mentions: list[Mention] = []
    texts = {name: aligned for name, aligned in fields}
    for index, candidate in enumerate(candidates):
        aligned = texts[candidate.field]
        span = aligned.original_span(candidate.start, candidate.end)
        if span is None:
            said, start, end = aligned.text[candidate.start : candidate.end], None, None
        else:
            start, end = span
            said = aligned.original[start:end]
        mentions.append(
            Mention(
                said,
                start,
                end,
                candidate.kind,
                candidate.field,
                place=candidate.place.name if candidate.place else None,
                problem=index == problem,
            )
        )
    if problem is None:
        return Location(mentions=tuple(mentions))
    chosen = candidates[problem]
    said = texts[chosen.field].text[chosen.start : chosen.end]
    if chosen.kind == "vague" and _OWN.match(said):
        home = next((c for c in candidates if c.home and c.path and not c.outside), None)
        chosen = home or chosen
    path = () if chosen.outside else chosen.path
    values = dict(zip(_PATH, path, strict=False))
    return Location(
        district=values.get("district", ""),
        street=values.get("street", ""),
        community=values.get("community", ""),
        grid=values.get("grid", ""),
        place=chosen.place.name if chosen.place and not chosen.outside else "",
        mentions=tuple(mentions),
    )
