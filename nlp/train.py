"""train(frame, config) -> trained model, with its report on held-out rows.

Validation happens before any fitting: missing columns, empty rows (counted and skipped),
classes too small to learn from. The model that is returned, and registered, is the one the
reported metrics were measured on.

Dispatchers' corrections (``feedback``: tickets with the department a person finally gave
them) are extra training rows that count ``feedback_weight`` times. A fixed share of them is
held out to measure the model on (``feedback_holdout``), chosen by a hash of the ticket id:
the same correction is on the same side in every retraining, so the held-out corrections of
two versions can be compared. The promotion gate's figures on them are measured on a model
that never trained on them; the model that ships is then trained again on every correction
(``feedback_refit``, the default: the manifest records it), so a held-out correction is not
a correction thrown away.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from nlp.classifier import LEARNERS, CalibratedLinearSVC, Learner
from nlp.documents import PreparedRows, frame_sha256, prepare_rows
from nlp.errors import DataError
from nlp.evaluate import Evaluation, evaluate_probabilities
from nlp.features import FIELDS, DocumentVectorizer, Fields
from nlp.model import ReviewPolicy, RoutingModel, TextNormaliser
from nlp.scope import ScopeDetector
from nlp.segment import BUILTIN, Backend

__all__ = [
    "FEEDBACK_COLUMNS",
    "HeldOut",
    "TrainConfig",
    "TrainResult",
    "build_pipeline",
    "fit_scope",
    "is_held_out",
    "read_accepted",
    "read_feedback",
    "train",
]

#: The columns of a frame of corrections (``title`` may be missing or empty).
FEEDBACK_COLUMNS = ("id", "text", "title", "label")

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
    fields: Fields = "mean"
    learner: Learner = "svm+nbsvm"
    C: float = 1.0
    class_weight: str | None = "balanced"
    calibration_folds: int = 5
    test_size: float = 0.2
    min_class_size: int = 5
    random_state: int = 0
    #: Processes fitting the model and its calibration folds at once on big data (-1: one
    #: per core, 1: one after another). The model is the same either way.
    n_jobs: int = 1
    #: The out-of-scope rule (:mod:`nlp.scope`): the share of held-out in-domain training
    #: tickets it may send to people beyond those the default review policy sends (its
    #: threshold is chosen on the training data alone); None trains without the rule.
    out_of_scope_rate: float | None = 0.03
    #: How many times a dispatcher's correction counts against a row of the base data.
    feedback_weight: float = 2.0
    #: The share of corrections held out to evaluate on (chosen by a hash of the ticket id).
    feedback_holdout: float = 0.2
    #: After the held-out corrections measured the model (the promotion gate's figures),
    #: train the model that ships again on every correction; False ships the measured model.
    feedback_refit: bool = True
    #: How many times an accepted answer counts: a stored answer nobody corrected, labelled
    #: with the model's own answer (only when ``train`` is given ``accepted`` rows). It
    #: assumes that dispatchers correct every answer they see wrong.
    accepted_weight: float = 0.5

    def __post_init__(self) -> None:
        problems = []
        if not (isinstance(self.C, int | float) and math.isfinite(self.C) and self.C > 0):
            problems.append(f"C must be a positive number, not {self.C!r}")
        if self.fields not in FIELDS:
            problems.append(f"fields must be one of {', '.join(FIELDS)}, not {self.fields!r}")
        if self.learner not in LEARNERS:
            problems.append(f"learner must be one of {', '.join(LEARNERS)}, not {self.learner!r}")
        if not 0 < self.test_size < 1:
            problems.append(f"test_size must be between 0 and 1, not {self.test_size!r}")
        if self.calibration_folds < 2:
            problems.append(f"calibration_folds must be at least 2, not {self.calibration_folds}")
        if self.min_class_size < 1:
            problems.append(f"min_class_size must be at least 1, not {self.min_class_size}")
        if self.min_df < 1:
            problems.append(f"min_df must be at least 1, not {self.min_df}")
        if not (isinstance(self.n_jobs, int) and (self.n_jobs >= 1 or self.n_jobs == -1)):
            problems.append(f"n_jobs must be -1 (every core) or at least 1, not {self.n_jobs!r}")
        if self.out_of_scope_rate is not None and not 0 <= self.out_of_scope_rate < 1:
            problems.append(
                f"out_of_scope_rate must be in [0, 1) or None, not {self.out_of_scope_rate!r}"
            )
        if not (
            isinstance(self.feedback_weight, int | float)
            and math.isfinite(self.feedback_weight)
            and self.feedback_weight > 0
        ):
            problems.append(
                f"feedback_weight must be a positive number, not {self.feedback_weight!r}"
            )
        if not (isinstance(self.feedback_holdout, int | float) and 0 <= self.feedback_holdout < 1):
            problems.append(f"feedback_holdout must be in [0, 1), not {self.feedback_holdout!r}")
        if not (
            isinstance(self.accepted_weight, int | float)
            and math.isfinite(self.accepted_weight)
            and self.accepted_weight > 0
        ):
            problems.append(
                f"accepted_weight must be a positive number, not {self.accepted_weight!r}"
            )
        if not isinstance(self.feedback_refit, bool):
            problems.append(f"feedback_refit must be True or False, not {self.feedback_refit!r}")
        if problems:
            raise DataError("invalid training options: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HeldOut:
    """Rows a model is measured on, as it reads them: documents and their true labels."""

    documents: list[str]
    labels: list[str]
    skipped: dict[str, int] = field(default_factory=dict)

    def evaluate(self, model: RoutingModel) -> Evaluation:
        """``model``'s :class:`Evaluation` on these rows: how the model in service is put
        beside a candidate on the very rows the candidate was measured on."""
        return evaluate_probabilities(
            model.predict_proba(self.documents), model.labels, self.labels, skipped=self.skipped
        )


@dataclass
class TrainResult:
    """The model, its evaluation on held-out rows and, when it learnt from corrections,
    the evaluation on the held-out corrections (``feedback_evaluation``; None without
    corrections or when none is held out) of a model that never trained on them (with
    ``feedback_refit`` the model returned trained on them afterwards). ``held_out`` and
    ``feedback_held_out`` are those rows, to measure another model (the one in service) on
    the same ones."""

    model: RoutingModel
    evaluation: Evaluation
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    feedback_evaluation: Evaluation | None = None
    held_out: HeldOut | None = None
    feedback_held_out: HeldOut | None = None


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
                    fields=config.fields,
                ),
            ),
            (
                "classify",
                CalibratedLinearSVC(
                    C=config.C,
                    cv=config.calibration_folds,
                    class_weight=config.class_weight,
                    random_state=config.random_state,
                    learner=config.learner,
                    n_jobs=config.n_jobs,
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
        held_out=getattr(pipeline.named_steps["classify"], "held_out_", None),
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


def _require_feedback_columns(frame: pd.DataFrame, where: str) -> None:
    missing = [c for c in ("id", "text", "label") if c not in frame.columns]
    if missing:
        present = ", ".join(map(repr, map(str, frame.columns))) or "no columns at all"
        raise DataError(
            f"{where}: column(s) {', '.join(map(repr, missing))} not found (found {present}); "
            f"corrections need the columns {', '.join(FEEDBACK_COLUMNS)} (title may be empty), "
            "as 'appeals feedback export' writes them"
        )


def _is_missing(value: object) -> bool:
    """No ticket id: None, NaN, pandas' NA or white space."""
    return value is None or value is pd.NA or value != value or not str(value).strip()


def _ids(frame: pd.DataFrame) -> set[str]:
    """The ticket ids of ``frame``'s ``id`` column, as text."""
    if "id" not in frame.columns:
        return set()
    return {str(i).strip() for i in frame["id"] if not _is_missing(i)}


def is_held_out(ticket_id: object, share: float) -> bool:
    """Whether the correction of ticket ``ticket_id`` is held out for evaluation: the first
    eight bytes of the sha256 of the id (as text), read as a fraction of 2**64, fall below
    ``share``. The same id is on the same side in every process and every retraining."""
    digest = hashlib.sha256(str(ticket_id).strip().encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") < share * 2**64


@dataclass(frozen=True)
class _Corrections:
    """Corrections split into the rows that train and the rows held out."""

    documents: list[str]
    labels: list[str]
    held_out: HeldOut | None
    data: dict[str, Any]


def _prepare_feedback(feedback: pd.DataFrame, config: TrainConfig, known: set[str]) -> _Corrections:
    """Validate the corrections (columns ``id, text, title, label``; ``title`` optional),
    refuse a label the base data lacks unless it has ``min_class_size`` corrections, and
    split them by :func:`is_held_out`."""
    _require_feedback_columns(feedback, "the corrections")
    if feedback.empty:
        raise DataError(
            "the corrections have no rows: give a file or store with corrected tickets, "
            "or train without --feedback"
        )
    frame = feedback.reset_index(drop=True)
    rows = prepare_rows(frame, text_col="text", title_col="title", label_col="label")
    if rows.skipped:
        logger.warning("skipped corrections: %s", rows.skipped)
    if not rows.documents or rows.labels is None:
        raise DataError(
            f"no usable corrections among {len(frame)} rows: each has an empty text and "
            "title, or no label"
        )
    ids = frame["id"].array
    kept = list(rows.kept_index)
    no_id = sum(1 for i in kept if _is_missing(ids[i]))
    if no_id:
        raise DataError(
            f"{no_id} correction(s) have no ticket id in column 'id'; every correction needs "
            "the id of the ticket it corrects (it decides whether it is held out)"
        )
    counts = pd.Series(rows.labels).value_counts()
    new = {str(label): int(n) for label, n in counts.items() if label not in known}
    rare = {label: n for label, n in new.items() if n < config.min_class_size}
    if rare:
        listed = ", ".join(f"{label!r} ({n})" for label, n in sorted(rare.items()))
        raise DataError(
            f"corrections give labels the training data does not have, with fewer than "
            f"{config.min_class_size} corrections each: {listed}. A new department needs at "
            "least that many examples: add examples of it to the training data, wait for "
            "more corrections, or lower --min-class-size"
        )
    held = [is_held_out(ids[i], config.feedback_holdout) for i in kept]
    documents = [d for d, h in zip(rows.documents, held, strict=True) if not h]
    labels = [label for label, h in zip(rows.labels, held, strict=True) if not h]
    held_docs = [d for d, h in zip(rows.documents, held, strict=True) if h]
    held_labels = [label for label, h in zip(rows.labels, held, strict=True) if h]
    data = {
        "rows": len(frame),
        "used": len(documents),
        "held_out": len(held_docs),
        "weight": config.feedback_weight,
        "holdout": config.feedback_holdout,
        # The model that ships trained on the held-out corrections too, after they measured it.
        "refit": bool(held_docs) and config.feedback_refit,
        "skipped": rows.skipped,
        "new_labels": sorted(new),
        "sha256": frame_sha256(
            [f"{ids[i]}\x1f{d}" for i, d in zip(kept, rows.documents, strict=True)], rows.labels
        ),
    }
    return _Corrections(
        documents, labels, HeldOut(held_docs, held_labels) if held_docs else None, data
    )


def read_feedback(source: str | Path) -> pd.DataFrame:
    """Dispatchers' corrections from ``source``: a ticket store's URL (it has ``://``, e.g.
    ``sqlite:///models/tickets.db``: :meth:`nlp.store.TicketStore.corrections`) or a file
    (CSV, Excel, JSON Lines, Parquet, as ``appeals feedback export`` writes) with the
    columns ``id, text, title, label``."""
    if "://" in str(source):
        from nlp.store import TicketStore

        with TicketStore(str(source)) as store:
            return store.open(create=False).corrections()
    from nlp.io import read_table

    frame = read_table(source)
    _require_feedback_columns(frame, f"the corrections in {source}")
    return frame


def read_accepted(source: str | Path) -> pd.DataFrame:
    """The answers nobody corrected, labelled with the model's answer (columns ``id, text,
    title, label``): from a ticket store's URL (:meth:`nlp.store.TicketStore.tickets`
    without a final department) or a file of every stored answer (``appeals feedback export
    --all``: rows whose ``final_label`` is empty)."""
    if "://" in str(source):
        from nlp.store import TicketStore

        with TicketStore(str(source)) as store:
            frame = store.open(create=False).tickets()
    else:
        from nlp.io import read_table

        frame = read_table(source)
    if "final_label" not in frame.columns:
        raise DataError(
            f"the stored answers in {source} have no column 'final_label': accepted answers "
            "come from a ticket store or from 'appeals feedback export --all'"
        )
    _require_feedback_columns(frame, f"the stored answers in {source}")
    open_rows = frame["final_label"].map(_is_missing)
    columns = [c for c in FEEDBACK_COLUMNS if c in frame.columns]
    return frame.loc[open_rows, columns].reset_index(drop=True)


def _fit(
    groups: list[tuple[list[str], list[str], float]], config: TrainConfig, *, name: str
) -> RoutingModel:
    """The model of the rows of ``groups`` (documents, labels, how many times each counts),
    with its out-of-scope rule."""
    documents = [d for docs, _, _ in groups for d in docs]
    labels = [label for _, group_labels, _ in groups for label in group_labels]
    weighted = any(weight != 1.0 for docs, _, weight in groups if docs)
    sample_weight = [weight for docs, _, weight in groups for _ in docs] if weighted else None
    pipeline = build_pipeline(config).fit(documents, labels, classify__sample_weight=sample_weight)
    scope = fit_scope(pipeline, documents, labels, config)
    return RoutingModel(pipeline, scope=scope, name=name)


def _prepare_accepted(
    accepted: pd.DataFrame, config: TrainConfig, known: set[str], corrected: set[str]
) -> tuple[list[str], list[str], dict[str, Any]]:
    """The accepted answers that train: a ticket a person corrected is not one, nor is an
    answer with a label the training data lacks (the model in service knew another set)."""
    _require_feedback_columns(accepted, "the accepted answers")
    frame = accepted.reset_index(drop=True)
    rows = prepare_rows(frame, text_col="text", title_col="title", label_col="label")
    ids = frame["id"].array
    documents: list[str] = []
    labels: list[str] = []
    left_out = {"corrected": 0, "unknown_label": 0}
    for i, document, label in zip(rows.kept_index, rows.documents, rows.labels or [], strict=True):
        if not _is_missing(ids[i]) and str(ids[i]).strip() in corrected:
            left_out["corrected"] += 1
        elif label not in known:
            left_out["unknown_label"] += 1
        else:
            documents.append(document)
            labels.append(label)
    data = {
        "rows": len(frame),
        "used": len(documents),
        "weight": config.accepted_weight,
        "left_out": {**rows.skipped, **{k: n for k, n in left_out.items() if n}},
    }
    return documents, labels, data


def train(
    frame: pd.DataFrame,
    config: TrainConfig | None = None,
    *,
    eval_frame: pd.DataFrame | None = None,
    name: str = "default",
    feedback: pd.DataFrame | None = None,
    accepted: pd.DataFrame | None = None,
) -> TrainResult:
    """Fit a model on ``frame`` and evaluate it on ``eval_frame`` or a stratified held-out split.

    ``feedback``: dispatchers' corrections (columns ``id, text, title, label``, masked text):
    the part not held out (``config.feedback_holdout``, by ticket id) trains with weight
    ``config.feedback_weight``; the held-out part gives ``feedback_evaluation``, and then,
    with ``config.feedback_refit``, the model returned is fitted again on every correction
    (one more fit; ``evaluation`` is that model's).

    ``accepted``: stored answers nobody corrected, labelled with the model's own answer
    (:func:`read_accepted`; same columns), train with weight ``config.accepted_weight``;
    tickets that ``feedback`` corrects are left out of them. This assumes that dispatchers
    correct every answer they see wrong. A label the
    base data lacks is learnt when it has at least ``config.min_class_size`` corrections.
    """
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
    corrections = None if feedback is None else _prepare_feedback(feedback, config, set(labels))
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
    groups = [(train_docs, train_labels, 1.0)]
    if accepted is not None:
        corrected = set() if feedback is None else _ids(feedback)
        accepted_docs, accepted_labels, accepted_data = _prepare_accepted(
            accepted, config, set(labels), corrected
        )
        groups.append((accepted_docs, accepted_labels, config.accepted_weight))
    if corrections is not None:
        groups.append((corrections.documents, corrections.labels, config.feedback_weight))
    model = _fit(groups, config, name=name)
    feedback_rows = corrections.held_out if corrections is not None else None
    feedback_evaluation = None
    if feedback_rows is not None:
        # Measured on corrections it never saw: the promotion gate's figures.
        feedback_evaluation = feedback_rows.evaluate(model)
        if config.feedback_refit:
            groups.append((feedback_rows.documents, feedback_rows.labels, config.feedback_weight))
            model = _fit(groups, config, name=name)
    evaluation_rows = HeldOut(test_docs, test_labels, eval_skipped)
    evaluation = evaluation_rows.evaluate(model)
    data = {
        "rows": len(frame),
        "train_rows": sum(len(docs) for docs, _, _ in groups),
        "eval_rows": len(test_docs),
        "skipped": rows.skipped,
        "sha256": frame_sha256(documents, labels),
        "class_counts": pd.Series(labels).value_counts().to_dict(),
    }
    if corrections is not None:
        data["feedback"] = corrections.data
    if accepted is not None:
        data["accepted"] = accepted_data
    return TrainResult(
        model,
        evaluation,
        data,
        time.perf_counter() - started,
        feedback_evaluation=feedback_evaluation,
        held_out=evaluation_rows,
        feedback_held_out=feedback_rows,
    )
