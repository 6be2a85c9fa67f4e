"""Dispatch, not just a label: the parts of an answer beyond the department, in one object.

:class:`Dispatcher` holds what a dispatch centre adds to the model's answer, each part
optional:

- the **urgency** detector (:mod:`nlp.urgency`): ``urgency`` ``{"level", "reason", "terms"}``;
- the city's **gazetteer** (:mod:`nlp.location`): ``location`` ``{"district", "street",
  "community", "grid", "place", "mentions"}``;
- the **routing table** (:mod:`nlp.routing`): ``dispatch`` ``{"lead", "assist", "rule",
  "unresolved"}`` for the label at the location;
- **several problems** in one ticket (:mod:`nlp.problems`): ``problems`` ``[{"text", "label",
  "confidence", "start", "end", "field", "lead"}]``, the lead problem first (``lead``: the
  unit that leads on it: the ticket's ``dispatch`` lead for the lead problem, the routing
  table's for each other problem's department and statement; null without a table).

:meth:`Dispatcher.enrich` fills those fields of a chunk of :class:`~nlp.model.Prediction`
records in one call per part (the urgency model and the problems' clauses are scored in
batches); :meth:`nlp.model.RoutingModel.classify` and :meth:`~nlp.model.RoutingModel.answer`
call it when given ``dispatcher=``, so every client (API, CLI, batch engines, notebooks)
answers the same record. A part that is not configured leaves its field null.

**An urgent ticket is never hidden by the review policy.** The urgency is reported whatever
the review says, and a 紧急 ticket is always flagged for a person: ``needs_review`` true, with
the review code ``urgent`` (:data:`nlp.model.REVIEW_CODES`) and its reason, so that a dispatch
platform that auto-dispatches confident answers puts it before a person at once instead of
sending it into a queue unseen, and one that reviews low-confidence answers sees why this one
cannot wait.

:class:`DispatchConfig` names the files (picklable: batch workers build their own
:class:`Dispatcher` from it once per process, :meth:`DispatchConfig.build`);
:meth:`Dispatcher.load` reads and checks them against the model's labels: an unknown label
or unit, a bad gazetteer row or urgency rule is a :class:`~nlp.errors.DataError` naming the
file and its line (or rule).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlp.errors import DataError
from nlp.location import Gazetteer, locate_simplified
from nlp.routing import Dispatch, RoutingTable
from nlp.text import normalise_simplified, simplify
from nlp.urgency import Urgency, UrgencyDetector

if TYPE_CHECKING:
    from nlp.model import Prediction, RoutingModel
    from nlp.problems import Problem, SplitPolicy

__all__ = ["DISPATCH_FIELDS", "DispatchConfig", "Dispatcher", "ProblemAnswer"]

#: The answer's fields a :class:`Dispatcher` fills, in the order of the answer record.
DISPATCH_FIELDS = ("urgency", "location", "dispatch", "problems")
#: The review code of a 紧急 ticket (see the module's docstring).
URGENT_CODE = "urgent"


@dataclass(frozen=True, slots=True)
class ProblemAnswer:
    """One problem of a ticket (:class:`nlp.problems.Problem`) and the unit that leads on it
    by the routing table (None without one, or when no rule applies)."""

    problem: Problem
    lead: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the problem's ``{"text", "label", "confidence", "start", "end",
        "field"}`` and ``"lead"``."""
        return {**self.problem.to_dict(), "lead": self.lead}


@dataclass(frozen=True)
class DispatchConfig:
    """Which parts to build, from which files (paths as strings, so that it pickles).

    Every part is off unless asked for (as the service's settings are). ``urgency``: with
    ``urgency_terms`` (None: the shipped term list, ``nlp/resources/urgency_terms.toml``) and
    the model learned from ``urgency_examples`` (None: ``data/demo/urgency.csv`` when it
    exists, else the term list alone), whose 紧急 the model vetoes under ``urgency_veto``
    (None: ``nlp.urgency.DEFAULT_VETO_THRESHOLD``; 0: never). ``gazetteer`` (and the
    ``city`` it belongs to) and
    ``routing``: off when None. ``problems``: find several problems per ticket (needs no
    file).
    """

    urgency: bool = False
    urgency_terms: str | None = None
    urgency_examples: str | None = None
    urgency_veto: float | None = None
    gazetteer: str | None = None
    city: str | None = None
    routing: str | None = None
    problems: bool = False

    def describe(self) -> dict[str, Any]:
        """The settings as JSON-ready values (for a run's state and for logs)."""
        return {
            "urgency": self.urgency,
            "urgency_terms": self.urgency_terms,
            "urgency_examples": self.urgency_examples,
            "urgency_veto": self.urgency_veto,
            "gazetteer": self.gazetteer,
            "city": self.city,
            "routing": self.routing,
            "problems": self.problems,
        }

    def load(self, *, labels: Sequence[str]) -> Dispatcher:
        """A new :class:`Dispatcher` from the files, checked against ``labels``."""
        return Dispatcher.load(
            labels=labels,
            urgency=self.urgency,
            urgency_terms=self.urgency_terms,
            urgency_examples=self.urgency_examples,
            urgency_veto=self.urgency_veto,
            gazetteer=self.gazetteer,
            city=self.city,
            routing=self.routing,
            problems=self.problems,
        )

    def build(self, *, labels: Sequence[str]) -> Dispatcher:
        """:meth:`load`, once per process for these settings and labels (batch workers call
        it for every chunk)."""
        key = (self, tuple(labels))
        with _BUILT_LOCK:
            found = _BUILT.get(key)
            if found is None:
                found = _BUILT[key] = self.load(labels=labels)
            return found


_BUILT: dict[tuple[DispatchConfig, tuple[str, ...]], Dispatcher] = {}
_BUILT_LOCK = threading.Lock()


class Dispatcher:
    """The urgency detector, the gazetteer, the routing table and the problem finder, each
    optional (None: that field of the answer stays null). Build it with :meth:`load`."""

    def __init__(
        self,
        *,
        urgency: UrgencyDetector | None = None,
        gazetteer: Gazetteer | None = None,
        routing: RoutingTable | None = None,
        problems: bool = False,
        split_policy: SplitPolicy | None = None,
    ) -> None:
        self.urgency = urgency
        self.gazetteer = gazetteer
        self.routing = routing
        self.problems = problems
        self.split_policy = split_policy

    def __repr__(self) -> str:
        return f"Dispatcher(fields={self.fields})"

    @property
    def fields(self) -> tuple[str, ...]:
        """The answer's fields this dispatcher fills, in :data:`DISPATCH_FIELDS` order."""
        on = {
            "urgency": self.urgency is not None,
            "location": self.gazetteer is not None,
            "dispatch": self.routing is not None,
            "problems": self.problems,
        }
        return tuple(name for name in DISPATCH_FIELDS if on[name])

    @classmethod
    def load(
        cls,
        *,
        labels: Sequence[str],
        urgency: bool = False,
        urgency_terms: str | Path | None = None,
        urgency_examples: str | Path | None = None,
        urgency_veto: float | None = None,
        gazetteer: str | Path | None = None,
        city: str | None = None,
        routing: str | Path | None = None,
        problems: bool = False,
    ) -> Dispatcher:
        """Read and check every configured part. ``labels``: the model's labels, which the
        routing table's rules must name; the table's districts and streets must be the
        gazetteer's when there is one. Raises :class:`~nlp.errors.DataError` naming the
        file and its line (or rule)."""
        labels = list(labels)
        if not labels:
            raise DataError("the model has no labels to dispatch")
        detector = None
        if urgency:
            examples = urgency_examples
            learn = True
            if examples is None:
                from nlp.urgency import DEFAULT_EXAMPLES

                learn = DEFAULT_EXAMPLES.exists()  # an installed package ships no examples
            veto = {} if urgency_veto is None else {"veto_threshold": urgency_veto}
            detector = UrgencyDetector.load(
                terms=urgency_terms, examples=examples, learn=learn, **veto
            )
        places = Gazetteer.from_csv(gazetteer, city=city) if gazetteer is not None else None
        table = (
            RoutingTable.load(routing, labels=labels, gazetteer=places)
            if routing is not None
            else None
        )
        return cls(urgency=detector, gazetteer=places, routing=table, problems=problems)

    def enrich(
        self,
        predictions: Sequence[Prediction | str],
        texts: Sequence[object],
        titles: Sequence[object] | None = None,
        *,
        model: RoutingModel | None = None,
    ) -> None:
        """Fill the configured fields of each :class:`~nlp.model.Prediction` (in place) for
        the tickets ``texts`` / ``titles`` (one each, in order; a row's error string in
        ``predictions`` is left alone). Problems need the ``model`` that answered."""
        if len(texts) != len(predictions) or (titles is not None and len(titles) != len(texts)):
            raise DataError(
                f"{len(predictions)} predictions, {len(texts)} texts and "
                f"{'no' if titles is None else len(titles)} titles: give one of each per ticket"
            )
        rows = [i for i, p in enumerate(predictions) if not isinstance(p, str)]
        if not rows:
            return
        answers: list[Prediction] = [predictions[i] for i in rows]  # type: ignore[misc]
        bodies = [_text(texts[i]) for i in rows]
        heads = [None if titles is None else _title(titles[i]) for i in rows]
        # Each ticket is folded and converted once (the costly steps of normalising it) and
        # normalised once: the parts get the forms they read.
        forms = [_Forms(body, head) for body, head in zip(bodies, heads, strict=True)]
        if self.urgency is not None:
            for prediction, found in zip(
                answers,
                self.urgency.assess_normalised(
                    [form.normal_body for form in forms], [form.normal_head for form in forms]
                ),
                strict=True,
            ):
                prediction.urgency = found
                if found.level == "紧急":
                    _flag_urgent(prediction, found)
        if self.gazetteer is not None:
            for prediction, form in zip(answers, forms, strict=True):
                prediction.location = locate_simplified(
                    form.body,
                    form.head,
                    gazetteer=self.gazetteer,
                    simplified_text=form.simple_body,
                    simplified_title=form.simple_head,
                )
        if self.routing is not None:
            routing = self.routing
            for prediction, form in zip(answers, forms, strict=True):
                prediction.dispatch = routing.route(
                    prediction.label,
                    location=prediction.location,
                    text=form.words,
                    # the body's normal form is the words' when there is no title (with one,
                    # masking may read across the line between them: route normalises both)
                    normal=(
                        form.normal_body
                        if form.head is None and prediction.label in routing.keyword_labels
                        else None
                    ),
                )
        if self.problems:
            if model is None:
                raise DataError("finding a ticket's problems needs the model that answered it")
            from nlp.problems import find_problems_many

            found_problems = find_problems_many(
                model,
                [texts[i] for i in rows],
                None if titles is None else [titles[i] for i in rows],
                answers,
                policy=self.split_policy,
            )
            for prediction, problems in zip(answers, found_problems, strict=True):
                prediction.problems = [
                    self._lead(p, prediction, first=i == 0) for i, p in enumerate(problems)
                ]

    def _lead(self, problem: Problem, prediction: Prediction, *, first: bool) -> ProblemAnswer:
        """``problem`` with the unit that leads on it: the ticket's own lead for the lead
        problem (the top-level answer), the routing table's for its statement otherwise."""
        if self.routing is None:
            return ProblemAnswer(problem)
        routed: Dispatch | None = prediction.dispatch if first else None
        if routed is None:
            routed = self.routing.route(
                problem.label, location=prediction.location, text=problem.text
            )
        return ProblemAnswer(problem, routed.lead.unit if routed.lead else None)


class _Forms:
    """One ticket's body and title (None when it has none) as the parts read them, each form
    worked out once, when first asked for: :func:`nlp.text.simplify` (places), then
    :func:`nlp.text.normalise` (urgency, the routing table's keywords) from it."""

    __slots__ = ("_normal_body", "_normal_head", "_simple_body", "_simple_head", "body", "head")

    def __init__(self, body: str, head: str | None) -> None:
        self.body = body
        self.head = head
        self._simple_body: str | None = None
        self._simple_head: str | None = None
        self._normal_body: str | None = None
        self._normal_head: str | None = None

    @property
    def simple_body(self) -> str:
        if self._simple_body is None:
            self._simple_body = simplify(self.body)
        return self._simple_body

    @property
    def simple_head(self) -> str | None:
        if self.head is None:
            return None
        if self._simple_head is None:
            self._simple_head = simplify(self.head)
        return self._simple_head

    @property
    def normal_body(self) -> str:
        if self._normal_body is None:
            self._normal_body = normalise_simplified(self.body, self.simple_body)
        return self._normal_body

    @property
    def normal_head(self) -> str | None:
        if self.head is None:
            return None
        if self._normal_head is None:
            self._normal_head = normalise_simplified(self.head, self.simple_head or "")
        return self._normal_head

    @property
    def words(self) -> str:
        """Title and body as the routing table reads them (title first, a line between)."""
        return f"{self.head}\n{self.body}" if self.head else self.body


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _title(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _flag_urgent(prediction: Prediction, urgency: Urgency) -> None:
    """A 紧急 ticket goes before a person whatever its confidence (the module's docstring)."""
    if URGENT_CODE in prediction.review_codes:
        return
    prediction.needs_review = True
    prediction.review_codes = [*prediction.review_codes, URGENT_CODE]
    why = f"urgent: {urgency.reason}"
    prediction.review_reason = (
        f"{prediction.review_reason}; {why}" if prediction.review_reason else why
    )
