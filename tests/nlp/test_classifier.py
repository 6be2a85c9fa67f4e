"""nlp.classifier: LinearSVC + temperature scaling gives every class a probability."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax
from sklearn.datasets import make_blobs
from sklearn.svm import LinearSVC
from sklearn.utils import estimator_checks

from nlp.classifier import CalibratedLinearSVC, fit_temperature
from nlp.errors import DataError
from nlp.model import RoutingModel


def _data(n_classes: int, *, sparse: bool = False, seed: int = 0):
    X, y = make_blobs(
        n_samples=40 * n_classes, centers=n_classes, cluster_std=1.0, random_state=seed
    )
    labels = np.array(["城管执法", "住建", "水务", "供电", "燃气"])[y]
    return (sp.csr_matrix(X) if sparse else X), labels


CASES = [
    pytest.param((2, False), id="binary-dense"),
    pytest.param((2, True), id="binary-sparse"),
    pytest.param((3, False), id="three-dense"),
    pytest.param((5, True), id="five-sparse"),
]


@pytest.fixture(scope="module", params=CASES)
def fitted(request: pytest.FixtureRequest):
    n_classes, sparse = request.param
    X, y = _data(n_classes, sparse=sparse)
    return CalibratedLinearSVC(cv=3).fit(X, y), X, y, n_classes


def test_every_class_gets_a_probability_and_they_sum_to_one(fitted) -> None:
    model, X, _, n_classes = fitted
    proba = model.predict_proba(X)
    assert proba.shape == (X.shape[0], n_classes)
    assert (proba > 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_predict_is_the_argmax_of_the_probabilities(fitted) -> None:
    model, X, _, _ = fitted
    proba = model.predict_proba(X)
    np.testing.assert_array_equal(model.predict(X), model.classes_[proba.argmax(axis=1)])


def test_classes_are_the_sorted_labels_and_it_learns(fitted) -> None:
    model, X, y, n_classes = fitted
    assert list(model.classes_) == sorted(set(y))
    assert len(model.classes_) == n_classes
    assert (model.predict(X) == y).mean() > 0.85


def test_predictions_are_those_of_the_plain_linear_svc(fitted) -> None:
    """Calibration changes the probabilities, never the decision."""
    model, X, y, _ = fitted
    plain = LinearSVC(C=model.C, random_state=model.random_state).fit(X, y)
    np.testing.assert_array_equal(model.predict(X), plain.predict(X))


def test_temperature_is_positive_and_finite(fitted) -> None:
    model, *_ = fitted
    assert np.isfinite(model.temperature_)
    assert model.temperature_ > 0


def test_temperature_keeps_the_ranking_of_the_margins(fitted) -> None:
    model, X, _, _ = fitted
    np.testing.assert_array_equal(
        model.logits(X).argmax(axis=1), model.predict_proba(X).argmax(axis=1)
    )


def test_binary_decision_function_follows_scikit_learn(fitted) -> None:
    """Two classes: one margin per row, positive meaning classes_[1]."""
    model, X, _, _ = fitted
    if len(model.classes_) != 2:
        pytest.skip("multi-class case")
    decision = model.decision_function(X)
    assert decision.ndim == 1
    np.testing.assert_array_equal(model.classes_[(decision > 0).astype(int)], model.predict(X))


def test_weights_and_bias_give_the_logits() -> None:
    X, y = _data(3, sparse=True)
    model = CalibratedLinearSVC(cv=3).fit(X, y)
    assert model.weights_.shape == (X.shape[1], 3)
    np.testing.assert_allclose(model.decision_function(X), X @ model.weights_ + model.bias_)


@pytest.mark.parametrize("true_temperature", [0.5, 2.0, 5.0])
def test_fit_temperature_recovers_a_known_temperature(true_temperature: float) -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=4.0, size=(20_000, 4))
    scaled = logits / true_temperature
    p = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(4, p=row) for row in p])
    assert fit_temperature(logits, y) == pytest.approx(true_temperature, rel=0.1)


def test_one_class_is_refused() -> None:
    X, _ = _data(2)
    with pytest.raises(ValueError, match="at least two classes"):
        CalibratedLinearSVC().fit(X, np.array(["水务"] * X.shape[0]))


def test_the_demo_model_gives_every_department_a_probability(
    tiny_model: RoutingModel, demo_frame
) -> None:
    proba = tiny_model.predict_proba(demo_frame["text"].tolist()[:100])
    assert proba.shape == (100, demo_frame["label"].nunique())
    assert (proba > 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)


SKLEARN_CHECKS = [
    pytest.param("check_estimators_fit_returns_self", id="fit-returns-self"),
    pytest.param("check_decision_proba_consistency", id="decision-proba-consistency"),
    pytest.param("check_estimators_pickle", id="pickle"),
    pytest.param("check_fit_check_is_fitted", id="check-is-fitted"),
    pytest.param("check_n_features_in", id="n-features-in"),
    pytest.param("check_fit_idempotent", id="fit-idempotent"),
    pytest.param(
        "check_classifiers_classes",
        id="binary-decision-function",
    ),
    pytest.param(
        "check_classifiers_train",
        id="array-like-input",
    ),
]


@pytest.mark.parametrize("check", SKLEARN_CHECKS)
def test_scikit_learn_classifier_checks(check: str) -> None:
    getattr(estimator_checks, check)("CalibratedLinearSVC", CalibratedLinearSVC())


# --------------------------------------------------------------------------- NB-SVM


@pytest.mark.parametrize("n_classes", [2, 5])
def test_nbsvm_folds_into_one_weight_matrix_that_learns(n_classes: int) -> None:
    # Word counts: each class uses its own six words more often than the others.
    rng = np.random.default_rng(0)
    y = np.repeat(np.array(["城管执法", "住建", "水务", "供电", "燃气"])[:n_classes], 40)
    rates = np.full((n_classes, 6 * n_classes), 0.3)
    for c in range(n_classes):
        rates[c, 6 * c : 6 * c + 6] = 1.5
    X = sp.csr_matrix(rng.poisson(rates[np.repeat(np.arange(n_classes), 40)]).astype(float))
    plain = CalibratedLinearSVC(cv=3).fit(X, y)
    both = CalibratedLinearSVC(cv=3, learner="svm+nbsvm").fit(X, y)
    assert both.weights_.shape == plain.weights_.shape == (X.shape[1], n_classes)
    assert not np.allclose(both.weights_, plain.weights_)
    logits = X @ both.weights_ + both.bias_
    np.testing.assert_allclose(
        both.predict_proba(X), softmax(logits / both.temperature_, axis=1), atol=1e-12
    )
    assert (both.predict(X) == y).mean() > 0.85
    assert both.calibration_ == "cross-validated"


def test_an_unknown_learner_is_refused_by_name() -> None:
    X, y = _data(3)
    with pytest.raises(DataError, match="learner must be one of svm, svm\\+nbsvm"):
        CalibratedLinearSVC(learner="forest").fit(X, y)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- sample weights


@pytest.mark.parametrize("learner", ["svm", "svm+nbsvm"])
def test_a_weight_counts_like_copies_of_the_row(learner: str) -> None:
    """Weight k is k copies, for the SVMs, NB-SVM's log-count ratios and the spreads that
    add the two models' margins: the weighted fit is the fit on the repeated rows."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.array(["城管执法", "住建", "水务"]), 40)
    rates = np.full((3, 18), 0.3)
    for c in range(3):
        rates[c, 6 * c : 6 * c + 6] = 1.5
    X = sp.csr_matrix(rng.poisson(rates[np.repeat(np.arange(3), 40)]).astype(float))
    weights = rng.integers(1, 4, size=X.shape[0]).astype(float)
    copies = np.repeat(np.arange(X.shape[0]), weights.astype(int))
    weighted = CalibratedLinearSVC(cv=3, learner=learner).fit(X, y, sample_weight=weights)
    repeated = CalibratedLinearSVC(cv=3, learner=learner).fit(X[copies], y[copies])
    plain = CalibratedLinearSVC(cv=3, learner=learner).fit(X, y)
    np.testing.assert_allclose(weighted.weights_, repeated.weights_, atol=2e-3)
    np.testing.assert_allclose(weighted.bias_, repeated.bias_, atol=2e-3)
    assert np.abs(weighted.weights_ - plain.weights_).max() > 0.02
    assert weighted.calibration_ == "cross-validated"
    # Weights of 1 are no weights.
    ones = CalibratedLinearSVC(cv=3, learner=learner).fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_array_equal(ones.weights_, plain.weights_)


@pytest.mark.parametrize(
    ("weights", "says"),
    [
        (np.ones(5), "X has 120 rows but sample_weight has 5 weights"),
        (np.r_[np.ones(119), 0.0], "sample_weight must hold finite numbers above 0"),
        (np.r_[np.ones(119), np.nan], "sample_weight must hold finite numbers above 0"),
    ],
    ids=["length", "zero", "nan"],
)
def test_bad_sample_weights_are_refused(weights: np.ndarray, says: str) -> None:
    X, y = _data(3)
    with pytest.raises(DataError, match=says):
        CalibratedLinearSVC(cv=3).fit(X, y, sample_weight=weights)


def test_folds_fitted_in_parallel_give_the_same_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """``n_jobs`` fits the calibration folds in worker processes on big data (forced here on
    small data): the weights, temperature and held-out logits are those of one process."""
    import nlp.classifier

    monkeypatch.setattr(nlp.classifier, "PARALLEL_MIN_NNZ", 0)
    X, y = _data(5, sparse=True)
    one = CalibratedLinearSVC(cv=3, learner="svm+nbsvm").fit(X, y)
    two = CalibratedLinearSVC(cv=3, learner="svm+nbsvm", n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(one.weights_, two.weights_)
    assert one.temperature_ == two.temperature_
    np.testing.assert_array_equal(one.held_out_.logits, two.held_out_.logits)


def test_held_out_logits_are_those_of_models_fitted_without_the_rows() -> None:
    import pickle

    X, y = _data(3, sparse=True)
    model = CalibratedLinearSVC(cv=3).fit(X, y)
    held_out = model.held_out_
    assert sorted(np.concatenate(held_out.folds).tolist()) == list(range(X.shape[0]))
    rows = held_out.folds[0]
    others = np.setdiff1d(np.arange(X.shape[0]), rows)
    coef, intercept = model.linear_fit(X[others], y[others])
    np.testing.assert_allclose(held_out.logits[rows], X[rows] @ coef.T + intercept)
    # Kept for the out-of-scope rule's fit, never saved with the model.
    assert not hasattr(pickle.loads(pickle.dumps(model)), "held_out_")
