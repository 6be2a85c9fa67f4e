"""nlp.train with dispatchers' corrections: weighted extra rows, a held-out part chosen by
ticket id, new departments only with enough examples, and what the manifest records."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from nlp.errors import DataError
from nlp.registry import Registry
from nlp.train import TrainConfig, is_held_out, read_accepted, read_feedback, train

#: Fast options for the small models of this file.
FAST = {"calibration_folds": 3}


@pytest.fixture(scope="module")
def base(demo_frame: pd.DataFrame) -> pd.DataFrame:
    """30 tickets of each demo department."""
    return demo_frame.groupby("label").head(30).reset_index(drop=True)


@pytest.fixture(scope="module")
def corrections(demo_frame: pd.DataFrame) -> pd.DataFrame:
    """Demo tickets the base data does not hold, as corrections with their true label."""
    rows = demo_frame.groupby("label").nth(list(range(30, 36)))
    return pd.DataFrame(
        {"id": rows["id"], "text": rows["text"], "title": None, "label": rows["label"]}
    ).reset_index(drop=True)


def _correction(texts: list[str], label: str, prefix: str = "fix") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"{prefix}-{i}" for i in range(len(texts))],
            "text": texts,
            "title": [None] * len(texts),
            "label": label,
        }
    )


@pytest.mark.parametrize(("weight", "expected"), [(1.0, "燃气"), (10.0, "供电")])
def test_a_weighted_correction_flips_a_near_duplicate(
    base: pd.DataFrame, weight: float, expected: str
) -> None:
    """A dispatcher moved a gas ticket to the power department: counted once it loses to
    the base data's own copy and the other gas tickets; counted ten times it wins."""
    ticket = base[base["label"] == "燃气"]["text"].iloc[0]
    config = TrainConfig(**FAST, feedback_weight=weight, feedback_holdout=0.0)
    result = train(base, config, eval_frame=base.iloc[::7], feedback=_correction([ticket], "供电"))
    [prediction] = result.model.classify([ticket + "谢谢"])
    assert prediction.label == expected
    assert result.data["feedback"] | {"sha256": None} == {
        "rows": 1,
        "used": 1,
        "held_out": 0,
        "weight": weight,
        "holdout": 0.0,
        "refit": False,  # nothing held out: the measured model is the one that ships
        "skipped": {},
        "new_labels": [],
        "sha256": None,
    }
    assert result.feedback_evaluation is None  # nothing held out


def test_held_out_corrections_are_chosen_by_ticket_id() -> None:
    ids = [f"ticket-{i}" for i in range(2000)]
    held = [i for i in ids if is_held_out(i, 0.2)]
    assert 0.17 < len(held) / len(ids) < 0.23
    # The same answer every time, for the same id whatever its type or padding ...
    assert held == [i for i in ids if is_held_out(i, 0.2)]
    assert is_held_out(12345, 0.3) == is_held_out(" 12345 ", 0.3)
    # ... and a larger share keeps every id the smaller one held out.
    assert set(held) <= {i for i in ids if is_held_out(i, 0.5)}
    assert not any(is_held_out(i, 0.0) for i in ids)


def test_the_held_out_split_follows_the_ids_not_the_order(
    base: pd.DataFrame, corrections: pd.DataFrame
) -> None:
    config = TrainConfig(**FAST, feedback_holdout=0.3)
    expected = corrections[[is_held_out(i, 0.3) for i in corrections["id"]]]
    assert 0 < len(expected) < len(corrections)
    first = train(base, config, feedback=corrections)
    again = train(base, config, feedback=corrections.sample(frac=1.0, random_state=7))
    for result in (first, again):
        assert result.data["feedback"]["held_out"] == len(expected)
        assert result.data["feedback"]["used"] == len(corrections) - len(expected)
        assert result.feedback_held_out is not None
        assert sorted(result.feedback_held_out.labels) == sorted(expected["label"])
        assert result.feedback_evaluation is not None
        assert result.feedback_evaluation.n == len(expected)
    assert first.feedback_held_out is not None
    assert again.feedback_held_out is not None
    assert sorted(first.feedback_held_out.documents) == sorted(again.feedback_held_out.documents)
    # Weighted rows keep the calibration folds and the out-of-scope rule working.
    assert first.model.pipeline.named_steps["classify"].calibration_ == "cross-validated"
    assert first.model.scope is not None
    # The corrections that train are extra rows: the base evaluation split is unchanged.
    plain = train(base, TrainConfig(**FAST))
    assert first.evaluation.n == plain.evaluation.n
    # The model that ships trained on the held-out ones too, after they measured it.
    assert first.data["feedback"]["refit"] is True
    assert first.data["train_rows"] == plain.data["train_rows"] + len(corrections)


def test_the_manifest_records_the_corrections(
    base: pd.DataFrame, corrections: pd.DataFrame, tmp_path: Path, models_dir: Path
) -> None:
    result = train(base, TrainConfig(**FAST, feedback_weight=3.0), feedback=corrections)
    registry = Registry(tmp_path)
    version = registry.save(result.model, name="hotline", data=result.data)
    recorded = registry.manifest("hotline", version)["data"]["feedback"]
    assert recorded["rows"] == len(corrections)
    assert recorded["used"] + recorded["held_out"] == len(corrections)
    assert recorded["weight"] == 3.0
    assert len(recorded["sha256"]) == 64
    assert registry.load("hotline", version).labels == result.model.labels
    # A version saved before corrections existed has no such record, and still loads.
    old = Registry(models_dir)
    assert "feedback" not in old.manifest("default", "v1")["data"]
    assert old.load("default", "v1").labels


def test_a_new_department_needs_min_class_size_corrections(base: pd.DataFrame) -> None:
    texts = [
        "地铁三号线早高峰太挤了，能不能加开班次",
        "地铁站出口的电梯又坏了，老人上下很不方便",
        "地铁里手机没有信号，希望运营公司解决",
        "地铁末班车太早了，加班的人都赶不上",
        "地铁站里的厕所太少，排队要十分钟",
        "地铁列车空调温度太低，车厢里很冷",
    ]
    config = TrainConfig(**FAST, feedback_holdout=0.0)
    with pytest.raises(DataError, match=r"fewer than 5 corrections each: '地铁' \(4\)"):
        train(base, config, feedback=_correction(texts[:4], "地铁"))
    result = train(base, config, feedback=_correction(texts[:5], "地铁"))
    assert "地铁" in result.model.labels
    assert result.data["feedback"]["new_labels"] == ["地铁"]
    [prediction] = result.model.classify([texts[5]])
    assert prediction.label == "地铁"


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"feedback_weight": 0}, "feedback_weight must be a positive number"),
        ({"feedback_weight": -2.0}, "feedback_weight must be a positive number"),
        ({"feedback_weight": math.nan}, "feedback_weight must be a positive number"),
        ({"feedback_weight": "2"}, "feedback_weight must be a positive number"),
        ({"feedback_holdout": 1.0}, r"feedback_holdout must be in \[0, 1\)"),
        ({"feedback_holdout": -0.1}, r"feedback_holdout must be in \[0, 1\)"),
    ],
    ids=["zero", "negative", "nan", "text", "holdout-one", "holdout-negative"],
)
def test_invalid_feedback_options_are_a_data_error(options: dict, says: str) -> None:
    with pytest.raises(DataError, match=says):
        TrainConfig(**options)


@pytest.mark.parametrize(
    ("feedback", "says"),
    [
        (pd.DataFrame({"id": ["a"], "text": ["路灯坏了"]}), r"column\(s\) 'label' not found"),
        (pd.DataFrame(columns=["id", "text", "title", "label"]), "the corrections have no rows"),
        (
            pd.DataFrame({"id": ["a"], "text": ["  "], "title": [None], "label": ["水务"]}),
            "no usable corrections among 1 rows",
        ),
        (
            pd.DataFrame(
                {"id": [None, "b"], "text": ["停水了", "停电了"], "label": ["水务", "供电"]}
            ),
            r"1 correction\(s\) have no ticket id",
        ),
    ],
    ids=["missing-column", "no-rows", "empty-text", "missing-id"],
)
def test_unusable_corrections_are_a_data_error(
    base: pd.DataFrame, feedback: pd.DataFrame, says: str
) -> None:
    with pytest.raises(DataError, match=says):
        train(base, TrainConfig(**FAST), feedback=feedback)


def test_read_feedback_reads_a_file_and_checks_its_columns(
    corrections: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "corrections.jsonl"
    corrections.to_json(path, orient="records", lines=True, force_ascii=False)
    read = read_feedback(path)
    assert read["id"].tolist() == corrections["id"].tolist()
    bad = tmp_path / "bad.csv"
    corrections.drop(columns="id").to_csv(bad, index=False)
    with pytest.raises(DataError, match=r"bad.csv: column\(s\) 'id' not found"):
        read_feedback(bad)


def _held_out_ids(count: int, share: float, prefix: str = "fix") -> list[str]:
    """The first ``count`` ids ``{prefix}-N`` that :func:`is_held_out` holds out at ``share``."""
    ids = (f"{prefix}-{i}" for i in range(10_000))
    return [i for i in ids if is_held_out(i, share)][:count]


@pytest.mark.parametrize(("refit", "expected"), [(True, "供电"), (False, "燃气")])
def test_the_model_that_ships_trains_on_the_held_out_corrections_after_they_measured_it(
    base: pd.DataFrame, refit: bool, expected: str
) -> None:
    """A correction held out for the promotion gate: the gate's figures come from a model
    that never saw it (it still answers gas), and the model that ships learnt it too."""
    ticket = base[base["label"] == "燃气"]["text"].iloc[0]
    feedback = _correction([ticket], "供电").assign(id=_held_out_ids(1, 0.5))
    config = TrainConfig(**FAST, feedback_weight=10.0, feedback_holdout=0.5, feedback_refit=refit)
    result = train(base, config, eval_frame=base.iloc[::7], feedback=feedback)
    assert result.data["feedback"]["used"] == 0
    assert result.data["feedback"]["held_out"] == 1
    assert result.data["feedback"]["refit"] is refit
    assert result.data["train_rows"] == len(base) + (1 if refit else 0)
    assert result.feedback_evaluation is not None
    assert result.feedback_evaluation.accuracy == 0.0  # measured before it learnt the row
    [prediction] = result.model.classify([ticket + "谢谢"])
    assert prediction.label == expected


def test_accepted_answers_train_with_their_weight_unless_a_person_corrected_them(
    base: pd.DataFrame,
) -> None:
    """Answers nobody corrected count ``accepted_weight`` times with the model's label; a
    ticket a dispatcher corrected, or one with a label the data lacks, is left out."""
    ticket = base[base["label"] == "燃气"]["text"].iloc[0]
    accepted = pd.DataFrame(
        {
            "id": ["a-1", "a-2", "a-3"],
            "text": [ticket, ticket + "。", "地铁太挤了"],
            "title": [None, None, None],
            "label": ["供电", "供电", "地铁"],
        }
    )
    config = TrainConfig(**FAST, accepted_weight=10.0, feedback_holdout=0.0)
    result = train(base, config, eval_frame=base.iloc[::7], accepted=accepted)
    [prediction] = result.model.classify([ticket + "谢谢"])
    assert prediction.label == "供电"
    assert "地铁" not in result.model.labels
    assert result.data["accepted"] == {
        "rows": 3,
        "used": 2,
        "weight": 10.0,
        "left_out": {"unknown_label": 1},
    }
    assert result.data["train_rows"] == len(base) + 2
    # The dispatcher corrected both back to gas: they are corrections, not accepted answers.
    corrected = accepted.iloc[:2].assign(label="燃气")
    again = train(base, config, eval_frame=base.iloc[::7], feedback=corrected, accepted=accepted)
    assert again.data["accepted"]["left_out"] == {"corrected": 2, "unknown_label": 1}
    assert again.data["accepted"]["used"] == 0
    [prediction] = again.model.classify([ticket + "谢谢"])
    assert prediction.label == "燃气"


def test_read_accepted_keeps_the_answers_without_a_final_department(
    store_url: str, tmp_path: Path
) -> None:
    from nlp.model import Prediction
    from nlp.store import Answer, TicketStore, utc_now

    def answer(ticket_id: str, label: str) -> Answer:
        prediction = Prediction(
            label=label,
            confidence=0.9,
            top_k=[(label, 0.9)],
            needs_review=False,
            review_reason=None,
            review_codes=[],
        )
        return Answer(
            id=ticket_id,
            text=f"工单{ticket_id}的内容",
            title=None,
            model_name="default",
            model_version="v1",
            prediction=prediction,
            answered_at=utc_now(),
        )

    with TicketStore(store_url) as store:
        store.open().record([answer("t1", "供电"), answer("t2", "燃气"), answer("t3", "水务")])
        store.set_final("t2", "供电", source="api")
        everything = store.tickets()
    from_store = read_accepted(store_url)
    assert list(from_store.columns) == ["id", "text", "title", "label"]
    assert sorted(zip(from_store["id"], from_store["label"], strict=True)) == [
        ("t1", "供电"),
        ("t3", "水务"),
    ]
    exported = tmp_path / "tickets.jsonl"
    everything.drop(columns="top_k").to_json(
        exported, orient="records", lines=True, date_format="iso", force_ascii=False
    )
    assert sorted(read_accepted(exported)["id"]) == ["t1", "t3"]
    corrections_only = tmp_path / "corrections.csv"
    everything[["id", "text", "title", "label"]].to_csv(corrections_only, index=False)
    with pytest.raises(DataError, match="no column 'final_label'"):
        read_accepted(corrections_only)
