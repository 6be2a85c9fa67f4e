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
from nlp.scope import ScopeDetector
from nlp.text import normalise

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
    """Pipeline step that applies :func:`nlp.text.normalise` (masking first) to each document."""

    def fit(self, X: Any, y: Any = None) -> TextNormaliser:
        return self

    def transform(self, X: Sequence[str]) -> list[str]:
        return [normalise(doc) for doc in X]

    def __sklearn_is_fitted__(self) -> bool:
        return True


#: Why a ticket needs a person, in this order: its confidence is under the policy's
#: minimum, its top two departments are too close, or it is out of scope (:mod:`nlp.scope`).
REVIEW_CODES = ("low_confidence", "close_call", "out_of_scope")


@dataclass(frozen=True)
class ReviewPolicy:
    """When a human must check: low confidence, the top two departments too close, or a
    ticket out of scope (too little known content, or unlike anything in training; only
    with a model trained with the out-of-scope rule, see :mod:`nlp.scope`).

    The confidence and margin defaults come from the coverage curve of the evaluation
    (README, "Review policy"); the out-of-scope threshold is fitted with the model
    (``TrainConfig.out_of_scope_rate``). ``out_of_scope=False`` turns that rule off.
    """

    min_confidence: float = 0.7
    min_margin: float = 0.2
    out_of_scope: bool = True

    def flagged(
        self,
        top: NDArray[np.float64],
        second: NDArray[np.float64],
        out_of_scope: NDArray[np.bool_] | None = None,
    ) -> NDArray[np.bool_]:
        """Which rows need a person: :meth:`codes` is not empty exactly there."""
        flagged = (top < self.min_confidence) | (top - second < self.min_margin)
        if out_of_scope is not None and self.out_of_scope:
            flagged |= out_of_scope
        return np.asarray(flagged)

    def codes(self, top: float, second: float, *, out_of_scope: bool = False) -> list[str]:
        """Every reason that applies, as :data:`REVIEW_CODES` (in that order)."""
        codes = []
        if top < self.min_confidence:
            codes.append("low_confidence")
        if top - second < self.min_margin:
            codes.append("close_call")
        if out_of_scope and self.out_of_scope:
            codes.append("out_of_scope")
        return codes

    def reason(self, top: float, second: float, *, out_of_scope: bool = False) -> str | None:
        """Every reason that applies, in words, joined by "; " (None when none does)."""
        parts = []
        for code in self.codes(top, second, out_of_scope=out_of_scope):
            if code == "low_confidence":
                parts.append(f"confidence {top:.3f} below {self.min_confidence}")
            elif code == "close_call":
                parts.append(f"top two within {top - second:.3f} (margin {self.min_margin})")
            else:
                parts.append("out of scope: too little known content or unlike the training data")
        return "; ".join(parts) or None


@dataclass(slots=True)
class Term:
    """A term of the ticket and how much it pushed toward a label (slotted, not frozen, like
    :class:`Prediction`: several are built for every explained ticket)."""

    term: str
    weight: float


@dataclass(slots=True)
class Prediction:
    """The answer for one ticket: the department, its probability, the runners-up, whether a
    person must check it and why (``review_reason`` in words, ``review_codes`` as
    :data:`REVIEW_CODES` for dispatch platforms), and the terms of the ticket that decided it.

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
                [{"term": t.term, "weight": t.weight} for t in self.explanation]
                if self.explanation  # most batch answers have none: skip the comprehension
                else []
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

        ``explain=False`` skips building the feature names, which only explanations read:
        batch workers that never explain start sooner.
        """
        self.predict_proba(["预热：小区停水了，电话<PHONE>"])
        if explain:
            _ = self.feature_names

    def predict_proba(self, documents: Sequence[str]) -> NDArray[np.float64]:
        """Probabilities (rows sum to 1, columns follow :attr:`labels`) of raw documents."""
        return self._score(self._normaliser.transform(documents), scope=False)[1]

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
        rows, probabilities, out_of_scope = self._score(
            self._normaliser.transform(documents),
            word_rows=explain > 0,
            scope=policy.out_of_scope and self.scope is not None,
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
            review_codes=codes,
            explanations=explanations,
        )

    def _score(
        self, normalised: list[str], *, word_rows: bool = False, scope: bool = False
    ) -> tuple[SparseRows | None, NDArray[np.float64], NDArray[np.bool_] | None]:
        """The word features of each document (when ``word_rows``: explanations need them),
        the probabilities, and (when ``scope``) which documents are out of scope.

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
        rows = self._vectorizer.add_scores(
            normalised, weights, out, word_rows=word_rows, known=known
        )
        logits = out[:, :n_classes]
        outside = None
        if detector is not None and known is not None:
            outside = detector.flag(detector.signals(logits, out[:, n_classes:], known))
        return rows, classifier.probabilities(logits), outside

    @cached_property
    def _scope_weights(self) -> NDArray[np.float64]:
        """The classifier's weights, then one column per centroid of the out-of-scope rule
        (built once; the rule's centroids then point into it, so they are held once)."""
        assert self.scope is not None
        n_classes = self._classifier.weights_.shape[1]
        weights = np.ascontiguousarray(
            np.hstack([self._classifier.weights_, self.scope.centroids_]), dtype=np.float64
        )
        self.scope.centroids_ = weights[:, n_classes:]
        return weights

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
