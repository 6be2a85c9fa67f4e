"""Blind second readings of the evaluation data, and the figures the benches print from them:
data/eval/test_second_reading.csv (test.csv's messages, bench/accuracy.py),
data/eval/repeat_pairs_second.csv (the written repeat pairs, bench/hotspots.py) and
data/eval/multi_problem_second.csv (the several-problem tickets, bench/dispatch.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import accuracy, dispatch, hotspots
from nlp.problems import Problem

ROOT = Path(__file__).resolve().parents[1]
READING = ROOT / "data" / "eval" / "test_second_reading.csv"


def test_the_reading_holds_ids_and_labels_only() -> None:
    reading = pd.read_csv(READING, dtype=str, keep_default_na=False)
    assert list(reading.columns) == ["id", "label"]
    assert reading["id"].str.fullmatch(r"\d+").all()
    assert not reading["id"].duplicated().any()
    assert set(reading["label"]) == set(dispatch.TEDDY_LABELS)


@pytest.mark.shared_data
def test_the_reading_gives_one_label_to_each_message_of_test_csv(shared_data: Path) -> None:
    unseen = pd.read_csv(shared_data / "appeals" / "test.csv", dtype=str, keep_default_na=False)
    reading = pd.read_csv(READING, dtype=str, keep_default_na=False)
    assert reading["id"].tolist() == unseen["id"].tolist()


def test_the_bench_compares_labels_reader_and_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data" / "eval").mkdir(parents=True)
    pd.DataFrame({"id": ["1", "2", "3", "4"], "label": ["a", "a", "b", "b"]}).to_csv(
        tmp_path / "data" / "eval" / "test_second_reading.csv", index=False
    )
    monkeypatch.setattr(accuracy, "ROOT", tmp_path)
    # rows in another order than the file's, ids as numbers: read by id, not by position
    unseen = pd.DataFrame({"id": [4, 3, 2, 1], "label": ["b", "a", "a", "a"]})
    # the reader gives 3 "b" where the labels say "a"; the model sides with the reader
    accuracy.second_reading(unseen, ["b", "b", "a", "a"], ["b", "a", "a", "a"])
    lines = capsys.readouterr().out.splitlines()

    def printed(start: str) -> str:
        (found,) = [line.strip() for line in lines if line.strip().startswith(start)]
        return found

    # labels against reader: a F1 0.8, b F1 2/3; 3 of 4 the same
    assert printed("a second reader, blind").endswith(" 0.7333 / 0.7500")
    assert printed("against the second reader").endswith(" 1.0000 / 0.7333")
    assert printed("where reader and labels differ (1)").endswith(" 0 / 1 / 0")
    assert printed("most often: the label -> the reader's").endswith(" a -> b 1")
    assert printed("where they agree (3)").endswith(" 1.0000 / 1.0000")


def test_the_second_judge_of_the_written_pairs_holds_a_relation_per_pair() -> None:
    pairs = pd.read_csv(hotspots.EVAL, dtype=str, keep_default_na=False)
    second = pd.read_csv(hotspots.EVAL_SECOND, dtype=str, keep_default_na=False)
    assert list(second.columns) == ["id", "relation"]
    assert second["id"].tolist() == pairs["id"].tolist()
    assert set(second["relation"]) <= {"repeat", "same_topic", "unrelated"}


def test_the_bench_compares_the_second_judge_with_the_pairs_and_the_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "second.csv"
    pd.DataFrame(
        {"id": ["p1", "p2", "p3", "p4"], "relation": ["repeat", "same_topic", "repeat", "repeat"]}
    ).to_csv(path, index=False)
    monkeypatch.setattr(hotspots, "EVAL_SECOND", path)
    # pairs in another order than the judge's file: read by id
    ev = pd.DataFrame(
        {"id": ["p4", "p3", "p2", "p1"], "relation": ["same_topic", "repeat", "repeat", "repeat"]}
    )
    gold = (ev["relation"] == "repeat").to_numpy()
    rule = np.array([False, True, True, False])
    hotspots._written_second_judge(ev, rule, gold)
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    # the judge calls p4, p3, p1 repeat; the pairs say p3, p2, p1: 2 of 3 either way
    assert lines[0].endswith(" 0.667 / 0.667 (same relation 0.500)")
    # both call p3 and p1 repeat; the rule finds p3 only
    assert lines[1].startswith("EVAL the rule on the repeats both call repeat (2)")
    assert lines[1].endswith(" 0.500")
    # against the judge: the rule calls p3 (right) and p2 (wrong); finds 1 of p4, p3, p1
    assert lines[2].endswith(" 0.500 / 0.333")


def test_the_second_reader_of_the_several_problem_tickets_gives_a_set_per_ticket() -> None:
    tickets = pd.read_csv(ROOT / "data" / "eval" / "multi_problem.csv", dtype=str)
    second = pd.read_csv(dispatch.MULTI_SECOND, dtype=str, keep_default_na=False)
    names = set(pd.read_csv(ROOT / "data" / "demo" / "departments.csv", dtype=str)["name"])
    assert list(second.columns) == ["id", "departments"]
    assert second["id"].tolist() == tickets["id"].tolist()
    sets = second["departments"].str.split("|")
    assert all(set(one) <= names and len(set(one)) == len(one) for one in sets)


def test_the_bench_compares_the_second_reader_with_the_sets_and_the_splitter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "second.csv"
    sets = {"id": ["m1", "m2", "m3"], "departments": ["水务|供电", "燃气", "民政|教育"]}
    pd.DataFrame(sets).to_csv(path, index=False)
    monkeypatch.setattr(dispatch, "MULTI_SECOND", path)
    frame = pd.DataFrame(  # another order than the reader's file: read by id
        {"id": ["m3", "m1", "m2"], "departments": ["民政", "水务|供电", "燃气|水务"]}
    )
    found = [
        [Problem("", "民政", 0.9, 0, 0, "text")],
        [Problem("", "水务", 0.9, 0, 0, "text")],
        [Problem("", "燃气", 0.9, 0, 0, "text")],
    ]
    dispatch.second_reading(frame, found, pick=[1, 2], single=[0])
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    # m1: both 水务|供电 (recall 1); m2: reader 燃气 of 燃气|水务 (recall 0.5, exact no)
    assert lines[0].endswith(" 0.750 / 1.000 / 50.0%")
    # m3: one problem 民政, the reader splits it (民政|教育)
    assert lines[1].endswith(" 100.0% / 0.0%")
    # departments both give: m1 水务, 供电 (found 水务: 0.5), m2 燃气 (found: 1)
    assert lines[2].startswith("nlp.find_problems: set recall of the departments both give (2")
    assert lines[2].endswith(" 0.750")
