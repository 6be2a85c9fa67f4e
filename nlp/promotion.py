"""Whether a new model may replace the one in service: compare, gate, promote.

:func:`compare` puts two evaluations on the same rows side by side; a :class:`PromotionGate`
decides from them; :func:`promote` activates the candidate through the :class:`Registry` only
when the gate passed and a person confirmed. :func:`ensure_active_model` gives a registry
without an active model a baseline to compare against. A candidate trained on dispatchers'
corrections is also compared on the corrections it held out (:func:`review_candidate` scores
the model in service on the very rows of both of the candidate's evaluations).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from nlp.errors import DataError
from nlp.evaluate import Evaluation
from nlp.model import RoutingModel
from nlp.registry import ActivePointer, Registry
from nlp.train import TrainConfig, TrainResult, train

__all__ = [
    "CandidateReview",
    "Comparison",
    "GateDecision",
    "PromotionGate",
    "PromotionOutcome",
    "compare",
    "ensure_active_model",
    "promote",
    "review_candidate",
]

logger = logging.getLogger(__name__)


@dataclass
class Comparison:
    """Two evaluations side by side: ``overall`` (metric x current, candidate, delta) and
    ``per_class`` (one row per class, worst F1 change first)."""

    overall: pd.DataFrame
    per_class: pd.DataFrame


_OVERALL = ("accuracy", "macro_f1", "top2_accuracy", "ece")
_PER_CLASS = ("f1", "precision", "recall")


def compare(current: Evaluation, candidate: Evaluation) -> Comparison:
    """Overall and per-class figures of ``candidate`` against ``current``; a class one of the
    two evaluations lacks counts as 0 there."""
    overall = pd.DataFrame(
        {
            "current": [float(getattr(current, m)) for m in _OVERALL],
            "candidate": [float(getattr(candidate, m)) for m in _OVERALL],
        },
        index=pd.Index(list(_OVERALL), name="metric"),
    )
    overall["delta"] = overall["candidate"] - overall["current"]
    rows = []
    for label in sorted(set(current.per_class) | set(candidate.per_class)):
        before = current.per_class.get(label, {})
        after = candidate.per_class.get(label, {})
        row: dict[str, Any] = {
            "label": label,
            "support": int(before.get("support", after.get("support", 0))),
        }
        for metric in _PER_CLASS:
            old, new = float(before.get(metric, 0.0)), float(after.get(metric, 0.0))
            row |= {
                f"{metric}_current": old,
                f"{metric}_candidate": new,
                f"{metric}_delta": new - old,
            }
        rows.append(row)
    per_class = pd.DataFrame(rows).sort_values("f1_delta", kind="stable").reset_index(drop=True)
    return Comparison(overall=overall, per_class=per_class)


@dataclass(frozen=True)
class GateDecision:
    """Whether a candidate may replace the model in service, and why (or why not)."""

    passed: bool
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return "\n".join([f"promotion gate: {verdict}", *(f"- {r}" for r in self.reasons)])


@dataclass(frozen=True)
class PromotionGate:
    """A candidate passes when its macro-F1 is not lower than the current model's by more
    than ``max_macro_f1_drop`` and no class's recall is lower by more than
    ``max_recall_drop``, both measured on the same rows; and, when it was trained on
    dispatchers' corrections, its accuracy on the held-out corrections is not lower than the
    current model's on the same corrections by more than ``max_feedback_drop``."""

    max_macro_f1_drop: float = 0.01
    max_recall_drop: float = 0.05
    #: The allowed drop of accuracy on the held-out corrections (the share routed to the
    #: department the dispatcher gave). Accuracy, not macro-F1 or per-class recall: the
    #: held-out corrections are few, and most departments have one or two of them.
    max_feedback_drop: float = 0.01

    def check(
        self,
        current: Evaluation,
        candidate: Evaluation,
        *,
        current_feedback: Evaluation | None = None,
        candidate_feedback: Evaluation | None = None,
    ) -> GateDecision:
        """The decision on the usual evaluation rows and, when ``candidate_feedback`` is
        given, on the held-out corrections (``current_feedback``: the current model on the
        same corrections; without it the candidate cannot pass)."""
        failures, notes = self._usual(current, candidate)
        if candidate_feedback is not None or current_feedback is not None:
            self._corrections(current_feedback, candidate_feedback, failures, notes)
        if failures:
            return GateDecision(passed=False, reasons=tuple(failures))
        return GateDecision(passed=True, reasons=tuple(notes))

    def _corrections(
        self,
        current: Evaluation | None,
        candidate: Evaluation | None,
        failures: list[str],
        notes: list[str],
    ) -> None:
        if current is None or candidate is None:
            which = "current model" if current is None else "candidate"
            failures.append(
                f"the {which} was not measured on the held-out corrections; measure both "
                "models on the same corrections (review_candidate does)"
            )
            return
        if current.n != candidate.n:
            failures.append(
                f"the held-out corrections differ (n={current.n} vs n={candidate.n}); "
                "measure both models on the same corrections"
            )
        drop = current.accuracy - candidate.accuracy
        message = (
            f"held-out corrections (n={candidate.n}): accuracy {current.accuracy:.4f} -> "
            f"{candidate.accuracy:.4f} (allowed drop {self.max_feedback_drop:.4f})"
        )
        (failures if drop > self.max_feedback_drop + 1e-12 else notes).append(message)

    def _usual(self, current: Evaluation, candidate: Evaluation) -> tuple[list[str], list[str]]:
        """Failures and notes on the usual evaluation rows."""
        failures: list[str] = []
        notes: list[str] = []
        if current.n != candidate.n:
            failures.append(
                f"the evaluations cover different rows (n={current.n} vs n={candidate.n}); "
                "evaluate both models on the same held-out data"
            )
        drop = current.macro_f1 - candidate.macro_f1
        message = (
            f"macro-F1 {current.macro_f1:.4f} -> {candidate.macro_f1:.4f} "
            f"(allowed drop {self.max_macro_f1_drop:.4f})"
        )
        (failures if drop > self.max_macro_f1_drop + 1e-12 else notes).append(message)
        worst: tuple[float, str] | None = None
        for label, before in sorted(current.per_class.items()):
            if before.get("support", 0) <= 0:
                continue  # recall is undefined for a class with no rows
            after = candidate.per_class.get(label)
            if after is None:
                failures.append(f"class {label!r} is missing from the candidate's evaluation")
                continue
            recall_drop = before["recall"] - after["recall"]
            if recall_drop > self.max_recall_drop + 1e-12:
                failures.append(
                    f"recall of {label!r} {before['recall']:.3f} -> {after['recall']:.3f} "
                    f"(allowed drop {self.max_recall_drop:.3f})"
                )
            elif worst is None or recall_drop > worst[0]:
                worst = (recall_drop, label)
        if worst is not None and not failures:
            notes.append(
                f"largest recall drop {max(worst[0], 0.0):.3f} ({worst[1]}), "
                f"allowed {self.max_recall_drop:.3f}"
            )
        return failures, notes


@dataclass(frozen=True)
class CandidateReview:
    """A candidate beside the model in service: the gate's ``decision``, the comparison on
    the usual evaluation rows (``overall``) and on the held-out corrections (``feedback``;
    None when the candidate held none out)."""

    decision: GateDecision
    overall: Comparison
    feedback: Comparison | None
    current: Evaluation
    current_feedback: Evaluation | None


def review_candidate(
    current: RoutingModel, result: TrainResult, *, gate: PromotionGate | None = None
) -> CandidateReview:
    """Measure ``current`` (the model in service) on the rows the candidate of ``result``
    was measured on, its held-out corrections included, and apply ``gate`` (default
    :class:`PromotionGate`). The usual rows are the candidate's evaluation rows: when they
    were split off its training data, the model in service may have trained on some of them;
    give ``train`` an ``eval_frame`` it never saw for a fair comparison."""
    if result.held_out is None:
        raise DataError("this training result keeps no evaluation rows to measure another on")
    gate = gate or PromotionGate()
    evaluation = result.held_out.evaluate(current)
    feedback = None
    if result.feedback_held_out is not None:
        feedback = result.feedback_held_out.evaluate(current)
    decision = gate.check(
        evaluation,
        result.evaluation,
        current_feedback=feedback,
        candidate_feedback=result.feedback_evaluation,
    )
    return CandidateReview(
        decision=decision,
        overall=compare(evaluation, result.evaluation),
        feedback=(
            None
            if feedback is None or result.feedback_evaluation is None
            else compare(feedback, result.feedback_evaluation)
        ),
        current=evaluation,
        current_feedback=feedback,
    )


@dataclass(frozen=True)
class PromotionOutcome:
    """What :func:`promote` did: ``promoted`` and the active pointer afterwards."""

    promoted: bool
    message: str
    pointer: ActivePointer | None


def promote(
    registry: Registry, name: str, version: str, decision: GateDecision, *, confirm: bool
) -> PromotionOutcome:
    """Activate ``name@version`` through the registry only when the gate passed **and** an
    analyst confirmed; otherwise leave the model in service as it is and say why."""
    if not decision.passed:
        message = f"{name}@{version} not promoted: the gate failed ({'; '.join(decision.reasons)})"
        return PromotionOutcome(False, message, registry.active(name))
    if not confirm:
        message = (
            f"{name}@{version} passed the gate but was not promoted: "
            "set PROMOTE = True to activate it"
        )
        return PromotionOutcome(False, message, registry.active(name))
    pointer = registry.activate(name, version)
    logger.info("promoted %s@%s", name, version)
    return PromotionOutcome(True, f"{name}@{version} is now active", pointer)


def ensure_active_model(
    registry: Registry,
    name: str,
    frame: pd.DataFrame,
    config: TrainConfig | None = None,
    *,
    eval_frame: pd.DataFrame | None = None,
) -> RoutingModel:
    """The active model ``name``; when there is none, one trained on ``frame`` is saved and
    activated first (a baseline to compare against)."""
    if registry.active(name) is not None:
        return registry.load(name)
    config = config or TrainConfig()
    result = train(frame, config, eval_frame=eval_frame, name=name)
    registry.save(
        result.model,
        name=name,
        metrics=result.evaluation.to_dict(),
        data=result.data,
        config=config.to_dict(),
        activate=True,
    )
    logger.info("no active %r model: trained and activated %s", name, result.model.version)
    return result.model
