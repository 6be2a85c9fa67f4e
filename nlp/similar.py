"""Similar tickets: for a ticket, its most similar earlier tickets within a time window, each
with a similarity score and whether it is likely a repeat (重复件: the same problem at the
same place).

    >>> index = SimilarIndex.from_frame(tickets)               # id, time, text, title
    >>> index.add(ids=["t9"], times=["2020-05-02 09:00"], texts=["搅拌站半夜还在开工"])
    >>> index.similar("混凝土搅拌站夜里太吵", time="2020-05-03", window="30d", k=5)
    [Match(id='t9', time=..., score=0.41, repeat=True, same_place=True)]

How it works:

- Every text goes through the project's one document rule (:func:`nlp.documents.compose_document`:
  title and body) and :func:`nlp.text.normalise` (personal data masked), so the index holds
  masked text only; text already masked (the ticket store's) is unchanged by it.
- Each document is a row of its content words (the project's segmenter, without the stop words
  and placeholders explanations leave out) and its character 2- and 3-grams, each hashed into
  ``2**19`` columns (Fibonacci hashing of the words' 64-bit hashes and of the n-grams' code
  points, counted in compiled code, :func:`nlp.kernels.hashed_term_counts`: stateless, so
  tickets can be added one by one and a batch can be vectorised chunk by chunk, and the same
  in every process), sublinear term frequency times an
  inverse document frequency; words catch paraphrases' shared terms, characters the words a
  segmenter cuts differently. Each half is scaled so that the cosine of two rows is the mean
  of the word cosine and the character cosine. The IDF is frozen when the index is built and
  refitted (every row reweighted) when the index has doubled since, so appending costs
  amortised O(1) per ticket.
- The score of two tickets is the cosine of their rows. The rows are kept in time order (a
  window is a slice). A lookup finds candidates through the inverted lists (feature -> rows,
  built once after a merge) of the query's ``CANDIDATE_FEATURES`` heaviest features (tf·idf:
  the rare words and character runs that set it apart, not ``小区`` that nearly every ticket
  has), adds up those features' part of each row's cosine, and scores the ``CANDIDATES`` best
  rows exactly (``similar(..., candidates=)``: fewer for a repeat lookup,
  :data:`nlp.live_similar.REPEAT_SCORED`): the answer's scores are exact cosines, and its
  cost follows the length of a few inverted lists rather than every stored value of the
  window (when the window is small enough that scoring all of it costs less, it is scored
  whole). A ticket whose candidates leave out one of its exact top matches is rare
  (``bench/hotspots.py --sections scale`` prints the share kept on ``unlabeled.csv``);
  ``similar(..., exact=True)`` scores the whole window. Tickets appended since the last
  merge (at most 512) keep their own inverted lists, linked lists that a ticket joins in
  constant time (:func:`nlp.kernels.link_rows`), so adding a ticket never rebuilds anything
  at once; their candidates compete with the main
  matrix's for the ``CANDIDATES`` scored (when the main window is scored whole, they are
  scored whole too, unless there are more of them than that). A batch
  (:meth:`SimilarIndex.neighbours`) multiplies chunks of rows by their window's rows.
- ``repeat`` is ``score >= repeat_threshold`` and the same place: each ticket's place mentions
  (:func:`nlp.location.locate`, with the city's gazetteer when given: masked divisions such as
  ``A市A3区`` and unknown estates or roads are found by their ending) reduce to place keys (the
  gazetteer's name of a place, else the mention without its district prefix and relative
  words); two tickets that both name places but share none (no common key, no common run of
  three characters, not one estate or market by two of its names) are never repeats: the same
  problem at another estate is ``same_topic``.
- ... and the same problem: each ticket's :func:`problem_keys` (what it complains about, told
  by a hand-written list of words for 12345 objects: a lift, the water supply, parking, a
  barbecue's fumes ..., its place names cut out first); two tickets that both name such
  objects but share none are never repeats (a broken lift and the parking fee of one estate:
  the estate's rare name makes their cosine look like a repeat's), unless a long letter is
  one of them and they score :data:`LONG_VETO_SCORE` or more (:func:`problem_vetoed`).
  Looked for only for a candidate that passes the rest (a regex over its document, cached).
- ... at a lower score (``named_repeat_threshold``) when both tickets name the place and both
  name what they complain about, and share it: two phrasings of one problem may share few
  words, and naming the same place and problem is the evidence their cosine lacks. Only
  between short tickets (:data:`NAMED_MAX_CHARS`): a long letter names many places and
  problems, so sharing one of each says little (:func:`named_pair`).

The method and thresholds were chosen by measurement (``bench/hotspots.py --sections repeats``,
the figures are in README "Repeats and hot spots"): the sparse TF-IDF cosine, MinHash LSH
(``datasketch``) and ``faiss`` inner product on dense (SVD) vectors; the vetoes were chosen
by 5-fold cross-validation on ``data/demo/repeat_pairs_tune.csv`` (pairs written for tuning),
the thresholds on judged pairs of real posts with a recall kept on those written pairs
(``--sections repeats_real``); never on ``data/eval``, which only reports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from nlp.documents import compose_document, require_columns
from nlp.errors import DataError
from nlp.text import normalise
from nlp.window import parse_window

if TYPE_CHECKING:
    from nlp.location import Gazetteer

__all__ = [
    "DEFAULT_NAMED_REPEAT_THRESHOLD",
    "DEFAULT_REPEAT_THRESHOLD",
    "LONG_VETO_SCORE",
    "NAMED_MAX_CHARS",
    "Match",
    "Prepared",
    "PreparedBlock",
    "RepeatKeys",
    "SimilarIndex",
    "named_pair",
    "parse_times",
    "parse_window",
    "place_keys",
    "prepare_block",
    "problem_keys",
    "problem_vetoed",
    "repeat_keys",
    "same_place",
    "same_problem",
]

#: Cosine at or above which two tickets are a likely repeat when nothing tells them apart by
#: place or problem (neither a different place nor a different problem, see
#: :meth:`SimilarIndex.is_repeat`) ...
DEFAULT_REPEAT_THRESHOLD = 0.15
#: ... and the lower cosine enough when both name the same place and both name what they
#: complain about and share it: two phrasings of one problem share few words, and that
#: evidence is what the cosine of two short texts lacks. Both chosen together on real posts:
#: the best precision on judged pairs of ``unlabeled.csv`` (``data/demo/repeat_pairs_real.csv``)
#: among the pairs of thresholds that keep recall at 0.80 on the written tune pairs
#: (``data/demo/repeat_pairs_tune.csv``); ``bench/hotspots.py --sections repeats_real``
#: prints the choice. The written pairs alone chose 0.11 and 0.04, which called 2,171 pairs of
#: ``unlabeled.csv`` repeats where about 73 % were.
DEFAULT_NAMED_REPEAT_THRESHOLD = 0.09
#: The lower threshold holds between tickets of at most this many characters (masked
#: document) each: the written posts it was first chosen on are at most 186 characters long.
#: Longer letters name many places and problems; of a judged sample of ``unlabeled.csv``'s
#: pairs that it alone called repeats (at 0.04), 1 of the 48 with a letter over 200
#: characters was one (``bench/hotspots.py --sections repeats_real``, cell ``low_long``).
NAMED_MAX_CHARS = 200
#: Between tickets of which one is longer than that, the problem veto holds only under this
#: score: the word list reads many problems in a long letter, and tells two letters this
#: alike apart by their wording. Of the judged pairs of ``unlabeled.csv`` that the veto kept
#: out with a long letter, 10 of 10 at 0.20 or more were repeats and 6 of 25 under it; the
#: score with the best F1 there (``bench/hotspots.py --sections repeats_real``). The written
#: pairs are all shorter, so it does not touch them.
LONG_VETO_SCORE = 0.20
#: The hashed feature space: 2**20 columns (collisions of character n-grams are rare at that size).
N_FEATURES = 1 << 20
#: Rows vectorised at once in a batch build (bounds the memory of the vectoriser's buffers).
CHUNK_ROWS = 5_000
_PENDING_LIMIT = 512  # appended rows kept apart before they are merged into the main matrix
#: A lookup gathers the inverted lists of the query's this many heaviest features (tf·idf) ...
CANDIDATE_FEATURES = 32
#: ... and scores exactly the rows with the highest part of their cosine on those features.
#: Both were chosen on ``unlabeled.csv`` (every message against the earlier ones, window
#: 30d) when a match could score as little as 0.04: the exact top 5 kept for 99.0 % of the
#: matches, 99.4 % of the likely repeats (with 16 features, 92.0 % and 94.8 %). With matches
#: from 0.09, all of both (``bench/hotspots.py --sections scale``).
CANDIDATES = 200
#: Rows reweighted at once (:func:`_unit_rows`): its temporaries are about ten arrays of 8 bytes
#: a stored value (some 700 a ticket), tens of MB for this many rows, not hundreds.
_UNIT_BLOCK = 1 << 12
_MIN_CHUNK_ROWS = 64  # tickets :meth:`SimilarIndex.neighbours` scores at once, at least


def parse_times(values: Iterable[Any], *, what: str = "time") -> np.ndarray:
    """Times as ``datetime64[ns]`` (naive: a zone is converted to UTC and dropped). Every
    value must parse; a :class:`DataError` names the first rows that do not and how to write
    them."""
    values = list(values)
    if values and all(type(value) is datetime and value.tzinfo is None for value in values):
        # the service's times (UTC, no zone): what pandas would give, without its parsing
        return np.array(values, dtype="datetime64[ns]")
    series = pd.Series(values, dtype=object)
    parsed = pd.to_datetime(series, errors="coerce", format="mixed")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        shown = ", ".join(f"row {i + 1} ({series.iloc[i]!r})" for i in bad[:3])
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise DataError(
            f"{what}: {len(bad)} value(s) are not times: {shown}{more}; write them as "
            "2020-05-01 08:30 or 2020/5/1 8:30:00"
        )
    return parsed.to_numpy(dtype="datetime64[ns]")


def _as_time(value: Any) -> np.datetime64:
    if isinstance(value, datetime) and value.tzinfo is None:
        # the service's "now" (UTC, no zone): what parse_times gives, without pandas' parsing
        return np.datetime64(value, "ns")
    return parse_times([value])[0]


# ----------------------------------------------------------------------------- places

# A division prefix (A市A3区, 东湖区) ends in 省, 市, 区 or 县, but not the 区 of 小区, 社区, 园区
# ... nor the 市 of 市场, 超市, 夜市 ...: 华新小区4栋 is an estate, 丰收市场 a market.
_DIVISION_PREFIX = re.compile(
    r"^(?:(?:[A-Z][0-9]{0,2}|[东西南北中]地|某某?|X{1,3}|\*{1,3}|[\u4e00-\u9fff]{2,3}?)"
    r"(?:省|(?<![超夜菜城门])市(?!场)|(?<![小社园景校厂片街营矿])区|县))+"
)
# Where a mention's own name ends: a building number, a phase, a relative word or a part of
# the place (what follows is cut off: 梧桐苑3栋楼下的垃圾站 -> 梧桐苑).
_TAIL = re.compile(
    r"(?:[0-9A-Za-z]{1,5}(?:栋|幢|号楼|单元|室|号|期)|[0-9一二三四五六七八九十]{1,3}期|的|那个|这个|"
    r"门口|门前|路口|旁边|对面|附近|后面|前面|周边|周围|一带|沿线|楼下|里面|边上|那边|这边|"
    r"外面|隔壁|[东南西北][门边侧]|工地|围墙)"
)


@lru_cache(maxsize=1)
def _no_gazetteer() -> Gazetteer:
    """A gazetteer that knows no place (one name no text contains): ``locate`` with it still
    finds divisions, masked places and places told by their ending."""
    from nlp.location import GAZETTEER_COLUMNS, Gazetteer

    row = ["-", "-", "-", "-", "\ue000\ue001", "landmark", ""]
    return Gazetteer.from_rows(GAZETTEER_COLUMNS, [(2, row)], source="(no gazetteer)")


# Named places and bodies a problem is tied to, told by their ending: an estate, a village, a
# school, a hospital, a company or factory, a lending platform, a training school. Up to eight
# characters of name before the ending; the name is cut after the last word that cannot be
# part of it (我们是, 孩子在, 举报, 交了钱的 ...). :func:`_names` finds what
# ``_NAMED.finditer`` finds (a test holds them equal), from the endings up.
_NAME_CHARS = r"[\u4e00-\u9fff0-9A-Za-z]"
#: The endings, in the order the regex tries them (no ending is the start of another, so at
#: most one matches at any character).
_ENDING_WORDS = (
    *("小区", "花园", "家园", "新村", "新城", "公寓", "大厦", "广场", "商场", "市场", "菜场"),
    *("公园", "中医院", "医院", "卫生院", "保健院", "小学", "中学", "二小", "一小", "幼儿园"),
    "学校",
    *("大学", "公司", "集团", "工厂", "厂", "平台", "网贷", "理财", "教育", "培训", "艺术培训"),
    *("英语", "驾校", "楼盘", "一号", "苑", "府", "城", "湾", "园", "村", "镇", "路", "大道"),
    *("街", "巷"),
)
#: What cannot follow an ending for it to end a name: 村民, 村委, 广场舞, 市场监管.
_NOT_AFTER = {"村": "民委", "广场": "舞", "市场": "监"}
_NAME_ENDINGS = "(?:{})".format(
    "|".join(f"{w}(?![{_NOT_AFTER[w]}])" if w in _NOT_AFTER else w for w in _ENDING_WORDS)
)
_NAMED = re.compile(rf"({_NAME_CHARS}{{2,8}}?{_NAME_ENDINGS})")


@lru_cache(maxsize=1)
def _endings() -> Any:
    import ahocorasick_rs

    return ahocorasick_rs.AhoCorasick(list(_ENDING_WORDS))


def _is_name_char(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or (char.isascii() and char.isalnum())


def _names(document: str) -> list[str]:
    """What ``_NAMED.finditer(document)`` matches, found from the endings (one pass of an
    Aho-Corasick automaton, where the regex tries up to seven name lengths at every
    character): each ending gets the earliest start it can have (2 to 8 name characters,
    none that cannot be part of a name, not inside the previous match), which is where the
    regex's leftmost, shortest match starts. A test holds the two equal."""
    found = _endings().find_matches_as_indexes(document, overlapping=True)
    if not found:
        return []
    names: list[str] = []
    free = 0  # where the previous match ended
    for index, at, end in sorted(found, key=lambda match: match[1]):
        word = _ENDING_WORDS[index]
        after = document[end : end + 1]
        if at - 2 < free or (after and after in _NOT_AFTER.get(word, "")):
            continue
        start = at
        while start > max(free, at - 8) and _is_name_char(document[start - 1]):
            start -= 1
        if at - start < 2:
            continue
        names.append(document[start:end])
        free = end
    return names


_NAME_CUT = re.compile(
    r".*(?:举报|反映|投诉|咨询|建议|关于|请问|我们|我家|我是|我在|住在|孩子在|交了钱的|被|在|是|的|了|和|与|"
    r"请|问|查|看|住|将此|嫌|增加|增设|靠近|紧挨着|挨着|顾忌|拒绝|学员|所在|上调|放学|检查|整条|好多|周边|"
    r"为什么|今年|一路|一条|"
    r"到|从|给|向|对|把|让|那|这|个|有(?!限)|说|要|我|位于|并且|而且|且|及|及其|附近|街道|社区|购买|买|距离|离|于)"
)
_NOT_NAMES = re.compile(
    r"(?:跑路|走路|马路|夜路|出路|道路|线路|公路|铁路|水泥路|全村|本村|农村|乡村|村里|城里|县城|"
    r"市场监管|公园里|校园|政府|美好家园|临街|临路|沿街|沿路|^有限公司$|^限公司$)"
)


def _named(document: str) -> set[str]:
    keys: set[str] = set()
    for match in _names(document):
        name = _DIVISION_PREFIX.sub("", match)
        cut = _NAME_CUT.match(name)
        if cut:
            name = name[cut.end() :]
        if len(name) >= 3 and not _NOT_NAMES.search(name):
            keys.add(name)
    return keys


def place_keys(document: str, *, gazetteer: Gazetteer | None = None) -> frozenset[str]:
    """The places (and named bodies: a school, a company, a lending platform) a normalised
    document names, as keys to compare: the gazetteer's name of a place it resolves, else the
    mention without its district prefix (``A市A3区``) and its relative words or building
    numbers, and names told by their ending (``…小区``, ``…村``, ``…公司``, ``…平台``);
    districts, street offices and vague references (``我们小区``) are left out."""
    from nlp.location import locate

    keys: set[str] = set()
    for mention in locate(document, gazetteer=gazetteer or _no_gazetteer()).mentions:
        if mention.place:
            keys.add(mention.place)
            continue
        if mention.kind in ("division", "vague", "masked"):
            continue
        key = _DIVISION_PREFIX.sub("", mention.text)
        tail = _TAIL.search(key, 2)
        key = key[: tail.start()] if tail else key
        cut = _NAME_CUT.match(key)
        key = key[cut.end() :] if cut else key
        after = document[mention.end : mention.end + 1] if mention.end is not None else ""
        if after and any(key.endswith(e) and after in n for e, n in _NOT_AFTER.items()):
            continue  # 村民, 村委会, 广场舞: not a name (…导致村民 is no village 导致村)
        if len(key) >= 2 and key not in _ENDING_WORDS and not _NOT_NAMES.search(key):
            keys.add(key)  # an ending alone (反映小区 -> 小区) names no place
    keys.update(_named(document))
    return frozenset(keys)


@lru_cache(maxsize=65_536)
def _runs(key: str) -> frozenset[str]:
    """A place key's runs of three characters (cached: a lookup compares each candidate's
    keys with the ticket's, dozens of pairs for a long letter)."""
    return frozenset(key[i : i + 3] for i in range(len(key) - 2))


def _share_run(a: str, b: str) -> bool:
    return a in b or b in a or not _runs(a).isdisjoint(_runs(b))


# The generic ending of an estate's or a market's name: residents call 紫荆花园 紫荆小区 too,
# and 丰收农贸市场 丰收市场; two names with the same stem and such endings are one place.
_ESTATE_END = re.compile(r"(?:小区|花园|家园|新村|公寓|苑|农贸市场|菜市场|市场|菜场)$")


@lru_cache(maxsize=8_192)
def _stem(key: str) -> str | None:
    end = _ESTATE_END.search(key)
    stem = key[: end.start()] if end else None
    return stem if stem and len(stem) >= 2 else None


def _same_key(a: str, b: str) -> bool:
    if _share_run(a, b):
        return True
    stem = _stem(a)
    return stem is not None and stem == _stem(b)


def same_place(a: frozenset[str], b: frozenset[str]) -> bool:
    """False only when both tickets name places and none of them match (equal, one inside
    the other, a common run of three characters, or one estate or market by two of its
    names: 紫荆花园 and 紫荆小区); a ticket that names no place is not told apart by place."""
    if not a or not b:
        return True
    return any(_same_key(x, y) for x in a for y in b)


# ----------------------------------------------------------------------------- problems

# What a complaint is about, told by its words: the object or service at fault (a lift, the
# water supply, a barbecue's fumes, wages ...). Written by hand for 12345 tickets in general;
# a term belongs to one object, and the names of places are cut out before looking, so that
# 路灯花园 is a place and not a street-light complaint. Two tickets at the same place that both
# name objects and share none are about different problems (a broken lift and the parking fee
# of one estate), which a cosine dominated by the estate's rare name cannot tell.
_PROBLEM_OBJECTS: dict[str, str] = {
    "电梯": "电梯|扶梯|困人",
    "停车": "停车|车位|车库|道闸",
    "物业费": "物业费|物业服务费|物业服务收费|物业收费|物业管理费|维修基金|维修资金|公摊",
    "供水": (
        "停水|供水|自来水|水压|来水|没水|断水|水质|饮用水|水表|水管|爆管|水龙头|黄水|铁锈|水箱|"
        "二次供水|停了[一二三四五六七八九十两几0-9]*次?水"
    ),
    "供电": "停电|供电|跳闸|电费|电价|变压器|电压|断电|转供电|电表",
    "燃气": "燃气|天然气|煤气|液化气",
    "供暖": "暖气|供暖|取暖|供热|室温|散热器|采暖",
    "油烟": "油烟|烧烤|烤鱼|烤串|排烟|烟味",
    "噪音": (
        "噪音|噪声|扰民|吵|音响|音箱|广场舞|KTV|ktv|唱歌|低音炮|响声|轰轰|放音乐|鼓点|大喊大叫|"
        "声响|喇叭|叫卖|震天响|睡不着"
    ),
    "粉尘": "粉尘|扬尘|灰尘|尘土|白灰|石粉|除尘",
    "污染": "臭|异味|污水|废水|排污|粪|废气|污染|直排|排气|黄烟|冒烟|刺鼻|甲醛|油污|油花",
    "排水": "下水道|排水|化粪池|窨井|井盖|内涝|积水",
    "垃圾": "垃圾|环卫|清运",
    "养殖": "养猪|猪场|生猪|养殖|鸡场|牛场|鸭场",
    "搅拌站": "搅拌站|混凝土|罐车|砂石",
    "采石": "采石|石场|爆破|放炮|矿山|开山",
    "道路": "路面|坑洼|塌陷|村道|公路|修路|路基|人行道",
    "路灯": "路灯|照明|盏灯|黑灯|黑漆漆|黑咕隆咚|不亮",
    "交通": "拥堵|堵车|堵得|红绿灯|信号灯|绿灯|红灯|交警|斑马线|限速|违停|疏导",
    "公交": "公交|班次|发车|站台|趟车|间隔",
    "出租车": "出租车|网约车|拒载|黑车|非法营运|拉客|打表|挑客|议价",
    "工资": "工资|欠薪|薪资|劳务费|工钱|加班费|加班",
    "社保": "社保|社会保险|养老保险|医保|公积金|五险|报销|骗保",
    "学校收费": "学费|资料费|教辅|校服|课后服务|保教费|班费|择校费|补课|提优",
    "入学": "入学|学位|学区|招生|划片|转学",
    "伙食": "伙食|食堂|饭菜|餐食|营养餐|午餐|菜量|供餐|配餐",
    "校车": "校车|接送车|超员",
    "交房": "(?<![刚已])交房(?!后)|逾期|延期|停工|烂尾|复工",
    "房屋质量": "裂缝|开裂|渗水|漏水|渗漏|漏雨|滴水|防水|空鼓|墙体",
    "租房": "押金|租金|退租",
    "跑路": "跑路|关门|停课|卷款|联系不上|停业|失联|人去楼空",
    "退费": "退费|退款|退钱|退还|不退|退票|会员卡|预付卡|办卡|充值|储值|卡里|余额|年卡|次卡",
    "涨价": "涨价|上调|涨了|涨到|提价|翻倍|翻了一倍|乱收费|收费标准|乱加价|加价|摊位费|摊位租金",
    "发票": "发票|开票|收据",
    "医疗收费": "重复收费|多收费|虚增|没做过的检查",
    "投资": "平台|提现|投资人|理财|网贷|爆雷|集资|追赃|立案",
    "拆迁": "拆迁|征收|安置|补偿|征地",
    "违建": "违建|违章|搭建|加建|私建|违法建设|加盖|盖了|盖房",
    "绿化": "绿地|绿化|毁绿|树木|砍树|草坪",
    "消防": "消防(?!部门|救援|大队)|杂物|堆放|安全出口|着火|火灾",
    "充电": "充电桩|充电",
    "空调": "空调|制冷",
    "就医": "挂号|专家号|就诊|看病|号源|号贩子|倒号",
    "摊贩": "摊贩|摆摊|占道|流动摊|小贩|地摊|摊位|摊点|外摆|桌椅",
    "卫生": "卫生(?!部门|监督|局|委|健康)|脏乱|苍蝇|蚊子|老鼠",
    "宣传": "虚假宣传|宣传|承诺|兑现",
    "捆绑": "捆绑|搭售",
    "驾校": "驾校",
    "练车": "练车|科目|教练|学车",
    "宠物": "狗|犬|宠物",
    "态度": "态度|辱骂|骂人|刁难",
    "通信": "信号|宽带|基站|光缆|断网|没网",
    "施工": "工地|施工|打桩|装修|电钻",
    "渣土": "渣土|泥头车|撒漏|遗撒|抛洒|拉土|泥块|土方|带泥|撒泥",
    "门禁": "门禁|人脸识别|门卡",
    "监控": "监控|摄像头",
    "高空抛物": "高空抛物|抛物|扔东西",
    "共享单车": "共享单车|单车",
    "无障碍": "盲道|无障碍|坡道",
    "快递": "快递|寄件|外卖",
    "丢件": "丢件|丢失|弄丢|没收到|签收",
    "药品": "药店|药房|药价|药品",
    "殡葬": "殡仪馆|殡葬|骨灰|公墓|墓地",
    "河道": "河道|河水|水体|死鱼|河面",
    "捕捞": "电鱼|捕捞|毒鱼|垂钓",
    "保障房": "公租房|廉租房|保障房|保障性住房",
    "健身器材": "健身器材|健身设施",
    "物业服务": "物业服务|保洁|保安|不作为",
    "证件": "户口|户籍|身份证|证件|落户|房产证|不动产证|产权证",
    "补贴": "补贴|补助|低保|救助",
    "计量": "缺斤|短两|少两|少几两|鬼秤|秤|计量",
    "规划": "规划|配套",
    "公厕": "厕所|卫生间|公厕",
    "土地": "土地流转|流转费|流转款|土地租金|承包地",
    "摊派": "摊派",
    "医疗废物": "医疗废物|医疗垃圾|针管|输液袋",
    "无证": "无证|许可证|办学许可|办园许可",
    "体罚": "体罚|虐待|掐孩子",
    "赔偿": "赔偿|不赔|理赔|索赔",
    "护栏": "护栏|栏杆|围栏",
    "高压线": "高压线|高压电线|电线杆|输电线|变电站",
}


def _split_terms(terms: str) -> list[str]:
    """An object's terms: its alternatives at the top level (``卫生(?!部门|监督)`` is one)."""
    found, depth, start = [], 0, 0
    for at, char in enumerate(terms):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "|" and depth == 0:
            found.append(terms[start:at])
            start = at + 1
    return [*found, terms[start:]]


_LOOKAROUND = re.compile(r"\(\?<?[!=][^()]*\)")


def _compile_terms() -> tuple[
    dict[str, tuple[str, re.Pattern[str] | None]], list[tuple[re.Pattern[str], str]]
]:
    """Each term's word (the term without its lookarounds) with its object and, when it has
    lookarounds, the term to check where the word is found (交房 but not 刚交房, 卫生 but not
    卫生部门); and the few terms that are patterns (停了三次水), looked for apart. One regex of
    plain words, longest first (物业服务费 before 物业服务), runs several times faster than one
    with lookarounds or groups in it."""
    words: dict[str, tuple[str, re.Pattern[str] | None]] = {}
    patterns: list[tuple[re.Pattern[str], str]] = []
    for name, terms in _PROBLEM_OBJECTS.items():
        for term in _split_terms(terms):
            word = _LOOKAROUND.sub("", term)
            if re.escape(word) != word:
                patterns.append((re.compile(term), name))
            else:
                words[word] = (name, re.compile(term) if word != term else None)
    return dict(sorted(words.items(), key=lambda item: -len(item[0]))), patterns


_WORDS, _PATTERNS = _compile_terms()
_PROBLEM_TERMS = re.compile("|".join(_WORDS))


def _objects(document: str) -> frozenset[str]:
    found = set()
    for match in _PROBLEM_TERMS.finditer(document):
        name, guarded = _WORDS[match.group(0)]
        if guarded is None or guarded.match(document, match.start()):
            found.add(name)
    found.update(name for pattern, name in _PATTERNS if pattern.search(document))
    return frozenset(found)


@lru_cache(maxsize=8_192)  # keyed by whole documents (held by the index already)
def problem_keys(document: str, places: frozenset[str] = frozenset()) -> frozenset[str]:
    """What a normalised document complains about: the objects of :data:`_PROBLEM_OBJECTS`
    its words name (``电梯``, ``供水``, ``油烟`` ...), the names of ``places`` (its
    :func:`place_keys`) cut out first. Empty when it names none."""
    for place in sorted(places, key=len, reverse=True):
        document = document.replace(place, " ")
    return _objects(document)


def same_problem(a: frozenset[str], b: frozenset[str]) -> bool:
    """False only when both tickets name what they complain about and share nothing of it; a
    ticket that names nothing known is not told apart by its problem."""
    return not a or not b or bool(a & b)


class RepeatKeys(NamedTuple):
    """What the repeat rule reads of a ticket besides the score: its place keys, its
    problem keys and the length of its masked document."""

    places: frozenset[str]
    problems: frozenset[str]
    chars: int


def repeat_keys(document: str, places: frozenset[str]) -> RepeatKeys:
    """:class:`RepeatKeys` of a masked document with its place keys."""
    return RepeatKeys(places, problem_keys(document, places), len(document))


def named_pair(a: RepeatKeys, b: RepeatKeys) -> bool:
    """Whether the lower threshold applies: both tickets name places, both name a problem
    they share, and neither is longer than :data:`NAMED_MAX_CHARS` characters."""
    return bool(
        a.places
        and b.places
        and a.problems & b.problems
        and max(a.chars, b.chars) <= NAMED_MAX_CHARS
    )


def problem_vetoed(score: float, a: RepeatKeys, b: RepeatKeys) -> bool:
    """Whether the problem veto keeps two tickets apart: they name different problems
    (:func:`same_problem`), unless one is longer than :data:`NAMED_MAX_CHARS` characters and
    they score at least :data:`LONG_VETO_SCORE`."""
    if same_problem(a.problems, b.problems):
        return False
    return max(a.chars, b.chars) <= NAMED_MAX_CHARS or score < LONG_VETO_SCORE


def _repeat_of_keys(
    score: float, a: RepeatKeys, b: RepeatKeys, threshold: float, named_threshold: float
) -> bool:
    """Whether two tickets at the same place are a likely repeat at ``score``: never when
    the problem veto keeps them apart (:func:`problem_vetoed`); at ``named_threshold`` for a
    :func:`named_pair`, else at ``threshold``."""
    if problem_vetoed(score, a, b):
        return False
    return score >= (named_threshold if named_pair(a, b) else threshold)


# ----------------------------------------------------------------------------- the index


@dataclass(frozen=True, slots=True)
class Match:
    """An earlier ticket similar to the one asked about."""

    id: str
    time: datetime
    score: float
    repeat: bool
    same_place: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.time.isoformat(sep=" "),
            "score": round(self.score, 4),
            "repeat": self.repeat,
            "same_place": self.same_place,
        }


@dataclass(frozen=True, slots=True)
class Prepared:
    """A ticket as an index sees it (:meth:`SimilarIndex.prepare`): its masked document, the
    place keys it names, and its row of term frequencies. Compute it once per ticket and give
    it to both :meth:`SimilarIndex.similar` and :meth:`SimilarIndex.add`: neither masks,
    segments, hashes or looks for places again, and their answers are the same as without."""

    document: str
    places: frozenset[str]
    counts: sp.csr_matrix


@dataclass(frozen=True, slots=True)
class PreparedBlock:
    """Many tickets as an index sees them (:func:`prepare_block`): ``documents`` (the masked
    document of each ticket, in the order given), and for those that have one (``kept``:
    their positions), their place keys, content words (:func:`content_words`) and one row
    of term frequencies each in ``counts``. Picklable: worker processes prepare blocks that
    one index adds (:meth:`SimilarIndex.add_block`)."""

    documents: list[str | None]
    kept: list[int]
    places: list[frozenset[str]]
    words: list[list[str]]
    counts: sp.csr_matrix


def prepare_block(
    texts: Sequence[object],
    titles: Sequence[object] | None = None,
    *,
    gazetteer: Gazetteer | None = None,
) -> PreparedBlock:
    """Mask, segment, count and find the places of many tickets at once (a number where
    text goes is a :class:`DataError`)."""
    documents = documents_of(texts, titles)
    kept = [i for i, document in enumerate(documents) if document is not None]
    places, words, counts = _prepared([documents[i] or "" for i in kept], gazetteer)
    return PreparedBlock(documents, kept, places, words, counts)


def _prepared(
    documents: Sequence[str], gazetteer: Gazetteer | None
) -> tuple[list[frozenset[str]], list[list[str]], sp.csr_matrix]:
    """The place keys, content words and term frequencies of normalised documents."""
    words = [content_words(document) for document in documents]
    places = [place_keys(document, gazetteer=gazetteer) for document in documents]
    return places, words, _counts(documents, words)


@lru_cache(maxsize=1)
def _segmenter() -> Any:
    from nlp.segment import Segmenter

    return Segmenter()


def content_words(document: str) -> list[str]:
    """The words of a normalised document that explanations may name (no stop words,
    placeholders, single characters or numbers: :func:`nlp.explain.is_content_word`)."""
    from nlp.explain import is_content_word

    segmenter = _segmenter()
    # the tokenizer's own tokens when it can give them: a token of punctuation or white space
    # has no letter, so is_content_word drops it and the rule's filter is not needed first
    tokens = segmenter.cut_raw(document)
    return [word for word in tokens or segmenter.cut(document) if is_content_word(word)]


def _codes(pieces: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The code points of ``pieces`` end to end, and where each piece starts."""
    offsets = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum([len(piece) for piece in pieces], out=offsets[1:])
    joined = "".join(pieces).encode("utf-32-le", "surrogatepass")
    return np.frombuffer(joined, dtype=np.uint32), offsets


def _counts(
    documents: Sequence[str], words: Sequence[Sequence[str]] | None = None
) -> sp.csr_matrix:
    """Sublinear term frequencies (1 + log tf) of each document's hashed content words (the
    first half of the columns) and character 2- and 3-grams (the second half), counted in
    compiled code (:func:`nlp.kernels.hashed_term_counts`). ``words``: each document's
    :func:`content_words`, when the caller has them already."""
    from nlp.kernels import hashed_term_counts

    if words is None:
        words = [content_words(document) for document in documents]
    word_codes, word_offsets = _codes(["".join(w + "\0" for w in ws) for ws in words])
    char_codes, char_offsets = _codes(documents)
    indptr, indices, data = hashed_term_counts(
        word_codes, word_offsets, char_codes, char_offsets, N_FEATURES.bit_length() - 2
    )
    return sp.csr_matrix(
        (data, indices, indptr.astype(np.int32 if len(data) < 1 << 31 else np.int64)),
        shape=(len(documents), N_FEATURES),
    )


def _unit_rows(
    matrix: sp.csr_matrix, weights: np.ndarray | None = None, *, copy: bool = True
) -> sp.csr_matrix:
    """``matrix`` with each column times ``weights`` (the IDF; None: as it is), then each half
    (words, characters) of each row scaled to length 1/sqrt(2): the cosine of two rows is the
    mean of their word cosine and their character cosine. Works on the stored values only
    (a product with a 2**20-column diagonal matrix would cost milliseconds per ticket).
    ``copy=False``: in place, for a matrix the caller owns (float32 CSR)."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32, copy=copy)
    # a block of rows at a time, in place: a million rows' temporaries would be gigabytes
    for first in range(0, matrix.shape[0], _UNIT_BLOCK):
        last = min(matrix.shape[0], first + _UNIT_BLOCK)
        lo, hi = int(matrix.indptr[first]), int(matrix.indptr[last])
        data, indices = matrix.data[lo:hi], matrix.indices[lo:hi]
        if weights is not None:
            data *= weights[indices]
        n = last - first
        rows = np.repeat(np.arange(n), np.diff(matrix.indptr[first : last + 1]))
        is_word = indices < N_FEATURES // 2
        squares = data.astype(np.float64) ** 2
        word_part = np.bincount(rows, weights=squares * is_word, minlength=n)
        char_part = np.bincount(rows, weights=squares * ~is_word, minlength=n)
        scale_words = np.where(
            word_part > 0, 1.0 / np.sqrt(2.0 * np.maximum(word_part, 1e-30)), 0.0
        )
        scale_chars = np.where(
            char_part > 0, 1.0 / np.sqrt(2.0 * np.maximum(char_part, 1e-30)), 0.0
        )
        data *= np.where(is_word, scale_words[rows], scale_chars[rows]).astype(np.float32)
    return matrix


# Scratch of a lookup: a bit per column (128 KiB), free for a lookup, one per lookup running
# at once, reused (fresh ones per lookup, or per thread of a server's pool, would cost page
# faults each time).
_SCRATCH_FREE: list[np.ndarray] = []


class _Query(NamedTuple):
    """A lookup's ticket as a unit row (:func:`_unit_query`): its columns and values."""

    indices: np.ndarray
    data: np.ndarray


def _unit_query(counts: sp.csr_matrix, weights: np.ndarray) -> _Query:
    """The one row of ``counts`` as :func:`_unit_rows` makes it, to the last bit, without a
    matrix built around it (:func:`nlp.kernels.unit_row`)."""
    from nlp.kernels import unit_row

    indices = counts.indices
    data = unit_row(indices, counts.data.astype(np.float32, copy=False), weights, N_FEATURES // 2)
    return _Query(indices, data)


def _scores(matrix: sp.csr_matrix, query: _Query, rows: np.ndarray | None = None) -> np.ndarray:
    """The cosine of each of ``rows`` of ``matrix`` (None: every row) with a one-row query
    (both unit rows), in compiled code (:func:`nlp.kernels.row_dots`), without copying the
    rows first. Each row's score is summed in the same order whichever rows are asked, so a
    row scores the same as a candidate or as part of a whole window."""
    from nlp.kernels import row_dots

    try:
        bits = _SCRATCH_FREE.pop()  # atomic: no two lookups get the same one
    except IndexError:
        bits = np.zeros(N_FEATURES // 64, dtype=np.uint64)
    if rows is None:
        rows = np.arange(matrix.shape[0])
    try:
        return row_dots(
            matrix.indptr, matrix.indices, matrix.data, rows, query.indices, query.data, bits
        )
    finally:
        _SCRATCH_FREE.append(bits)  # given back zeroed


def _heaviest(query: _Query) -> tuple[np.ndarray, np.ndarray]:
    """A one-row query's ``CANDIDATE_FEATURES`` heaviest features and their weights."""
    heaviest = np.argsort(-query.data, kind="stable")[:CANDIDATE_FEATURES]
    return query.indices[heaviest], query.data[heaviest]


def _best(sums: np.ndarray, count: int) -> np.ndarray:
    """The positions of the ``count`` highest ``sums`` (all when there are no more)."""
    if len(sums) <= count:
        return np.arange(len(sums))
    return np.argpartition(-sums, count)[:count]


class _GrowingRows:
    """Rows appended a few at a time into arrays that grow by doubling, readable as one CSR
    matrix without copying: the unit rows of the tickets appended since the last merge,
    which every lookup looks through (stacking a few hundred one-row matrices per lookup
    would cost more than scoring them). Their inverted lists are kept as they come
    (:func:`nlp.kernels.link_rows`), so that a lookup finds its candidates among them as it
    does in the main matrix (:meth:`sums`) instead of scoring every one of them."""

    def __init__(self) -> None:
        self.data = np.empty(1024, dtype=np.float32)
        self.indices = np.empty(1024, dtype=np.int32)
        self.indptr = np.zeros(64, dtype=np.int32)  # a few hundred rows: int32, as indices
        self.rows = 0
        self.following = np.empty(1024, dtype=np.int32)
        self.row_of = np.empty(1024, dtype=np.int32)
        self._head: np.ndarray | None = None  # one list head per column, made when first needed
        self._view: sp.csr_matrix | None = None  # matrix(), until rows change

    def append(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray) -> None:
        """Append the rows of a CSR matrix given by its arrays (``indptr`` from 0)."""
        from nlp.kernels import link_rows

        self._view = None
        count = len(indptr) - 1
        nnz, start = int(indptr[-1]), int(self.indptr[self.rows])
        if start + nnz > len(self.data):
            size = max(2 * len(self.data), start + nnz)
            self.data = np.resize(self.data, size)
            self.indices = np.resize(self.indices, size)
            self.following = np.resize(self.following, size)
            self.row_of = np.resize(self.row_of, size)
        if self.rows + count + 1 > len(self.indptr):
            self.indptr = np.resize(self.indptr, max(2 * len(self.indptr), self.rows + count + 1))
        self.data[start : start + nnz] = data
        self.indices[start : start + nnz] = indices
        self.indptr[self.rows + 1 : self.rows + count + 1] = start + indptr[1:]
        if self._head is None:
            self._head = np.full(N_FEATURES, -1, dtype=np.int32)
        first, self.rows = self.rows, self.rows + count
        link_rows(
            self._head, self.following, self.row_of, self.indptr, self.indices, first, self.rows
        )

    def clear(self) -> None:
        """No rows (the list heads are reset where rows had values, not all 2**20 of them)."""
        if self._head is not None:
            self._head[self.indices[: int(self.indptr[self.rows])]] = -1
        self.rows = 0
        self._view = None

    def matrix(self) -> sp.csr_matrix:
        """The rows as one CSR matrix over the arrays (no copy), built once per change:
        scipy's checks of a new matrix cost a lookup more than scoring its candidates."""
        if self._view is None:
            end = int(self.indptr[self.rows])
            self._view = sp.csr_matrix(
                (self.data[:end], self.indices[:end], self.indptr[: self.rows + 1]),
                shape=(self.rows, N_FEATURES),
                copy=False,
            )
        return self._view

    def sums(
        self, features: np.ndarray, weights: np.ndarray, inside: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The rows with ``inside`` set that hold any of ``features``, and the sum over those
        features of ``weights`` times their values (:func:`nlp.kernels.linked_sums`)."""
        from nlp.kernels import linked_sums

        if self._head is None or not self.rows:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        scratch = np.zeros(self.rows, dtype=np.float32)
        return linked_sums(
            self._head, self.following, self.row_of, self.data, features, weights, inside, scratch
        )


def documents_of(
    texts: Sequence[object], titles: Sequence[object] | None = None
) -> list[str | None]:
    """The normalised (masked) document of each ticket, None for a ticket without one."""
    if titles is None:
        titles = [None] * len(texts)
    out: list[str | None] = []
    for text, title in zip(texts, titles, strict=True):
        if text is not None and not isinstance(text, str) and not _missing(text):
            raise DataError(
                f"a ticket's text must be text, not {type(text).__name__} ({text!r}); "
                "check that the text column holds the tickets' bodies"
            )
        document = compose_document(text, title)
        out.append(None if document is None else normalise(document))
    return out


def _missing(value: object) -> bool:
    return value is pd.NA or (isinstance(value, float) and value != value)


class SimilarIndex:
    """Tickets (id, time, masked document, place keys) in time order, searchable by
    similarity within a time window. Build with :meth:`from_frame` or :meth:`from_store`,
    append with :meth:`add`, ask with :meth:`similar` (one ticket) or :meth:`neighbours`
    (every ticket against its earlier ones, for hot spots)."""

    def __init__(
        self,
        *,
        repeat_threshold: float = DEFAULT_REPEAT_THRESHOLD,
        named_repeat_threshold: float = DEFAULT_NAMED_REPEAT_THRESHOLD,
        gazetteer: Gazetteer | None = None,
    ) -> None:
        for name, value in (
            ("repeat_threshold", repeat_threshold),
            ("named_repeat_threshold", named_repeat_threshold),
        ):
            if not 0.0 < value <= 1.0:
                raise DataError(f"{name} must be in (0, 1], not {value}")
        self.repeat_threshold = repeat_threshold
        #: never above :attr:`repeat_threshold`: naming the place and problem only adds evidence
        self.named_repeat_threshold = min(named_repeat_threshold, repeat_threshold)
        self.gazetteer = gazetteer
        self._ids: list[str] = []
        self._times = np.empty(0, dtype="datetime64[ns]")
        self._places: list[frozenset[str]] = []
        self._documents: list[str] = []
        self._matrix = sp.csr_matrix((0, N_FEATURES), dtype=np.float32)  # unit rows, time order
        self._idf = np.ones(N_FEATURES, dtype=np.float32)
        self._df = np.zeros(N_FEATURES, dtype=np.int64)
        self._seen = 0  # tickets ever added (the IDF's document count; rows may be forgotten)
        self._fitted_rows = 0  # tickets seen when the IDF was last fitted
        self._postings: sp.csr_matrix | None = None  # features x rows of _matrix, built lazily
        # zeroed arrays of one float per row of _matrix, free for a lookup's candidate sums
        self._scratch_free: list[np.ndarray] = []
        # appended chunks not yet in the main matrix: ids, times, documents, places, counts
        self._pending: list[
            tuple[list[str], np.ndarray, list[str], list[frozenset[str]], sp.csr_matrix]
        ] = []
        self._pending_count = 0  # rows of those chunks
        # the pending chunks as a lookup scores them (unit rows, filled in by lookups)
        self._pending_chunks_seen = 0
        self._pending_units = _GrowingRows()
        self._pending_ids: list[str] = []
        self._pending_places: list[frozenset[str]] = []
        self._pending_docs: list[str] = []
        self._pending_times = np.empty(0, dtype="datetime64[ns]")

    # ------------------------------------------------------------------ building
    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        id_col: str = "id",
        time_col: str = "time",
        text_col: str = "text",
        title_col: str | None = "title",
        repeat_threshold: float = DEFAULT_REPEAT_THRESHOLD,
        named_repeat_threshold: float = DEFAULT_NAMED_REPEAT_THRESHOLD,
        gazetteer: Gazetteer | None = None,
    ) -> SimilarIndex:
        """An index of a frame's tickets (``title_col`` may be absent from the frame).
        Rows without text or title are left out (see :meth:`add`)."""
        index = cls(
            repeat_threshold=repeat_threshold,
            named_repeat_threshold=named_repeat_threshold,
            gazetteer=gazetteer,
        )
        require_columns(frame, [id_col, time_col], what="tickets")
        if text_col not in frame.columns and (title_col is None or title_col not in frame):
            require_columns(frame, [text_col], what="tickets")
        index.add(
            ids=frame[id_col].tolist(),
            times=frame[time_col].tolist(),
            texts=frame[text_col].tolist() if text_col in frame else [None] * len(frame),
            titles=frame[title_col].tolist()
            if title_col is not None and title_col in frame
            else None,
        )
        return index

    @classmethod
    def from_store(
        cls,
        store: Any,
        *,
        window: str | timedelta | None = "30d",
        now: datetime | None = None,
        repeat_threshold: float = DEFAULT_REPEAT_THRESHOLD,
        named_repeat_threshold: float = DEFAULT_NAMED_REPEAT_THRESHOLD,
        gazetteer: Gazetteer | None = None,
    ) -> SimilarIndex:
        """An index of the ticket store's tickets answered within ``window`` before ``now``
        (None: all): the store is the index's persistence, so a restart rebuilds it and loses
        nothing. The store's text and title are already masked."""
        from nlp.store import utc_now

        span = parse_window(window)
        since = None if span is None else (now or utc_now()) - span
        frame = store.tickets(since=since)
        return cls.from_frame(
            frame,
            id_col="id",
            time_col="answered_at",
            repeat_threshold=repeat_threshold,
            named_repeat_threshold=named_repeat_threshold,
            gazetteer=gazetteer,
        )

    def add(
        self,
        *,
        ids: Sequence[object],
        times: Sequence[object],
        texts: Sequence[object],
        titles: Sequence[object] | None = None,
        prepared: Sequence[Prepared | None] | None = None,
    ) -> int:
        """Append tickets (any order of time); returns how many were added. A ticket with
        neither text nor title is left out (nothing to compare); a time that does not parse
        or a number where text goes is a :class:`DataError`. ``prepared``: each ticket's
        :meth:`prepare` (None where not computed), used instead of its text and title."""
        if not (len(ids) == len(times) == len(texts)) or (
            titles is not None and len(titles) != len(texts)
        ):
            raise DataError("give one id, time, text (and title) per ticket")
        if prepared is not None and len(prepared) != len(texts):
            raise DataError("give one prepared ticket (or None) per ticket")
        if prepared is not None and all(p is not None for p in prepared):
            return self._add_prepared(ids, parse_times(times), [p for p in prepared if p])
        when = parse_times(times)
        documents = documents_of(texts, titles)
        if prepared is not None:
            # the tickets prepared already go in on their own, the others as usual
            done = [i for i, p in enumerate(prepared) if p is not None]
            added = self._add_prepared(
                [ids[i] for i in done], when[done], [p for p in prepared if p is not None]
            )
            documents = [None if prepared[i] is not None else d for i, d in enumerate(documents)]
            return added + self._add_documents(ids, when, documents)
        return self._add_documents(ids, when, documents)

    def _add_prepared(
        self, ids: Sequence[object], when: np.ndarray, prepared: Sequence[Prepared]
    ) -> int:
        if not prepared:
            return 0
        counts = (
            prepared[0].counts.copy()  # a copy: a merge reweights the rows it holds in place
            if len(prepared) == 1
            else sp.vstack([p.counts for p in prepared], format="csr")
        )
        self._append(
            [str(i) for i in ids],
            when,
            [p.document for p in prepared],
            [p.places for p in prepared],
            counts,
        )
        self._settle()
        return len(prepared)

    def _append(
        self,
        ids: list[str],
        when: np.ndarray,
        docs: list[str],
        places: list[frozenset[str]],
        counts: sp.csr_matrix,
    ) -> None:
        if counts.nnz < 1 << 16:
            # a few tickets (the service adds one at a time, holding the index's lock): a
            # count over all 2**20 columns would cost milliseconds
            np.add.at(self._df, counts.indices, 1)
        else:
            for lo in range(0, counts.nnz, 1 << 26):  # bounded temporaries
                self._df += np.bincount(counts.indices[lo : lo + (1 << 26)], minlength=N_FEATURES)
        self._seen += len(ids)
        self._pending.append((ids, when, docs, places, counts))
        self._pending_count += len(ids)
        if self._pending_count >= _PENDING_LIMIT:
            self._merge()

    def _settle(self) -> None:
        if self._fitted_rows == 0 or self._seen >= 2 * self._fitted_rows:
            self._merge()

    def _add_documents(
        self, ids: Sequence[object], when: np.ndarray, documents: Sequence[str | None]
    ) -> int:
        keep = [i for i, document in enumerate(documents) if document is not None]
        added = 0
        for start in range(0, len(keep), CHUNK_ROWS):
            part = keep[start : start + CHUNK_ROWS]
            docs = [documents[i] or "" for i in part]
            places, _, counts = _prepared(docs, self.gazetteer)
            self._append([str(ids[i]) for i in part], when[part], docs, places, counts)
            added += len(part)
        self._settle()
        return added

    def add_block(self, ids: Sequence[object], times: np.ndarray, block: PreparedBlock) -> int:
        """Append the tickets of a :func:`prepare_block` (``ids`` and ``times``: one per
        ticket given to it, ``times`` parsed) that have a document; returns how many."""
        if not (len(ids) == len(times) == len(block.documents)):
            raise DataError("give one id and time per ticket of the block")
        if not block.kept:
            return 0
        kept = block.kept
        self._append(
            [str(ids[i]) for i in kept],
            np.asarray(times)[kept],
            [block.documents[i] or "" for i in kept],
            list(block.places),
            sp.csr_matrix(block.counts, dtype=np.float32, copy=True),
        )
        self._settle()
        return len(kept)

    def forget_before(self, time: np.datetime64) -> int:
        """Drop the tickets older than ``time`` (a batch that walks through its tickets in
        time order keeps only the window it still links to); returns how many were dropped.
        What they added to the document frequencies stays."""
        self._merge()
        drop = int(np.searchsorted(self._times, time, side="left"))
        if drop == 0:
            return 0
        self._matrix = sp.csr_matrix(self._slice(drop, len(self._ids)), copy=True)
        self._times = self._times[drop:].copy()
        del self._ids[:drop], self._documents[:drop], self._places[:drop]
        self._postings = None
        return drop

    def __len__(self) -> int:
        return len(self._ids) + self._pending_count

    def _merge(self) -> None:
        """Move appended rows into the main matrix (time order); refit the IDF when the index
        has doubled since it was last fitted."""
        if not self._pending:
            return
        pending, self._pending, self._pending_count = self._pending, [], 0
        self._forget_pending_view()
        if len(pending) == 1 and pending[0][4].dtype == np.float32:
            counts = pending[0][4]  # the index's own (from _counts or a stack): reweighted in place
        else:
            counts = sp.vstack([chunk[4] for chunk in pending], format="csr", dtype=np.float32)
        n = self._seen
        if self._fitted_rows == 0 or n >= 2 * self._fitted_rows:
            idf = (np.log((1.0 + n) / (1.0 + self._df)) + 1.0).astype(np.float32)
            if self._matrix.shape[0]:
                # rows hold tf * old idf / norm: reweight by new/old idf and renormalise
                self._matrix = _unit_rows(self._matrix, idf / self._idf, copy=False)
            self._idf, self._fitted_rows = idf, n
        new = _unit_rows(counts, self._idf, copy=False)
        del counts
        times = np.concatenate([chunk[1] for chunk in pending])
        all_times = np.concatenate([self._times, times])
        matrix = sp.vstack([self._matrix, new], format="csr") if self._matrix.shape[0] else new
        ids = self._ids + [i for chunk in pending for i in chunk[0]]
        docs = self._documents + [d for chunk in pending for d in chunk[2]]
        places = self._places + [p for chunk in pending for p in chunk[3]]
        if len(all_times) > 1 and np.any(np.diff(all_times) < np.timedelta64(0)):
            order = np.argsort(all_times, kind="stable")
            all_times, matrix = all_times[order], matrix[order]
            ids = [ids[i] for i in order]
            docs = [docs[i] for i in order]
            places = [places[i] for i in order]
        self._times, self._matrix, self._ids = all_times, sp.csr_matrix(matrix), ids
        self._postings = None
        self._documents, self._places = docs, places

    def prime(self) -> None:
        """Reweight the rows appended since the last merge now, which the next lookup would
        otherwise do (:meth:`_pending_view`: once per appended chunk, and a new view of them):
        a live index's thread calls it after each addition, so that requests find them ready.
        Answers are the same either way."""
        if self._pending:
            self._pending_view()

    def _forget_pending_view(self) -> None:
        self._pending_chunks_seen = 0
        self._pending_units.clear()
        self._pending_ids, self._pending_places, self._pending_docs = [], [], []
        self._pending_times = np.empty(0, dtype="datetime64[ns]")

    def _pending_view(
        self,
    ) -> tuple[sp.csr_matrix, list[str], np.ndarray, list[frozenset[str]], list[str]]:
        """The rows appended since the last merge as one matrix of unit rows (with the
        current IDF, which only a merge changes), their ids, times, places and documents;
        each chunk is reweighted once, by :meth:`prime` or else the first lookup after it."""
        fresh = self._pending[self._pending_chunks_seen :]
        if fresh:
            for chunk_ids, _, chunk_docs, chunk_places, counts in fresh:
                if counts.shape[0] == 1:  # the service's: one compiled call, the same bits
                    row = _unit_query(counts, self._idf)  # _unit_rows' bits, no matrix
                    self._pending_units.append(counts.indptr, row.indices, row.data)
                else:
                    units = _unit_rows(counts, self._idf)
                    self._pending_units.append(units.indptr, units.indices, units.data)
                self._pending_ids.extend(chunk_ids)
                self._pending_places.extend(chunk_places)
                self._pending_docs.extend(chunk_docs)
            self._pending_times = np.concatenate(
                [self._pending_times, *(chunk[1] for chunk in fresh)]
            )
            self._pending_chunks_seen = len(self._pending)
        return (
            self._pending_units.matrix(),
            self._pending_ids,
            self._pending_times,
            self._pending_places,
            self._pending_docs,
        )

    # ------------------------------------------------------------------ asking
    def prepare(self, text: str | None, title: str | None = None) -> Prepared | None:
        """The ticket as this index sees it (masked document, place keys with this index's
        gazetteer, term frequencies), for :meth:`similar` and :meth:`add`; None when it has
        neither text nor title."""
        document = documents_of([text], [title])[0]
        if document is None:
            return None
        return Prepared(
            document=document,
            places=place_keys(document, gazetteer=self.gazetteer),
            counts=_counts([document]),
        )

    def vectorise(self, documents: Sequence[str]) -> sp.csr_matrix:
        """Unit rows of normalised documents with the index's IDF."""
        return _unit_rows(_counts(documents), self._idf)

    def score(
        self, a: str, b: str, *, title_a: str | None = None, title_b: str | None = None
    ) -> tuple[float, bool]:
        """The cosine of two tickets and whether they name the same place (or either none)."""
        docs = documents_of([a, b], [title_a, title_b])
        if docs[0] is None or docs[1] is None:
            raise DataError("both tickets need a text or a title")
        rows = self.vectorise([docs[0], docs[1]])
        cosine = float(rows[0].multiply(rows[1]).sum())
        places = [place_keys(d, gazetteer=self.gazetteer) for d in (docs[0], docs[1])]
        return cosine, same_place(places[0], places[1])

    def is_repeat(
        self,
        score: float,
        same: bool,
        *,
        tickets: tuple[tuple[str, frozenset[str]], tuple[str, frozenset[str]]] | None = None,
    ) -> bool:
        """A likely repeat: the same place (``same``: :func:`same_place`), the same problem
        (given the two ``tickets``, each one's masked document and place keys:
        :func:`same_problem` of their :func:`problem_keys`), and a score of at least
        :attr:`named_repeat_threshold` when both name the place and both name what they
        complain about and neither is long (:func:`named_pair`), else
        :attr:`repeat_threshold`. Without ``tickets``, the score and the place decide at
        :attr:`repeat_threshold`."""
        if not same or score < self.named_repeat_threshold:
            return False
        if tickets is None:
            return score >= self.repeat_threshold
        (document_a, places_a), (document_b, places_b) = tickets
        return _repeat_of_keys(
            score,
            repeat_keys(document_a, places_a),
            repeat_keys(document_b, places_b),
            self.repeat_threshold,
            self.named_repeat_threshold,
        )

    def similar(
        self,
        text: str | None,
        title: str | None = None,
        *,
        time: object = None,
        window: str | timedelta | None = "30d",
        k: int = 5,
        min_score: float | None = None,
        exclude_id: str | None = None,
        prepared: Prepared | None = None,
        exact: bool = False,
        candidates: int = CANDIDATES,
    ) -> list[Match]:
        """The ``k`` most similar tickets answered before ``time`` (default: after every
        ticket) and within ``window`` of it, best first, each with its score and whether it
        is likely a repeat. Scores under ``min_score`` are left out (default: under
        :attr:`named_repeat_threshold`, so that no likely repeat is). ``prepared``: the
        ticket's :meth:`prepare`, used instead of ``text`` and ``title`` (the same answer,
        without masking, segmenting or looking for places again). Scores are exact cosines;
        the tickets scored are the ``candidates`` best candidates of the query's heaviest
        features (see the module's documentation), or, with ``exact=True``, every ticket of
        the window (slower on a large index; the answer differs only where a candidate was
        missed). Fewer ``candidates`` cost less and miss more."""
        if k < 1:
            raise DataError(f"k must be at least 1, not {k}")
        if candidates < 1:
            raise DataError(f"candidates must be at least 1, not {candidates}")
        if min_score is None:
            min_score = self.named_repeat_threshold
        if prepared is None:
            prepared = self.prepare(text, title)
            if prepared is None:
                raise DataError("the ticket needs a text or a title to find similar ones")
        span = parse_window(window)
        if not len(self):
            return []
        if time is not None:
            at = _as_time(time)
        else:  # after every ticket (the held ones are in time order, appended chunks in any)
            held = self._times[-1:]
            at = max(t.max() for t in (held, *(c[1] for c in self._pending)) if len(t))
        earliest = None if span is None else at - np.timedelta64(span)
        query = _unit_query(prepared.counts, self._idf)
        places = prepared.places
        found: list[tuple[float, str, np.datetime64, frozenset[str], str]] = []

        def keep(
            scores: np.ndarray,
            rows: np.ndarray | int,
            ids: Sequence[str],
            times: np.ndarray,
            keys: Sequence[frozenset[str]],
            docs: Sequence[str],
        ) -> None:
            # rows: the row of each score, or the row of the first (a slice)
            chosen = np.flatnonzero(scores >= min_score)
            if len(chosen) > k + 1:
                chosen = chosen[np.argpartition(-scores[chosen], k)[: k + 1]]
            for position in chosen:
                row = int(rows[position]) if isinstance(rows, np.ndarray) else rows + int(position)
                found.append((float(scores[position]), ids[row], times[row], keys[row], docs[row]))

        end = int(np.searchsorted(self._times, at, side="left"))
        start = 0 if earliest is None else int(np.searchsorted(self._times, earliest, side="left"))
        heaviest = None if exact or not len(query.data) else _heaviest(query)
        # the main matrix's candidates and their sums (None: its whole window is scored)
        found_rows = (
            None
            if heaviest is None or end <= start
            else self._candidates(heaviest, start, end, candidates)
        )
        if end > start and found_rows is None:
            keep(_scores(self._slice(start, end), query), start, *self._held())
        # tickets appended since the last merge (at most a few hundred): their candidates
        # compete with the main matrix's for the ``candidates`` scored (all of them when the main
        # window is scored whole and they are few)
        pending = None
        if self._pending:
            pending = self._pending_view()
            inside = pending[2] < at
            if earliest is not None:
                inside &= pending[2] >= earliest
            if not inside.any():
                pending = None
        if pending is not None and (
            heaviest is None or (found_rows is None and int(inside.sum()) <= candidates)
        ):
            scores = np.where(inside, _scores(pending[0], query), -1.0)
            keep(scores, 0, *pending[1:])
            pending = None
        if found_rows is not None or pending is not None:
            assert heaviest is not None
            none = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32))
            rows, sums = found_rows if found_rows is not None else none
            split = len(rows)
            if pending is not None:
                more, more_sums = self._pending_units.sums(*heaviest, inside)
                rows, sums = np.concatenate([rows, more]), np.concatenate([sums, more_sums])
            chosen = _best(sums, candidates)
            main, fresh = np.sort(rows[chosen[chosen < split]]), rows[chosen[chosen >= split]]
            if len(main):
                keep(_scores(self._matrix, query, main), main, *self._held())
            if len(fresh):
                assert pending is not None
                keep(_scores(pending[0], query, fresh), fresh, *pending[1:])
        found.sort(key=lambda item: (-item[0], item[1]))
        matches: list[Match] = []
        for score, ticket, when, keys, doc in found:
            if exclude_id is not None and ticket == exclude_id:
                continue
            same = same_place(places, keys)
            matches.append(
                Match(
                    id=ticket,
                    time=pd.Timestamp(when).to_pydatetime(),
                    score=score,
                    repeat=self.is_repeat(
                        score, same, tickets=((prepared.document, places), (doc, keys))
                    ),
                    same_place=same,
                )
            )
            if len(matches) == k:
                break
        return matches

    def _held(self) -> tuple[list[str], np.ndarray, list[frozenset[str]], list[str]]:
        return self._ids, self._times, self._places, self._documents

    def _slice(self, start: int, end: int) -> sp.csr_matrix:
        """Rows ``[start, end)`` of the main matrix without copying their values (scipy's
        slice copies them: a window of a million rows would be gigabytes per lookup)."""
        matrix = self._matrix
        lo, hi = int(matrix.indptr[start]), int(matrix.indptr[end])
        return sp.csr_matrix(
            (matrix.data[lo:hi], matrix.indices[lo:hi], matrix.indptr[start : end + 1] - lo),
            shape=(end - start, N_FEATURES),
            copy=False,
        )

    def _candidates(
        self, heaviest: tuple[np.ndarray, np.ndarray], start: int, end: int, count: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The rows of ``[start, end)`` that hold any of a query's heaviest features
        (:func:`_heaviest`: the features and their weights), and the part of each one's
        cosine on those features. None when scoring the whole window costs less than
        reading those features' inverted lists and scoring ``count`` rows."""
        if end - start <= count:
            return None
        features, weights = heaviest
        if self._postings is None:
            self._postings = sp.csr_matrix(self._matrix.T)  # features x rows
            self._scratch_free = []
        postings = self._postings
        read = int((postings.indptr[features + 1] - postings.indptr[features]).sum())
        matrix = self._matrix
        per_row = matrix.nnz / max(matrix.shape[0], 1)
        if read + count * per_row >= matrix.indptr[end] - matrix.indptr[start]:
            return None
        from nlp.kernels import posting_sums

        try:
            scratch = self._scratch_free.pop()  # atomic: no two lookups get the same one
        except IndexError:
            scratch = np.zeros(matrix.shape[0], dtype=np.float32)
        if len(scratch) != matrix.shape[0]:  # left by a lookup on the matrix before a merge
            scratch = np.zeros(matrix.shape[0], dtype=np.float32)
        try:
            return posting_sums(
                postings.indptr,
                postings.indices,
                postings.data,
                features,
                weights,
                start,
                end,
                scratch,
            )
        finally:
            self._scratch_free.append(scratch)  # given back zeroed

    def neighbours(
        self,
        *,
        window: str | timedelta | None = "7d",
        min_score: float = 0.1,
        k: int = 20,
        chunk_rows: int = 1_000,
        first_source: int = 0,
    ) -> pd.DataFrame:
        """Every ticket's up to ``k`` most similar earlier tickets within ``window`` (None:
        all earlier), as a frame ``source, target, score, same_place, same_problem, repeat`` of row
        positions in time order (:attr:`ids`, :attr:`times`), ``target`` earlier than
        ``source``. Computed ``chunk_rows`` tickets at a time (fewer when they span more than
        a window) against their window, so memory stays bounded by a chunk times its window.
        ``first_source``: only the tickets from that position on ask (those just added)."""
        self._merge()
        span = parse_window(window)
        sources: list[np.ndarray] = []
        targets: list[np.ndarray] = []
        scores: list[np.ndarray] = []
        n = len(self._ids)
        c1 = first_source
        while c1 < n:
            c0, c1 = c1, min(n, c1 + chunk_rows)
            lo = 0
            if span is not None:
                lo = int(np.searchsorted(self._times, self._times[c0] - np.timedelta64(span)))
                # a chunk no longer than a window: its tickets a window apart are not scored
                within = np.searchsorted(
                    self._times, self._times[c0] + np.timedelta64(span), "right"
                )
                c1 = min(c1, max(int(within), c0 + _MIN_CHUNK_ROWS))
            product = (self._slice(c0, c1) @ self._slice(lo, c1).T).tocoo()
            rows, cols, values = product.row, product.col, product.data
            src = rows + c0
            tgt = cols + lo
            keep = (tgt < src) & (values >= min_score)
            if span is not None:
                keep &= self._times[src] - self._times[tgt] <= np.timedelta64(span)
            src, tgt, val = src[keep], tgt[keep], values[keep]
            if len(src) and k:
                order = np.lexsort((-val, src))
                src, tgt, val = src[order], tgt[order], val[order]
                first = np.searchsorted(src, src, side="left")
                rank = np.arange(len(src)) - first
                keep = rank < k
                src, tgt, val = src[keep], tgt[keep], val[keep]
            sources.append(src)
            targets.append(tgt)
            scores.append(val)
        source = np.concatenate(sources) if sources else np.empty(0, dtype=np.int64)
        target = np.concatenate(targets) if targets else np.empty(0, dtype=np.int64)
        score = np.concatenate(scores) if scores else np.empty(0, dtype=np.float32)
        same = np.fromiter(
            (
                same_place(self._places[s], self._places[t])
                for s, t in zip(source, target, strict=True)
            ),
            dtype=bool,
            count=len(source),
        )
        problem, repeat = self._problems_and_repeats(source, target, score, same)
        return pd.DataFrame(
            {
                "source": source.astype(np.int64),
                "target": target.astype(np.int64),
                "score": score.astype(np.float64),
                "same_place": same,
                "same_problem": problem,
                "repeat": repeat,
            }
        )

    def _problems_and_repeats(
        self, source: np.ndarray, target: np.ndarray, score: np.ndarray, same: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each pair of rows at the same place (``same``): :func:`same_problem` and
        :meth:`is_repeat`, each row's :func:`problem_keys` found once (one regex over its
        document); pairs at two places are neither (their problem is not looked at)."""
        problem = np.zeros(len(source), dtype=bool)
        repeat = np.zeros(len(source), dtype=bool)
        rows = np.flatnonzero(same)
        keys = {
            row: repeat_keys(self._documents[row], self._places[row])
            for row in set(source[rows].tolist()) | set(target[rows].tolist())
        }
        for i in rows.tolist():
            a, b = keys[int(source[i])], keys[int(target[i])]
            problem[i] = same_problem(a.problems, b.problems)
            repeat[i] = _repeat_of_keys(
                float(score[i]), a, b, self.repeat_threshold, self.named_repeat_threshold
            )
        return problem, repeat

    # ------------------------------------------------------------------ what it holds
    @property
    def ids(self) -> list[str]:
        """Ticket ids in time order (the positions :meth:`neighbours` names)."""
        self._merge()
        return list(self._ids)

    @property
    def times(self) -> np.ndarray:
        self._merge()
        return self._times.copy()

    @property
    def documents(self) -> list[str]:
        """The masked documents, in time order."""
        self._merge()
        return list(self._documents)

    @property
    def places(self) -> list[frozenset[str]]:
        self._merge()
        return list(self._places)
