"""Out of scope: tickets with too little known content, or unlike anything in training.

A router trained on 14 departments gives one of them to ``谢谢`` (with the probability its
biases give an empty ticket), to keyboard mash and to a complaint about a mobile operator.
:class:`ScopeDetector` finds those tickets from three signals that scoring computes anyway,
or in the same compiled pass (:meth:`nlp.features.DocumentVectorizer.add_scores`):

1. **evidence**: the highest raw logit. No department claims a ticket whose words carry no
   weight for any of them;
2. **likeness**: the highest cosine similarity of the ticket's TF-IDF row to one centroid
   per department (the unit-length mean of its training rows): ``rows @ centroids_``, a few
   more columns beside the classifier's weights;
3. **known content**: the IDF-weighted share of the ticket's word and character n-grams
   that the vocabulary knows (an unseen n-gram weighs as much as the rarest known one), so
   that greetings, stop words and gibberish count for little and a text about other things
   (banks, phone bills, games) is mostly unknown.

Each signal becomes a tail probability against held-out in-domain tickets (k-fold on the
training rows: models fitted without them; training passes the classifier's calibration
folds, so no model is fitted twice), and the three combine as the sum of their
logs (Fisher's method), the smallest counted twice. The threshold is chosen on the
training data alone: among held-out training tickets that the default
:class:`~nlp.model.ReviewPolicy` would route without a person, the rule may flag a share
``rate`` of all held-out tickets (``TrainConfig.out_of_scope_rate``, 0.03). Whole unseen
messages are flagged less often than held-out training rows (which include short titles):
see ``bench/scope.py``.

:func:`out_of_scope_rate` measures the rule on texts that should all go to a person.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from nlp import kernels
from nlp.errors import DataError

if TYPE_CHECKING:
    from nlp.classifier import CalibratedLinearSVC, HeldOutLogits
    from nlp.features import DocumentVectorizer
    from nlp.model import ReviewPolicy, RoutingModel

__all__ = ["ScopeDetector", "ScopeRate", "out_of_scope_rate"]

logger = logging.getLogger(__name__)

#: The signals, in the order of :meth:`ScopeDetector.signals`' columns.
SIGNALS = ("evidence", "likeness", "known_content")
_REFERENCE_POINTS = 1001  # quantiles kept of each signal's held-out distribution


class ScopeDetector:
    """Flags tickets unlike the training data (see the module's docstring).

    ``rate``: share of held-out in-domain training tickets the rule may add to those the
    review policy already sends to a person. ``folds``: k of the k-fold that gives the
    held-out signals. Fitted state: ``centroids_`` (n_features x n_classes, unit columns),
    ``reference_`` (quantiles of each signal on held-out tickets), ``threshold_`` (the
    combined score under which a ticket is out of scope).
    """

    def __init__(self, *, rate: float = 0.03, folds: int = 5, random_state: int = 0) -> None:
        self.rate = rate
        self.folds = folds
        self.random_state = random_state

    def fit(
        self,
        documents: Sequence[str],
        labels: Sequence[str],
        *,
        vectorizer: DocumentVectorizer,
        classifier: CalibratedLinearSVC,
        policy: ReviewPolicy,
        held_out: HeldOutLogits | None = None,
    ) -> ScopeDetector:
        """Fit on normalised training ``documents``, with the fitted ``vectorizer`` and
        ``classifier`` of the model it will serve beside (each fold refits copies).

        ``held_out``: the classifier's own cross-validation on these same documents, in the
        same order (``classifier.held_out_`` right after it was fitted on them): its folds
        and held-out logits are used instead of fitting the learner once more per fold."""
        if not 0 <= self.rate < 1:
            raise DataError(f"out_of_scope_rate must be in [0, 1), not {self.rate!r}")
        documents = list(documents)
        y = np.asarray(labels, dtype=object)
        classes = np.asarray(classifier.classes_, dtype=object)
        smallest = int(min((y == label).sum() for label in classes))
        folds = min(self.folds, smallest)
        if folds < 2:
            raise DataError(
                "the out-of-scope rule needs two or more training tickets of every label "
                "(it scores each on models fitted without it)"
            )
        X = vectorizer.transform(documents)
        if held_out is not None and held_out.logits.shape != (len(documents), classes.size):
            raise DataError(
                f"the classifier's held-out logits are for {held_out.logits.shape[0]} rows "
                f"and {held_out.logits.shape[1]} labels, not these {len(documents)} documents"
            )
        held = np.empty((len(documents), len(SIGNALS)))
        routed_alone = np.empty(len(documents), dtype=bool)
        for train_rows, test_rows in self._folds(X, y, folds, held_out):
            if held_out is None:
                logits = _held_out_logits(classifier, X[train_rows], y[train_rows], X[test_rows])
            else:
                logits = np.ascontiguousarray(held_out.logits[test_rows])
            probabilities = np.sort(classifier.probabilities(logits), axis=1)
            routed_alone[test_rows] = ~policy.flagged(probabilities[:, -1], probabilities[:, -2])
            centroids = _centroids(X[train_rows], y[train_rows], classes)
            fold_vectorizer = clone(vectorizer).fit([documents[i] for i in train_rows])
            known = np.zeros((test_rows.size, 2))
            fold_vectorizer.add_known_share([documents[i] for i in test_rows], known)
            held[test_rows] = self.signals(logits, np.asarray(X[test_rows] @ centroids), known)
        reference = held[routed_alone] if routed_alone.sum() >= 20 else held
        grid = np.linspace(0.0, 1.0, _REFERENCE_POINTS)
        self.reference_ = np.ascontiguousarray(np.quantile(reference, grid, axis=0).T)
        scores = self.score(held)
        # Flag a share ``rate`` of all held-out tickets beyond those the policy flags.
        candidates = np.sort(scores[routed_alone])
        cut = int(self.rate * len(documents))
        self.threshold_ = float(candidates[cut]) if cut < candidates.size else np.inf
        self.centroids_ = _centroids(X, y, classes)
        self.n_features_ = int(X.shape[1])
        self.held_out_rate_ = float((self.score(held) < self.threshold_).mean())
        return self

    def _folds(
        self, X: Any, y: NDArray[Any], folds: int, held_out: HeldOutLogits | None
    ) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
        """(fitted rows, held-out rows) of each fold: the classifier's, when given."""
        if held_out is None:
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
            return list(splitter.split(X, y))
        every = np.arange(len(y))
        return [(np.setdiff1d(every, rows), rows) for rows in held_out.folds]

    @staticmethod
    def signals(
        logits: NDArray[np.float64],
        similarities: NDArray[np.float64],
        known: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """One row per ticket: evidence (highest raw logit), likeness (highest cosine to a
        centroid), known content (share of IDF mass known to the vocabulary, from
        :meth:`~nlp.features.DocumentVectorizer.add_known_share`'s sums)."""
        return kernels.scope_signals(logits, similarities, known)

    def score(self, signals: NDArray[np.float64]) -> NDArray[np.float64]:
        """Sum over the signals of the log of their held-out tail probability, plus the
        log of the smallest once more: low for a ticket that is low on every signal, or
        very low on one (a phone-bill complaint has evidence and likeness enough, but
        almost no known content). Compiled: a single ticket must stay cheap."""
        return kernels.scope_scores(np.ascontiguousarray(signals), self.reference_)

    def flag(self, signals: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Which tickets are out of scope."""
        return np.asarray(self.score(signals) < self.threshold_)

    def __repr__(self) -> str:
        return f"ScopeDetector(rate={self.rate}, folds={self.folds})"


def _held_out_logits(
    classifier: CalibratedLinearSVC, X_train: Any, y_train: NDArray[Any], X_test: Any
) -> NDArray[np.float64]:
    """Logits of ``X_test`` by the classifier's learner fitted on the other rows (one fit,
    no calibration: the fitted model's temperature turns them into probabilities), columns
    in the order of ``classifier.classes_``."""
    coef, intercept = classifier.linear_fit(X_train, y_train)
    return np.ascontiguousarray(np.asarray(X_test @ coef.T) + intercept)


def _centroids(X: Any, y: NDArray[np.object_], classes: NDArray[np.object_]) -> NDArray[np.float64]:
    """One unit-length column per class: the mean of its rows, normalised."""
    columns = []
    for label in classes:
        mean = np.asarray(X[y == label].mean(axis=0)).ravel()
        norm = np.linalg.norm(mean)
        columns.append(mean / norm if norm > 0 else mean)
    return np.ascontiguousarray(np.column_stack(columns), dtype=np.float64)


@dataclass
class ScopeRate:
    """How many of a set of texts (all of which should go to a person) the model flags."""

    n: int
    out_of_scope: float
    needs_review: float
    by_kind: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "out_of_scope": self.out_of_scope,
            "needs_review": self.needs_review,
            "by_kind": self.by_kind,
        }


def out_of_scope_rate(
    model: RoutingModel,
    texts: Sequence[str],
    *,
    kinds: Sequence[str] | None = None,
    policy: ReviewPolicy | None = None,
) -> ScopeRate:
    """Share of ``texts`` answered with the ``out_of_scope`` code, and with
    ``needs_review`` for any reason, overall and per kind (when ``kinds`` is given, one
    per text, e.g. the ``kind`` column of ``data/eval/out_of_scope.csv``)."""
    texts = list(texts)
    if not texts:
        raise DataError("no texts to measure the out-of-scope rate on")
    if kinds is not None and len(kinds) != len(texts):
        raise DataError(f"{len(kinds)} kinds for {len(texts)} texts: give one kind per text")
    answers = model.classify(texts, policy=policy)
    scope = np.array(["out_of_scope" in a.review_codes for a in answers])
    review = np.array([a.needs_review for a in answers])
    by_kind: dict[str, dict[str, float]] = {}
    if kinds is not None:
        kind_array = np.asarray(kinds, dtype=object)
        for kind in sorted(set(kind_array.tolist())):
            rows = kind_array == kind
            by_kind[str(kind)] = {
                "n": int(rows.sum()),
                "out_of_scope": float(scope[rows].mean()),
                "needs_review": float(review[rows].mean()),
            }
    return ScopeRate(
        n=len(texts),
        out_of_scope=float(scope.mean()),
        needs_review=float(review.mean()),
        by_kind=by_kind,
    )
