"""The out-of-scope rule (nlp.scope): content-free and foreign tickets go to a person with
their own reason; ordinary tickets do not; old registry versions without it still answer."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nlp.errors import DataError
from nlp.model import ReviewPolicy, RoutingModel
from nlp.registry import SCOPE_FILE, Registry
from nlp.scope import ScopeDetector, out_of_scope_rate
from nlp.text import normalise
from nlp.train import TrainConfig, build_pipeline, train
from tests.nlp.out_of_scope_texts import ALL_TEXTS, OUT_OF_SCOPE

ORDINARY = [
    "晚上工地还在施工，噪音太大睡不着",
    "小区楼下的烧烤摊天天占道经营，油烟太大了",
    "家里停水两天了，也没有通知",
    "孩子学校乱收补课费，每学期要交两千元",
    "路口红绿灯坏了，车辆乱成一团",
]


@pytest.mark.parametrize(
    "text",
    ["谢谢", "好", "asdfqwer", "我的 wifi 和 5G 信号都不好，移动公司不管", "哈哈哈哈哈哈"],
)
def test_content_free_and_foreign_tickets_are_out_of_scope(
    tiny_model: RoutingModel, text: str
) -> None:
    [answer] = tiny_model.classify([text])
    assert answer.needs_review
    assert "out_of_scope" in answer.review_codes
    assert answer.review_codes[-1] == "out_of_scope"  # the codes keep their order
    assert answer.review_reason is not None
    assert "out of scope" in answer.review_reason


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_tickets_are_in_scope(tiny_model: RoutingModel, text: str) -> None:
    [answer] = tiny_model.classify([text])
    assert "out_of_scope" not in answer.review_codes


def test_most_of_a_development_set_is_flagged(tiny_model: RoutingModel) -> None:
    """The texts written for development (not data/eval's): nearly all go to a person."""
    kinds = [kind for kind, texts in OUT_OF_SCOPE.items() for _ in texts]
    rate = out_of_scope_rate(tiny_model, ALL_TEXTS, kinds=kinds)
    assert rate.n == len(ALL_TEXTS)
    assert rate.out_of_scope >= 0.9
    assert rate.needs_review >= rate.out_of_scope
    assert set(rate.by_kind) == set(OUT_OF_SCOPE)
    assert rate.by_kind["gibberish"]["out_of_scope"] == 1.0
    assert sum(k["n"] for k in rate.by_kind.values()) == len(ALL_TEXTS)


def test_few_in_domain_tickets_are_flagged(
    tiny_model: RoutingModel, demo_frame: pd.DataFrame
) -> None:
    """The threshold comes from held-out training tickets: in-domain text is rarely flagged
    (these rows were seen in training, so the bound is loose)."""
    rate = out_of_scope_rate(tiny_model, demo_frame["text"].head(400).tolist())
    assert rate.out_of_scope <= 0.03


def test_policy_can_turn_the_rule_off(tiny_model: RoutingModel) -> None:
    off = ReviewPolicy(min_confidence=0.0, min_margin=0.0, out_of_scope=False)
    [answer] = tiny_model.classify(["谢谢"], policy=off)
    assert answer.review_codes == []
    assert not answer.needs_review
    [answer] = tiny_model.classify(["谢谢"], policy=replace(off, out_of_scope=True))
    assert answer.review_codes == ["out_of_scope"]
    assert answer.needs_review


def test_the_rule_does_not_change_the_probabilities(tiny_model: RoutingModel) -> None:
    texts = [*ORDINARY, "谢谢", "好"]
    with_rule = tiny_model.rank(texts)
    without = tiny_model.rank(texts, policy=ReviewPolicy(out_of_scope=False))
    np.testing.assert_array_equal(with_rule.scores, without.scores)
    np.testing.assert_allclose(
        with_rule.scores[:, 0], tiny_model.predict_proba(texts).max(axis=1), rtol=1e-12
    )


def test_a_chunk_and_one_ticket_agree(tiny_model: RoutingModel) -> None:
    texts = [*ORDINARY, *ALL_TEXTS[:20]]
    chunk = [a.review_codes for a in tiny_model.classify(texts)]
    alone = [tiny_model.classify([t])[0].review_codes for t in texts]
    assert chunk == alone


def test_registry_keeps_the_rule(models_dir: Path, tiny_model: RoutingModel) -> None:
    loaded = Registry(models_dir).load("default")
    assert loaded.scope is not None
    assert SCOPE_FILE in loaded.manifest["files"]
    assert [a.review_codes for a in loaded.classify(["谢谢", ORDINARY[0]])] == [
        a.review_codes for a in tiny_model.classify(["谢谢", ORDINARY[0]])
    ]


def test_a_version_saved_without_the_rule_loads_and_never_flags_it(
    registry_copy: Registry, tiny_model: RoutingModel
) -> None:
    """Versions saved before the rule have no scope file: they load and answer as before."""
    old = RoutingModel(tiny_model.pipeline)
    version = registry_copy.save(old, name="default")
    folder = registry_copy.root / "default" / version
    assert not (folder / SCOPE_FILE).exists()
    assert SCOPE_FILE not in json.loads((folder / "manifest.json").read_text())["files"]
    loaded = registry_copy.load("default", version)
    assert loaded.scope is None
    [answer] = loaded.classify(["谢谢"])
    assert "out_of_scope" not in answer.review_codes


def test_a_scope_file_not_in_the_manifest_is_ignored(
    registry_copy: Registry, tiny_model: RoutingModel
) -> None:
    """Only files the manifest lists (and hashes) are unpickled."""
    version = registry_copy.save(RoutingModel(tiny_model.pipeline), name="default")
    folder = registry_copy.root / "default" / version
    shutil.copyfile(registry_copy.root / "default" / "v1" / SCOPE_FILE, folder / SCOPE_FILE)
    assert registry_copy.load("default", version).scope is None


def test_a_detector_for_other_features_is_refused(tiny_model: RoutingModel) -> None:
    assert tiny_model.scope is not None
    wrong = ScopeDetector()
    wrong.__dict__.update(tiny_model.scope.__dict__, n_features_=3)
    with pytest.raises(DataError, match="not trained together"):
        RoutingModel(tiny_model.pipeline, scope=wrong)


def test_training_options(demo_frame: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="out_of_scope_rate"):
        TrainConfig(out_of_scope_rate=1.5)
    small = demo_frame.groupby("label").head(12)
    model = train(small, TrainConfig(out_of_scope_rate=None, calibration_folds=2)).model
    assert model.scope is None
    assert "out_of_scope" not in model.classify(["谢谢"])[0].review_codes


def test_out_of_scope_rate_checks_its_input(tiny_model: RoutingModel) -> None:
    with pytest.raises(DataError, match="no texts"):
        out_of_scope_rate(tiny_model, [])
    with pytest.raises(DataError, match="one kind per text"):
        out_of_scope_rate(tiny_model, ["谢谢"], kinds=["thanks", "greeting"])


def test_compiled_scores_follow_their_definition(tiny_model: RoutingModel) -> None:
    """score = sum of log tail probabilities + the smallest once more (numpy's searchsorted
    as the reference); signals = highest logit, highest similarity, known share."""
    detector = tiny_model.scope
    assert detector is not None
    rng = np.random.default_rng(0)
    logits, similarities = rng.normal(size=(50, 4)), rng.random((50, 4))
    known = np.column_stack([rng.random(50), rng.random(50) + 1.0])
    known[0] = 0.0  # no n-gram at all: no known content
    signals = detector.signals(logits, similarities, known)
    np.testing.assert_array_equal(signals[:, 0], logits.max(axis=1))
    np.testing.assert_array_equal(signals[:, 1], similarities.max(axis=1))
    assert signals[0, 2] == 0.0
    np.testing.assert_allclose(signals[1:, 2], known[1:, 0] / known[1:, 1])
    reference = detector.reference_
    n = reference.shape[1]
    logs = np.column_stack(
        [np.log((np.searchsorted(r, signals[:, j], side="right") + 1) / (n + 1))
         for j, r in enumerate(reference)]
    )  # fmt: skip
    np.testing.assert_allclose(detector.score(signals), logs.sum(axis=1) + logs.min(axis=1))


def test_known_share_of_a_ticket(tiny_model: RoutingModel) -> None:
    """All known n-grams: share 1; text the vocabulary never saw: share 0."""
    known = np.zeros((3, 2))
    tiny_model.vectorizer.add_known_share(["噪音", "ꙮꙮꙮ", "噪音ꙮꙮꙮ"], known)
    share = known[:, 0] / known[:, 1]
    assert share[0] == pytest.approx(1.0)
    assert share[1] == 0.0
    assert 0.0 < share[2] < 1.0


def test_scoring_pass_and_training_agree_on_known_content(tiny_model: RoutingModel) -> None:
    """The serving pass (fused with scoring) and the training folds' method give the same
    known-content sums, and the scores beside them are the classifier's own."""
    texts = [normalise(t) for t in [*ORDINARY, "谢谢", "ꙮꙮꙮ"]]
    vectorizer, weights = tiny_model.vectorizer, tiny_model.pipeline[-1].weights_
    alone = np.zeros((len(texts), 2))
    vectorizer.add_known_share(texts, alone)
    fused, plain = np.zeros((len(texts), 2)), np.zeros((len(texts), weights.shape[1]))
    scores = np.zeros_like(plain)
    vectorizer.add_scores(texts, weights, scores, known=fused)
    vectorizer.add_scores(texts, weights, plain)
    np.testing.assert_allclose(fused, alone, rtol=1e-12)
    np.testing.assert_allclose(scores, plain, rtol=1e-12)


def test_the_rule_reuses_the_classifiers_folds_and_matches_refitting_them(
    demo_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Training fits the learner once per calibration fold and once on every row, and no
    more: the rule takes the calibration's held-out logits, and is the same rule as one that
    fits the folds again."""
    from nlp.classifier import CalibratedLinearSVC

    small = demo_frame.groupby("label").head(15)
    fits = []
    fit_linear = CalibratedLinearSVC._fit_linear

    def counted(self: CalibratedLinearSVC, *args: object, **kwargs: object) -> object:
        fits.append(1)
        return fit_linear(self, *args, **kwargs)

    monkeypatch.setattr(CalibratedLinearSVC, "_fit_linear", counted)
    config = TrainConfig(calibration_folds=3)
    model = train(small, config, eval_frame=small.head(5)).model
    assert len(fits) == 3 + 1
    assert model.scope is not None

    documents = (small["title"] + "。" + small["text"]).tolist()
    labels = small["label"].tolist()
    pipeline = build_pipeline(config).fit(documents, labels)
    documents = pipeline.named_steps["normalise"].transform(documents)
    classify = pipeline.named_steps["classify"]
    parts = {
        "vectorizer": pipeline.named_steps["vectorise"],
        "classifier": classify,
        "policy": ReviewPolicy(),
    }
    refitted = ScopeDetector(rate=0.03, folds=3).fit(documents, labels, **parts)
    reused = ScopeDetector(rate=0.03, folds=3).fit(
        documents, labels, **parts, held_out=classify.held_out_
    )
    assert reused.threshold_ == refitted.threshold_
    np.testing.assert_array_equal(reused.reference_, refitted.reference_)
    with pytest.raises(DataError, match="held-out logits are for"):
        ScopeDetector(folds=3).fit(
            documents[:-1], labels[:-1], **parts, held_out=classify.held_out_
        )
