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
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline

from nlp.classifier import CalibratedLinearSVC
from nlp.documents import BODY_ONLY, Documents, Field, Layout, RowError, compose_documents
from nlp.errors import DataError
from nlp.explain import WordContributions, is_content_word, word_contributions
from nlp.features import DocumentVectorizer
from nlp.text import AlignedText, normalise, normalise_aligned

__all__ = [
    "ANSWER_FIELDS",
    "Prediction",
    "Ranking",
    "ReviewPolicy",
    "RoutingModel",
    "Term",
    "TextNormaliser",
]


class TextNormaliser(TransformerMixin, BaseEstimator):
    """Pipeline step that applies :func:`nlp.text.normalise` (masking first) to each document."""

    def fit(self, X: Any, y: Any = None) -> TextNormaliser:
        return self

    def transform(self, X: Sequence[str]) -> list[str]:
        return [normalise(doc) for doc in X]

    def aligned(self, X: Sequence[str]) -> list[AlignedText]:
        """:meth:`transform` with where each character comes from (explanations name words
        as typed): :func:`nlp.text.normalise_aligned`."""
        return [normalise_aligned(doc) for doc in X]

    def __sklearn_is_fitted__(self) -> bool:
        return True


@dataclass(frozen=True)
class ReviewPolicy:
    """When a human must check: low confidence, or the top two departments too close.

    The defaults come from the coverage curve of the evaluation (README, "Review policy").
    """

    min_confidence: float = 0.7
    min_margin: float = 0.2

    def flagged(self, top: NDArray[np.float64], second: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Which rows need a person: :meth:`reason` is not None exactly there."""
        return np.asarray((top < self.min_confidence) | (top - second < self.min_margin))

    def reason(self, top: float, second: float) -> str | None:
        if top < self.min_confidence:
            return f"confidence {top:.3f} below {self.min_confidence}"
        if top - second < self.min_margin:
            return f"top two within {top - second:.3f} (margin {self.min_margin})"
        return None


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
    person must check it and why, and the terms of the ticket that decided it.

    Scores are rounded to six decimals, as every client shows them. Not frozen: a frozen
    dataclass costs more to build, and one is built per ticket of every batch.
    """

    label: str
    confidence: float
    top_k: list[tuple[str, float]]
    needs_review: bool
    review_reason: str | None
    explanation: list[Term] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The answer as JSON-ready values: :data:`ANSWER_FIELDS`, in that order."""
        return {
            "label": self.label,
            "confidence": self.confidence,
            "top_k": [{"label": label, "score": score} for label, score in self.top_k],
            "needs_review": self.needs_review,
            "review_reason": self.review_reason,
            "explanation": (
                [term.to_dict() for term in self.explanation]
                if self.explanation  # most batch answers have none: skip the comprehension
                else []
            ),
        }


#: The keys of :meth:`Prediction.to_dict`, in order.
ANSWER_FIELDS = ("label", "confidence", "top_k", "needs_review", "review_reason", "explanation")


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
        return [
            Prediction(
                label=ranked[0],
                confidence=row_scores[0],
                top_k=list(zip(ranked, row_scores, strict=True)),
                needs_review=reason is not None,
                review_reason=reason,
                explanation=terms,
            )
            for ranked, row_scores, reason, terms in zip(
                names, scores, self.review_reasons, explanations, strict=True
            )
        ]


class RoutingModel:
    """A fitted pipeline ``TextNormaliser -> DocumentVectorizer -> CalibratedLinearSVC``."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        name: str = "default",
        version: str | None = None,
        manifest: dict[str, Any] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.name = name
        self.version = version
        self.manifest = manifest or {}
        self._normaliser: TextNormaliser = pipeline.named_steps["normalise"]
        self._vectorizer: DocumentVectorizer = pipeline.named_steps["vectorise"]
        self._classifier: CalibratedLinearSVC = pipeline.named_steps["classify"]

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
        return self._score(self._normaliser.transform(documents))

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
    ) -> list[Prediction]:
        """Route tickets given as bodies and titles, whichever exist (a title-only ticket has
        ``None`` or ``""`` as its text), by the one document rule of :mod:`nlp.documents`.

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
        return ranking.predictions()

    def answer(
        self,
        found: Documents,
        *,
        top_k: int = 3,
        policy: ReviewPolicy | None = None,
        explain: int = 0,
    ) -> list[Prediction | RowError]:
        """One answer per row of ``found`` (:func:`nlp.documents.compose_documents`), in
        order: the row's :class:`Prediction`, or why it has no document (``"empty_text"``,
        ``"not_text"``)."""
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
        return [next(routed) if error is None else error for error in found.errors]

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
        aligned: list[AlignedText] | None = None
        found: list[WordContributions] = []
        if explain > 0:
            # The words are shown as typed: keep where each character comes from. The words'
            # contributions add up to the logits (a test pins them equal to the pipeline's),
            # so an explained ticket's features are counted once, not once more to score it.
            classifier = self._classifier
            aligned = self._normaliser.aligned(documents)
            found = [
                word_contributions(self._vectorizer, text.text, classifier.weights_)
                for text in aligned
            ]
            logits = np.empty((len(found), classifier.weights_.shape[1]))
            logits[:] = classifier.bias_
            if found:
                logits += np.stack([contributions.total for contributions in found])
            probabilities = classifier.probabilities(logits)
        else:
            probabilities = self._score(self._normaliser.transform(documents))
        k = max(1, min(top_k, probabilities.shape[1]))
        order = np.argsort(-probabilities, axis=1, kind="stable")[:, : max(k, 2)]
        scores = np.take_along_axis(probabilities, order, axis=1)
        top = scores[:, 0]
        second = scores[:, 1] if scores.shape[1] > 1 else np.zeros_like(top)
        reasons: list[str | None] = [None] * len(documents)
        for row in np.flatnonzero(policy.flagged(top, second)).tolist():
            reasons[row] = policy.reason(float(top[row]), float(second[row]))
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
            explanations=explanations,
        )

    def _score(self, normalised: list[str]) -> NDArray[np.float64]:
        """The probabilities of normalised documents.

        One ticket or ten thousand: the features are multiplied by the weights in compiled
        loops as they are counted, without a scipy matrix (a test pins the result equal to
        ``predict_proba`` on the pipeline's matrix).
        """
        classifier = self._classifier
        logits = np.empty((len(normalised), classifier.weights_.shape[1]))
        logits[:] = classifier.bias_
        self._vectorizer.add_scores(normalised, classifier.weights_, logits)
        return classifier.probabilities(logits)

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
    totals: dict[str, float] = {}
    get = totals.get
    for word, score in zip(found.words, found.scores[:, label].tolist(), strict=True):
        totals[word] = get(word, 0.0) + score
    ranked: list[str] = []
    for word in sorted(totals, key=totals.__getitem__, reverse=True):
        if totals[word] <= 0 or len(ranked) == n:
            break
        if is_content_word(word):
            ranked.append(word)
    places: dict[str, list[int]] = {word: [] for word in ranked}
    for i, word in enumerate(found.words):
        if word in places:
            places[word].append(i)
    starts, ends = found.starts.tolist(), found.ends.tolist()
    terms = []
    for word in ranked:
        typed: str | None = None
        spans: list[tuple[Field, int, int]] = []
        for i in places[word]:
            span = aligned.original_span(starts[i], ends[i]) if starts[i] >= 0 else None
            if span is None:
                continue
            if typed is None:
                typed = aligned.original[span[0] : span[1]]
            located = layout.locate(*span)
            if located is not None:
                spans.append(located)
        terms.append(Term(term=typed or word, weight=round(totals[word], 6), spans=spans))
    return terms
