"""The trained router: a scikit-learn pipeline plus what a caller needs to act on its answer.

:class:`RoutingModel` is what the registry loads and what every client (CLI, API, batch,
notebooks) classifies with. Its fast path runs the pipeline's steps directly on a chunk of
documents (no per-call validation), so one ticket and a chunk of ten thousand take the same
code path.

Its answer for a ticket is one record, :class:`Prediction`, and :meth:`Prediction.to_dict`
is its one serialised form: the HTTP API (one ticket or a batch), ``appeals predict --json``
and the columns :func:`nlp.tag_frame` adds are all that dictionary. A field added to the
answer is added here, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline

from nlp.classifier import CalibratedLinearSVC
from nlp.documents import BODY_ONLY, Documents, Field, Layout, RowError, compose_documents
from nlp.errors import DataError
from nlp.explain import (
    WordContributions,
    is_content_word,
    join_contributions,
    word_contributions,
    word_totals,
)
from nlp.features import DocumentVectorizer
from nlp.policy import REVIEW_CODES, ReviewPolicy
from nlp.scope import ScopeDetector
from nlp.text import AlignedText, join_aligned, normalise, normalise_aligned

if TYPE_CHECKING:
    from nlp.dispatch import Dispatcher, ProblemAnswer
    from nlp.location import Location
    from nlp.routing import Dispatch
    from nlp.urgency import Urgency

__all__ = [
    "ANSWER_FIELDS",
    "REVIEW_CODES",
    "Prediction",
    "Ranking",
    "ReviewPolicy",
    "RoutingModel",
    "Term",
    "TextNormaliser",
]


class TextNormaliser(TransformerMixin, BaseEstimator):
    """Pipeline step that applies :func:`nlp.text.normalise` (masking first) to each field of
    each document, keeping the line break between title and body (:mod:`nlp.documents`)."""

    def fit(self, X: Any, y: Any = None) -> TextNormaliser:
        return self

    def transform(self, X: Sequence[str]) -> list[str]:
        return [
            "\n".join(map(normalise, doc.split("\n"))) if "\n" in doc else normalise(doc)
            for doc in X
        ]

    def aligned(self, X: Sequence[str]) -> list[AlignedText]:
        """:meth:`transform` with where each character comes from (explanations name words
        as typed): :func:`nlp.text.normalise_aligned`."""
        return [normalise_aligned(doc) for doc in X]

    def __sklearn_is_fitted__(self) -> bool:
        return True


@dataclass(slots=True)
class Term:
    """A word of the ticket, as it was typed, how much it pushed toward the label, and where
    it stands: ``spans`` lists ``(field, start, end)`` for each place the model read it, with
    ``field`` ``"title"`` or ``"text"`` and ``[start, end)`` character offsets in that field as
    sent (slotted, not frozen, like :class:`Prediction`: several are built for every explained
    ticket)."""

    term: str
    weight: float
    spans: list[tuple[Field, int, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "weight": self.weight,
            "spans": [{"field": f, "start": start, "end": end} for f, start, end in self.spans],
        }


@dataclass(slots=True)
class Prediction:
    """The answer for one ticket: the department, its probability, the runners-up, whether a
    person must check it and why (``review_reason`` in words, ``review_codes`` as
    :data:`REVIEW_CODES` for dispatch platforms), and the terms of the ticket that decided it.

    ``urgency``, ``location``, ``dispatch`` and ``problems`` are filled by a
    :class:`nlp.dispatch.Dispatcher` (``classify(..., dispatcher=)``); each is None (null in
    :meth:`to_dict`) when its part is not configured.

    Scores are rounded to six decimals, as every client shows them. Not frozen: a frozen
    dataclass costs more to build, and one is built per ticket of every batch.
    """

    label: str
    confidence: float
    top_k: list[tuple[str, float]]
    needs_review: bool
    review_reason: str | None
    review_codes: list[str] = field(default_factory=list)
    explanation: list[Term] = field(default_factory=list)
    urgency: Urgency | None = None
    location: Location | None = None
    dispatch: Dispatch | None = None
    problems: list[ProblemAnswer] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The answer as JSON-ready values: :data:`ANSWER_FIELDS`, in that order."""
        return {
            "label": self.label,
            "confidence": self.confidence,
            "top_k": [{"label": label, "score": score} for label, score in self.top_k],
            "needs_review": self.needs_review,
            "review_reason": self.review_reason,
            "review_codes": list(self.review_codes),
            "explanation": (
                [term.to_dict() for term in self.explanation]
                if self.explanation  # most batch answers have none: skip the comprehension
                else []
            ),
            "urgency": None if self.urgency is None else self.urgency.to_dict(),
            "location": None if self.location is None else self.location.to_dict(),
            "dispatch": None if self.dispatch is None else self.dispatch.to_dict(),
            "problems": (
                None if self.problems is None else [problem.to_dict() for problem in self.problems]
            ),
        }


#: The keys of :meth:`Prediction.to_dict`, in order.
ANSWER_FIELDS = (
    "label",
    "confidence",
    "top_k",
    "needs_review",
    "review_reason",
    "review_codes",
    "explanation",
    "urgency",
    "location",
    "dispatch",
    "problems",
)


@dataclass(frozen=True)
class Ranking:
    """The answers for a chunk of tickets, as arrays: what :meth:`RoutingModel.rank` returns.

    Row ``i`` ranks ``labels[order[i, 0]]`` first with probability ``scores[i, 0]``, then
    the runners-up. Batch clients read the arrays; :meth:`predictions` gives one
    :class:`Prediction` per ticket.
    """

    labels: list[str]
    order: NDArray[np.int64]
    scores: NDArray[np.float64]
    review_reasons: list[str | None]
    review_codes: list[list[str]] | None = None
    explanations: list[list[Term]] | None = None

    def predictions(self) -> list[Prediction]:
        """One :class:`Prediction` per row, in order."""
        labels = self.labels
        if len(self.order) > 32:  # numpy's per-call cost pays off on a chunk, not on a ticket
            names = np.asarray(labels, dtype=object)[self.order].tolist()
            scores = np.round(self.scores, 6).tolist()
        else:
            names = [[labels[i] for i in row] for row in self.order.tolist()]
            scores = [[round(s, 6) for s in row] for row in self.scores.tolist()]
        explanations = self.explanations or [[] for _ in names]
        codes = self.review_codes or [[] for _ in names]
        return [
            Prediction(
                label=ranked[0],
                confidence=row_scores[0],
                top_k=list(zip(ranked, row_scores, strict=True)),
                needs_review=reason is not None,
                review_reason=reason,
                review_codes=row_codes,
                explanation=terms,
            )
            for ranked, row_scores, reason, row_codes, terms in zip(
                names, scores, self.review_reasons, codes, explanations, strict=True
            )
        ]


class RoutingModel:
    """A fitted pipeline ``TextNormaliser -> DocumentVectorizer -> CalibratedLinearSVC``,
    and the out-of-scope rule fitted with it (``scope``; None for a model trained without
    it, which then never answers ``out_of_scope``)."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        scope: ScopeDetector | None = None,
        name: str = "default",
        version: str | None = None,
        manifest: dict[str, Any] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.scope = scope
        self.name = name
        self.version = version
        self.manifest = manifest or {}
        self._normaliser: TextNormaliser = pipeline.named_steps["normalise"]
        self._vectorizer: DocumentVectorizer = pipeline.named_steps["vectorise"]
        self._classifier: CalibratedLinearSVC = pipeline.named_steps["classify"]
        if scope is not None and scope.n_features_ != self._classifier.weights_.shape[0]:
            raise DataError(
                f"the out-of-scope rule was fitted on {scope.n_features_} features, the model "
                f"has {self._classifier.weights_.shape[0]}: they were not trained together. "
                "Retrain the model"
            )

    def __repr__(self) -> str:
        return f"RoutingModel(name={self.name!r}, version={self.version!r}, labels={self.labels})"

    @property
    def labels(self) -> list[str]:
        return [str(label) for label in self._classifier.classes_]

    @property
    def vectorizer(self) -> DocumentVectorizer:
        return self._vectorizer

    def warm_up(self, *, explain: bool = True) -> None:
        """Build the tokenizer and touch every code path once, so the first ticket is fast.

        ``explain=False`` skips the explanation's path (its compiled kernel, the stop words):
        batch workers that never explain start sooner.
        """
        if explain:
            self.classify(["预热：小区停水了，電話<PHONE>"], ["预热"], explain=3)
        else:
            self.predict_proba(["预热：小区停水了，电话<PHONE>"])

    def predict_proba(self, documents: Sequence[str]) -> NDArray[np.float64]:
        """Probabilities (rows sum to 1, columns follow :attr:`labels`) of raw documents."""
        return self._score(self._normaliser.transform(documents), scope=False)[0]

    def predict(self, documents: Sequence[str]) -> list[str]:
        labels = self._classifier.classes_
        return [str(labels[i]) for i in self.predict_proba(documents).argmax(axis=1)]

    def classify(
        self,
        texts: Sequence[str | None],
        titles: Sequence[str | None] | None = None,
        *,
        top_k: int = 3,
        policy: ReviewPolicy | None = None,
        explain: int = 0,
        dispatcher: Dispatcher | None = None,
    ) -> list[Prediction]:
        """Route tickets given as bodies and titles, whichever exist (a title-only ticket has
        ``None`` or ``""`` as its text), by the one document rule of :mod:`nlp.documents`.
        With ``dispatcher``, each answer also has its urgency, location, dispatch and
        problems (:meth:`nlp.dispatch.Dispatcher.enrich`).

        Raises :class:`~nlp.errors.DataError` when a ticket has neither (missing, empty or
        white space only); :meth:`answer` (and so :func:`nlp.tag_frame`) gives such a row
        its error instead.
        """
        found = compose_documents(texts, titles)
        for position, error in enumerate(found.errors):
            if error is not None:
                raise DataError(
                    f"ticket {position} has no text and no title (missing, empty or white "
                    "space only): give its body, its title, or both"
                )
        layouts = found.layouts() if explain > 0 else None
        ranking = self.rank(
            found.documents, top_k=top_k, policy=policy, explain=explain, layouts=layouts
        )
        predictions = ranking.predictions()
        if dispatcher is not None:
            dispatcher.enrich(predictions, texts, titles, model=self)
        return predictions

    def answer(
        self,
        found: Documents,
        *,
        top_k: int = 3,
        policy: ReviewPolicy | None = None,
        explain: int = 0,
        dispatcher: Dispatcher | None = None,
    ) -> list[Prediction | RowError]:
        """One answer per row of ``found`` (:func:`nlp.documents.compose_documents`), in
        order: the row's :class:`Prediction`, or why it has no document (``"empty_text"``,
        ``"not_text"``). With ``dispatcher``, as :meth:`classify`."""
        predictions = (
            self.rank(
                found.documents,
                top_k=top_k,
                policy=policy,
                explain=explain,
                layouts=found.layouts() if explain > 0 else None,
            ).predictions()
            if found.documents
            else []
        )
        routed = iter(predictions)
        answers = [next(routed) if error is None else error for error in found.errors]
        if dispatcher is not None and predictions:
            texts = found.texts
            if not texts:
                raise DataError("dispatching needs the tickets' texts: compose_documents(texts)")
            dispatcher.enrich(answers, texts, found.titles, model=self)
        return answers

    def rank(
        self,
        documents: Sequence[str],
        *,
        top_k: int = 3,
        policy: ReviewPolicy | None = None,
        explain: int = 0,
        layouts: Sequence[Layout] | None = None,
    ) -> Ranking:
        """The answers for a chunk of documents as arrays (see :class:`Ranking`).

        With ``explain=n``, each answer names the ``n`` words that pushed most toward its
        label, with where they stand: ``layouts`` (:meth:`nlp.documents.Documents.layouts`)
        say which characters of each document are its title and which its body; without
        them, offsets are the document's own, given as the body's.
        """
        policy = policy or ReviewPolicy()
        scope = policy.out_of_scope and self.scope is not None
        aligned: list[AlignedText] | None = None
        found: list[WordContributions] = []
        if explain > 0:
            # The words are shown as typed: keep where each character comes from. Their
            # contributions add up to the logits (and, with the out-of-scope rule, to the
            # similarities to its centroids: more columns of the same weights), so an
            # explained ticket's features are counted once, not once more to score it.
            aligned = []
            for document in documents:
                text, contributions = self._contributions(document, scope=scope)
                aligned.append(text)
                found.append(contributions)
            probabilities, out_of_scope = self._from_contributions(
                found, [text.text for text in aligned], scope=scope
            )
        else:
            probabilities, out_of_scope = self._score(
                self._normaliser.transform(documents), scope=scope
            )
        k = max(1, min(top_k, probabilities.shape[1]))
        order = np.argsort(-probabilities, axis=1, kind="stable")[:, : max(k, 2)]
        scores = np.take_along_axis(probabilities, order, axis=1)
        top = scores[:, 0]
        second = scores[:, 1] if scores.shape[1] > 1 else np.zeros_like(top)
        reasons: list[str | None] = [None] * len(documents)
        codes: list[list[str]] = [[] for _ in range(len(documents))]
        for row in np.flatnonzero(policy.flagged(top, second, out_of_scope)).tolist():
            first, runner_up = float(top[row]), float(second[row])
            outside = bool(out_of_scope[row]) if out_of_scope is not None else False
            reasons[row] = policy.reason(first, runner_up, out_of_scope=outside)
            codes[row] = policy.codes(first, runner_up, out_of_scope=outside)
        explanations = (
            [
                _terms(
                    contributions,
                    text,
                    label,
                    explain,
                    BODY_ONLY if layouts is None else layouts[row],
                )
                for row, (contributions, text, label) in enumerate(
                    zip(found, aligned, order[:, 0].tolist(), strict=True)
                )
            ]
            if aligned is not None
            else None
        )
        return Ranking(
            labels=self.labels,
            order=order[:, :k],
            scores=scores[:, :k],
            review_reasons=reasons,
            review_codes=codes,
            explanations=explanations,
        )

    def _contributions(
        self, document: str, *, scope: bool = False
    ) -> tuple[AlignedText, WordContributions]:
        """A raw document's normal form, aligned to it, and its words' contributions: field
        by field when the vectoriser reads title and body apart (their contributions then
        combine as the fields' rows do), so the totals are the logits less the bias (then,
        with ``scope``, the similarities to the out-of-scope rule's centroids)."""
        vectorizer = self._vectorizer
        weights = self._scope_weights if scope else self._classifier.weights_
        labels = self._classifier.weights_.shape[1]  # words get these columns' parts only
        if vectorizer.fields == "joined" or "\n" not in document:
            (aligned,) = self._normaliser.aligned([document.replace("\n", " ")])
            return aligned, word_contributions(vectorizer, aligned.text, weights, n_scored=labels)
        fields = self._normaliser.aligned(document.split("\n"))
        share = 1.0 / len(fields) if vectorizer.fields == "mean" else 1.0
        contributions = [
            word_contributions(vectorizer, field.text, weights, n_scored=labels) for field in fields
        ]
        return join_aligned(fields, document), join_contributions(
            contributions, [len(field.text) for field in fields], share=share
        )

    def _from_contributions(
        self, found: Sequence[WordContributions], normalised: list[str], *, scope: bool
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_] | None]:
        """:meth:`_score` from the documents' contributions (whose totals hold the logits
        less the bias, then the centroid similarities); the out-of-scope rule's known-content
        sums come from the vectoriser, as in :meth:`_score`."""
        classifier = self._classifier
        n_classes = classifier.weights_.shape[1]
        width = self._scope_weights.shape[1] if scope else n_classes
        totals = np.zeros((len(found), width))
        if found:
            totals[:] = np.stack([contributions.total for contributions in found])
        logits = totals[:, :n_classes] + classifier.bias_
        if not scope or self.scope is None:
            return classifier.probabilities(logits), None
        sums = [contributions.known for contributions in found]
        known = np.zeros((len(found), 2))
        if all(part is not None for part in sums):
            known[:] = np.asarray(sums).reshape(-1, 2)
        else:  # not worked out with the contributions (character n-grams inside words)
            self._vectorizer.add_known_share(normalised, known)
        detector = self.scope
        outside = detector.flag(detector.signals(logits, totals[:, n_classes:], known))
        return classifier.probabilities(logits), outside

    def _score(
        self, normalised: list[str], *, scope: bool = False
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_] | None]:
        """The probabilities of normalised documents, and (when ``scope``) which of them are
        out of scope.

        One ticket or ten thousand: the features are multiplied by the weights in compiled
        loops as they are counted, without a scipy matrix (a test pins the result equal to
        ``predict_proba`` on the pipeline's matrix). The out-of-scope rule's centroids are
        more columns of the same product, and its known-content sums come from the same pass.
        """
        classifier = self._classifier
        n_classes = classifier.weights_.shape[1]
        detector = self.scope if scope else None
        weights = self._scope_weights if detector is not None else classifier.weights_
        out = np.zeros((len(normalised), weights.shape[1]))
        out[:, :n_classes] = classifier.bias_
        known = np.zeros((len(normalised), 2)) if detector is not None else None
        self._vectorizer.add_scores(normalised, weights, out, known=known)
        logits = out[:, :n_classes]
        outside = None
        if detector is not None and known is not None:
            outside = detector.flag(detector.signals(logits, out[:, n_classes:], known))
        return classifier.probabilities(logits), outside

    @cached_property
    def _scope_weights(self) -> NDArray[np.float64]:
        """The classifier's weights, then one column per centroid of the out-of-scope rule
        (built once; the rule's centroids then point into it, so they are held once)."""
        if self.scope is None:  # only asked for when the model has the rule
            raise DataError("this model has no out-of-scope rule")
        n_classes = self._classifier.weights_.shape[1]
        weights = np.ascontiguousarray(
            np.hstack([self._classifier.weights_, self.scope.centroids_]), dtype=np.float64
        )
        self.scope.centroids_ = weights[:, n_classes:]
        return weights

    @cached_property
    def feature_names(self) -> NDArray[np.object_]:
        return self._vectorizer.get_feature_names_out()


def _terms(
    found: WordContributions, aligned: AlignedText, label: int, n: int, layout: Layout
) -> list[Term]:
    """The ``n`` words of a ticket that pushed most toward ``label``, as typed.

    Every word and character n-gram's contribution (TF-IDF value times weight) has been
    handed to the words it covers (:func:`nlp.explain.word_contributions`); here they are
    summed by word, and the words an explanation never names are left out
    (:func:`nlp.explain.is_content_word`). A word's spans are the places the model read it
    (the first ``max_segment_chars`` characters of the document).
    """
    words = found.words
    if not words:
        return []
    # a word's total is the sum of its occurrences' scores, in the order they come; words
    # with equal totals rank in order of first occurrence
    first_at, after_at, summed = word_totals(found.hashes, found.scores[:, label])
    first, after, totals = first_at.tolist(), after_at.tolist(), summed.tolist()
    ranked: list[int] = []
    for i in np.argsort(-summed, kind="stable").tolist():
        if totals[i] <= 0 or len(ranked) == n:
            break
        if is_content_word(words[first[i]]):
            ranked.append(i)
    starts, ends = found.starts.tolist(), found.ends.tolist()
    terms = []
    for word in ranked:
        typed: str | None = None
        spans: list[tuple[Field, int, int]] = []
        i = first[word]
        while i >= 0:
            span = aligned.original_span(starts[i], ends[i]) if starts[i] >= 0 else None
            i = after[i]
            if span is None:
                continue
            if typed is None:
                typed = aligned.original[span[0] : span[1]]
            located = layout.locate(*span)
            if located is not None:
                spans.append(located)
        name = words[first[word]]
        terms.append(Term(term=typed or name, weight=round(totals[word], 6), spans=spans))
    return terms
