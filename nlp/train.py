"""train(frame, config) -> trained model, with its report on held-out rows.

Validation happens before any fitting: missing columns, empty rows (counted and skipped),
classes too small to learn from. The model that is returned, and registered, is the one the
reported metrics were measured on.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from nlp.classifier import CalibratedLinearSVC
from nlp.documents import PreparedRows, frame_sha256, prepare_rows
from nlp.errors import DataError
from nlp.evaluate import Evaluation, evaluate_probabilities
from nlp.features import DocumentVectorizer
from nlp.model import ReviewPolicy, RoutingModel, TextNormaliser
from nlp.scope import ScopeDetector
from nlp.segment import BUILTIN, Backend

__all__ = ["TrainConfig", "TrainResult", "build_pipeline", "fit_scope", "train"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Every training option, with its default. The CLI overrides fields from its flags."""

    text_col: str = "text"
    title_col: str | None = "title"
    label_col: str = "label"
    segmenter: Backend = "rjieba"
    word_ngram_range: tuple[int, int] = (1, 2)
    char_ngram_range: tuple[int, int] = (1, 3)
    min_df: int = 2
    max_chars: int = 300
    max_segment_chars: int = 500
    char_source: Literal["text", "words"] = "text"
    C: float = 1.0
    class_weight: str | None = "balanced"
    calibration_folds: int = 5
    test_size: float = 0.2
    min_class_size: int = 5
    random_state: int = 0
    #: The out-of-scope rule (:mod:`nlp.scope`): the share of held-out in-domain training
    #: tickets it may send to people beyond those the default review policy sends (its
    #: threshold is chosen on the training data alone); None trains without the rule.
    out_of_scope_rate: float | None = 0.03

    def __post_init__(self) -> None:
        problems = []
        if not (isinstance(self.C, int | float) and math.isfinite(self.C) and self.C > 0):
            problems.append(f"C must be a positive number, not {self.C!r}")
        if not 0 < self.test_size < 1:
            problems.append(f"test_size must be between 0 and 1, not {self.test_size!r}")
        if self.calibration_folds < 2:
            problems.append(f"calibration_folds must be at least 2, not {self.calibration_folds}")
        if self.min_class_size < 1:
            problems.append(f"min_class_size must be at least 1, not {self.min_class_size}")
        if self.min_df < 1:
            problems.append(f"min_df must be at least 1, not {self.min_df}")
        if self.out_of_scope_rate is not None and not 0 <= self.out_of_scope_rate < 1:
            problems.append(
                f"out_of_scope_rate must be in [0, 1) or None, not {self.out_of_scope_rate!r}"
            )
        if problems:
            raise DataError("invalid training options: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    model: RoutingModel
    evaluation: Evaluation
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def build_pipeline(config: TrainConfig) -> Pipeline:
    """The unfitted pipeline: normalise (masking first) -> features -> calibrated classifier."""
    return Pipeline(
        [
            ("normalise", TextNormaliser()),
            (
                "vectorise",
                DocumentVectorizer(
                    segmenter=config.segmenter,
                    user_dict=BUILTIN,
                    word_ngram_range=config.word_ngram_range,
                    char_ngram_range=config.char_ngram_range,
                    min_df=config.min_df,
                    max_chars=config.max_chars,
                    max_segment_chars=config.max_segment_chars,
                    char_source=config.char_source,
                ),
            ),
            (
                "classify",
                CalibratedLinearSVC(
                    C=config.C,
                    cv=config.calibration_folds,
                    class_weight=config.class_weight,
                    random_state=config.random_state,
                ),
            ),
        ]
    )


def fit_scope(
    pipeline: Pipeline, documents: list[str], labels: list[str], config: TrainConfig
) -> ScopeDetector | None:
    """The out-of-scope rule for a fitted ``pipeline`` (None when the config turns it off,
    or when a label has a single training ticket: the rule needs held-out tickets of each)."""
    if config.out_of_scope_rate is None:
        return None
    if min(pd.Series(labels).value_counts()) < 2:
        logger.warning("a label has one training ticket: trained without the out-of-scope rule")
        return None
    return ScopeDetector(
        rate=config.out_of_scope_rate,
        folds=config.calibration_folds,
        random_state=config.random_state,
    ).fit(
        pipeline.named_steps["normalise"].transform(documents),
        labels,
        vectorizer=pipeline.named_steps["vectorise"],
        classifier=pipeline.named_steps["classify"],
        policy=ReviewPolicy(),
    )


def _check_classes(rows: PreparedRows, config: TrainConfig) -> None:
    counts = pd.Series(rows.labels).value_counts()
    if counts.size < 2:
        raise DataError(
            f"training needs at least two labels in column {config.label_col!r}; "
            f"found {counts.size} ({', '.join(counts.index.astype(str))})"
        )
    small = counts[counts < config.min_class_size]
    if not small.empty:
        listed = ", ".join(f"{label} ({n})" for label, n in small.items())
        raise DataError(
            f"these classes have fewer than {config.min_class_size} examples: {listed}. "
            "Add examples, merge or drop those classes, or lower --min-class-size."
        )


def _held_out_split(
    documents: list[str], labels: list[str], config: TrainConfig
) -> tuple[list[str], list[str], list[str], list[str]]:
    """Stratified split; classes with a single example (allowed by a lowered
    ``min_class_size``) cannot be split and go to training whole."""
    counts = pd.Series(labels).value_counts()
    single = set(counts[counts < 2].index)
    keep = [i for i, label in enumerate(labels) if label not in single]
    only_train = [i for i, label in enumerate(labels) if label in single]
    kept_labels = [labels[i] for i in keep]
    if len(set(kept_labels)) < 2:
        raise DataError(
            "too few examples to hold out an evaluation split: give --eval data "
            "or add examples (at least two labels with two or more examples each)"
        )
    train_idx, test_idx = train_test_split(
        keep, test_size=config.test_size, stratify=kept_labels, random_state=config.random_state
    )
    train_idx = list(train_idx) + only_train
    return (
        [documents[i] for i in train_idx],
        [documents[i] for i in test_idx],
        [labels[i] for i in train_idx],
        [labels[i] for i in test_idx],
    )


def train(
    frame: pd.DataFrame,
    config: TrainConfig | None = None,
    *,
    eval_frame: pd.DataFrame | None = None,
    name: str = "default",
) -> TrainResult:
    """Fit a model on ``frame`` and evaluate it on ``eval_frame`` or a stratified held-out split."""
    config = config or TrainConfig()
    started = time.perf_counter()
    rows = prepare_rows(
        frame, text_col=config.text_col, title_col=config.title_col, label_col=config.label_col
    )
    if rows.skipped:
        logger.warning("skipped training rows: %s", rows.skipped)
    if not rows.documents or rows.labels is None:
        raise DataError("no usable training rows: every row has an empty text and title")
    _check_classes(rows, config)
    documents, labels = rows.documents, rows.labels
    if eval_frame is None:
        train_docs, test_docs, train_labels, test_labels = _held_out_split(
            documents, labels, config
        )
        eval_skipped: dict[str, int] = {}
    else:
        held_out = prepare_rows(
            eval_frame,
            text_col=config.text_col,
            title_col=config.title_col,
            label_col=config.label_col,
        )
        train_docs, train_labels = documents, labels
        test_docs, test_labels = held_out.documents, held_out.labels or []
        eval_skipped = held_out.skipped
        if not test_docs:
            raise DataError("the evaluation data has no usable rows")
    pipeline = build_pipeline(config).fit(train_docs, train_labels)
    scope = fit_scope(pipeline, train_docs, train_labels, config)
    model = RoutingModel(pipeline, scope=scope, name=name)
    evaluation = evaluate_probabilities(
        model.predict_proba(test_docs), model.labels, test_labels, skipped=eval_skipped
    )
    data = {
        "rows": len(frame),
        "train_rows": len(train_docs),
        "eval_rows": len(test_docs),
        "skipped": rows.skipped,
        "sha256": frame_sha256(documents, labels),
        "class_counts": pd.Series(labels).value_counts().to_dict(),
    }
    return TrainResult(model, evaluation, data, time.perf_counter() - started)
