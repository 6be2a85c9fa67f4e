"""nlp.evaluate: a model's probabilities on labelled rows (Scored) and the views built on them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nlp.errors import DataError
from nlp.evaluate import Scored, calibration_curve, score
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
