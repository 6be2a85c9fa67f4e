"""A linear classifier with calibrated probabilities: LinearSVC + temperature scaling.

Temperature scaling (one parameter, fitted on cross-validated decision values) keeps the
SVM's ranking and turns its margins into probabilities that sum to 1 over every class. We
fit it here rather than through ``CalibratedClassifierCV(method="temperature")`` because the
serving path needs the fitted weights and temperature as plain arrays (one sparse-dense
product and a softmax per chunk), which that class keeps in private attributes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_array, check_is_fitted

from nlp.errors import DataError

__all__ = ["CalibratedLinearSVC", "fit_temperature"]


def _logits(decision: NDArray[np.float64]) -> NDArray[np.float64]:
    """Binary SVMs return one margin per row; spread it over two classes."""
    if decision.ndim == 1:
        return np.column_stack([-decision, decision]) / 2.0
    return decision


def fit_temperature(logits: NDArray[np.float64], y: NDArray[np.int64]) -> float:
    """The temperature T minimising the log loss of ``softmax(logits / T)``."""

    def log_loss(log_t: float) -> float:
        scaled = log_softmax(logits / np.exp(log_t), axis=1)
        return float(-scaled[np.arange(y.size), y].mean())

    result = minimize_scalar(log_loss, bounds=(-6.0, 4.0), method="bounded")
    return float(np.exp(result.x))


class CalibratedLinearSVC(ClassifierMixin, BaseEstimator):
    """LinearSVC whose ``predict_proba`` is ``softmax(decision / temperature_)``.

    ``weights_`` (n_features x n_classes, row-major so a ticket's features gather rows) and
    ``bias_`` give the logits directly: ``X @ weights_ + bias_``.
    """

    def __init__(
        self, *, C: float = 1.0, cv: int = 5, class_weight: str | None = None, random_state: int = 0
    ) -> None:
        self.C = C
        self.cv = cv
        self.class_weight = class_weight
        self.random_state = random_state

    def _svc(self) -> LinearSVC:
        return LinearSVC(C=self.C, class_weight=self.class_weight, random_state=self.random_state)

    def fit(self, X: sp.spmatrix | NDArray[Any], y: ArrayLike) -> CalibratedLinearSVC:
        X = check_array(X, accept_sparse="csr", dtype=np.float64)
        labels = np.asarray(y)
        if labels.shape[0] != X.shape[0]:
            raise DataError(f"X has {X.shape[0]} rows but y has {labels.shape[0]} labels")
        self.classes_, encoded = np.unique(labels, return_inverse=True)
        if self.classes_.size < 2:
            raise DataError("a classifier needs at least two classes in the training data")
        smallest = int(np.bincount(encoded).min())
        svc = self._svc().fit(X, encoded)
        if smallest >= 2:
            folds = StratifiedKFold(
                n_splits=min(self.cv, smallest), shuffle=True, random_state=self.random_state
            )
            decision = cross_val_predict(
                self._svc(), X, encoded, cv=folds, method="decision_function"
            )
            self.calibration_ = "cross-validated"
        else:
            # A class with one example cannot appear on both sides of a split: calibrate on
            # the training margins (overconfident, and recorded as such).
            decision = svc.decision_function(X)
            self.calibration_ = "in-sample"
        self.temperature_ = fit_temperature(
            _logits(np.asarray(decision, dtype=np.float64)), encoded
        )
        coef, intercept = svc.coef_, svc.intercept_
        if self.classes_.size == 2:
            coef = np.vstack([-coef[0], coef[0]]) / 2.0
            intercept = np.array([-intercept[0], intercept[0]]) / 2.0
        self.weights_ = np.ascontiguousarray(coef.T, dtype=np.float64)
        self.bias_ = np.asarray(intercept, dtype=np.float64)
        self.n_features_in_ = X.shape[1]
        return self

    def logits(self, X: sp.spmatrix | NDArray[Any]) -> NDArray[np.float64]:
        """One column per class: ``X @ weights_ + bias_``."""
        check_is_fitted(self, "weights_")
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
