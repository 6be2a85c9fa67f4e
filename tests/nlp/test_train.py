"""nlp.train: validate, fit, evaluate on held-out rows; the figures a dispatch centre decides by."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from nlp.documents import prepare_rows
from nlp.errors import DataError
from nlp.evaluate import (
    Evaluation,
    evaluate,
    evaluate_probabilities,
    expected_calibration_error,
)
from nlp.model import ReviewPolicy
from nlp.train import TrainConfig, TrainResult, build_pipeline, train


def test_the_demo_model_knows_every_label(trained: TrainResult, demo_frame: pd.DataFrame) -> None:
    assert trained.model.labels == sorted(demo_frame["label"].unique())
    assert len(trained.model.labels) >= 12


def test_the_reported_metrics_are_those_of_the_returned_model(
    trained: TrainResult, demo_frame: pd.DataFrame
) -> None:
    """Rebuild the stratified held-out split and score the returned model on it."""
    config = TrainConfig(calibration_folds=3)
    rows = prepare_rows(demo_frame, text_col="text", title_col="title", label_col="label")
    _, test_docs, _, test_labels = train_test_split(
        rows.documents,
        rows.labels,
        test_size=config.test_size,
        stratify=rows.labels,
        random_state=config.random_state,
    )
    assert trained.evaluation.n == len(test_docs) == trained.data["eval_rows"]
    again = evaluate_probabilities(
        trained.model.predict_proba(test_docs), trained.model.labels, test_labels
    )
    assert again.to_dict() == trained.evaluation.to_dict()
    assert trained.data["train_rows"] + trained.data["eval_rows"] == len(rows.documents)


def test_training_data_is_fingerprinted(trained: TrainResult, demo_frame: pd.DataFrame) -> None:
    assert trained.data["rows"] == len(demo_frame)
    assert len(trained.data["sha256"]) == 64
    assert sum(trained.data["class_counts"].values()) == len(demo_frame)


def _with_small_class(demo_frame: pd.DataFrame, size: int) -> pd.DataFrame:
    label = demo_frame["label"].value_counts().index[-1]
    drop = demo_frame.index[demo_frame["label"] == label][size:]
    return demo_frame.drop(drop)


@pytest.mark.parametrize("size", [1, 4])
def test_a_class_with_fewer_than_five_examples_is_an_error(
    demo_frame: pd.DataFrame, size: int
) -> None:
    frame = _with_small_class(demo_frame, size)
    small = frame["label"].value_counts().index[-1]
    with pytest.raises(DataError, match=f"fewer than 5 examples: {small} \\({size}\\)"):
        train(frame, TrainConfig(calibration_folds=3))


@pytest.mark.parametrize("size", [2, 4])
def test_min_class_size_can_be_lowered(demo_sample: pd.DataFrame, size: int) -> None:
    frame = _with_small_class(demo_sample, size)
    result = train(frame, TrainConfig(calibration_folds=3, min_class_size=size))
    assert result.model.labels == sorted(demo_sample["label"].unique())


def test_a_singleton_class_allowed_by_min_class_size_never_leaks_a_raw_error(
    demo_sample: pd.DataFrame,
) -> None:
    frame = _with_small_class(demo_sample, 1)
    with contextlib.suppress(DataError):  # refusing clearly is fine; training is too
        train(frame, TrainConfig(calibration_folds=3, min_class_size=1))


def test_one_label_is_an_error() -> None:
    frame = pd.DataFrame({"text": [f"停水{i}天" for i in range(10)], "label": ["水务"] * 10})
    with pytest.raises(DataError, match="at least two labels"):
        train(frame)


def test_no_usable_rows_is_an_error() -> None:
    frame = pd.DataFrame({"text": ["", " ", None], "label": ["水务", "供电", "燃气"]})
    with pytest.raises(DataError, match="no usable training rows"):
        train(frame)


def test_an_explicit_eval_frame_is_used(demo_sample: pd.DataFrame) -> None:
    held_out = demo_sample.iloc[::7]
    result = train(
        demo_sample.drop(held_out.index), TrainConfig(calibration_folds=3), eval_frame=held_out
    )
    assert result.evaluation.n == len(held_out)
    assert result.data["train_rows"] == len(demo_sample) - len(held_out)


def test_build_pipeline_follows_the_config() -> None:
    config = TrainConfig(segmenter="jieba", min_df=3, max_chars=120, C=0.5, calibration_folds=4)
    pipeline = build_pipeline(config)
    assert [name for name, _ in pipeline.steps] == ["normalise", "vectorise", "classify"]
    vectorise, classify = pipeline.named_steps["vectorise"], pipeline.named_steps["classify"]
    assert (vectorise.segmenter, vectorise.min_df, vectorise.max_chars) == ("jieba", 3, 120)
    assert (classify.C, classify.cv) == (0.5, 4)


@pytest.mark.parametrize(
    ("top", "second", "needs_review"),
    [
        pytest.param(0.9, 0.05, False, id="confident"),
        pytest.param(0.45, 0.05, True, id="low-confidence"),
        pytest.param(0.55, 0.5, True, id="top-two-close"),
        pytest.param(0.5, 0.39, False, id="at-both-thresholds"),
    ],
)
def test_review_policy(top: float, second: float, needs_review: bool) -> None:
    policy = ReviewPolicy(min_confidence=0.5, min_margin=0.1)
    assert (policy.reason(top, second) is not None) is needs_review
    # The chunk-wide test picks the rows that get a reason: the two must agree.
    assert policy.flagged(np.array([top]), np.array([second])).tolist() == [needs_review]


@pytest.mark.parametrize(
    ("top", "second", "out_of_scope", "codes"),
    [
        pytest.param(0.9, 0.05, False, [], id="none"),
        pytest.param(0.4, 0.35, False, ["low_confidence", "close_call"], id="both"),
        pytest.param(0.4, 0.05, True, ["low_confidence", "out_of_scope"], id="low-and-scope"),
        pytest.param(0.4, 0.35, True, ["low_confidence", "close_call", "out_of_scope"],
                     id="all-three"),
        pytest.param(0.9, 0.05, True, ["out_of_scope"], id="scope-only"),
    ],
)  # fmt: skip
def test_review_policy_gives_every_reason(
    top: float, second: float, out_of_scope: bool, codes: list[str]
) -> None:
    policy = ReviewPolicy(min_confidence=0.5, min_margin=0.1)
    assert policy.codes(top, second, out_of_scope=out_of_scope) == codes
    reason = policy.reason(top, second, out_of_scope=out_of_scope)
    assert (reason is None) is (codes == [])
    if reason is not None:
        assert len(reason.split("; ")) == len(codes)
        assert ("confidence 0.400 below 0.5" in reason) is ("low_confidence" in codes)
        assert ("top two within 0.050 (margin 0.1)" in reason) is ("close_call" in codes)
    flagged = policy.flagged(np.array([top]), np.array([second]), np.array([out_of_scope]))
    assert flagged.tolist() == [bool(codes)]


def test_predictions_carry_top_k_review_flag_and_explanation(trained: TrainResult) -> None:
    [prediction] = trained.model.classify(
        ["楼下烧烤摊天天占道经营，油烟太大了"], top_k=3, explain=4
    )
    assert prediction.label == "城管执法"
    assert prediction.top_k[0][0] == prediction.label
    assert len(prediction.top_k) == 3
    assert prediction.confidence == prediction.top_k[0][1]
    assert 1 <= len(prediction.explanation) <= 4
    assert all(term.weight > 0 for term in prediction.explanation)
    text = "楼下烧烤摊天天占道经营,油烟太大了"
    assert all(term.term in text for term in prediction.explanation)  # words of this ticket


def test_titles_are_part_of_the_input(trained: TrainResult) -> None:
    """A title changes the document the model sees, and so its probabilities."""
    model = trained.model
    [body_only] = model.classify(["这个问题已经很久了，请尽快处理"])
    [with_title] = model.classify(["这个问题已经很久了，请尽快处理"], ["燃气泄漏"])
    assert with_title.label == "燃气"
    assert with_title.top_k != body_only.top_k


# --------------------------------------------------------------------------- evaluation


@pytest.fixture(scope="module")
def evaluation(tiny_model, demo_frame: pd.DataFrame) -> Evaluation:
    return evaluate(tiny_model, demo_frame)


def test_evaluation_has_every_figure(evaluation: Evaluation, demo_frame: pd.DataFrame) -> None:
    report = evaluation.to_dict()
    for key in ("n", "accuracy", "macro_f1", "per_class", "top2_accuracy", "ece", "coverage"):
        assert key in report
    assert report["n"] == len(demo_frame)
    labels = sorted(demo_frame["label"].unique())
    assert sorted(report["per_class"]) == labels
    for label, row in report["per_class"].items():
        assert set(row) == {"precision", "recall", "f1", "support"}
        assert row["support"] == (demo_frame["label"] == label).sum()
    assert sum(row["support"] for row in report["per_class"].values()) == report["n"]


def test_evaluation_figures_agree_with_scikit_learn(
    evaluation: Evaluation, tiny_model, demo_frame: pd.DataFrame
) -> None:
    rows = prepare_rows(demo_frame, label_col="label")  # title + body, as evaluate() does
    predicted = tiny_model.predict(rows.documents)
    truth = rows.labels
    assert evaluation.accuracy == pytest.approx(accuracy_score(truth, predicted))
    assert evaluation.macro_f1 == pytest.approx(f1_score(truth, predicted, average="macro"))
    assert evaluation.accuracy <= evaluation.top2_accuracy <= 1.0
    assert 0.0 <= evaluation.ece <= 1.0
    assert np.asarray(evaluation.confusion).sum() == evaluation.n


def test_coverage_curve_starts_at_full_coverage(evaluation: Evaluation) -> None:
    curve = evaluation.coverage
    assert curve[0]["threshold"] == 0.0
    assert curve[0]["coverage"] == 1.0
    assert curve[0]["accuracy"] == pytest.approx(evaluation.accuracy)
    coverages = [point["coverage"] for point in curve]
    assert coverages == sorted(coverages, reverse=True)


EVALUATION_CASES = [
    pytest.param(
        [[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]],
        ["a", "b", "c"],
        {"accuracy": 1.0, "top2_accuracy": 1.0},
        id="all-right",
    ),
    pytest.param(
        [[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.6, 0.0, 0.4], [0.1, 0.1, 0.8]],
        ["b", "b", "b", "c"],
        {"accuracy": 1 / 4, "top2_accuracy": 3 / 4},
        id="top2-catches-one",
    ),
]


@pytest.mark.parametrize(("probabilities", "truth", "expected"), EVALUATION_CASES)
def test_evaluate_probabilities(probabilities, truth, expected: dict[str, float]) -> None:
    result = evaluate_probabilities(np.asarray(probabilities), ["a", "b", "c"], truth)
    for key, value in expected.items():
        assert getattr(result, key) == pytest.approx(value), key


def test_labels_the_model_does_not_know_are_reported() -> None:
    result = evaluate_probabilities(np.array([[0.8, 0.2], [0.3, 0.7]]), ["a", "b"], ["a", "new"])
    assert result.per_class["new"]["support"] == 1
    assert result.per_class["new"]["recall"] == 0.0
    assert result.labels == ["a", "b", "new"]


@pytest.mark.parametrize(
    ("confidence", "correct", "expected"),
    [
        pytest.param([1.0, 1.0], [True, True], 0.0, id="perfect"),
        pytest.param([0.9, 0.9], [False, False], 0.9, id="overconfident"),
        pytest.param([0.5, 0.5, 0.5, 0.5], [True, False, True, False], 0.0, id="calibrated"),
    ],
)
def test_expected_calibration_error(confidence, correct, expected: float) -> None:
    value = expected_calibration_error(np.asarray(confidence), np.asarray(correct))
    assert value == pytest.approx(expected)


def test_evaluate_skips_and_counts_empty_rows(tiny_model) -> None:
    frame = pd.DataFrame({"text": ["停水三天了", "", None], "label": ["水务", "水务", "水务"]})
    result = evaluate(tiny_model, frame)
    assert result.n == 1
    assert result.skipped == {"empty_text": 2}


# --------------------------------------------------------------------------- real data


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.timeout(300)
def test_macro_f1_on_unseen_whole_shared_messages(shared_data: Path) -> None:
    """Teddy Cup 2020 bodies (split=train) plus every title, scored on test.csv: whole
    messages neither of whose parts was trained on (titles.csv holds the titles of the dev
    messages, so a model trained on it is never scored on dev)."""
    from nlp.io import read_table

    bodies = read_table(shared_data / "appeals" / "train.csv")
    titles = read_table(shared_data / "appeals" / "titles.csv")
    unseen = read_table(shared_data / "appeals" / "test.csv")
    train_frame = pd.concat([bodies[bodies["split"] == "train"], titles], ignore_index=True)
    result = train(train_frame, TrainConfig(), eval_frame=unseen)
    assert result.evaluation.n == len(unseen)
    assert result.evaluation.macro_f1 >= 0.90
    assert result.evaluation.accuracy >= 0.90
    assert result.evaluation.ece <= 0.05


@pytest.mark.parametrize(
    ("options", "says"),
    [
        pytest.param({"C": 0}, "C must be a positive number", id="C-zero"),
        pytest.param({"C": float("nan")}, "C must be a positive number", id="C-nan"),
        pytest.param({"test_size": 1.5}, "test_size must be between 0 and 1", id="test-size"),
        pytest.param({"calibration_folds": 1}, "calibration_folds must be at least 2", id="folds"),
        pytest.param({"min_class_size": 0}, "min_class_size must be at least 1", id="min-class"),
        pytest.param({"min_df": 0}, "min_df must be at least 1", id="min-df"),
        pytest.param({"learner": "bert"}, "learner must be one of svm, svm", id="learner"),
        pytest.param({"fields": "both"}, "fields must be one of joined, sum, mean", id="fields"),
    ],
)
def test_invalid_training_options_are_a_data_error(options: dict, says: str) -> None:
    with pytest.raises(DataError, match=says):
        TrainConfig(**options)
