"""How good a model is, in the terms a dispatch centre decides by.

:func:`evaluate` (model, labelled rows) -> :class:`Evaluation`: accuracy and macro-F1,
per-class precision/recall/F1 with support, top-2 accuracy, expected calibration error, and
the coverage/accuracy curve: if the least confident tickets go to a human, how accurate is
what the model routes alone? :func:`score` keeps the probabilities behind it (:class:`Scored`)
for other views of the same rows, such as :func:`calibration_curve`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from nlp.documents import prepare_rows
from nlp.errors import DataError

if TYPE_CHECKING:
    from nlp.model import RoutingModel

__all__ = [
    "Evaluation",
    "Scored",
    "calibration_curve",
    "coverage_curve",
    "evaluate",
    "evaluate_probabilities",
    "expected_calibration_error",
    "label_warnings",
    "score",
]


@dataclass
class Evaluation:
    """Every figure of one evaluation; ``to_dict`` is what ``--json`` prints."""

    n: int
    accuracy: float
    macro_f1: float
    top2_accuracy: float
    ece: float
    per_class: dict[str, dict[str, float]]
    labels: list[str]
    confusion: list[list[int]]
    coverage: list[dict[str, float]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    #: What makes the figures misleading, in words (see :func:`label_warnings`).
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> dict[str, float]:
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "top2_accuracy": round(self.top2_accuracy, 4),
            "ece": round(self.ece, 4),
        }


def expected_calibration_error(
    confidence: NDArray[np.float64], correct: NDArray[np.bool_], bins: int = 15
) -> float:
    """Weighted mean gap between confidence and accuracy over equal-width confidence bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            gap = abs(confidence[in_bin].mean() - correct[in_bin].mean())
            total += in_bin.mean() * gap
    return float(total)


def coverage_curve(
    confidence: NDArray[np.float64], correct: NDArray[np.bool_], steps: int = 20
) -> list[dict[str, float]]:
    """Accuracy on the tickets kept when those under each confidence threshold go to people."""
    curve = []
    for threshold in np.linspace(0.0, 0.95, steps):
        kept = confidence >= threshold
        curve.append(
            {
                "threshold": round(float(threshold), 4),
                "coverage": float(kept.mean()),
                "accuracy": float(correct[kept].mean()) if kept.any() else 1.0,
            }
        )
    return curve


def label_warnings(model_labels: Sequence[str], truth: Sequence[str]) -> list[str]:
    """Warnings when the labels of the data are not the model's: labels it does not know
    (it can never get those tickets right) and labels of the model that the data lacks
    (their recall cannot be measured, and the macro averages are over other classes)."""
    known = set(model_labels)
    counts = pd.Series(list(truth), dtype=object).value_counts()
    warnings = []
    unknown = [(str(label), int(n)) for label, n in counts.items() if label not in known]
    if unknown:
        listed = ", ".join(f"{label} ({n})" for label, n in sorted(unknown))
        total = sum(n for _, n in unknown)
        warnings.append(
            f"{total} of {len(truth)} tickets have labels the model does not know, so it can "
            f"never get them right: {listed}. Map them to the model's labels "
            f"({', '.join(model_labels)}) or evaluate a model trained on them"
        )
    absent = sorted(set(model_labels) - set(counts.index))
    if absent:
        warnings.append(
            f"{len(absent)} of the model's {len(model_labels)} labels have no ticket in the "
            f"data: {', '.join(absent)}; their recall is not measured"
        )
    return warnings


def evaluate_probabilities(
    probabilities: NDArray[np.float64],
    labels: Sequence[str],
    truth: Sequence[str],
    *,
    skipped: dict[str, int] | None = None,
) -> Evaluation:
    """Every figure from a probability matrix (columns follow ``labels``) and the truth."""
    labels = list(labels)
    truth_arr = np.asarray(truth, dtype=object)
    order = np.argsort(-probabilities, axis=1, kind="stable")
    label_arr = np.asarray(labels, dtype=object)
    predicted = label_arr[order[:, 0]]
    correct = predicted == truth_arr
    top2 = correct | (label_arr[order[:, 1]] == truth_arr) if len(labels) > 1 else correct
    confidence = probabilities[np.arange(len(truth_arr)), order[:, 0]]
    every = sorted(set(labels) | set(truth_arr.tolist()))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth_arr, predicted, labels=every, zero_division=0
    )
    return Evaluation(
        n=len(truth_arr),
        accuracy=float(accuracy_score(truth_arr, predicted)),
        macro_f1=float(
            f1_score(truth_arr, predicted, labels=every, average="macro", zero_division=0)
        ),
        top2_accuracy=float(np.mean(top2)),
        ece=expected_calibration_error(confidence, correct),
        per_class={
            label: {
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "support": int(s),
            }
            for label, p, r, f, s in zip(every, precision, recall, f1, support, strict=True)
        },
        labels=every,
        confusion=confusion_matrix(truth_arr, predicted, labels=every).tolist(),
        coverage=coverage_curve(confidence, correct),
        skipped=dict(skipped or {}),
        warnings=label_warnings(labels, truth_arr.tolist()),
    )


@dataclass
class Scored:
    """A model's probabilities on labelled rows: every view of one evaluation starts here."""

    documents: list[str]
    truth: list[str]
    labels: list[str]
    probabilities: NDArray[np.float64]
    index: pd.Index = field(default_factory=lambda: pd.RangeIndex(0))
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def predicted(self) -> list[str]:
        return [self.labels[i] for i in self.probabilities.argmax(axis=1).tolist()]

    @property
    def confidence(self) -> NDArray[np.float64]:
        return np.asarray(self.probabilities.max(axis=1), dtype=np.float64)

    @property
    def correct(self) -> NDArray[np.bool_]:
        return np.asarray(self.predicted, dtype=object) == np.asarray(self.truth, dtype=object)

    def evaluation(self) -> Evaluation:
        return evaluate_probabilities(
            self.probabilities, self.labels, self.truth, skipped=self.skipped
        )


def score(
    model: RoutingModel,
    frame: pd.DataFrame,
    *,
    text_col: str = "text",
    title_col: str | None = "title",
    label_col: str = "label",
) -> Scored:
    """``model``'s probabilities on the labelled rows of ``frame`` (empty rows skipped)."""
    rows = prepare_rows(frame, text_col=text_col, title_col=title_col, label_col=label_col)
    if not rows.documents or rows.labels is None:
        raise DataError("no usable rows to score: every row has an empty text or label")
    return Scored(
        documents=rows.documents,
        truth=rows.labels,
        labels=model.labels,
        probabilities=model.predict_proba(rows.documents),
        index=rows.kept_index,
        skipped=rows.skipped,
    )


def evaluate(
    model: RoutingModel,
    frame: pd.DataFrame,
    *,
    text_col: str = "text",
    title_col: str | None = "title",
    label_col: str = "label",
) -> Evaluation:
    """Score ``model`` on labelled rows; empty rows are skipped and counted in the report."""
    return score(
        model, frame, text_col=text_col, title_col=title_col, label_col=label_col
    ).evaluation()


def calibration_curve(scored: Scored, *, bins: int = 10) -> pd.DataFrame:
    """Reliability of the top label: per equal-width confidence bin, the mean confidence,
    the accuracy and the number of tickets (empty bins omitted). A calibrated model has
    accuracy close to confidence in every bin."""
    confidence = scored.confidence
    correct = scored.correct
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            rows.append(
                {
                    "low": float(edges[b]),
                    "high": float(edges[b + 1]),
                    "confidence": float(confidence[in_bin].mean()),
                    "accuracy": float(correct[in_bin].mean()),
                    "tickets": int(in_bin.sum()),
                }
            )
    return pd.DataFrame(rows, columns=["low", "high", "confidence", "accuracy", "tickets"])
