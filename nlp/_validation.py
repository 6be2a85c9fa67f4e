"""Checks shared by the library's estimators."""

from __future__ import annotations

__all__ = ["require_fitted"]


def require_fitted(estimator: object, attribute: str) -> None:
    """scikit-learn's ``check_is_fitted(estimator, attribute)``: the same
    :class:`~sklearn.exceptions.NotFittedError` when ``attribute`` is missing, without the
    estimator-tag lookups that cost more than scoring a short ticket (the serving path calls
    it several times per ticket)."""
    if not hasattr(estimator, attribute):
        from sklearn.exceptions import NotFittedError

        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
            "appropriate arguments before using this estimator."
        )
