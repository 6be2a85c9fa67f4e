"""Several problems in one ticket: find its separate problem statements and route each one.

A resident often puts two problems in one ticket (``工地晚上打桩；另外下水道堵了``), and each
needs its own department. :func:`find_problems` returns the ticket's problems: the lead problem
first (the whole ticket's own answer, which stays the top-level answer), then every other
problem that a department other than the lead's must handle, each with the text span it came
from (field and character offsets as sent).

How, in three steps:

1. **Candidate clauses** (:func:`clauses`, no model): the body is cut where it lists: at
   ``；`` and line breaks, at numbered lists that count up (``1. 2.``, ``1、2、``,
   ``（1）（2）``, ``①②``), and before a clause that opens with an enumeration (一是, 第二，,
   其三, 问题二, 二、) or a joining word (另外, 还有, 同时, 此外, 再者, 其次, 顺便说一下, …).
   A body with none of those is cut at its sentence ends (``。！？``), and a body of one
   sentence at its commas and colons (``SplitPolicy.split_commas``). The coarsest cut
   keeps each problem's statement whole (its details with it), which the model reads better
   than its sentences one by one. The joining word and the numbering are left out of the
   clause's span.
2. **One batched call**: every candidate clause of every ticket (for a sentence cut at its
   commas: the text before each comma and the text after it) is classified by the routing
   model in one :meth:`~nlp.model.RoutingModel.predict_proba` call.
3. **A conservative rule** (:class:`SplitPolicy`): a clause is a separate problem only when
   it is long enough (``min_chars`` characters that are not punctuation or white space), the
   model is confident of it (``min_confidence`` after a joining word, an enumeration, a list
   marker or ``；``; ``min_confidence_plain`` after a sentence end), its department
   differs from the lead's (the whole ticket's answer does not already explain it), that
   department has some weight in the whole ticket's own ranking (``min_support``: its score
   in the ticket's ``top_k``), the clause does not also read as the lead's department
   (``max_lead``, ``max_lead_plain`` after a sentence end: a detail of the lead problem
   misread as another department usually keeps some of the lead's probability), and it is
   not the writer's contact details and little else (a phone number, 联系电话, 反映人, …:
   ``路灯坏了，联系电话139…`` is still a problem). The clauses that are no problem of their
   own (details, greetings, the writer's address) belong to the problem before them. A
   sentence cut at its commas holds two problems when, at one comma, the text before reads
   as one department and the text after as another, one of them the lead's, the other
   passing stricter ``comma_`` settings, and each side reads clearly as its own: the new
   problem's text all but never as the lead's (``comma_max_lead``), the lead's side surely
   as the lead's (``comma_min_lead``). A second problem stated in one sentence rarely has
   any weight in the whole sentence's ranking, so a comma needs none by default.

The rule is conservative (a ticket with one problem must not be split; a second problem it
is unsure of stays with the lead), and the common case costs next to nothing: a ticket
without a split point (or, when the policy asks for support, whose whole-ticket runner-up
scores under it: no other department can then qualify) is answered from its prediction
alone, without calling the model again. The thresholds were chosen by cross-validation on the demo
appeals and on tickets written for it (``bench/dispatch.py --sections problems_cv``).

:func:`find_problems_many` does the same for a batch (one model call for all of it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from nlp.errors import DataError

if TYPE_CHECKING:
    from nlp.model import Prediction, RoutingModel

__all__ = [
    "Clause",
    "Problem",
    "SplitPolicy",
    "candidate_texts",
    "clauses",
    "find_problems",
    "find_problems_many",
    "split_problems",
]

#: A field of a ticket as sent.
Field = Literal["title", "text"]

_CN_DIGITS = "一二三四五六七八九十"
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"

#: Sentence ends: a new clause always starts after one of these.
_HARD = "。！？!?；;\n\r…"
#: Sentence ends that list: the clause after one is ``marked``.
_MARKING = "；;\n\r"
#: Commas and colons: a new clause starts here only with ``split_commas`` (or before a
#: joining word or an enumeration).
_SOFT = "，,：:"

#: Where clauses may start: a run of separators, or a numbered-list marker (checked for
#: counting up afterwards). Single characters and fixed short groups only: linear time.
_SEPARATOR_RUN = rf"(?P<sep>[{_HARD}{_SOFT}]+)"
_LIST_MARKER = (
    r"(?P<num>(?<![0-9A-Za-z.．])[1-9][.．、)）](?![0-9]))"
    r"|(?P<paren>[（(][1-9一二三四五六七八九十][)）])"
    rf"|(?P<circled>[{_CIRCLED}])"
)
_CUT = re.compile(f"{_SEPARATOR_RUN}|{_LIST_MARKER}")

#: ``_CUT``'s runs of separators alone, and its list markers alone. Their matches never
#: overlap (no marker holds a separator, none starts with one), so ``_CUT``'s matches are
#: theirs together; ``re`` finds runs of one character class at C speed, where it tries
#: every branch of ``_CUT`` at every character. Markers are only tried where one can start.
_SEPARATORS = re.compile(_SEPARATOR_RUN)
_MARKERS = re.compile(_LIST_MARKER)
_MARKER_START = re.compile(rf"[1-9（({_CIRCLED}]")


def _cuts(text: str) -> list[re.Match[str]]:
    """``list(_CUT.finditer(text))``: the same matches (spans and groups), in a fraction of
    the time."""
    separators = list(_SEPARATORS.finditer(text))
    markers = _markers(text)
    if not markers:
        return separators
    return sorted(separators + markers, key=_start)


def _markers(text: str) -> list[re.Match[str]]:
    """The matches of ``_CUT`` that are list markers (not runs of separators), in order."""
    markers: list[re.Match[str]] = []
    reached = 0
    match_at = _MARKERS.match
    for candidate in _MARKER_START.finditer(text):
        position = candidate.start()
        if position < reached:
            continue
        match = match_at(text, position)  # its look-behind still sees what comes before
        if match is not None:
            markers.append(match)
            reached = match.end()
    return markers


def _start(match: re.Match[str]) -> int:
    return match.start()


#: What opens a clause and is not part of its problem: enumerations and joining words
#: (simplified and traditional forms), anchored at the clause's start.
_OPENER = re.compile(
    rf"(?:[{_CN_DIGITS}]是"
    rf"|第[{_CN_DIGITS}](?:是|点|點|個|个|条|條|件|项|項|、|(?=[，,：:]|$))"
    rf"|其[{_CN_DIGITS}](?=[，,、：:]|$)"
    rf"|问题[{_CN_DIGITS}1-9]是?|問題[{_CN_DIGITS}1-9]是?"
    rf"|[{_CN_DIGITS}]、"
    r"|另外|此外|再者|再有|其次|首先|再就是|再一个|再一個|另一个|另一個|另一件事|另(?=[，,：:]|$)"
    r"|还有(?:一个|一個|一件事|就是)?|還有(?:一個|一件事|就是)?|同时|同時"
    r"|顺便|順便|附带|附帶|补充|補充"
    r")"
    r"(?:说|說|问|問|提|反映|讲|講)?(?:一下|一句|一点|一點)?"
)
#: The characters an opener can start with (a piece that starts otherwise has none).
_OPENER_FIRST = frozenset(f"{_CN_DIGITS}第其问問另此再首还還同顺順附补補")
_CIRCLED_SET = frozenset(_CIRCLED)
_MARKING_SET = frozenset(_MARKING)
_HARD_SET = frozenset(_HARD)
#: A clause that gives the writer's name or how to reach them is no problem of its own: a
#: number, or a word that introduces one (联系电话, 电话是, 手机号：), not a problem that
#: mentions a telephone (物业打电话永远没人接, 联系不上房东).
_CONTACT = re.compile(
    r"(?:联系|聯繫|聯系)(?:电话|電話|方式|人|我)|(?:电话|電話|手机|手機)(?:号码|號碼|号|號)?[是为為：:]"
    r"|(?:手机|手機)(?:号码|號碼|号|號)|反映人|举报人|舉報人|投诉人|投訴人|身份证|身份證"
    r"|微信号|微信號|QQ|[0-9]{7}|[0-9]{3,4}[ -][0-9]{4}|[0-9]{3}[*＊]{4}"
)
#: White space and punctuation trimmed from both ends of a clause.
_TRIM = f" \t\u3000{_HARD}{_SOFT}、"
#: Characters that do not count toward a clause's length.
_NOT_CONTENT = re.compile(rf"[\s{_HARD}{_SOFT}、\"'“”‘’（）()【】《》<>…—\-~～·.]")


@dataclass(frozen=True, slots=True)
class SplitPolicy:
    """When a clause of a ticket is a problem of its own (the module's docstring, step 3).

    The defaults were chosen by ``bench/dispatch.py --sections problems_cv``: 5-fold
    cross-validation on the demo appeals (held-out appeals joined in twos and threes:
    different departments make several problems, the same department one; and every
    held-out appeal as written, one problem), and ``data/demo/multi_problem_tune.csv``
    (558 tickets written for this, with their departments). Of the policies that split at
    most 3 % of every kind of one-problem ticket, they found the most departments (of
    equally good ones, the stricter). Higher ``min_support`` lets more tickets skip the
    model but finds fewer departments.
    """

    #: Characters (not punctuation or white space) a clause needs to be a problem.
    min_chars: int = 4
    #: The model's probability of the clause's department, at least, when the text was cut
    #: where it lists (joining words, enumerations, list markers, ``；``, line breaks).
    min_confidence: float = 0.5
    #: The same when it was cut at the ends of its sentences.
    min_confidence_plain: float = 0.9
    #: The department's score in the whole ticket's ``top_k``, at least (0: any).
    min_support: float = 0.0
    #: The clause's probability of the lead's department, at most: a detail of the lead
    #: problem that reads as another department still reads a little as the lead's.
    max_lead: float = 0.01
    #: The same when it was cut at the ends of its sentences (a sentence is more often a
    #: detail of the problem before it than a clause after 另外 or ``；``).
    max_lead_plain: float = 0.003
    #: Cut a ticket of one sentence at its commas and colons (``工地噪音太大，下水道也堵了``):
    #: it then holds two problems when, at one comma, the text before reads as one
    #: department and the text after as another (the ``comma_`` settings below, stricter:
    #: a comma's clause is often a detail that reads as another department alone).
    split_commas: bool = True
    #: ``min_chars`` of a problem found at a comma.
    comma_min_chars: int = 10
    #: ``min_confidence`` of a problem found at a comma.
    comma_min_confidence: float = 0.95
    #: ``min_support`` of a problem found at a comma. 0 (the default) since a second problem
    #: stated in one sentence rarely shows in the whole sentence's ranking: the whole
    #: sentence reads as its longer problem (``comma_max_lead`` and ``comma_min_lead``
    #: guard instead). Above 0, a sentence whose runner-up scores under it is answered
    #: without calling the model again.
    comma_min_support: float = 0.0
    #: The new problem's probability of the lead's department, at most (``max_lead`` of a
    #: problem found at a comma).
    comma_max_lead: float = 0.0005
    #: The other side of the comma's probability of the lead's department, at least: both
    #: halves of the sentence must read clearly, each as its own department.
    comma_min_lead: float = 0.9
    #: Clauses per ticket, at most: a ticket cut into more is read whole (long letters tell
    #: one story in many sentences). 6 found about as many departments in the
    #: cross-validation as 12 (set recall 0.837 and 0.841, stage 3 of ``problems_cv``) and
    #: costs less on long letters.
    max_clauses: int = 6

    def __post_init__(self) -> None:
        problems = []
        for name in ("min_chars", "comma_min_chars"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                problems.append(f"{name} must be a whole number of at least 1, not {value!r}")
        for name in (
            "min_confidence",
            "min_confidence_plain",
            "min_support",
            "max_lead",
            "max_lead_plain",
            "comma_min_confidence",
            "comma_min_support",
            "comma_max_lead",
            "comma_min_lead",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 <= value <= 1):
                problems.append(f"{name} must be between 0 and 1, not {value!r}")
        if not (isinstance(self.max_clauses, int) and self.max_clauses >= 2):
            problems.append(
                f"max_clauses must be a whole number of at least 2, not {self.max_clauses!r}"
            )
        if problems:
            raise DataError("invalid split policy: " + "; ".join(problems))


#: Where a text was cut into clauses: where it lists (joining words, enumerations, list
#: markers, ``；``, line breaks), at the ends of its sentences, or at its commas.
Cut = Literal["list", "sentence", "comma"]


@dataclass(frozen=True, slots=True)
class Clause:
    """A candidate problem statement: characters ``[start, end)`` of the field it is in,
    and where the text was cut (:data:`Cut`)."""

    start: int
    end: int
    cut: Cut


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem of a ticket: its statement (``text``, characters ``[start, end)`` of
    ``field`` as sent), the department that must handle it and the model's probability."""

    text: str
    label: str
    confidence: float
    start: int
    end: int
    field: Field

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"text", "label", "confidence", "start", "end", "field"}``."""
        return {
            "text": self.text,
            "label": self.label,
            "confidence": self.confidence,
            "start": self.start,
            "end": self.end,
            "field": self.field,
        }


def _numbered(text: str, cuts: Sequence[re.Match[str]] | None = None) -> set[int]:
    """Start offsets of the numbered-list markers of ``text`` that count up from one
    (``1.`` … ``2.``; ``（1）`` … ``（2）``; ``①`` … ``②``): a lone ``2、`` (as in ``2、3栋``) is
    no list. ``cuts``: the matches of ``_CUT`` in ``text`` when the caller has them."""
    runs: dict[str, list[tuple[int, int]]] = {}
    for match in _CUT.finditer(text) if cuts is None else cuts:
        kind = match.lastgroup
        if kind == "sep" or kind is None:
            continue
        mark = match.group()
        if kind == "num":
            value = int(mark[0])
        elif kind == "paren":
            inner = mark[1]
            value = int(inner) if inner.isdigit() else _CN_DIGITS.index(inner) + 1
        else:
            value = _CIRCLED.index(mark) + 1
        runs.setdefault(kind, []).append((value, match.start()))
    found: set[int] = set()
    for marks in runs.values():
        expected, chain = 1, []
        for value, start in marks:
            if value == expected:
                chain.append(start)
                expected += 1
        if len(chain) >= 2:
            found.update(chain)
    return found


#: How strongly a piece of text is cut from the one before it (see :func:`_pieces`).
_COMMA, _SENTENCE, _MARKED, _FIRST = 1, 2, 3, 4


def _run_strength(run: str) -> int:
    """How strongly a run of separators cuts: ``_MARKED`` when it holds ``；`` or a line
    break, else ``_SENTENCE`` when it holds a sentence end, else ``_COMMA``."""
    if not _MARKING_SET.isdisjoint(run):
        return _MARKED
    if not _HARD_SET.isdisjoint(run):
        return _SENTENCE
    return _COMMA


#: :func:`_run_strength` of each run of one separator (most runs), looked up at once.
_RUN_STRENGTH = {char: _run_strength(char) for char in _HARD + _SOFT}


def _pieces(text: str) -> list[tuple[int, int, int]]:
    """``text`` cut at every possible place: ``(start, end, strength)`` of each non-empty
    piece, the joining word or enumeration it opens with left out. ``strength``:
    ``_MARKED`` after ``；``, a line break or a list marker, or when the piece opens with a
    joining word or an enumeration; ``_SENTENCE`` after ``。！？``; ``_COMMA`` after a comma
    or a colon only; ``_FIRST`` for the first piece."""
    # The cuts are _CUT's matches (see _cuts): the runs of separators, and the list markers,
    # of which only those of a list that counts up cut (most tickets have none).
    markers = _markers(text)
    numbered = (
        _numbered(text, markers)
        if markers and (any(map(str.isdigit, text)) or not _CIRCLED_SET.isdisjoint(text))
        else set()
    )
    if not numbered:
        return _unnumbered_pieces(text)
    pieces: list[tuple[int, int, int]] = []
    position, strength = 0, _FIRST
    bounds: list[tuple[int, int, int]] = []  # (cut start, next piece start, strength)
    run_strength = _RUN_STRENGTH.get
    for match in _SEPARATORS.finditer(text):
        run = match.group()
        cut, after = match.span()
        bounds.append((cut, after, run_strength(run) or _run_strength(run)))
    if numbered:
        bounds.extend(
            (match.start(), match.end(), _MARKED) for match in markers if match.start() in numbered
        )
        bounds.sort()  # no two cuts start at one place: by start, as _CUT finds them
    bounds.append((len(text), len(text), 0))
    for cut, after, next_strength in bounds:
        start, end = position, cut
        while start < end and text[start] in _TRIM:
            start += 1
        # Most pieces open with no joining word: their first character says so at once.
        opener = (
            _OPENER.match(text, start, end)
            if start < end and text[start] in _OPENER_FIRST
            else None
        )
        if opener is not None and opener.end() > start:
            strength = max(strength, _MARKED)
            start = opener.end()
            while start < end and text[start] in _TRIM:
                start += 1
        while end > start and text[end - 1] in _TRIM:
            end -= 1
        if end > start:
            pieces.append((start, end, strength))
            strength = next_strength
        else:  # an empty piece (a bare 另外，) hands its strength on
            strength = max(strength, next_strength)
        position = after
    return pieces


#: A piece of text between two runs of separators, trimmed: from its first character that
#: is not trimmed (:data:`_TRIM`) to its last, with no separator in between. Separators are
#: trimmed characters, so what lies between two such pieces is trimmed characters only,
#: with at least one run of separators.
_CONTENT = re.compile(
    f"[^{re.escape(_TRIM)}](?:[^{re.escape(_HARD + _SOFT)}]*[^{re.escape(_TRIM)}])?"
)


def _unnumbered_pieces(text: str) -> list[tuple[int, int, int]]:
    """:func:`_pieces` of a text with no numbered list (cut at its runs of separators
    only): the trimmed pieces are the matches of :data:`_CONTENT`, found at C speed, and
    the strength of a cut is that of the separators before the piece (runs cut as strongly
    as their strongest character, so the gap, of trimmed characters, is read as one run).
    Each piece's opener is still looked for (most pieces have none) and left out."""
    pieces: list[tuple[int, int, int]] = []
    strength = _FIRST
    position = -1  # where the last piece ended; -1 before the first
    run_strength = _RUN_STRENGTH.get
    for match in _CONTENT.finditer(text):
        start, end = match.span()
        if position >= 0:
            gap = text[position:start]
            cut = run_strength(gap) or _run_strength(gap)
            strength = cut if strength == 0 else max(strength, cut)
        position = end
        if text[start] in _OPENER_FIRST:
            # the opener may take in trimmed characters up to the next cut (一、)
            following = _SEPARATORS.search(text, end)
            limit = following.start() if following is not None else len(text)
            opener = _OPENER.match(text, start, limit)
            if opener is not None and opener.end() > start:
                strength = max(strength, _MARKED)
                start = opener.end()
                while start < limit and text[start] in _TRIM:
                    start += 1
                if end <= start:  # a bare 另外，: its strength goes to the next piece
                    continue
        pieces.append((start, end, strength))
        strength = 0  # the next piece's is its cut's
    return pieces


def clauses(text: str, *, split_commas: bool = False, max_clauses: int = 12) -> list[Clause]:
    """The candidate problem statements of ``text`` in order (step 1 of the module's
    docstring), cut at the coarsest places that cut it at all: at joining words,
    enumerations, list markers, ``；`` and line breaks when it has any; else at the ends of
    its sentences; else (``split_commas``) at its commas and colons. One clause (the whole
    text, trimmed) when there is no split point or more than ``max_clauses`` clauses at that
    level (a long letter tells one story in many sentences); none for a text of white space
    and punctuation only."""
    if not isinstance(text, str):
        raise DataError(f"a ticket's text must be a string, not {type(text).__name__}")
    pieces = _pieces(text)
    if not pieces:
        return []
    levels = (_MARKED, _SENTENCE, _COMMA) if split_commas else (_MARKED, _SENTENCE)
    strengths = [strength for _, _, strength in pieces]
    for level in levels:
        # Pieces cut more weakly than ``level`` join the one before them: a clause runs from
        # a piece cut at least that strongly (the first piece is) to the next one.
        heads = [i for i, strength in enumerate(strengths) if strength >= level]
        if len(heads) > max_clauses:
            break
        if len(heads) > 1:
            ends = [i - 1 for i in heads[1:]]
            ends.append(len(pieces) - 1)
            cut = _CUTS[level]
            return [
                Clause(pieces[head][0], pieces[last][1], cut)
                for head, last in zip(heads, ends, strict=True)
            ]
    return [Clause(pieces[0][0], pieces[-1][1], "list")]


_CUTS: dict[int, Cut] = {_MARKED: "list", _SENTENCE: "sentence", _COMMA: "comma"}


def candidate_texts(value: str, found: Sequence[Clause]) -> list[str]:
    """What the model classifies for a ticket whose field ``value`` has the clauses
    ``found``: each clause; for clauses cut at commas, the text before each comma and the
    text after it (``n - 1`` heads, then ``n - 1`` tails), since a comma's clause alone is
    often a fragment (``电线杆上、墙上都有``) that reads as another department."""
    if len(found) < 2:
        return []
    if found[0].cut != "comma":
        return [value[clause.start : clause.end] for clause in found]
    first, last = found[0].start, found[-1].end
    heads = [value[first : clause.end] for clause in found[:-1]]
    tails = [value[clause.start : last] for clause in found[1:]]
    return heads + tails


def _length(text: str) -> int:
    return len(_NOT_CONTENT.sub("", text))


#: The parts of a clause between its commas and sentence ends.
_PART = re.compile(r"[^，,。！？!?；;\n]+")


def _contact_only(value: str, start: int, end: int, least: int) -> bool:
    """Whether ``value[start:end]`` is the writer's contact details and little else: fewer
    than ``least`` characters are left when its parts that give a name, a number or how to
    reach the writer are left out (``路灯坏了三天，联系电话139…`` is still a problem)."""
    if not _CONTACT.search(value, start, end):
        return False
    rest = sum(
        _length(part.group())
        for part in _PART.finditer(value, start, end)
        if not _CONTACT.search(part.group())
    )
    return rest < least


def _field(text: object, title: object) -> tuple[str, Field] | None:
    """The field whose clauses are read: the body, or the title of a title-only ticket."""
    if isinstance(text, str) and text.strip():
        return text, "text"
    if isinstance(title, str) and title.strip():
        return title, "title"
    return None


def _whole(value: str, field: Field, prediction: Prediction) -> Problem:
    start = len(value) - len(value.lstrip())
    end = len(value.rstrip())
    return Problem(value[start:end], prediction.label, prediction.confidence, start, end, field)


def split_problems(
    value: str,
    field: Field,
    found: Sequence[Clause],
    probabilities: NDArray[np.float64],
    labels: Sequence[str],
    prediction: Prediction,
    *,
    policy: SplitPolicy | None = None,
) -> list[Problem]:
    """The problems of one ticket from its candidate clauses (``found``, in ``field`` whose
    text is ``value``) and the probabilities of their :func:`candidate_texts` (rows in that
    order, columns ``labels``): step 3 of the module's docstring. The lead problem
    (``prediction``) comes first, then the others in the order they are stated."""
    policy = policy or SplitPolicy()
    if len(found) < 2:
        return [_whole(value, field, prediction)]
    if found[0].cut == "comma":
        return _split_once(value, field, found, probabilities, labels, prediction, policy)
    lead = prediction.label
    support = dict(prediction.top_k)
    best = probabilities.argmax(axis=1).tolist()
    lead_column = list(labels).index(lead) if lead in labels else None
    owners: list[str | None] = []
    accepted = False
    for row, clause in enumerate(found):
        label = labels[best[row]]
        confidence = float(probabilities[row, best[row]])
        listed = clause.cut == "list"
        if label == lead:
            owners.append(lead)
        elif (
            confidence >= (policy.min_confidence if listed else policy.min_confidence_plain)
            and support.get(label, 0.0) >= policy.min_support
            and _length(value[clause.start : clause.end]) >= policy.min_chars
            and not _contact_only(value, clause.start, clause.end, policy.min_chars)
            and (
                lead_column is None
                or probabilities[row, lead_column]
                <= (policy.max_lead if listed else policy.max_lead_plain)
            )
        ):
            owners.append(label)
            accepted = True
        else:
            owners.append(None)
    if not accepted:
        return [_whole(value, field, prediction)]
    # A clause that is no problem of its own belongs to the problem before it (the first
    # ones to the problem after them).
    first = next(owner for owner in owners if owner is not None)
    spans: dict[str, tuple[int, int, float]] = {}
    previous: str | None = None
    closed: set[str] = set()
    for row, clause in enumerate(found):
        owner = owners[row] or previous or first
        if owner != previous and previous is not None:
            closed.add(previous)
        if owner in closed:  # stated again later: its first statement is its span
            previous = owner
            continue
        confidence = float(probabilities[row, best[row]]) if owners[row] == owner else 0.0
        if owner in spans:
            start, _, known = spans[owner]
            spans[owner] = (start, clause.end, max(known, confidence))
        else:
            spans[owner] = (clause.start, clause.end, confidence)
        previous = owner
    problems: list[Problem] = []
    for owner, (start, end, confidence) in spans.items():
        if owner == lead:
            continue
        problems.append(Problem(value[start:end], owner, round(confidence, 6), start, end, field))
    if lead in spans:
        start, end, _ = spans[lead]
        head = Problem(value[start:end], lead, prediction.confidence, start, end, field)
    else:  # no clause reads as the lead's department: the whole ticket stands for it
        head = _whole(value, field, prediction)
    return [head, *problems]


def _split_once(
    value: str,
    field: Field,
    found: Sequence[Clause],
    probabilities: NDArray[np.float64],
    labels: Sequence[str],
    prediction: Prediction,
    policy: SplitPolicy,
) -> list[Problem]:
    """A sentence cut at its commas holds two problems when, at one of its commas, the text
    before reads as one department and the text after as another, one of them the lead's,
    the other passing the policy's ``comma_`` settings and not the writer's contact details;
    of several such commas, the one the model is surest of."""
    lead = prediction.label
    support = dict(prediction.top_k)
    n = len(found) - 1
    best = probabilities.argmax(axis=1).tolist()
    lead_column = list(labels).index(lead) if lead in labels else None
    chosen: tuple[float, int] | None = None
    for k in range(n):
        head, tail = labels[best[k]], labels[best[n + k]]
        if head == tail or lead not in (head, tail) or lead_column is None:
            continue
        other, same = (n + k, k) if head == lead else (k, n + k)
        start, end = (
            (found[k + 1].start, found[-1].end) if other > k else (found[0].start, found[k].end)
        )
        confidence = float(probabilities[other, best[other]])
        if (
            confidence >= policy.comma_min_confidence
            and support.get(labels[best[other]], 0.0) >= policy.comma_min_support
            and probabilities[other, lead_column] <= policy.comma_max_lead
            and probabilities[same, lead_column] >= policy.comma_min_lead
            and _length(value[start:end]) >= policy.comma_min_chars
            and not _contact_only(value, start, end, policy.comma_min_chars)
            and (chosen is None or confidence > chosen[0])
        ):
            chosen = (confidence, k)
    if chosen is None:
        return [_whole(value, field, prediction)]
    confidence, k = chosen
    spans = [(found[0].start, found[k].end, k), (found[k + 1].start, found[-1].end, n + k)]
    if labels[best[k]] != lead:
        spans.reverse()
    (start, end, _), (other_start, other_end, row) = spans
    return [
        Problem(value[start:end], lead, prediction.confidence, start, end, field),
        Problem(
            value[other_start:other_end],
            labels[best[row]],
            round(confidence, 6),
            other_start,
            other_end,
            field,
        ),
    ]


def _candidates(
    text: object, title: object, prediction: Prediction, policy: SplitPolicy
) -> tuple[str, Field, list[Clause]] | None:
    """The field and clauses to classify, or None when the prediction alone answers."""
    chosen = _field(text, title)
    if chosen is None:
        return None
    value, field = chosen
    found = clauses(value, split_commas=policy.split_commas, max_clauses=policy.max_clauses)
    if len(found) < 2:
        return value, field, []
    support = policy.comma_min_support if found[0].cut == "comma" else policy.min_support
    runner_up = prediction.top_k[1][1] if len(prediction.top_k) > 1 else 0.0
    if runner_up < support:  # no other department can qualify
        return value, field, []
    return value, field, found


def find_problems_many(
    model: RoutingModel,
    texts: Sequence[object],
    titles: Sequence[object] | None = None,
    predictions: Sequence[Prediction | str] | None = None,
    *,
    policy: SplitPolicy | None = None,
) -> list[list[Problem]]:
    """The problems of each ticket given as bodies and titles (see :func:`find_problems`),
    in order. ``predictions`` are the tickets' answers from ``model`` (such as
    :meth:`~nlp.model.RoutingModel.answer` gives, with ``top_k`` of at least 2; a row's
    error string there, or a ticket with neither text nor title, gets no problems);
    None: classified here. All candidate clauses are classified in one call."""
    policy = policy or SplitPolicy()
    if titles is not None and len(titles) != len(texts):
        raise DataError(f"{len(texts)} texts but {len(titles)} titles: give one title per text")
    if predictions is None:
        from nlp.documents import compose_documents

        predictions = model.answer(compose_documents(texts, titles))
    elif len(predictions) != len(texts):
        raise DataError(f"{len(texts)} texts but {len(predictions)} predictions: give one per text")
    plans: list[tuple[str, Field, list[Clause]] | None] = []
    batch: list[str] = []
    for position, prediction in enumerate(predictions):
        if isinstance(prediction, str):
            plans.append(None)
            continue
        title = None if titles is None else titles[position]
        plan = _candidates(texts[position], title, prediction, policy)
        plans.append(plan)
        if plan is not None:
            value, _, found = plan
            batch.extend(candidate_texts(value, found))
    probabilities = model.predict_proba(batch) if batch else np.zeros((0, len(model.labels)))
    labels = model.labels
    results: list[list[Problem]] = []
    row = 0
    for plan, prediction in zip(plans, predictions, strict=True):
        if plan is None or isinstance(prediction, str):
            results.append([])
            continue
        value, field, found = plan
        if not found:
            results.append([_whole(value, field, prediction)])
            continue
        rows = 2 * (len(found) - 1) if found[0].cut == "comma" else len(found)
        results.append(
            split_problems(
                value,
                field,
                found,
                probabilities[row : row + rows],
                labels,
                prediction,
                policy=policy,
            )
        )
        row += rows
    return results


def find_problems(
    model: RoutingModel,
    text: object,
    title: object = None,
    *,
    prediction: Prediction | None = None,
    policy: SplitPolicy | None = None,
) -> list[Problem]:
    """The problems of one ticket (body ``text``, ``title``; either may be None): the lead
    problem first (``prediction``, the whole ticket's answer from ``model``, classified here
    when None; its ``top_k`` should hold at least two departments), then each other problem
    a different department must handle, in the order stated. A ticket with one problem gets
    one, spanning its body (its title when it has no body).

    Raises :class:`~nlp.errors.DataError` for a ticket with neither text nor title, or with
    something other than text in either.
    """
    for name, value in (("text", text), ("title", title)):
        if value is not None and not isinstance(value, str):
            raise DataError(
                f"a ticket's {name} must be a string, not {type(value).__name__}: send the "
                f"{name} as text, or None when the ticket has none"
            )
    if _field(text, title) is None:
        raise DataError(
            "the ticket has no text and no title (missing, empty or white space only): give "
            "its body, its title, or both"
        )
    predictions = None if prediction is None else [prediction]
    return find_problems_many(model, [text], [title], predictions, policy=policy)[0]
