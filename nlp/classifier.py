"""A linear classifier with calibrated probabilities: LinearSVC (optionally with NB-SVM) +
temperature scaling.

``learner="svm+nbsvm"`` adds, to the one-vs-rest LinearSVC, an NB-SVM (Wang & Manning, 2012):
one binary LinearSVC per class on features scaled by their naive-Bayes log-count ratio for
that class. Its weights fold back onto the features (``w * r``), and the two models' margins
are added after each is divided by the spread of its training margins, so the result is
still one weight matrix and one bias: serving costs the same as a single SVM. Grouped
cross-validation on the Teddy Cup training files chose it (``bench/accuracy.py --cv``).

``fit(X, y, sample_weight=...)`` weighs rows (dispatchers' corrections count more than the
base data, :mod:`nlp.train`): each LinearSVC takes the weights, and NB-SVM's log-count ratios
count a row's features ``weight`` times. Temperature scaling stays unweighted: it calibrates
the probabilities on the rows as they come, not on the corrections' share of them.

Temperature scaling (one parameter, fitted on cross-validated decision values) keeps the
SVM's ranking and turns its margins into probabilities that sum to 1 over every class. We
fit it here rather than through ``CalibratedClassifierCV(method="temperature")`` because the
serving path needs the fitted weights and temperature as plain arrays (one sparse-dense
product and a softmax per chunk), which that class keeps in private attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_array

from nlp._validation import require_fitted
from nlp.errors import DataError

__all__ = ["LEARNERS", "CalibratedLinearSVC", "HeldOutLogits", "fit_temperature"]

Learner = Literal["svm", "svm+nbsvm"]
#: The learners :class:`CalibratedLinearSVC` knows.
LEARNERS: tuple[Learner, ...] = ("svm", "svm+nbsvm")


#: Below this many stored features (non-zeros) the folds are fitted one after another: a
#: worker process costs more to start than such a fit takes.
PARALLEL_MIN_NNZ = 500_000


@dataclass(frozen=True)
class HeldOutLogits:
    """The cross-validation behind a classifier's calibration: ``folds`` (one array of
    held-out row numbers per fold) and ``logits`` (each training row's logits by the model
    fitted on the other folds). :class:`~nlp.scope.ScopeDetector` reuses them instead of
    fitting the folds again. Kept in memory only: a pickled classifier drops them."""

    folds: tuple[NDArray[np.intp], ...]
    logits: NDArray[np.float64]


def fit_temperature(logits: NDArray[np.float64], y: NDArray[np.int64]) -> float:
    """The temperature T minimising the log loss of ``softmax(logits / T)``."""

    def log_loss(log_t: float) -> float:
        scaled = log_softmax(logits / np.exp(log_t), axis=1)
        return float(-scaled[np.arange(y.size), y].mean())

    result = minimize_scalar(log_loss, bounds=(-6.0, 4.0), method="bounded")
    return float(np.exp(result.x))


def _sample_weight(sample_weight: ArrayLike | None, n_rows: int) -> NDArray[np.float64] | None:
    """``sample_weight`` as a float array of one finite, positive number per row (None
    stays None: every row counts once)."""
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight, dtype=np.float64).ravel()
    if weights.shape[0] != n_rows:
        raise DataError(f"X has {n_rows} rows but sample_weight has {weights.shape[0]} weights")
    if not (np.isfinite(weights).all() and (weights > 0).all()):
        raise DataError("sample_weight must hold finite numbers above 0")
    return weights


def _spread(margins: NDArray[Any], sample_weight: NDArray[Any] | None) -> float:
    """The standard deviation of a margin matrix, each row counting ``sample_weight`` times
    (as if a row of weight 3 were there three times)."""
    margins = np.asarray(margins)
    if sample_weight is None:
        return float(np.std(margins))
    weights = np.repeat(sample_weight, margins.shape[1])
    values = margins.ravel()
    mean = np.average(values, weights=weights)
    return float(np.sqrt(np.average((values - mean) ** 2, weights=weights)))


class CalibratedLinearSVC(ClassifierMixin, BaseEstimator):
    """LinearSVC whose ``predict_proba`` is ``softmax(decision / temperature_)``.

    ``weights_`` (n_features x n_classes, row-major so a ticket's features gather rows) and
    ``bias_`` give the logits directly: ``X @ weights_ + bias_``.
    """

    #: Models pickled before the option existed were plain SVMs.
    learner: Learner = "svm"
    #: Processes that fit the calibration folds (None: one; -1: every core).
    n_jobs: int | None = None

    def __init__(
        self,
        *,
        C: float = 1.0,
        cv: int = 5,
        class_weight: str | None = None,
        random_state: int = 0,
        learner: Learner = "svm",
        n_jobs: int | None = None,
    ) -> None:
        self.C = C
        self.cv = cv
        self.class_weight = class_weight
        self.random_state = random_state
        self.learner = learner
        self.n_jobs = n_jobs

    def _svc(self) -> LinearSVC:
        return LinearSVC(C=self.C, class_weight=self.class_weight, random_state=self.random_state)

    def _svm(
        self, X: sp.csr_matrix, y: NDArray[np.int64], sample_weight: NDArray[Any] | None
    ) -> tuple[NDArray[Any], NDArray[Any]]:
        """One-vs-rest LinearSVC: weights (n_classes x n_features) and biases."""
        svc = self._svc().fit(X, y, sample_weight=sample_weight)
        coef, intercept = svc.coef_, svc.intercept_
        if coef.shape[0] == 1:  # two classes: one margin, spread over both
            coef = np.vstack([-coef[0], coef[0]]) / 2.0
            intercept = np.array([-intercept[0], intercept[0]]) / 2.0
        return np.asarray(coef), np.asarray(intercept)

    def _nbsvm(
        self,
        X: sp.csr_matrix,
        y: NDArray[np.int64],
        n_classes: int,
        sample_weight: NDArray[Any] | None,
    ) -> tuple[NDArray[Any], NDArray[Any]]:
        """NB-SVM: per class, a binary LinearSVC on ``X * r`` where ``r`` is the smoothed
        log ratio of the feature's document frequency in the class and outside it (a row
        counting ``sample_weight`` times); its weights on the original features are ``w * r``."""
        present = X.copy()
        present.data[:] = 1.0
        row_weight = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        coef = np.zeros((n_classes, X.shape[1]))
        intercept = np.zeros(n_classes)
        for label in range(n_classes):
            inside = y == label
            p = np.asarray(present.T @ np.where(inside, row_weight, 0.0)).ravel() + 1.0
            q = np.asarray(present.T @ np.where(inside, 0.0, row_weight)).ravel() + 1.0
            ratio = np.log((p / p.sum()) / (q / q.sum()))
            # Scaled features take liblinear longer to converge than TF-IDF alone.
            svc = self._svc().set_params(max_iter=10_000)
            svc.fit(X.multiply(ratio).tocsr(), inside.astype(np.int64), sample_weight=sample_weight)
            coef[label] = svc.coef_[0] * ratio
            intercept[label] = svc.intercept_[0]
        return coef, intercept

    def _fit_linear(
        self,
        X: sp.csr_matrix,
        y: NDArray[np.int64],
        n_classes: int,
        sample_weight: NDArray[Any] | None = None,
    ) -> tuple[NDArray[Any], NDArray[Any]]:
        """The weights (n_classes x n_features) and biases of the chosen learner."""
        if self.learner not in LEARNERS:
            raise DataError(f"learner must be one of {', '.join(LEARNERS)}, not {self.learner!r}")
        coef, intercept = self._svm(X, y, sample_weight)
        if self.learner == "svm":
            return coef, intercept
        nb_coef, nb_intercept = self._nbsvm(X, y, n_classes, sample_weight)
        # Each model's margins in units of their spread on the training rows, then added.
        svm_spread = _spread(X @ coef.T + intercept, sample_weight) or 1.0
        nb_spread = _spread(X @ nb_coef.T + nb_intercept, sample_weight) or 1.0
        return (
            coef / svm_spread + nb_coef / nb_spread,
            intercept / svm_spread + nb_intercept / nb_spread,
        )

    def _fit_rows(
        self,
        X: sp.csr_matrix,
        y: NDArray[np.int64],
        n_classes: int,
        sample_weight: NDArray[Any] | None,
        rows: NDArray[np.intp] | None,
    ) -> tuple[NDArray[Any], NDArray[Any]]:
        """:meth:`_fit_linear` on ``rows`` of the training data (None: all of it, not copied)."""
        if rows is not None:
            X, y = X[rows], y[rows]
            sample_weight = None if sample_weight is None else sample_weight[rows]
        return self._fit_linear(X, y, n_classes, sample_weight)

    def linear_fit(
        self,
        X: sp.spmatrix | NDArray[Any],
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
    ) -> tuple[Any, Any]:
        """The learner's weights (n_classes x n_features) and biases fitted on ``(X, y)``,
        without calibration, columns in the order of the fitted :attr:`classes_` (every label
        of ``y`` must be one of them): what each fold of a cross-validation fits."""
        require_fitted(self, "classes_")
        encoded = np.searchsorted(self.classes_, np.asarray(y))
        X = sp.csr_matrix(check_array(X, accept_sparse="csr", dtype=np.float64))
        weights = _sample_weight(sample_weight, X.shape[0])
        return self._fit_linear(X, encoded, int(self.classes_.size), weights)

    def fit(
        self,
        X: sp.spmatrix | NDArray[Any],
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
    ) -> CalibratedLinearSVC:
        """Fit on ``(X, y)``; ``sample_weight`` (one positive number per row, None: all 1)
        weighs each row in every fit, the cross-validation folds' included."""
        X = sp.csr_matrix(check_array(X, accept_sparse="csr", dtype=np.float64))
        labels = np.asarray(y)
        if labels.shape[0] != X.shape[0]:
            raise DataError(f"X has {X.shape[0]} rows but y has {labels.shape[0]} labels")
        weights = _sample_weight(sample_weight, X.shape[0])
        self.classes_, encoded = np.unique(labels, return_inverse=True)
        n_classes = int(self.classes_.size)
        if n_classes < 2:
            raise DataError("a classifier needs at least two classes in the training data")
        smallest = int(np.bincount(encoded).min())
        folds: list[tuple[NDArray[np.intp], NDArray[np.intp]]] = []
        if smallest >= 2:
            splitter = StratifiedKFold(
                n_splits=min(self.cv, smallest), shuffle=True, random_state=self.random_state
            )
            folds = list(splitter.split(X, encoded))
        # The model and each fold's model are independent fits: in parallel on big data.
        n_jobs = self.n_jobs if X.nnz >= PARALLEL_MIN_NNZ else None
        fits = Parallel(n_jobs=n_jobs)(
            delayed(self._fit_rows)(X, encoded, n_classes, weights, rows)
            for rows in [None, *(fit_rows for fit_rows, _ in folds)]
        )
        coef, intercept = fits[0]
        if folds:
            decision = np.empty((X.shape[0], n_classes))
            for (_, held_out), (fold_coef, fold_intercept) in zip(folds, fits[1:], strict=True):
                decision[held_out] = X[held_out] @ fold_coef.T + fold_intercept
            self.calibration_ = "cross-validated"
            self.held_out_: HeldOutLogits | None = HeldOutLogits(
                tuple(rows for _, rows in folds), decision
            )
        else:
            # A class with one example cannot appear on both sides of a split: calibrate on
            # the training margins (overconfident, and recorded as such).
            decision = np.asarray(X @ coef.T + intercept)
            self.calibration_ = "in-sample"
            self.held_out_ = None
        self.temperature_ = fit_temperature(np.asarray(decision, dtype=np.float64), encoded)
        self.weights_ = np.ascontiguousarray(coef.T, dtype=np.float64)
        self.bias_ = np.asarray(intercept, dtype=np.float64)
        self.n_features_in_ = X.shape[1]
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("held_out_", None)
        return state

    def logits(self, X: sp.spmatrix | NDArray[Any]) -> NDArray[np.float64]:
        """One column per class: ``X @ weights_ + bias_``."""
        require_fitted(self, "weights_")
        return np.asarray(X @ self.weights_) + self.bias_

    def decision_function(self, X: sp.spmatrix | NDArray[Any]) -> NDArray[np.float64]:
        """scikit-learn's convention: one column per class, or one column (positive means
        ``classes_[1]``) for two classes."""
        logits = self.logits(X)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def probabilities(self, logits: NDArray[np.float64]) -> NDArray[np.float64]:
        """Calibrated probabilities from logits (``X @ weights_ + bias_``)."""
        return np.asarray(softmax(logits / self.temperature_, axis=1))

    def predict_proba(self, X: sp.spmatrix | NDArray[Any]) -> NDArray[np.float64]:
        return self.probabilities(self.logits(X))

    def predict(self, X: sp.spmatrix | NDArray[Any]) -> NDArray[Any]:
        return np.asarray(self.classes_[np.argmax(self.logits(X), axis=1)])
