"""Urgency: how soon a ticket needs someone, as 紧急 / 较急 / 一般 with a reason and terms.

- **紧急**: danger to life or safety now (gas leak, fire or smoke, live wires, people trapped
  in a lift, falling objects, people trapped or drowning, suicide risk, collapse, burst mains
  flooding homes, poisoning, ...).
- **较急**: an outage or a standing hazard that affects many people (a whole building without
  water or power, a missing manhole cover, a deep pit in the road, a blocked fire lane), or
  vulnerable people without care or access (elderly people living alone, disabled people,
  children, pregnant women).
- **一般**: everything else.

Two parts decide, each cheap:

1. **Terms** (:class:`UrgencyTerms`): an operator-editable TOML file
   (``nlp/resources/urgency_terms.toml`` by default; its header documents the format) of rules,
   each a level, a reason and terms. A match does not count when cue words around it say it
   is negated (没有燃气味), hypothetical or past (如果…会不会, 去年发生过火灾), a consultation
   (咨询燃气泄漏报警器) or resolved (已经修好了), or when an ``unless`` term of its rule
   overlaps it (漏气 in 轮胎漏气); a 紧急 match that a standing-hazard cue qualifies
   (经常冒火花, 火灾隐患) counts as 较急. The highest level among the matches that count is
   the terms' level, and the first such rule gives the reason.
2. **Model** (:class:`UrgencyModel`): a multinomial logistic regression over character
   1-3-grams (TF-IDF, the project's compiled :class:`~nlp.features.CharNgramVectorizer`),
   trained on labelled examples (``data/demo/urgency.csv`` by default) when a detector is
   first built in a process: about a second, then cached.

**The rule** (:meth:`UrgencyDetector.combine`): the model raises the terms' level, and
lowers it in one case only. It says 紧急 when its probability of 紧急 reaches
``urgent_threshold``, or ``discounted_threshold`` (higher) when the ticket has 紧急 terms
that all failed to count; it says 较急 when its probability of 紧急 or 较急 reaches
``fairly_threshold``. The ticket gets the higher of the two levels; the reason and terms are
those of whichever part gave it. The one exception, the **veto**: when the terms say 紧急
and the model's probability of 紧急 is under ``veto_threshold``, the ticket gets the model's
level (a danger word in a street cry, the news or a drill: 磨剪子戗菜刀, 电池爆炸的新闻,
以为着火了). The defaults (0.5, 0.85, 0.6, veto 0.2) favour recall of 紧急: a missed 紧急
costs more than a ticket looked at early. 0.5 was chosen on 90 examples held out while it
was set, the veto's 0.2 by holding out each sitting of the examples in turn (the largest
that keeps recall of 紧急 at 0.98 there; ``bench/dispatch.py --sections urgency_sittings``
and ``data/demo/README.md``), never on ``data/eval``.

Input is normalised first (:func:`nlp.text.normalise`: simplified characters, half-width
text, personal data masked), so traditional and full-width tickets match the same terms and
no reason or term carries a phone number or a name.
"""

from __future__ import annotations

import re
import tomllib
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ahocorasick_rs import AhoCorasick, Implementation, MatchKind
from numpy.typing import NDArray
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from nlp import kernels
from nlp._validation import require_fitted
from nlp.errors import DataError
from nlp.features import CharNgramVectorizer
from nlp.text import fold_width, normalise, to_simplified

__all__ = [
    "DEFAULT_EXAMPLES",
    "DEFAULT_TERMS",
    "DEFAULT_VETO_THRESHOLD",
    "LEVELS",
    "Urgency",
    "UrgencyDetector",
    "UrgencyModel",
    "UrgencyRule",
    "UrgencyTerms",
    "fit_examples",
    "train_from_examples",
]

#: The levels, most urgent first.
LEVELS = ("紧急", "较急", "一般")
_RANK = {level: rank for rank, level in enumerate(reversed(LEVELS))}  # 一般 0, 较急 1, 紧急 2

#: The shipped term list (its header documents the format).
DEFAULT_TERMS = Path(__file__).parent / "resources" / "urgency_terms.toml"
#: The labelled examples the default model learns from (in a source checkout).
DEFAULT_EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "demo" / "urgency.csv"

_MAX_TERM = 24  # characters in a term, "*" included
_MAX_GAPS = 2
_GAP = 10  # characters a "*" stands for
_LONGEST = _MAX_TERM + _MAX_GAPS * _GAP  # characters a match can span
_CLAUSE_ENDS = ",，。.!！?？;；:：、 \n"
_SENTENCE_ENDS = "。.!！?？;；\n"
_MAX_TERMS_SHOWN = 5
_NEGATION_REACH = 4  # a negator must end within this many characters before a match
_RIGHT_AFTER_REACH = 3  # a not-now cue must start within this many characters after it
_CLAUSE_END = re.compile("[" + re.escape(_CLAUSE_ENDS) + "]")
_SENTENCE_END = re.compile("[" + re.escape(_SENTENCE_ENDS) + "]")
_CUE_LISTS = (
    "negated_right_before",
    "negated_before",
    "not_now_before",
    "not_now_right_after",
    "resolved_after",
    "standing_before",
    "standing_right_after",
)


@dataclass(frozen=True, slots=True)
class Urgency:
    """How urgent one ticket is.

    ``terms``: the words of the ticket (in normal form) that decided the level: matched
    terms, or, when the model raised the level, the character n-grams that weighed most for
    it. ``source``: ``"terms"``, ``"model"`` or ``"none"`` (一般 with nothing found).
    """

    level: str
    reason: str
    terms: tuple[str, ...] = ()
    source: str = "none"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"level", "reason", "terms"}``."""
        return {"level": self.level, "reason": self.reason, "terms": list(self.terms)}


@dataclass(frozen=True, slots=True)
class UrgencyRule:
    """One rule of a term list: a level, the reason shown, its terms and what cancels them."""

    level: str
    reason: str
    terms: tuple[str, ...]
    unless: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Match:
    rule: int
    start: int
    end: int
    text: str
    cancelled: bool = False  # an ``unless`` term of its rule overlaps it


# --------------------------------------------------------------------------- terms


def _clean_term(term: object, where: str) -> str:
    if not isinstance(term, str):
        raise DataError(f"{where}: a term must be text, not {type(term).__name__} {term!r}")
    cleaned = to_simplified(fold_width(term)).strip()
    if not cleaned.replace("*", ""):
        raise DataError(f"{where}: empty term {term!r}; remove it or write the words to find")
    if len(cleaned) > _MAX_TERM:
        raise DataError(
            f"{where}: term {term!r} is longer than {_MAX_TERM} characters; "
            "split it or shorten it with '*'"
        )
    if cleaned.startswith("*") or cleaned.endswith("*") or "**" in cleaned:
        raise DataError(
            f"{where}: term {term!r} has '*' at an end or twice in a row; '*' only goes "
            "between two pieces of text (电梯*困)"
        )
    if cleaned.count("*") > _MAX_GAPS:
        raise DataError(f"{where}: term {term!r} has more than {_MAX_GAPS} '*'; split it")
    if any(ch in _CLAUSE_ENDS and ch != " " for ch in cleaned.replace("*", "")):
        raise DataError(
            f"{where}: term {term!r} contains punctuation; terms match inside a sentence "
            "(use '*' for what comes between)"
        )
    return cleaned


def _term_regex(term: str) -> str:
    gap = "[^" + re.escape(_SENTENCE_ENDS) + "]{0," + str(_GAP) + "}?"
    return gap.join(re.escape(piece) for piece in term.split("*"))


def _alternation(words: Iterable[str]) -> str:
    ordered = sorted(set(words), key=lambda w: (-len(w), w))
    return "|".join(re.escape(word) for word in ordered)


class _Matcher:
    """Finds terms (with "*" gaps) anywhere in a text, overlapping matches included.

    An Aho-Corasick automaton (compiled, linear in the text) finds each term's first piece;
    a term with gaps is then checked from there with its own small regex (bounded gaps, so
    linear too). One match per term and start position.
    """

    def __init__(self, terms: Sequence[str]) -> None:
        firsts: dict[str, list[int]] = {}
        for index, term in enumerate(terms):
            firsts.setdefault(term.split("*", 1)[0], []).append(index)
        self._pieces = tuple(firsts)
        self._terms_of = tuple(tuple(indices) for indices in firsts.values())
        self._regex = tuple(
            re.compile(_term_regex(term)) if "*" in term else None for term in terms
        )
        self._automaton = AhoCorasick(
            list(self._pieces), matchkind=MatchKind.Standard, implementation=Implementation.DFA
        )

    def find(self, text: str) -> list[tuple[int, int, int]]:
        """``(term, start, end)`` of every match, by start."""
        found = []
        for piece, start, end in self._automaton.find_matches_as_indexes(text, overlapping=True):
            for term in self._terms_of[piece]:
                regex = self._regex[term]
                if regex is None:
                    found.append((term, start, end))
                elif (m := regex.match(text, start)) is not None:
                    found.append((term, start, m.end()))
        found.sort(key=lambda hit: hit[1])
        return found


class UrgencyTerms:
    """A checked term list (see the header of ``nlp/resources/urgency_terms.toml``).

    Build it with :meth:`load` (a TOML file) or :meth:`from_dict` (the same shape, parsed).
    Errors name the rule (its number, counting from 1, and its reason) and the term.
    """

    def __init__(self, rules: Sequence[UrgencyRule], cues: Mapping[str, Sequence[str]]) -> None:
        if not rules:
            raise DataError("the urgency term list has no [[rule]]; add at least one")
        self.rules = tuple(rules)
        self.cues = {name: tuple(cues.get(name, ())) for name in _CUE_LISTS}
        term_rules: list[int] = []
        terms: list[str] = []
        unless_rules: list[int] = []
        unless: list[str] = []
        for index, rule in enumerate(self.rules):
            for term in dict.fromkeys(rule.terms):
                terms.append(term)
                term_rules.append(index)
            for term in dict.fromkeys(rule.unless):
                unless.append(term)
                unless_rules.append(index)
        self._terms = tuple(terms)
        self._term_rules = tuple(term_rules)
        self._matcher = _Matcher(self._terms)
        self._unless_rules = tuple(unless_rules)
        self._unless = _Matcher(unless) if unless else None
        cue = self.cues
        # Bounded repetitions only: linear time on any input.
        self._negated = _cue_regex(cue["negated_before"], f".{{0,{_NEGATION_REACH}}}$")
        self._negated_span = max(map(len, cue["negated_before"]), default=0) + _NEGATION_REACH
        self._negated_right = frozenset(cue["negated_right_before"])
        self._before = _cue_regex(cue["not_now_before"])
        self._right_after = _cue_regex(
            cue["not_now_right_after"], prefix=f".{{0,{_RIGHT_AFTER_REACH}}}?"
        )
        self._resolved = _cue_regex(cue["resolved_after"])
        self._standing_before = _cue_regex(cue["standing_before"])
        self._standing_after = _cue_regex(
            cue["standing_right_after"], prefix=f".{{0,{_RIGHT_AFTER_REACH}}}?"
        )

    @classmethod
    def load(cls, path: str | Path) -> UrgencyTerms:
        """Read and check a TOML term list."""
        path = Path(path)
        try:
            with path.open("rb") as file:
                data = tomllib.load(file)
        except FileNotFoundError as e:
            raise DataError(f"{path}: no such urgency term list; check the path") from e
        except tomllib.TOMLDecodeError as e:
            raise DataError(f"{path}: not valid TOML ({e}); fix the line it names") from e
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"{path}: cannot read the urgency term list ({e})") from e
        try:
            return cls.from_dict(data)
        except DataError as e:
            raise DataError(f"{path}: {e}") from e

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UrgencyTerms:
        """Check parsed TOML (``{"cues": {...}, "rule": [{...}, ...]}``) and build the list."""
        unknown = set(data) - {"cues", "rule"}
        if unknown:
            raise DataError(
                f"unknown section(s) {sorted(unknown)}; a term list has [cues] and [[rule]]"
            )
        raw_cues = data.get("cues", {})
        if not isinstance(raw_cues, dict):
            raise DataError("[cues] must be a table of lists of words")
        cues: dict[str, list[str]] = {}
        for name, words in raw_cues.items():
            if name not in _CUE_LISTS:
                raise DataError(f"[cues]: unknown list {name!r}; known: {', '.join(_CUE_LISTS)}")
            if not isinstance(words, list) or not all(
                isinstance(w, str) and w.strip() for w in words
            ):
                raise DataError(f"[cues] {name}: must be a list of non-empty words")
            cues[name] = [to_simplified(fold_width(w)).strip() for w in words]
            if name == "negated_right_before" and any(len(w) != 1 for w in cues[name]):
                raise DataError(f"[cues] {name}: single characters only (没, 未, ...)")
        raw_rules = data.get("rule", [])
        if not isinstance(raw_rules, list):
            raise DataError("rules are written as [[rule]] tables")
        rules = [_check_rule(number, raw) for number, raw in enumerate(raw_rules, start=1)]
        return cls(rules, cues)

    def __len__(self) -> int:
        return len(self._terms)

    def matches(self, text: str) -> list[_Match]:
        """Every term match in normalised ``text``, overlapping ones included (one per term
        and start position), by start; ``cancelled`` where an ``unless`` term of their rule
        overlaps them."""
        found = [
            _Match(self._term_rules[term], start, end, text[start:end])
            for term, start, end in self._matcher.find(text)
        ]
        if found and self._unless is not None:
            starts = [match.start for match in found]
            cancelled = set()
            for term, start, end in self._unless.find(text):
                rule = self._unless_rules[term]
                # a match is at most _LONGEST characters long: only those that start that
                # close before this one can reach it
                first = bisect_left(starts, start - _LONGEST)
                for index in range(first, bisect_left(starts, end)):
                    match = found[index]
                    if match.rule == rule and match.end > start:
                        cancelled.add(index)
            for index in cancelled:
                match = found[index]
                found[index] = _Match(match.rule, match.start, match.end, match.text, True)
        return found

    def level_of(self, text: str, match: _Match, ends: _Ends) -> str | None:
        """The level ``match`` gives its ticket: its rule's level; 较急 for a 紧急 term that
        a standing-hazard cue qualifies (经常冒烟, 火灾隐患); None when it does not count
        (negated, hypothetical, past, a consultation or resolved), by the cue words of its
        clause (see the file's header). ``ends``: where the clauses and sentences of
        ``text`` end."""
        level = self.rules[match.rule].level
        if match.cancelled:
            return None
        clause_start = ends.clause_before(match.start) + 1
        clause_end = ends.clause_after(match.end)
        if clause_start < match.start:
            if text[match.start - 1] in self._negated_right:
                return None
            if self._negated is not None and self._negated.search(
                text, max(clause_start, match.start - self._negated_span), match.start
            ):
                return None
            if self._before is not None and self._before.search(text, clause_start, match.start):
                return None
        if self._right_after is not None and self._right_after.match(text, match.end, clause_end):
            return None
        if self._resolved is not None:
            # the rest of the clause and the next clause of the same sentence
            reach = min(ends.sentence_after(match.end), ends.clause_after(clause_end + 1))
            if self._resolved.search(text, match.end, reach):
                return None
        if level == "紧急" and (
            (
                self._standing_before is not None
                and self._standing_before.search(text, clause_start, match.start)
            )
            or (
                self._standing_after is not None
                and self._standing_after.match(text, match.end, clause_end)
            )
        ):
            return "较急"
        return level


class _Ends:
    """Where the clauses and sentences of one text end, found once per text."""

    __slots__ = ("clauses", "length", "sentences")

    def __init__(self, text: str) -> None:
        self.length = len(text)
        self.clauses = [m.start() for m in _CLAUSE_END.finditer(text)]
        self.sentences = [m.start() for m in _SENTENCE_END.finditer(text)]

    def clause_before(self, position: int) -> int:
        """The last clause end before ``position``, -1 if none."""
        index = bisect_left(self.clauses, position)
        return self.clauses[index - 1] if index else -1

    def clause_after(self, position: int) -> int:
        """The first clause end at or after ``position``, the text's length if none."""
        index = bisect_left(self.clauses, position)
        return self.clauses[index] if index < len(self.clauses) else self.length

    def sentence_after(self, position: int) -> int:
        index = bisect_left(self.sentences, position)
        return self.sentences[index] if index < len(self.sentences) else self.length


def _cue_regex(
    words: Sequence[str], suffix: str = "", *, prefix: str = ""
) -> re.Pattern[str] | None:
    """``prefix``, any of ``words``, ``suffix``; None for no words."""
    return re.compile(f"{prefix}(?:{_alternation(words)}){suffix}") if words else None


def _check_rule(number: int, raw: object) -> UrgencyRule:
    if not isinstance(raw, dict):
        raise DataError(f"rule {number}: must be a [[rule]] table")
    reason = raw.get("reason")
    where = f"rule {number}" + (f" ({reason})" if isinstance(reason, str) and reason else "")
    unknown = set(raw) - {"level", "reason", "terms", "unless"}
    if unknown:
        raise DataError(
            f"{where}: unknown key(s) {sorted(unknown)}; a rule has level, reason, terms, unless"
        )
    level = raw.get("level")
    if isinstance(level, str):
        level = to_simplified(fold_width(level)).strip()  # 緊急, 較急 are the same levels
    if level not in ("紧急", "较急"):
        raise DataError(
            f"{where}: level must be 紧急 or 较急, not {level!r} (tickets no rule matches are 一般)"
        )
    if not isinstance(reason, str) or not reason.strip():
        raise DataError(f"{where}: give a reason, the words a dispatcher reads beside the level")
    terms = raw.get("terms")
    if not isinstance(terms, list) or not terms:
        raise DataError(f"{where}: terms must be a non-empty list of text")
    unless = raw.get("unless", [])
    if not isinstance(unless, list):
        raise DataError(f"{where}: unless must be a list of text")
    return UrgencyRule(
        level=level,
        reason=reason.strip(),
        terms=tuple(_clean_term(t, f"{where}, term {i}") for i, t in enumerate(terms, 1)),
        unless=tuple(_clean_term(t, f"{where}, unless {i}") for i, t in enumerate(unless, 1)),
    )


# --------------------------------------------------------------------------- model


class UrgencyModel(BaseEstimator):
    """Multinomial logistic regression over character 1-3-grams (TF-IDF) of normalised text.

    Fitted state: ``vectorizer_``, ``classifier_``, ``columns_`` (the classifier's column of
    each of :data:`LEVELS`), ``feature_names_``.
    """

    def __init__(self, *, C: float = 8.0, max_chars: int = 300, min_df: int = 2) -> None:
        self.C = C
        self.max_chars = max_chars
        self.min_df = min_df

    def fit(self, documents: Sequence[str], levels: Sequence[str]) -> UrgencyModel:
        """Fit on normalised ``documents`` labelled with :data:`LEVELS`."""
        levels = list(levels)
        bad = sorted(set(levels) - set(LEVELS))
        if bad:
            raise DataError(f"unknown urgency level(s) {bad}; use {', '.join(LEVELS)}")
        missing = [level for level in LEVELS if levels.count(level) < 2]
        if missing:
            raise DataError(f"the urgency model needs two or more examples of {missing}")
        self.vectorizer_ = CharNgramVectorizer(
            ngram_range=(1, 3), min_df=self.min_df, max_chars=self.max_chars
        ).fit(documents)
        X = self.vectorizer_.transform(documents)
        self.classifier_ = LogisticRegression(
            C=self.C, solver="newton-cg", max_iter=500, class_weight="balanced"
        )
        self.classifier_.fit(X, levels)
        classes = list(self.classifier_.classes_)
        self.columns_ = np.asarray([classes.index(level) for level in LEVELS])
        self.feature_names_ = self.vectorizer_.get_feature_names_out()
        # Scoring weights, one column per level in LEVELS order, for the compiled kernel.
        self.weights_ = np.ascontiguousarray(self.classifier_.coef_[self.columns_].T)
        self.intercept_ = np.asarray(self.classifier_.intercept_[self.columns_], dtype=float)
        return self

    def probabilities(self, documents: Sequence[str]) -> NDArray[np.float64]:
        """One row per document: the probability of each of :data:`LEVELS`, in that order
        (the classifier's ``predict_proba``, computed in one compiled pass without building
        the TF-IDF rows: a single ticket costs microseconds, not scikit-learn's overhead)."""
        require_fitted(self, "classifier_")
        documents = list(documents)
        logits = np.tile(self.intercept_, (len(documents), 1))
        if len(documents) == 1:
            self._add_one(documents[0], logits)
        else:
            ids, offsets = self.vectorizer_._feature_ids(documents)
            self.vectorizer_._add_scores(ids, offsets, self.weights_, logits)
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits

    def _add_one(self, document: str, logits: NDArray[np.float64]) -> None:
        """``logits[0] +=`` one document's TF-IDF row times the weights, as the vectoriser's
        ``_feature_ids`` and ``_add_scores`` add it for a chunk (the same n-grams in the same
        order: the same sums to the last bit), in one compiled call: a single ticket (the
        service's, and :meth:`nlp.dispatch.Dispatcher.enrich`'s for one) skips a dozen
        array steps that cost more than the scoring itself."""
        vectorizer = self.vectorizer_
        index = vectorizer.vocabulary_
        if index._table is None:  # built on the first lookup of each process
            index.lookup(np.zeros(0, dtype=np.uint64))
        assert index._table is not None
        table, shift = index._table
        codes = np.frombuffer(
            document[: vectorizer.max_chars].encode("utf-32-le", "surrogatepass"), dtype=np.uint32
        )
        low, high = vectorizer.ngram_range
        kernels.add_char_ngram_scores(
            logits, codes, low, high, table, shift, vectorizer.idf_,
            vectorizer._scratch_array(), self.weights_,
        )  # fmt: skip

    def evidence(self, document: str, level: str, *, k: int = 3) -> tuple[str, ...]:
        """The ``k`` n-grams (two characters or more) of ``document`` that weigh most for
        ``level`` against the other levels, longest kept where they overlap."""
        require_fitted(self, "classifier_")
        row = self.vectorizer_.weights([document])
        column = LEVELS.index(level)
        weights = self.weights_[row.indices]
        contributions = row.data * (weights[:, column] - weights.mean(axis=1))
        chosen: list[str] = []
        # Python lists: most of the top n-grams are single characters, passed over, and a
        # step over numpy scalars costs more than the rest of the choice.
        values, features, names = contributions.tolist(), row.indices.tolist(), self.feature_names_
        for position in np.argsort(-contributions).tolist():
            if values[position] <= 0 or len(chosen) == k:
                break
            name = str(names[features[position]])
            if (
                len(name) < 2
                or any(ch in _CLAUSE_ENDS for ch in name)
                or any(name in c or c in name for c in chosen)
            ):
                continue
            chosen.append(name)
        return tuple(chosen)


def _read_examples(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError as e:
        raise DataError(
            f"{path}: no urgency examples there; pass examples=PATH (a CSV with columns "
            "title, text, level) or learn=False for the term list alone"
        ) from e
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read the urgency examples as CSV ({e})") from e
    missing = {"text", "level"} - set(frame.columns)
    if missing:
        raise DataError(f"{path}: missing column(s) {sorted(missing)}; need title, text, level")
    if "title" not in frame.columns:
        frame["title"] = ""
    for row, (text, level) in enumerate(zip(frame["text"], frame["level"], strict=True), 2):
        if level not in LEVELS:
            raise DataError(f"{path}, line {row}: level {level!r} is not one of {LEVELS}")
        if not text.strip():
            raise DataError(f"{path}, line {row}: empty text")
    return frame


@cache
def _trained(path: Path, stamp: tuple[int, int]) -> UrgencyModel:
    """The model trained on the examples at ``path`` (cached per file version)."""
    return fit_examples(_read_examples(path))


def fit_examples(frame: pd.DataFrame, **params: Any) -> UrgencyModel:
    """An :class:`UrgencyModel` (``params``: its options) fitted on a frame of examples with
    columns ``title, text, level``, each normalised as a ticket is when assessed."""
    documents = [
        _document(normalise(title), normalise(text))
        for title, text in zip(frame["title"], frame["text"], strict=True)
    ]
    return UrgencyModel(**params).fit(documents, frame["level"].tolist())


def train_from_examples(path: str | Path) -> UrgencyModel:
    """Train an :class:`UrgencyModel` on a CSV of examples (``title,text,level``), once per
    process and file version."""
    path = Path(path).resolve()
    try:
        status = path.stat()
    except OSError as e:
        raise DataError(
            f"{path}: no urgency examples there; pass examples=PATH (a CSV with columns "
            "title, text, level) or learn=False for the term list alone"
        ) from e
    return _trained(path, (status.st_mtime_ns, status.st_size))


#: The model's probability of 紧急 under which it overrules the terms' 紧急 (the veto of
#: :meth:`UrgencyDetector.combine`): the largest of 0, 0.02, 0.05, 0.1, 0.15, 0.2 and 0.3
#: that keeps recall of 紧急 at 0.98 with each sitting of ``data/demo/urgency.csv`` held out
#: in turn (``bench/dispatch.py --sections urgency_sittings``).
DEFAULT_VETO_THRESHOLD = 0.2


def _document(title: str, text: str) -> str:
    return f"{title}。{text}" if title else text


# --------------------------------------------------------------------------- detector


class UrgencyDetector:
    """Terms plus model, combined by :meth:`combine` (see the module's docstring).

    ``urgent_threshold``: the model's probability of 紧急 that raises a ticket to 紧急;
    ``discounted_threshold``: the same when the ticket's 紧急 terms all failed to count as such
    (negated, hypothetical, past, resolved, cancelled by ``unless``, or only a standing
    hazard); ``fairly_threshold``: its probability of 紧急 or 较急 that raises a ticket to 较急;
    ``veto_threshold``: its probability of 紧急 under which a ticket the terms call 紧急 gets
    the model's level instead (0: the terms' 紧急 always stands).
    """

    def __init__(
        self,
        terms: UrgencyTerms,
        model: UrgencyModel | None = None,
        *,
        urgent_threshold: float = 0.5,
        discounted_threshold: float = 0.85,
        fairly_threshold: float = 0.6,
        veto_threshold: float = DEFAULT_VETO_THRESHOLD,
    ) -> None:
        for name, value in (
            ("urgent_threshold", urgent_threshold),
            ("discounted_threshold", discounted_threshold),
            ("fairly_threshold", fairly_threshold),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
                raise DataError(f"{name} must be a number in (0, 1], not {value!r}")
        if (
            isinstance(veto_threshold, bool)
            or not isinstance(veto_threshold, int | float)
            or not 0 <= veto_threshold < urgent_threshold
        ):
            raise DataError(
                f"veto_threshold must be a number from 0 up to urgent_threshold "
                f"({urgent_threshold}), not {veto_threshold!r}"
            )
        self.terms = terms
        self.model = model
        self.urgent_threshold = urgent_threshold
        self.discounted_threshold = discounted_threshold
        self.fairly_threshold = fairly_threshold
        self.veto_threshold = veto_threshold

    @classmethod
    def from_defaults(cls) -> UrgencyDetector:
        """The shipped term list and the model trained on ``data/demo/urgency.csv`` (built
        once per process)."""
        return _default_detector()

    @classmethod
    def load(
        cls,
        *,
        terms: str | Path | None = None,
        examples: str | Path | None = None,
        learn: bool = True,
        **thresholds: float,
    ) -> UrgencyDetector:
        """A detector from a term list (default: the shipped one) and, with ``learn``, a model
        trained on ``examples`` (default: ``data/demo/urgency.csv``). ``thresholds`` are the
        keyword options of the constructor."""
        term_list = UrgencyTerms.load(terms if terms is not None else DEFAULT_TERMS)
        model = None
        if learn:
            model = train_from_examples(examples if examples is not None else DEFAULT_EXAMPLES)
        return cls(term_list, model, **thresholds)

    # ------------------------------------------------------------------ assessing

    def assess(self, text: str, *, title: str | None = None) -> Urgency:
        """How urgent one ticket is (its body ``text`` and optional ``title``)."""
        return self.assess_many([text], titles=None if title is None else [title])[0]

    def assess_many(
        self, texts: Sequence[str], *, titles: Sequence[str | None] | None = None
    ) -> list[Urgency]:
        """:meth:`assess` for many tickets; the model scores them in one call."""
        texts = list(texts)
        title_list = [None] * len(texts) if titles is None else list(titles)
        if len(title_list) != len(texts):
            raise DataError(f"{len(texts)} texts but {len(title_list)} titles; give one each")
        for position, (text, title) in enumerate(zip(texts, title_list, strict=True)):
            if not isinstance(text, str) or not (title is None or isinstance(title, str)):
                raise DataError(
                    f"ticket {position}: text and title must be strings, not "
                    f"{type(text).__name__} and {type(title).__name__}"
                )
        return self.assess_normalised(
            [normalise(text) for text in texts],
            [normalise(title) if title else None for title in title_list],
        )

    def assess_normalised(
        self, texts: Sequence[str], titles: Sequence[str | None] | None = None
    ) -> list[Urgency]:
        """:meth:`assess_many` for tickets whose bodies and titles are already in normal form
        (:func:`nlp.text.normalise`; a caller that has it, such as
        :meth:`nlp.dispatch.Dispatcher.enrich`, does not normalise them again)."""
        title_list = [None] * len(texts) if titles is None else list(titles)
        if len(title_list) != len(texts):
            raise DataError(f"{len(texts)} texts but {len(title_list)} titles; give one each")
        documents = [
            _document(title or "", text) for text, title in zip(texts, title_list, strict=True)
        ]
        found = [self._from_terms(document) for document in documents]
        if self.model is None or not documents:
            return [urgency for urgency, _ in found]
        probabilities = self.model.probabilities(documents)
        return [
            self.combine(urgency, discounted, row, document)
            for (urgency, discounted), row, document in zip(
                found, probabilities, documents, strict=True
            )
        ]

    def _from_terms(self, document: str) -> tuple[Urgency, bool]:
        """The terms' verdict, and whether 紧急 terms were found that did not count as such
        (negated, hypothetical, past, resolved, cancelled, or only a standing hazard)."""
        terms = self.terms
        best_rank, reason = -1, ""
        spans: list[list[int]] = []  # of the matches at the best level, overlaps merged
        discounted: list[str] = []
        matches = terms.matches(document)
        ends = _Ends(document) if matches else None
        for match in matches:
            rule = terms.rules[match.rule]
            if len(spans) >= _MAX_TERMS_SHOWN and _RANK[rule.level] <= best_rank:
                continue  # enough to show; a hostile text may hold thousands of matches
            assert ends is not None
            level = terms.level_of(document, match, ends)
            if level != rule.level and rule.level == "紧急":
                discounted.append(match.text)
            if level is None:
                continue
            rank = _RANK[level]
            if rank > best_rank:
                best_rank, spans = rank, [[match.start, match.end]]
                reason = rule.reason if level == rule.level else f"存在隐患：{rule.reason}"
            elif rank == best_rank:
                if match.start < spans[-1][1]:  # matches come by start
                    spans[-1][1] = max(spans[-1][1], match.end)
                else:
                    spans.append([match.start, match.end])
        if best_rank >= 0:
            level = LEVELS[len(LEVELS) - 1 - best_rank]
            found = tuple(dict.fromkeys(document[start:end] for start, end in spans))
            return Urgency(level, reason, found, "terms"), bool(discounted)
        if discounted:
            words = "、".join(dict.fromkeys(discounted))
            reason = f"提到“{words}”，但为否定、假设、咨询、已处理或无关的情形"
            return Urgency("一般", reason, (), "none"), True
        return Urgency("一般", "未发现危及安全、影响多人或涉及弱势群体的情形", (), "none"), False

    def combine(
        self,
        from_terms: Urgency,
        discounted: bool,
        probabilities: NDArray[np.float64],
        document: str,
    ) -> Urgency:
        """The documented rule: the model may raise the terms' level, and lower a 紧急 of the
        terms that it finds most unlike the 紧急 examples (the veto)."""
        urgent, fairly = float(probabilities[0]), float(probabilities[0] + probabilities[1])
        if from_terms.level == "紧急" and urgent < self.veto_threshold:
            assert self.model is not None
            level = "较急" if fairly >= self.fairly_threshold else "一般"
            words = "、".join(from_terms.terms)
            reason = f"提到“{words}”，但与紧急的示例不符（模型概率 {urgent:.2f}）"
            evidence = self.model.evidence(document, level) if level == "较急" else ()
            return Urgency(level, reason, evidence, "model")
        threshold = self.discounted_threshold if discounted else self.urgent_threshold
        if urgent >= threshold:
            level, probability = "紧急", urgent
        elif fairly >= self.fairly_threshold:
            level, probability = "较急", fairly
        else:
            return from_terms
        if _RANK[level] <= _RANK[from_terms.level]:
            return from_terms
        assert self.model is not None
        evidence = self.model.evidence(document, level)
        reason = f"与{level}的示例相似（模型概率 {probability:.2f}）"
        return Urgency(level, reason, evidence, "model")


@cache
def _default_detector() -> UrgencyDetector:
    return UrgencyDetector.load()
