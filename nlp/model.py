"""The trained router: a scikit-learn pipeline plus what a caller needs to act on its answer.

:class:`RoutingModel` is what the registry loads and what every client (CLI, API, batch,
notebooks) classifies with. Its fast path runs the pipeline's steps directly on a chunk of
documents (no per-call validation), so one ticket and a chunk of ten thousand take the same
code path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline

from nlp.classifier import CalibratedLinearSVC
from nlp.data import compose_document
from nlp.features import DocumentVectorizer
from nlp.text import normalise

__all__ = ["Prediction", "ReviewPolicy", "RoutingModel", "Term", "TextNormaliser"]

_SMALL_BATCH = 16  # tickets; up to this many are scored without building a sparse matrix


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

    def reason(self, top: float, second: float) -> str | None:
        if top < self.min_confidence:
            return f"confidence {top:.3f} below {self.min_confidence}"
        if top - second < self.min_margin:
            return f"top two within {top - second:.3f} (margin {self.min_margin})"
        return None


@dataclass(frozen=True)
class Term:
    """A term of the ticket and how much it pushed toward a label."""

    term: str
    weight: float


@dataclass(frozen=True)
class Prediction:
    """The answer for one ticket."""

    label: str
    confidence: float
    top_k: list[tuple[str, float]]
    needs_review: bool
    review_reason: str | None
    explanation: list[Term] = field(default_factory=list)


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

    def warm_up(self) -> None:
        """Build the tokenizer and touch every code path once, so the first ticket is fast."""
        self.predict_proba(["预热：小区停水了，电话<PHONE>"])
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
        """Route tickets given as bodies (and titles). Each must have a body or a title."""
        titles = titles if titles is not None else [None] * len(texts)
        documents = []
        for text, title in zip(texts, titles, strict=True):
            document = compose_document(text, title)
            if document is None:
                raise ValueError("every ticket needs a non-empty text or title")
            documents.append(document)
        return self.classify_documents(documents, top_k=top_k, policy=policy, explain=explain)

    def classify_documents(
        self,
        documents: Sequence[str],
        *,
        top_k: int = 3,
        policy: ReviewPolicy | None = None,
        explain: int = 0,
    ) -> list[Prediction]:
        policy = policy or ReviewPolicy()
        rows, probabilities = self._score(self._normaliser.transform(documents))
        labels = self.labels
        k = max(1, min(top_k, len(labels)))
        order = np.argsort(-probabilities, axis=1, kind="stable")[:, : max(k, 2)]
        predictions = []
        for row, ranked in enumerate(order):
            scores = probabilities[row, ranked]
            reason = policy.reason(float(scores[0]), float(scores[1]) if scores.size > 1 else 0.0)
            predictions.append(
                Prediction(
                    label=labels[ranked[0]],
                    confidence=float(scores[0]),
                    top_k=[
                        (labels[i], float(s)) for i, s in zip(ranked[:k], scores[:k], strict=True)
                    ],
                    needs_review=reason is not None,
                    review_reason=reason,
                    explanation=self._explain_row(*rows(row), int(ranked[0]), explain)
                    if explain
                    else [],
                )
            )
        return predictions

    def _score(
        self, normalised: list[str]
    ) -> tuple[Callable[[int], tuple[NDArray[np.int64], NDArray[np.float64]]], NDArray[np.float64]]:
        """Probabilities of normalised documents, and a function giving a row's word features.

        A few tickets are scored from the feature triplets with numpy alone; a chunk goes
        through one sparse matrix product. Both give the same numbers (a test pins it).
        """
        classifier = self._classifier
        if len(normalised) <= _SMALL_BATCH:
            words, chars = self._vectorizer.weights(normalised)
            weights = classifier.weights_
            logits = words.dot(weights) + chars.dot(weights[words.n_cols :]) + classifier.bias_
            return words.row, classifier.probabilities(logits)
        features = self._vectorizer.transform(normalised)
        n_words = self._vectorizer.n_word_features_

        def word_row(row: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
            start, end = features.indptr[row], features.indptr[row + 1]
            columns = features.indices[start:end]
            is_word = columns < n_words
            return columns[is_word], features.data[start:end][is_word]

        return word_row, classifier.predict_proba(features)

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
        return [Term(term=term, weight=weight) for term, weight in ranked]

    def explain(
        self, text: str | None, title: str | None = None, *, label: str | None = None, n: int = 8
    ) -> list[Term]:
        """The terms of this ticket that pushed most toward ``label`` (default: the prediction)."""
        document = compose_document(text, title)
        if document is None:
            raise ValueError("the ticket needs a non-empty text or title")
        rows, probabilities = self._score(self._normaliser.transform([document]))
        if label is None:
            index = int(probabilities[0].argmax())
        elif label in self.labels:
            index = self.labels.index(label)
        else:
            raise ValueError(f"unknown label {label!r}; the model knows {', '.join(self.labels)}")
        return self._explain_row(*rows(0), index, n)
