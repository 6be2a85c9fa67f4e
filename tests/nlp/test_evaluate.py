"""nlp.evaluate: a model's probabilities on labelled rows (Scored) and the views built on them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nlp.errors import DataError
from nlp.evaluate import Scored, calibration_curve, evaluate, label_warnings, score
from nlp.model import RoutingModel


def _scored(probabilities: list[list[float]], truth: list[str]) -> Scored:
    return Scored(
        documents=[f"d{i}" for i in range(len(truth))],
        truth=truth,
        labels=["a", "b"],
        probabilities=np.asarray(probabilities, dtype=np.float64),
    )


def test_scored_views() -> None:
    scored = _scored([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]], ["a", "a", "b"])
    assert scored.predicted == ["a", "b", "a"]
    assert scored.correct.tolist() == [True, False, False]
    assert scored.confidence.tolist() == [0.9, 0.7, 0.6]
    assert scored.evaluation().accuracy == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("probabilities", "truth", "expected"),
    [
        pytest.param(
            [[0.95, 0.05], [0.92, 0.08], [0.55, 0.45], [0.45, 0.55]],
            ["a", "b", "a", "a"],
            [(0.5, 0.6, 0.55, 0.5, 2), (0.9, 1.0, 0.935, 0.5, 2)],
            id="two-bins",
        ),
        pytest.param([[1.0, 0.0]], ["a"], [(0.9, 1.0, 1.0, 1.0, 1)], id="certain-in-last-bin"),
    ],
)
def test_calibration_curve(
    probabilities: list[list[float]], truth: list[str], expected: list[tuple[float, ...]]
) -> None:
    curve = calibration_curve(_scored(probabilities, truth), bins=10)
    assert list(curve.columns) == ["low", "high", "confidence", "accuracy", "tickets"]
    assert np.allclose(curve.to_numpy(dtype=float), np.asarray(expected, dtype=float))


def test_score_matches_evaluate(tiny_model: RoutingModel, demo_frame: pd.DataFrame) -> None:
    frame = demo_frame.head(60)
    scored = score(tiny_model, frame)
    assert len(scored.truth) == 60
    assert scored.labels == tiny_model.labels
    assert list(scored.index) == list(frame.index)
    assert scored.evaluation().accuracy == pytest.approx(
        float(np.mean(np.asarray(tiny_model.predict(scored.documents)) == np.asarray(scored.truth)))
    )


def test_score_refuses_rows_without_text(tiny_model: RoutingModel) -> None:
    with pytest.raises(DataError, match="no usable rows"):
        score(tiny_model, pd.DataFrame({"text": ["", " "], "label": ["a", "b"]}))


def test_evaluate_warns_when_the_labels_are_not_the_models(
    tiny_model: RoutingModel, demo_frame: pd.DataFrame
) -> None:
    frame = demo_frame[demo_frame["label"].isin(tiny_model.labels[:3])].head(30).copy()
    frame.loc[frame.index[:4], "label"] = "劳动和社会保障"  # another label set's name
    evaluation = evaluate(tiny_model, frame)
    unknown, absent = evaluation.warnings
    assert "4 of 30 tickets have labels the model does not know" in unknown
    assert "劳动和社会保障 (4)" in unknown
    assert f"{len(tiny_model.labels) - 3} of the model's {len(tiny_model.labels)} labels" in absent
    assert all(label in absent for label in tiny_model.labels[3:])
    assert evaluation.to_dict()["warnings"] == evaluation.warnings


def test_evaluate_is_quiet_when_the_labels_match(
    tiny_model: RoutingModel, demo_frame: pd.DataFrame
) -> None:
    frame = demo_frame.groupby("label").head(2)
    assert evaluate(tiny_model, frame).warnings == []


@pytest.mark.parametrize(
    ("truth", "expected"),
    [
        pytest.param(["a", "b"], [], id="same"),
        pytest.param(["a", "a"], ["1 of the model's 2 labels have no ticket in the data: b"],
                     id="absent"),
        pytest.param(["a", "b", "c"], ["1 of 3 tickets have labels the model does not know"],
                     id="unknown"),
    ],
)  # fmt: skip
def test_label_warnings(truth: list[str], expected: list[str]) -> None:
    warnings = label_warnings(["a", "b"], truth)
    assert len(warnings) == len(expected)
    for warning, start in zip(warnings, expected, strict=True):
        assert warning.startswith(start)
