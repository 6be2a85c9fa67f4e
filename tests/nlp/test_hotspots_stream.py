"""Hot spots walk through the tickets in time order: the index holds one window (the tickets
a later one can still link to), worker processes may prepare the tickets, and the groups are
those of grouping everything at once."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nlp.errors import DataError
from nlp.hotspots import hotspots
from nlp.similar import SimilarIndex
from tests.nlp.hotspot_fixtures import board

hotspots_module = importlib.import_module("nlp.hotspots")  # `nlp.hotspots` is the function


def _months(copies: int) -> pd.DataFrame:
    """The board again every 30 days, each copy about its own village and estate."""
    frames = []
    for copy in range(copies):
        frame = board()
        frame["id"] = frame["id"] + f"-{copy}"
        frame["time"] = (pd.to_datetime(frame["time"]) + pd.Timedelta(days=30 * copy)).astype(str)
        for column in ("title", "text"):
            frame[column] = frame[column].str.replace("松林村", f"松林{copy}村")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=3)


def _groups(report: Any) -> list[list[str]]:
    return sorted(sorted(members) for members in report.groups["members"])


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Blocks of a few tickets, and the largest index any link step saw."""
    monkeypatch.setattr(hotspots_module, "FIRST_BLOCK_ROWS", 20)
    monkeypatch.setattr(hotspots_module, "TASK_ROWS", 7)
    largest: list[int] = []
    neighbours = SimilarIndex.neighbours

    def spy(self: SimilarIndex, **options: Any) -> Any:
        largest.append(len(self))
        return neighbours(self, **options)

    monkeypatch.setattr(SimilarIndex, "neighbours", spy)
    return largest


def test_the_walk_forgets_what_the_window_cannot_reach(small_blocks: list[int]) -> None:
    tickets = _months(6)
    walked = hotspots(tickets, window="7d")
    # one month of the board is about 30 tickets: the index never holds six months
    assert max(small_blocks) < len(tickets) / 2
    assert len(small_blocks) > 5
    # each month's plant, estate and platform is found, as in one go
    assert walked.groups["tickets"].max() >= 6
    assert len(walked.groups) >= 6
    plants = [m for m in _groups(walked) if any(i.startswith("m1-") for i in m)]
    assert len(plants) == 6


def test_the_walk_groups_as_one_go_does(
    small_blocks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    tickets = _months(4)
    walked = hotspots(tickets, window="7d")
    monkeypatch.setattr(hotspots_module, "FIRST_BLOCK_ROWS", 10**9)
    whole = hotspots(tickets, window="7d")
    assert _groups(walked) == _groups(whole)
    assert walked.problems.equals(whole.problems)


def test_worker_processes_give_the_same_answer(small_blocks: list[int]) -> None:
    tickets = _months(3)
    alone = hotspots(tickets, window="7d")
    helped = hotspots(tickets, window="7d", jobs=2)
    assert _groups(helped) == _groups(alone)
    assert helped.problems.equals(alone.problems)
    assert helped.rows.equals(alone.rows)


def test_tickets_of_one_block_are_prepared_here_whatever_the_jobs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No worker process is started for fewer tickets than a block: it would take longer to
    start than the block takes to prepare."""

    def no_workers(*args: Any, **options: Any) -> Any:
        raise AssertionError("worker processes started for one block")

    monkeypatch.setattr(hotspots_module, "_prepared_by_workers", no_workers)
    tickets = board()
    assert len(tickets) <= hotspots_module.TASK_ROWS
    assert _groups(hotspots(tickets, jobs=2)) == _groups(hotspots(tickets))


@pytest.mark.parametrize("jobs", [0, -2])
def test_a_bad_number_of_jobs_is_refused(jobs: int) -> None:
    with pytest.raises(DataError, match="jobs"):
        hotspots(board(), jobs=jobs)


# ------------------------------------------------------------------ files read in chunks


@pytest.fixture
def in_chunks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Files read 9 rows at a time; the lengths of the text lists any read held whole."""
    monkeypatch.setattr(hotspots_module, "READ_ROWS", 9)
    held: list[int] = []
    whole = hotspots_module._ListFields.__init__

    def spy(self: Any, texts: list[object], titles: list[object]) -> None:
        held.append(len(texts))
        whole(self, texts, titles)

    monkeypatch.setattr(hotspots_module._ListFields, "__init__", spy)
    return held


def _by_time(frame: pd.DataFrame) -> pd.DataFrame:
    order = pd.to_datetime(frame["time"]).argsort(kind="stable")
    return frame.iloc[order].reset_index(drop=True)


@pytest.mark.parametrize("kind", ["csv", "parquet", "jsonl"])
def test_a_file_in_time_order_is_grouped_without_holding_its_text(
    kind: str, tmp_path: Path, in_chunks: list[int]
) -> None:
    tickets = _by_time(_months(2)).astype({"likes": int, "dislikes": int})
    path = tmp_path / f"tickets.{kind}"
    if kind == "csv":
        tickets.to_csv(path, index=False)
    elif kind == "parquet":
        tickets.to_parquet(path, index=False)
    else:
        tickets.to_json(path, orient="records", lines=True, force_ascii=False)
    from_file = hotspots(path, window="7d")
    assert in_chunks == []  # no read held the text of the whole file
    from_frame = hotspots(tickets, window="7d")
    assert _groups(from_file) == _groups(from_frame)
    pd.testing.assert_frame_equal(from_file.problems, from_frame.problems)
    pd.testing.assert_frame_equal(from_file.messages, from_frame.messages)
    assert from_file.rows["留言编号"].tolist() == tickets["id"].tolist()


def test_a_file_out_of_time_order_is_read_whole_once(tmp_path: Path, in_chunks: list[int]) -> None:
    tickets = _months(2)  # shuffled
    path = tmp_path / "tickets.csv"
    tickets.to_csv(path, index=False)
    from_file = hotspots(path, window="7d")
    assert in_chunks == [len(tickets)]
    assert _groups(from_file) == _groups(hotspots(tickets, window="7d"))


def test_a_number_where_text_goes_names_its_row_in_the_file(
    tmp_path: Path, in_chunks: list[int]
) -> None:
    tickets = _by_time(_months(1))
    path = tmp_path / "tickets.parquet"
    tickets[["id", "time"]].assign(text=[7] * len(tickets)).to_parquet(path)
    with pytest.raises(DataError, match=r"not text: row 1 \(7\)"):
        hotspots(path)
    numbers = tickets[["id", "time"]].assign(text=["好"] * len(tickets))
    numbers["text"] = numbers["text"].astype(object)
    numbers.loc[12, "text"] = 3.5
    numbers.to_json(tmp_path / "t.jsonl", orient="records", lines=True, force_ascii=False)
    with pytest.raises(DataError, match=r"not text: row 13 \(3\.5\)"):  # the second chunk
        hotspots(tmp_path / "t.jsonl")


def test_a_broken_line_of_json_is_named(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    good = '{"id": "a", "time": "2020-05-01", "text": "松林村搅拌站噪音"}\n'
    path.write_text(good + "not json\n" + good.replace('"a"', '"b"'), encoding="utf-8")
    with pytest.raises(DataError, match="record 2"):
        hotspots(path)


def test_a_file_without_a_time_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    board().drop(columns=["time"]).to_csv(path, index=False)
    with pytest.raises(DataError, match="time"):
        hotspots(path)


class _Fatal:
    """Kills the process that unpickles it: a worker that dies as it starts."""

    def __reduce__(self) -> tuple[Any, tuple[int]]:
        import os

        return os._exit, (3,)


def test_a_worker_that_dies_is_a_clear_error(small_blocks: list[int]) -> None:
    from nlp.errors import WorkerLostError

    with pytest.raises(WorkerLostError, match="fewer --jobs"):
        hotspots(_months(2), jobs=2, gazetteer=_Fatal())  # type: ignore[arg-type]


def test_a_file_nearly_in_time_order_is_grouped_without_holding_its_text(
    tmp_path: Path, in_chunks: list[int]
) -> None:
    tickets = _by_time(_months(3))
    # each week's tickets out of order, as several desks' exports put one after another
    week = pd.to_datetime(tickets["time"]).dt.isocalendar().week.to_numpy()
    tickets = tickets.iloc[np.lexsort((-np.arange(len(tickets)), week))]
    path = tmp_path / "tickets.csv"
    tickets.to_csv(path, index=False)
    from_file = hotspots(path, window="7d")
    assert in_chunks == []
    from_frame = hotspots(tickets.reset_index(drop=True), window="7d")
    assert _groups(from_file) == _groups(from_frame)
    for table in ("problems", "messages", "groups", "rows"):
        pd.testing.assert_frame_equal(getattr(from_file, table), getattr(from_frame, table))


def test_the_tickets_a_walk_holds_at_once() -> None:
    held_at_once = hotspots_module._held_at_once
    assert held_at_once(np.arange(10)) == 0
    assert held_at_once(np.array([1, 0, 3, 2])) == 1
    assert held_at_once(np.arange(10)[::-1].copy()) == 9


def test_linked_tickets_are_kept_as_codes_and_given_back_as_they_came() -> None:
    held_type = hotspots_module._Held
    tickets = {
        3: held_type(frozenset({"松林村", "搅拌站"}), ("噪音", "夜间", "施工")),
        8: held_type(frozenset(), ("噪音",)),
        9: held_type(frozenset({"松林村"}), ()),
        40: held_type(frozenset({"伊景园滨河苑"}), ("施工", "噪音", "车位")),
    }
    kept = hotspots_module._HeldTickets()
    for number, held in tickets.items():
        kept.append(number, held)
    assert {number: kept[number] for number in tickets} == tickets
    with pytest.raises(KeyError):
        kept[4]
    with pytest.raises(ValueError, match="after ticket 40"):
        kept.append(12, tickets[3])
