"""nlp.promotion: compare two evaluations, gate the candidate, promote it through the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nlp.evaluate import Evaluation, evaluate_probabilities
from nlp.promotion import GateDecision, PromotionGate, compare, ensure_active_model, promote
from nlp.registry import Registry
from nlp.train import TrainConfig


def _evaluation(macro_f1: float, recall: dict[str, float], n: int = 100) -> Evaluation:
    per_class = {
        label: {"precision": r, "recall": r, "f1": r, "support": 10 if label != "empty" else 0}
        for label, r in recall.items()
    }
    return Evaluation(
        n=n,
        accuracy=macro_f1,
        macro_f1=macro_f1,
        top2_accuracy=1.0,
        ece=0.05,
        per_class=per_class,
        labels=sorted(recall),
        confusion=[],
    )


def test_compare_per_class_deltas() -> None:
    truth = ["a", "a", "b", "b"]
    current = evaluate_probabilities(
        np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.4, 0.6]]), ["a", "b"], truth
    )
    candidate = evaluate_probabilities(
        np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]]), ["a", "b"], truth
    )
    comparison = compare(current, candidate)
    assert comparison.overall.loc["accuracy"].tolist() == pytest.approx([0.75, 1.0, 0.25])
    rows = comparison.per_class.set_index("label")
    assert rows.loc["a", "recall_delta"] == pytest.approx(0.5)
    assert rows.loc["b", "precision_delta"] == pytest.approx(1 / 3)
    assert rows.loc["b", "support"] == 2
    assert comparison.per_class["f1_delta"].is_monotonic_increasing  # worst change first


def test_compare_counts_a_missing_class_as_zero() -> None:
    comparison = compare(_evaluation(0.9, {"a": 0.9, "b": 0.8}), _evaluation(0.9, {"a": 0.9}))
    row = comparison.per_class.set_index("label").loc["b"]
    assert (row["f1_candidate"], row["f1_delta"]) == (0.0, pytest.approx(-0.8))


_BASE = {"a": 0.90, "b": 0.80, "c": 0.70}


@pytest.mark.parametrize(
    ("gate", "candidate", "passed", "reason"),
    [
        pytest.param(PromotionGate(), _evaluation(0.85, _BASE), True, "macro-F1", id="same"),
        pytest.param(
            PromotionGate(), _evaluation(0.845, _BASE), True, "allowed drop", id="f1-drop-within"
        ),
        pytest.param(
            PromotionGate(), _evaluation(0.83, _BASE), False, "macro-F1 0.8500 -> 0.8300",
            id="f1-drop-too-large",
        ),
        pytest.param(
            PromotionGate(), _evaluation(0.86, {**_BASE, "b": 0.76}), True, "largest recall drop",
            id="recall-drop-within",
        ),
        pytest.param(
            PromotionGate(), _evaluation(0.86, {**_BASE, "b": 0.70}), False, "recall of 'b'",
            id="recall-drop-too-large",
        ),
        pytest.param(
            PromotionGate(max_recall_drop=0.2), _evaluation(0.86, {**_BASE, "b": 0.70}), True,
            "allowed 0.200", id="configurable-recall",
        ),
        pytest.param(
            PromotionGate(max_macro_f1_drop=0.0), _evaluation(0.849, _BASE), False, "macro-F1",
            id="configurable-f1",
        ),
        pytest.param(
            PromotionGate(), _evaluation(0.86, {"a": 0.9, "b": 0.8}), False, "'c' is missing",
            id="class-missing",
        ),
        pytest.param(
            PromotionGate(), _evaluation(0.86, _BASE, n=90), False, "different rows",
            id="different-rows",
        ),
    ],
)  # fmt: skip
def test_promotion_gate(
    gate: PromotionGate, candidate: Evaluation, passed: bool, reason: str
) -> None:
    decision = gate.check(_evaluation(0.85, _BASE), candidate)
    assert decision.passed is passed
    assert any(reason in r for r in decision.reasons), decision.reasons
    assert str(decision).startswith(f"promotion gate: {'PASS' if passed else 'FAIL'}")


def test_promotion_gate_ignores_classes_without_rows() -> None:
    current = _evaluation(0.85, {**_BASE, "empty": 0.0})
    candidate = _evaluation(0.85, _BASE)
    assert PromotionGate().check(current, candidate).passed


@pytest.mark.parametrize(
    ("passed", "confirm", "promoted", "message"),
    [
        pytest.param(True, True, True, "is now active", id="pass-and-confirmed"),
        pytest.param(True, False, False, "set PROMOTE = True", id="pass-not-confirmed"),
        pytest.param(False, True, False, "the gate failed", id="fail-confirmed"),
        pytest.param(False, False, False, "the gate failed", id="fail-not-confirmed"),
    ],
)
def test_promote_only_when_gate_passes_and_confirmed(
    registry_copy: Registry, passed: bool, confirm: bool, promoted: bool, message: str
) -> None:
    candidate = registry_copy.load("default")  # a private copy: saving renames the object
    version = registry_copy.save(candidate, name="default")
    assert version == "v2"
    decision = GateDecision(passed=passed, reasons=("macro-F1 worse",))
    outcome = promote(registry_copy, "default", version, decision, confirm=confirm)
    assert outcome.promoted is promoted
    assert message in outcome.message
    active = registry_copy.active("default")
    assert active is not None
    assert active.version == ("v2" if promoted else "v1")
    assert outcome.pointer == active


def test_ensure_active_model_trains_once(tmp_path: Path, demo_sample: pd.DataFrame) -> None:
    registry = Registry(tmp_path / "models")
    config = TrainConfig(calibration_folds=2)
    model = ensure_active_model(registry, "baseline", demo_sample, config)
    assert model.version == "v1"
    assert registry.active("baseline") is not None
    again = ensure_active_model(registry, "baseline", demo_sample.iloc[0:0])  # no training
    assert again.version == "v1"
    assert [v["version"] for v in registry.versions("baseline")] == ["v1"]
    assert registry.manifest("baseline", "v1")["metrics"]["macro_f1"] > 0.5


def test_ensure_active_model_loads_the_active_one(registry_copy: Registry) -> None:
    model = ensure_active_model(registry_copy, "default", pd.DataFrame())
    assert (model.name, model.version) == ("default", "v1")


# --------------------------------------------------------------------------- corrections


def _on_corrections(accuracy: float, n: int = 20) -> Evaluation:
    evaluation = _evaluation(accuracy, {"a": accuracy}, n=n)
    evaluation.accuracy = accuracy
    return evaluation


@pytest.mark.parametrize(
    ("current", "candidate", "passed"),
    [
        pytest.param(0.50, 0.80, True, id="better"),
        pytest.param(0.80, 0.795, True, id="within-tolerance"),
        pytest.param(0.80, 0.70, False, id="worse"),
    ],
)
def test_the_gate_compares_on_the_held_out_corrections(
    current: float, candidate: float, passed: bool
) -> None:
    usual = _evaluation(0.90, {"a": 0.9, "b": 0.9})
    decision = PromotionGate().check(
        usual,
        usual,
        current_feedback=_on_corrections(current),
        candidate_feedback=_on_corrections(candidate),
    )
    assert decision.passed is passed
    [reason] = [r for r in decision.reasons if "held-out corrections" in r]
    assert f"accuracy {current:.4f} -> {candidate:.4f}" in reason
    if not passed:
        assert decision.reasons == (reason,)  # the usual rows passed: the corrections refused


def test_the_gate_without_corrections_is_unchanged() -> None:
    usual = _evaluation(0.90, {"a": 0.9, "b": 0.8})
    decision = PromotionGate().check(usual, usual)
    assert decision.passed
    assert not any("corrections" in r for r in decision.reasons)


@pytest.mark.parametrize("missing", ["current", "candidate"])
def test_the_gate_needs_both_models_on_the_corrections(missing: str) -> None:
    usual = _evaluation(0.90, {"a": 0.9})
    measured = _on_corrections(0.9)
    decision = PromotionGate().check(
        usual,
        usual,
        current_feedback=None if missing == "current" else measured,
        candidate_feedback=None if missing == "candidate" else measured,
    )
    assert not decision.passed
    assert decision.reasons[0].startswith(f"the {missing}")
    assert "held-out corrections" in decision.reasons[0]


def test_review_candidate_measures_the_current_model_on_the_candidates_rows(
    demo_frame: pd.DataFrame, tiny_model
) -> None:
    from nlp.promotion import review_candidate
    from nlp.train import train

    base = demo_frame.groupby("label").head(30)
    rows = demo_frame.groupby("label").nth(list(range(30, 40)))
    corrections = rows[["id", "text", "title", "label"]]
    result = train(base, TrainConfig(calibration_folds=3), feedback=corrections)
    review = review_candidate(tiny_model, result)
    assert result.held_out is not None
    assert result.feedback_held_out is not None
    assert review.current.to_dict() == result.held_out.evaluate(tiny_model).to_dict()
    assert review.current_feedback is not None
    assert result.feedback_evaluation is not None
    assert review.current_feedback.n == result.feedback_evaluation.n > 0
    assert review.feedback is not None
    on_corrections = review.feedback.overall
    assert on_corrections.at["accuracy", "candidate"] == result.feedback_evaluation.accuracy
    assert any("held-out corrections" in r for r in review.decision.reasons)
