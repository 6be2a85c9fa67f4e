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
from nlp.documents import Documents, RowError, compose_documents
from nlp.errors import DataError
from nlp.features import DocumentVectorizer, SparseRows
from nlp.text import normalise

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
    """A term of the ticket and how much it pushed toward a label (slotted, not frozen, like
    :class:`Prediction`: several are built for every explained ticket)."""

    term: str
    weight: float


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
                [{"term": t.term, "weight": t.weight} for t in self.explanation]
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

        ``explain=False`` skips building the feature names, which only explanations read:
        batch workers that never explain start sooner.
        """
        self.predict_proba(["预热：小区停水了，电话<PHONE>"])
        if explain:
            _ = self.feature_names

    def predict_proba(self, documents: Sequence[str]) -> NDArray[np.float64]:
        """Probabilities (rows sum to 1, columns follow :attr:`labels`) of raw documents."""
        return self._score(self._normaliser.transform(documents))[1]

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
        return self.rank(found.documents, top_k=top_k, policy=policy, explain=explain).predictions()

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
            self.rank(found.documents, top_k=top_k, policy=policy, explain=explain).predictions()
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
    ) -> Ranking:
        """The answers for a chunk of documents as arrays (see :class:`Ranking`)."""
        policy = policy or ReviewPolicy()
        rows, probabilities = self._score(
            self._normaliser.transform(documents), word_rows=explain > 0
        )
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
                self._explain_row(*rows.row(row), int(order[row, 0]), explain)
                for row in range(len(order))
            ]
            if rows is not None
            else None
        )
        return Ranking(
            labels=self.labels,
            order=order[:, :k],
            scores=scores[:, :k],
            review_reasons=reasons,
            explanations=explanations,
        )

    def _score(
        self, normalised: list[str], *, word_rows: bool = False
    ) -> tuple[SparseRows | None, NDArray[np.float64]]:
        """The word features of each document (when ``word_rows``: explanations need them)
        and the probabilities.

        One ticket or ten thousand: the features are multiplied by the weights in compiled
        loops as they are counted, without a scipy matrix (a test pins the result equal to
        ``predict_proba`` on the pipeline's matrix).
        """
        classifier = self._classifier
        logits = np.empty((len(normalised), classifier.weights_.shape[1]))
        logits[:] = classifier.bias_
        rows = self._vectorizer.add_scores(
            normalised, classifier.weights_, logits, word_rows=word_rows
        )
        return rows, classifier.probabilities(logits)

    @cached_property
    def feature_names(self) -> NDArray[np.object_]:
        return self._vectorizer.get_feature_names_out()

    def _explain_row(
        self,
        columns: NDArray[np.int64],
        values: NDArray[np.float64],
        label_index: int,
        n: int,
    ) -> list[Term]:
        """Words (and word pairs) of the ticket by their contribution ``tfidf * weight``
        toward the label. Character n-grams also vote, but words are what a reader can
        check and what the try-it page highlights."""
        if n <= 0:
            return []
        contribution = values * self._classifier.weights_[columns, label_index]
        # Only the strongest few can make the list; a word pair may repeat a word ("物业 费"
        # and "物业费"), so candidates are merged by surface form before the cut.
        best = np.argsort(-contribution)[: 3 * n]
        names = self.feature_names
        totals: dict[str, float] = {}
        for column, value in zip(columns[best].tolist(), contribution[best].tolist(), strict=True):
            if value > 0:
                term = str(names[column]).replace(" ", "")
                totals[term] = totals.get(term, 0.0) + value
        ranked = sorted(totals.items(), key=lambda item: -item[1])[:n]
        return [Term(term=term, weight=round(weight, 6)) for term, weight in ranked]
