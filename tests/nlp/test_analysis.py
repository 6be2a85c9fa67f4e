"""nlp.analysis and nlp.analysis_plots: what the analysts' notebooks call."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nlp import (
    Evaluation,
    GateDecision,
    PromotionGate,
    Registry,
    ReviewPolicy,
    RoutingModel,
    Scored,
    TrainConfig,
    calibration_curve,
    class_balance,
    compare,
    distinctive_terms,
    ensure_active_model,
    evaluate_probabilities,
    export_review_queue,
    find_duplicates,
    highlight_terms,
    length_stats,
    personal_data_counts,
    probable_label_errors,
    promote,
    review_html,
    review_queue,
    sample_frame,
    score,
    split_by_column,
)
from nlp import analysis_plots as plots
from nlp.errors import DataError

PHONE = "13812345678"


# --------------------------------------------------------------------------- datasets
def _frame(counts: dict[str, int]) -> pd.DataFrame:
    labels = [label for label, n in counts.items() for _ in range(n)]
    return pd.DataFrame({"text": [f"工单{i}" for i in range(len(labels))], "label": labels})


@pytest.mark.parametrize(
    ("n", "label_col", "expected"),
    [
        pytest.param(None, "label", {"a": 60, "b": 30, "c": 10}, id="none-keeps-all"),
        pytest.param(500, "label", {"a": 60, "b": 30, "c": 10}, id="larger-keeps-all"),
        pytest.param(50, "label", {"a": 30, "b": 15, "c": 5}, id="stratified-half"),
        pytest.param(10, "label", {"a": 6, "b": 3, "c": 1}, id="stratified-tenth"),
    ],
)
def test_sample_frame_keeps_class_shares(
    n: int | None, label_col: str, expected: dict[str, int]
) -> None:
    frame = _frame({"a": 60, "b": 30, "c": 10})
    sample = sample_frame(frame, n, label_col=label_col)
    assert sample["label"].value_counts().to_dict() == expected
    assert sample.index.is_monotonic_increasing  # original order
    assert sample.equals(sample_frame(frame, n, label_col=label_col))  # same seed, same rows


def test_sample_frame_without_labels_and_bad_size() -> None:
    frame = _frame({"a": 60, "b": 40})
    assert len(sample_frame(frame, 25)) == 25
    with pytest.raises(ValueError, match="positive"):
        sample_frame(frame, 0)


@pytest.mark.parametrize(
    ("split", "expected_train", "expected_held_out"),
    [
        pytest.param(["train", "dev", "dev "], [0], [1, 2], id="strips-spaces"),
        pytest.param(["train", None, "dev"], [0, 1], [2], id="missing-is-training"),
        pytest.param([np.nan, "dev", "x"], [0, 2], [1], id="nan-is-training"),
    ],
)
def test_split_by_column(
    split: list[Any], expected_train: list[int], expected_held_out: list[int]
) -> None:
    frame = pd.DataFrame({"text": ["一", "二", "三"], "split": split})
    train_rows, held_out = split_by_column(frame, "split", "dev")
    assert (list(train_rows.index), list(held_out.index)) == (expected_train, expected_held_out)


@pytest.mark.parametrize(
    ("column", "message"),
    [
        pytest.param("fold", "split column 'fold' not found", id="missing-column"),
        pytest.param("split", "no rows have split == 'dev'", id="nothing-held-out"),
    ],
)
def test_split_by_column_rejects(column: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        split_by_column(pd.DataFrame({"split": ["train"]}), column, "dev")


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        pytest.param(["a", "b", "a", "a"], [("a", 3, 0.75), ("b", 1, 0.25)], id="largest-first"),
        pytest.param(["交通"], [("交通", 1, 1.0)], id="one-class"),
        pytest.param([], [], id="empty"),
    ],
)
def test_class_balance(labels: list[str], expected: list[tuple[str, int, float]]) -> None:
    balance = class_balance(labels)
    assert list(balance.columns) == ["label", "tickets", "share"]
    assert list(balance.itertuples(index=False, name=None)) == expected


@pytest.mark.parametrize(
    ("documents", "labels", "expected"),
    [
        pytest.param(
            ["一二", "一二三四"],
            None,
            [("(all)", 2, 3.0, 3.0, 4)],
            id="overall-only",
        ),
        pytest.param(
            ["一", "一二三", "一二三四五"],
            ["b", "a", "a"],
            [("(all)", 3, 3.0, 3.0, 5), ("a", 2, 4.0, 4.0, 5), ("b", 1, 1.0, 1.0, 1)],
            id="per-class",
        ),
    ],
)
def test_length_stats(
    documents: list[str], labels: list[str] | None, expected: list[tuple[Any, ...]]
) -> None:
    stats = length_stats(documents, labels)
    got = [tuple(row) for row in stats[["label", "tickets", "mean", "median", "max"]].to_numpy()]
    assert got == expected


def test_length_stats_rejects_misaligned_labels() -> None:
    with pytest.raises(ValueError, match="2 documents but 1 labels"):
        length_stats(["一", "二"], ["a"])


_TERM_DOCS = [
    ("小区楼下烧烤摊占道经营，油烟太大，您好", "城管"),
    ("烧烤油烟扰民，晚上十二点还在营业，您好", "城管"),
    ("夜市烧烤占道经营，油烟很大，您好", "城管"),
    ("我家停水三天了，水管爆裂没人修，您好", "水务"),
    ("小区停水也不通知，水压太低，您好", "水务"),
    ("整栋楼停水，自来水公司电话打不通，您好", "水务"),
]


@pytest.mark.parametrize(
    ("label", "expected", "absent"),
    [
        pytest.param("城管", {"烧烤", "油烟"}, {"停水", "您好"}, id="city-management"),
        pytest.param("水务", {"停水"}, {"烧烤", "您好"}, id="water"),
    ],
)
def test_distinctive_terms_are_over_represented_words(
    label: str, expected: set[str], absent: set[str]
) -> None:
    documents, labels = zip(*_TERM_DOCS, strict=True)
    terms = distinctive_terms(list(documents), list(labels), n=5, min_df=2)
    mine = terms[terms["label"] == label]
    assert expected <= set(mine["term"])
    assert not absent & set(mine["term"])
    assert list(mine["rank"]) == list(range(1, len(mine) + 1))
    assert (mine["in_class"] > mine["elsewhere"]).all()
    assert mine["chi2"].is_monotonic_decreasing


def test_distinctive_terms_rejects_misaligned_labels() -> None:
    with pytest.raises(ValueError, match="labels"):
        distinctive_terms(["一", "二"], ["a"])


_LONG = (
    "小区门口的垃圾站已经一个星期没有清运了，夏天气温高，臭味很大，"
    "蚊蝇滋生，居民出行都要捂着鼻子，请环卫部门尽快处理"
)


@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        pytest.param(
            [_LONG, "完全不同的事情：路灯坏了", _LONG.replace("，", ",") + "  "],
            [(0, 2, "exact")],
            id="exact-after-normalising",
        ),
        pytest.param(
            [_LONG, "完全不同的事情：路灯坏了", _LONG.replace("一个星期", "两个星期")],
            [(0, 2, "near")],
            id="near",
        ),
        pytest.param([_LONG, _LONG, _LONG], [(0, 1, "exact"), (0, 2, "exact")], id="group-of-3"),
        pytest.param(["路灯坏了三天", "学校乱收费", "医保报销难"], [], id="none"),
        pytest.param([_LONG], [], id="single"),
    ],
)
def test_find_duplicates(documents: list[str], expected: list[tuple[int, int, str]]) -> None:
    pairs = find_duplicates(documents, threshold=0.8)
    assert sorted(pairs[["first", "second", "kind"]].itertuples(index=False, name=None)) == expected


def test_find_duplicates_names_ids_labels_and_masks_previews() -> None:
    documents = [f"{_LONG}，电话{PHONE}", f"{_LONG}，电话{PHONE}。"]
    pairs = find_duplicates(documents, ids=["t1", "t2"], labels=["环境", "城管"])
    row = pairs.iloc[0]
    assert (row["first"], row["second"], row["same_label"]) == ("t1", "t2", False)
    assert (row["label_first"], row["label_second"]) == ("环境", "城管")
    assert PHONE not in row["text_first"] + row["text_second"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"max_documents": 2}, "max_documents=2", id="bounded-cost"),
        pytest.param({"threshold": 0.0}, "threshold", id="bad-threshold"),
        pytest.param({"ids": ["only-one"]}, "one entry per document", id="misaligned-ids"),
    ],
)
def test_find_duplicates_rejects(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        find_duplicates(["一", "二", "三"], **kwargs)


@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        pytest.param(
            [f"电话{PHONE}，再打{PHONE}", "没有个人信息"],
            {"PHONE": (2, 1)},
            id="two-phones-one-ticket",
        ),
        pytest.param(
            ["联系人：王小明，邮箱 wang@example.com", f"身份证110101199003071234 {PHONE}"],
            {"NAME": (1, 1), "EMAIL": (1, 1), "IDCARD": (1, 1), "PHONE": (1, 1)},
            id="kinds",
        ),
        pytest.param(["路灯坏了"], {}, id="none"),
    ],
)
def test_personal_data_counts(documents: list[str], expected: dict[str, tuple[int, int]]) -> None:
    counts = personal_data_counts(documents).set_index("kind")
    assert list(counts.index) == ["PHONE", "IDCARD", "EMAIL", "BANKCARD", "PLATE", "NAME"]
    for kind, row in counts.iterrows():
        assert (row["items"], row["tickets"]) == expected.get(str(kind), (0, 0))
        assert row["share"] == pytest.approx(expected.get(str(kind), (0, 0))[1] / len(documents))


# --------------------------------------------------------------------------- models
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


def test_ensure_active_model_trains_once(tmp_path: Path, demo_frame: pd.DataFrame) -> None:
    registry = Registry(tmp_path / "models")
    model = ensure_active_model(registry, "baseline", demo_frame, TrainConfig(calibration_folds=2))
    assert model.version == "v1"
    assert registry.active("baseline") is not None
    again = ensure_active_model(registry, "baseline", demo_frame.iloc[0:0])  # no training
    assert again.version == "v1"
    assert [v["version"] for v in registry.versions("baseline")] == ["v1"]
    assert registry.manifest("baseline", "v1")["metrics"]["macro_f1"] > 0.5


def test_ensure_active_model_loads_the_active_one(registry_copy: Registry) -> None:
    model = ensure_active_model(registry_copy, "default", pd.DataFrame())
    assert (model.name, model.version) == ("default", "v1")


# --------------------------------------------------------------------------- review
@pytest.fixture(scope="module")
def flipped(demo_frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The demo data with six labels swapped for another department's."""
    frame = demo_frame.copy()
    labels = sorted(frame["label"].unique())
    chosen = frame.groupby("label").head(1).index[:6]
    for row in chosen:
        given = frame.at[row, "label"]
        frame.at[row, "label"] = labels[(labels.index(given) + 5) % len(labels)]
    return frame, list(frame.loc[chosen, "id"])


def test_probable_label_errors_finds_flipped_labels(
    flipped: tuple[pd.DataFrame, list[str]],
) -> None:
    frame, flipped_ids = flipped
    documents = [
        f"{title}\n{text}".strip()
        for title, text in zip(frame["title"], frame["text"], strict=True)
    ]
    errors = probable_label_errors(
        documents, list(frame["label"]), ids=list(frame["id"]), min_confidence=0.3
    )
    assert list(errors.columns) == [
        "id",
        "given",
        "predicted",
        "confidence",
        "given_probability",
        "text",
    ]
    assert len(set(flipped_ids) & set(errors["id"])) >= 4
    assert (errors["predicted"] != errors["given"]).all()
    assert (errors["confidence"] >= 0.3).all()
    assert errors["confidence"].is_monotonic_decreasing


def test_probable_label_errors_needs_rows_per_fold() -> None:
    with pytest.raises(DataError, match="too few: b \\(1\\)"):
        probable_label_errors(["一", "二", "三", "四"], ["a", "a", "a", "b"], folds=3)


def test_review_queue_lists_wrong_and_unsure_tickets_masked(
    tiny_model: RoutingModel, flipped: tuple[pd.DataFrame, list[str]]
) -> None:
    frame, flipped_ids = flipped
    frame = frame.copy()
    target = frame.index[frame["id"] == flipped_ids[0]][0]
    frame.at[target, "text"] = f"{frame.at[target, 'text']} 联系电话{PHONE}"
    queue = review_queue(tiny_model, frame, id_col="id", explain=4)
    assert list(queue.columns) == [
        "id", "reason", "given", "predicted", "confidence", "runner_up", "review_reason",
        "terms", "text",
    ]  # fmt: skip
    wrong = queue[queue["reason"].str.startswith("wrong")]
    assert set(flipped_ids) <= set(wrong["id"])
    assert (wrong["given"] != wrong["predicted"]).all()
    assert queue["reason"].str.startswith("wrong").is_monotonic_decreasing  # wrong first
    assert not queue["text"].str.contains(PHONE).any()
    assert queue.set_index("id").loc[flipped_ids[0], "text"].endswith("<PHONE>")
    assert all(1 <= len(terms) <= 4 for terms in wrong["terms"])


@pytest.mark.parametrize(
    ("policy", "label_col", "expected_reasons"),
    [
        pytest.param(ReviewPolicy(min_confidence=1.01), None, {"unsure"}, id="all-unsure"),
        pytest.param(ReviewPolicy(min_confidence=0.0, min_margin=0.0), None, set(), id="none"),
        pytest.param(
            ReviewPolicy(min_confidence=0.0, min_margin=0.0), "label", {"wrong"}, id="wrong-only"
        ),
    ],
)
def test_review_queue_follows_policy(
    tiny_model: RoutingModel,
    flipped: tuple[pd.DataFrame, list[str]],
    policy: ReviewPolicy,
    label_col: str | None,
    expected_reasons: set[str],
) -> None:
    frame = flipped[0].head(40)
    queue = review_queue(tiny_model, frame, label_col=label_col, policy=policy, limit=30)
    assert set(queue["reason"]) == expected_reasons
    assert len(queue) <= 30
    if expected_reasons == {"unsure"}:
        assert len(queue) == 30
        assert queue["review_reason"].str.startswith("confidence").all()


def test_review_queue_skips_rows_without_text(tiny_model: RoutingModel) -> None:
    frame = pd.DataFrame({"text": ["", "小区停水三天了"], "label": ["水务", "燃气"]})
    queue = review_queue(tiny_model, frame, title_col=None)
    assert list(queue["id"]) == [1]


@pytest.mark.parametrize(
    ("text", "terms", "expected"),
    [
        pytest.param("烧烤油烟", ["油烟"], "烧烤<mark>油烟</mark>", id="one"),
        pytest.param("占道经营占道", ["占道", "占道经营"], "<mark>占道经营</mark><mark>占道</mark>",
                     id="longest-first"),
        pytest.param("<PHONE>噪音", ["噪音"], "&lt;PHONE&gt;<mark>噪音</mark>", id="escaped"),
        pytest.param("a<b", ["<"], "a<mark>&lt;</mark>b", id="escaped-term"),
        pytest.param("没有", [], "没有", id="no-terms"),
        pytest.param("没有", [""], "没有", id="empty-term"),
    ],
)  # fmt: skip
def test_highlight_terms(text: str, terms: list[str], expected: str) -> None:
    assert highlight_terms(text, terms) == expected


def _queue() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["t1"],
            "reason": ["wrong"],
            "given": ["水务"],
            "predicted": ["燃气"],
            "confidence": [0.61],
            "runner_up": ["水务"],
            "review_reason": [None],
            "terms": [["燃气", "漏气"]],
            "text": [f"燃气漏气了<script>，联系人：王小明 电话{PHONE}"],
        }
    )


def test_review_html_marks_terms_and_escapes() -> None:
    page = review_html(_queue())
    assert "<mark>燃气</mark><mark>漏气</mark>" in page
    assert "&lt;script&gt;" in page
    assert "<script>" not in page
    assert "燃气 (0.61)" in page


def test_export_review_queue_masks_every_text_cell(tmp_path: Path) -> None:
    path = export_review_queue(_queue(), tmp_path / "out" / "queue.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
    written = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert PHONE not in raw.decode("utf-8-sig")
    assert "王小明" not in raw.decode("utf-8-sig")
    assert written.loc[0, "terms"] == "燃气 / 漏气"
    assert written.loc[0, "text"].endswith("联系人:<NAME> 电话<PHONE>")


def test_export_masks_traditional_personal_data_in_any_column(tmp_path: Path) -> None:
    """A caller's extra column in traditional characters is masked like normalised text."""
    queue = _queue().assign(note=["聯繫人：張大明，車牌粵B12345"])
    written = export_review_queue(queue, tmp_path / "queue.csv").read_text(encoding="utf-8-sig")
    assert "張大明" not in written
    assert "张大明" not in written
    assert "B12345" not in written
    assert "<NAME>" in written
    assert "<PLATE>" in written


# --------------------------------------------------------------------------- plots
def _evaluations() -> dict[str, Evaluation]:
    truth = ["交通运输", "城乡建设", "交通运输", "卫生计生"]
    labels = ["交通运输", "卫生计生", "城乡建设"]
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.3, 0.1, 0.6], [0.2, 0.5, 0.3]])
    current = evaluate_probabilities(probabilities, labels, truth)
    candidate = evaluate_probabilities(probabilities[[0, 1, 0, 3]], labels, truth)
    return {"现 current": current, "新 candidate": candidate}


def _chinese_scored() -> Scored:
    return Scored(
        documents=["一", "二", "三"],
        truth=["交通运输", "城乡建设", "城乡建设"],
        labels=["交通运输", "城乡建设"],
        probabilities=np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]),
    )


_PLOTS: list[tuple[str, Callable[[], Any]]] = [
    ("class-balance", lambda: plots.plot_class_balance(class_balance(["交通运输", "城乡建设"]))),
    ("length-histogram", lambda: plots.plot_length_histogram(["路灯坏了", "小区停水三天了" * 20])),
    ("distinctive-terms", lambda: plots.plot_distinctive_terms(pd.DataFrame(
        {"label": ["交通运输", "城乡建设"], "rank": [1, 1], "term": ["出租车", "开发商"],
         "chi2": [4.0, 3.0], "in_class": [0.5, 0.5], "elsewhere": [0.0, 0.0]}))),
    ("personal-data", lambda: plots.plot_personal_data(personal_data_counts([f"电话{PHONE}"]))),
    ("f1-deltas", lambda: plots.plot_f1_deltas(compare(*_evaluations().values()))),
    ("confusions", lambda: plots.plot_confusions(_evaluations())),
    ("calibration", lambda: plots.plot_calibration(
        {"现 current": calibration_curve(_chinese_scored(), bins=5)})),
    ("confidence", lambda: plots.plot_confidence(_chinese_scored())),
]  # fmt: skip


@pytest.mark.parametrize("draw", [p[1] for p in _PLOTS], ids=[p[0] for p in _PLOTS])
def test_plots_render_chinese_without_missing_glyphs(
    draw: Callable[[], Any], tmp_path: Path
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure = draw()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    glyph_warnings = [
        str(w.message)
        for w in caught
        if "missing from font" in str(w.message) or "Glyph" in str(w.message)
    ]
    assert glyph_warnings == []
    assert buffer.getvalue().startswith(b"\x89PNG")
    texts = [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in texts)


def test_plot_saves_png(tmp_path: Path) -> None:
    path = tmp_path / "figures" / "balance.png"
    plots.plot_class_balance(class_balance(["交通运输"]), path)
    assert path.read_bytes().startswith(b"\x89PNG")
