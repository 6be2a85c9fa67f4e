"""Batch tagging with a dispatcher: urgency, location, dispatch and problems as columns, the
same on every engine and in every output format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from nlp.dispatch import DISPATCH_FIELDS, DispatchConfig
from nlp.errors import DataError
from nlp.model import RoutingModel
from nlp.tagging.frame import OUTPUT_COLUMNS, tag_frame
from nlp.tagging.output import read_output
from nlp.tagging.run import tag_file
from nlp.tagging.runstate import work_dir

ROOT = Path(__file__).resolve().parents[2]
CONFIG = DispatchConfig(
    urgency=True,
    problems=True,
    gazetteer=str(ROOT / "data" / "demo" / "gazetteer.csv"),
    city="江州市",
    routing=str(ROOT / "data" / "demo" / "routing.toml"),
)
SPECIAL = [
    {"id": "gas", "title": "燃气", "text": "燃气泄漏了，闻到很大的煤气味，在锦绣华庭3栋"},
    {"id": "two", "title": "", "text": "工地噪音太大，晚上打桩；另外桂花路128号下水道堵了"},
    {"id": "empty", "title": "", "text": "  "},
    {"id": "title-only", "title": "桂花路128号门口井盖丢了", "text": ""},
]


@pytest.fixture(scope="module")
def tickets(demo_frame: pd.DataFrame) -> pd.DataFrame:
    rows = demo_frame.iloc[:18][["id", "title", "text"]]
    return pd.concat([pd.DataFrame(SPECIAL), rows], ignore_index=True).astype(str)


@pytest.fixture(scope="module")
def expected(tickets: pd.DataFrame, tiny_model: RoutingModel) -> pd.DataFrame:
    dispatcher = CONFIG.build(labels=tiny_model.labels)
    return tag_frame(tickets, tiny_model, title_col="title", dispatcher=dispatcher)


@pytest.fixture(scope="module")
def engine_input(tickets: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dispatch") / "in.csv"
    tickets.to_csv(path, index=False)
    return path


def records(frame: pd.DataFrame, name: str) -> list[Any]:
    return [None if v is None or v is pd.NA else v for v in frame[name].tolist()]


def test_tag_frame_adds_the_dispatch_fields(
    tickets: pd.DataFrame, expected: pd.DataFrame, tiny_model: RoutingModel
) -> None:
    assert list(expected.columns) == [*tickets.columns, *OUTPUT_COLUMNS, *DISPATCH_FIELDS]
    dispatcher = CONFIG.build(labels=tiny_model.labels)
    for position, row in tickets.iterrows():
        if not (row["text"].strip() or row["title"].strip()):
            assert expected.loc[position, "error"] == "empty_text"
            assert all(expected.loc[position, name] is None for name in DISPATCH_FIELDS)
            continue
        [answer] = tiny_model.classify([row["text"]], [row["title"]], dispatcher=dispatcher)
        record = answer.to_dict()
        for name in DISPATCH_FIELDS:
            assert expected.loc[position, name] == record[name], (row["id"], name)
    gas = expected.iloc[0]
    assert gas["urgency"]["level"] == "紧急"
    assert gas["needs_review"]
    assert "urgent" in gas["review_codes"]
    assert [p["label"] for p in expected.iloc[1]["problems"]] == ["住建", "水务"]
    assert expected.iloc[3]["location"]["street"] == "建设街道"


def test_without_a_dispatcher_the_columns_are_those_of_before(
    tickets: pd.DataFrame, tiny_model: RoutingModel
) -> None:
    plain = tag_frame(tickets, tiny_model, title_col="title")
    assert list(plain.columns) == [*tickets.columns, *OUTPUT_COLUMNS]


@pytest.mark.parametrize(
    ("options", "output_name"),
    [
        pytest.param({}, "out.parquet", id="local-1-parquet"),
        pytest.param({}, "out.csv", id="local-1-csv"),
        pytest.param({}, "out.jsonl", id="local-1-jsonl"),
        pytest.param({"jobs": 2}, "out.parquet", id="processes-2"),
        pytest.param(
            {"engine": "dask", "jobs": 1, "dask_processes": False}, "out.parquet", id="dask-threads"
        ),
        pytest.param({"engine": "dask", "jobs": 2}, "out.parquet", id="dask-local-cluster-2"),
    ],
)
def test_every_engine_and_format_gives_the_same_fields(
    options: dict[str, Any],
    output_name: str,
    engine_input: Path,
    expected: pd.DataFrame,
    models_dir: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / output_name
    tag_file(
        engine_input,
        out,
        models_dir=models_dir,
        chunk_size=5,
        progress=False,
        dispatch=CONFIG,
        **options,
    )
    found = read_output(out)
    assert list(found.columns)[-len(DISPATCH_FIELDS) :] == list(DISPATCH_FIELDS)
    for name in DISPATCH_FIELDS:
        assert records(found, name) == records(expected, name), name
    assert [list(c) if c is not None else None for c in found["review_codes"]] == [
        list(c) if c is not None else None for c in expected["review_codes"]
    ]


def test_a_bad_routing_table_stops_the_run_before_any_chunk(
    engine_input: Path, models_dir: Path, tmp_path: Path
) -> None:
    table = tmp_path / "routing.toml"
    table.write_text('units = ["甲"]\n[[rule]]\nlabel = "燃气"\nlead = "乙"\n', encoding="utf-8")
    out = tmp_path / "out.parquet"
    with pytest.raises(DataError, match=r"routing\.toml line 2: lead '乙' is not in units"):
        tag_file(
            engine_input,
            out,
            models_dir=models_dir,
            progress=False,
            dispatch=DispatchConfig(routing=str(table)),
        )
    assert not out.exists()
    assert not work_dir(out).exists()
