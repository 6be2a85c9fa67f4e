"""Batch tagging (nlp.io, nlp.tagging, nlp.engines): formats, bad rows, 0 rows, engines, resume."""

from __future__ import annotations

import json
import signal
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pytest

from nlp.engines import ModelSource, resolve_source
from nlp.errors import (
    AppealRouterError,
    DataError,
    ModelIntegrityError,
    ModelNotFoundError,
    UnsupportedFormatError,
)
from nlp.io import count_rows, iter_chunks
from nlp.model import Ranking, RoutingModel
from nlp.registry import Registry
from nlp.tagging import run as tagging
from nlp.tagging.frame import tag_frame
from nlp.tagging.output import read_output
from nlp.tagging.run import tag_file
from nlp.tagging.runstate import work_dir

# Rows a real export has: empty bodies, a title only, white space only.
BAD_ROWS = [
    {"id": "bad-empty", "title": "", "text": "", "label": "x"},
    {"id": "bad-space", "title": "  ", "text": " \n ", "label": "x"},
    {"id": "title-only", "title": "小区停水三天了", "text": "", "label": "x"},
]


@pytest.fixture(scope="module")
def tickets(demo_frame: pd.DataFrame) -> pd.DataFrame:
    """Every column a string (as CSV and Excel give them), bad rows in the middle, tickets
    out of scope at the end."""
    head = demo_frame.iloc[:60]
    out_of_scope = pd.DataFrame(
        {"id": ["oos1", "oos2"], "title": ["", ""], "text": ["谢谢", "asdfqwer"], "label": ["", ""]}
    )
    frame = pd.concat(
        [head.iloc[:25], pd.DataFrame(BAD_ROWS), head.iloc[25:], out_of_scope], ignore_index=True
    )
    return frame.astype(str)


@pytest.fixture(scope="module")
def expected(tickets: pd.DataFrame, tiny_model: RoutingModel) -> pd.DataFrame:
    return tag_frame(tickets, tiny_model, title_col="title")


def write_input(frame: pd.DataFrame, path: Path) -> Path:
    """``frame`` as the file format ``path`` names (a name without suffix: a Parquet folder)."""
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".xlsx":
        frame.to_excel(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        path.mkdir()
        half = len(frame) // 2
        frame.iloc[:half].to_parquet(path / "part-0.parquet", index=False)
        frame.iloc[half:].to_parquet(path / "part-1.parquet", index=False)
    return path


def _text(values: Iterable[Any]) -> list[str | None]:
    """Missing as None whatever the format wrote (NA, NaN, None, or '' in CSV)."""
    return [None if v is None or pd.isna(v) or not str(v).strip() else str(v) for v in values]


def assert_same_tags(out: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Every row, in order, with every input column and the same predictions."""
    assert list(out.columns) == list(expected.columns)
    assert len(out) == len(expected)
    assert _text(out["id"]) == _text(expected["id"])
    assert _text(out["text"]) == _text(expected["text"])
    assert _text(out["label"]) == _text(expected["label"])
    assert _text(out["error"]) == _text(expected["error"])
    got = pd.to_numeric(pd.Series(out["confidence"], dtype=object).replace("", None))
    want = expected["confidence"].astype("float64")
    np.testing.assert_allclose(got.to_numpy(float), want.to_numpy(float), rtol=0, atol=1e-9)
    assert [None if t is None else [e["label"] for e in t] for t in out["top_k"]] == [
        None if t is None else [e["label"] for e in t] for t in expected["top_k"]
    ]
    assert [_codes(c) for c in out["review_codes"]] == [_codes(c) for c in expected["review_codes"]]
    assert "out_of_scope" in list(expected["review_codes"].iloc[-1])


def _codes(value: Any) -> list[str] | None:
    """The codes as a list whatever the format gave (a list, a numpy array, or None)."""
    return None if value is None else [str(code) for code in value]


# --------------------------------------------------------------------------- formats
@pytest.mark.parametrize(
    "input_name", ["in.csv", "in.xlsx", "in.parquet", "in_folder", "in.jsonl"], ids=str
)
def test_every_input_format_is_tagged_whole_and_in_order(
    input_name: str,
    tickets: pd.DataFrame,
    expected: pd.DataFrame,
    models_dir: Path,
    tmp_path: Path,
) -> None:
    source = write_input(tickets, tmp_path / input_name)
    out = tmp_path / "out.parquet"
    summary = tag_file(source, out, models_dir=models_dir, chunk_size=16, progress=False)
    assert summary.rows == len(tickets)
    assert summary.chunks == -(-len(tickets) // 16)
    assert summary.errors == {"empty_text": 2}
    assert_same_tags(read_output(out), expected)
    assert not work_dir(out).exists()


@pytest.mark.parametrize("output_name", ["out.parquet", "out.csv", "out.jsonl"], ids=str)
def test_every_output_format_round_trips(
    output_name: str,
    tickets: pd.DataFrame,
    expected: pd.DataFrame,
    models_dir: Path,
    tmp_path: Path,
) -> None:
    source = write_input(tickets, tmp_path / "in.csv")
    out = tmp_path / output_name
    tag_file(source, out, models_dir=models_dir, chunk_size=25, progress=False)
    assert_same_tags(read_output(out), expected)
    if out.suffix == ".csv":  # top_k and review_codes are JSON text a spreadsheet user reads
        raw = pd.read_csv(out, dtype=str, keep_default_na=False)
        assert json.loads(raw["top_k"][0])[0].keys() == {"label", "score"}
        assert raw["top_k"][25] == ""
        assert "out_of_scope" in json.loads(raw["review_codes"].iloc[-1])
        assert raw["review_codes"][25] == ""


def test_mixed_jsonl_keeps_unreadable_and_non_text_rows(models_dir: Path, tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": 1, "text": "楼下烧烤摊油烟太大", "created_at": "2024-01-02"}),
        "{not json",
        json.dumps({"id": 3, "text": 12345}),
        json.dumps([1, 2]),
        "",
        json.dumps({"id": 5, "text": "路灯坏了", "extra": {"a": 1}}),
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    tag_file(source, out, models_dir=models_dir, chunk_size=2, progress=False)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["error"] for r in rows] == [None, "unreadable", "not_text", "unreadable", None]
    assert [r["id"] for r in rows] == [1, None, 3, None, 5]
    assert rows[0]["created_at"] == "2024-01-02"  # not turned into a timestamp
    assert rows[0]["label"] is not None
    assert rows[1]["label"] is None
    assert rows[4]["extra"] in ({"a": 1}, '{"a": 1}')


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_a_lone_surrogate_in_jsonl_keeps_its_row(
    suffix: str, models_dir: Path, tmp_path: Path
) -> None:
    # json.dumps writes a lone surrogate as the escape "\\udfff": valid JSON, no character.
    lines = [
        json.dumps({"id": 1, "text": "路灯坏了\udfff", "note": "\ud800"}),
        json.dumps({"id": 2, "text": "楼下烧烤摊油烟太大 \U0001f600"}),  # a pair: untouched
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / f"out{suffix}"
    summary = tag_file(source, out, models_dir=models_dir, chunk_size=1, progress=False)
    assert summary.rows == 2
    tagged = read_output(out)
    assert [str(i) for i in tagged["id"]] == ["1", "2"]
    assert tagged["text"].tolist() == ["路灯坏了\ufffd", "楼下烧烤摊油烟太大 \U0001f600"]
    assert tagged["note"].tolist()[0] == "\ufffd"
    assert tagged["label"].notna().all()


def test_gb18030_csv_is_read(models_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    pd.DataFrame({"text": ["小区门口垃圾堆积，臭气熏天"] * 3}).to_csv(
        source, index=False, encoding="gb18030"
    )
    out = tmp_path / "out.csv"
    tag_file(source, out, models_dir=models_dir, progress=False)
    assert read_output(out)["text"].tolist() == ["小区门口垃圾堆积，臭气熏天"] * 3


# --------------------------------------------------------------------------- 0 rows
@pytest.mark.parametrize("output_name", ["out.parquet", "out.csv", "out.jsonl"], ids=str)
@pytest.mark.parametrize("input_name", ["in.csv", "in.parquet", "in.jsonl", "in.xlsx"], ids=str)
def test_zero_rows(input_name: str, output_name: str, models_dir: Path, tmp_path: Path) -> None:
    empty = pd.DataFrame({"id": pd.Series([], dtype=str), "text": pd.Series([], dtype=str)})
    source = write_input(empty, tmp_path / input_name)
    if input_name.endswith(".jsonl"):
        assert not source.read_text().strip()  # no records, so no columns either
    out = tmp_path / output_name
    summary = tag_file(source, out, models_dir=models_dir, progress=False)
    assert (summary.rows, summary.chunks, summary.errors) == (0, 1, {})
    tagged = read_output(out) if output_name != "out.jsonl" else None
    if tagged is not None:
        assert len(tagged) == 0
        assert {"label", "confidence", "top_k", "error"} <= set(tagged.columns)
    else:
        assert out.read_text() == ""


# --------------------------------------------------------------------------- bad input
def _run(tmp_path: Path, models_dir: Path, **options: Any) -> Callable[[], object]:
    source = write_input(pd.DataFrame({"text": ["路灯坏了"]}), tmp_path / "in.csv")
    arguments: dict[str, Any] = {
        "input_path": source,
        "output": tmp_path / "out.parquet",
        "models_dir": models_dir,
        "progress": False,
    }
    arguments.update(options)
    return lambda: tag_file(**arguments)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"input_path": "missing.csv"}, DataError, "no such file"),
        ({"input_path": "in.txt"}, UnsupportedFormatError, "unknown input format"),
        ({"output": "out.xlsx"}, UnsupportedFormatError, "end --out with one of"),
        ({"text_col": "body"}, DataError, "'body' not found; the data has 'text'"),
        ({"title_col": "subject", "title_required": True}, DataError, "'subject' not found"),
        ({"chunk_size": 0}, DataError, "--chunk-size must be at least 1"),
        ({"jobs": 0}, DataError, "--jobs must be at least 1"),
        ({"scheduler": "tcp://h:8786"}, DataError, "--scheduler needs --engine dask"),
        ({"model_name": "nope"}, ModelNotFoundError, "has no active version"),
        ({"model_version": "v9"}, ModelNotFoundError, "no version 'v9'"),
        ({"output": "in.txt/out.parquet"}, DataError, "cannot write beside in.txt/out.parquet"),
    ],
    ids=[
        "missing",
        "unknown-input",
        "unknown-output",
        "column",
        "title",
        "chunk",
        "jobs",
        "scheduler",
        "model",
        "version",
        "out-under-a-file",
    ],
)
def test_bad_input_is_a_clear_error(
    options: dict[str, Any],
    error: type[Exception],
    message: str,
    models_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("text\n路灯坏了\n", encoding="utf-8")
    with pytest.raises(error, match=message) as raised:
        _run(tmp_path, models_dir, **options)()
    assert isinstance(raised.value, AppealRouterError)
    assert not work_dir(tmp_path / "out.parquet").exists()


def test_unreadable_and_empty_files(models_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    (tmp_path / "folder").mkdir()
    for name, message in [
        ("empty.csv", "the file is empty"),
        ("broken.parquet", "cannot be read as parquet"),
        ("folder", "must hold .parquet files"),
    ]:
        with pytest.raises(DataError, match=message):
            tag_file(tmp_path / name, tmp_path / "out.csv", models_dir=models_dir, progress=False)


def test_existing_output_needs_another_name(models_dir: Path, tmp_path: Path) -> None:
    run = _run(tmp_path, models_dir)
    run()
    with pytest.raises(DataError, match="already exists; choose another --out or delete it"):
        run()
    with pytest.raises(DataError, match="no unfinished run to resume"):
        _run(tmp_path, models_dir, resume=True)()


# --------------------------------------------------------------------------- engines
@pytest.fixture(scope="module")
def engine_input(tmp_path_factory: pytest.TempPathFactory, tickets: pd.DataFrame) -> Path:
    return write_input(tickets, tmp_path_factory.mktemp("engines") / "in.csv")


@pytest.fixture(scope="module")
def local_output(
    engine_input: Path, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("local") / "out.parquet"
    tag_file(engine_input, out, models_dir=models_dir, chunk_size=10, progress=False)
    return pd.read_parquet(out)


@pytest.mark.parametrize(
    "options",
    [
        {"jobs": 2},
        {"engine": "dask", "jobs": 1, "dask_processes": False},
        {"engine": "dask", "jobs": 2},
    ],
    ids=["processes-2", "dask-threads", "dask-local-cluster-2"],
)
def test_engines_give_identical_results(
    options: dict[str, Any],
    engine_input: Path,
    local_output: pd.DataFrame,
    models_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nlp.engines import dask as dask_engine

    # Dask: 2 chunks of 10 rows per task (the last one alone), spread over the workers.
    monkeypatch.setattr(dask_engine, "TASK_ROWS", 20)
    out = tmp_path / "out.parquet"
    tag_file(engine_input, out, models_dir=models_dir, chunk_size=10, progress=False, **options)
    pd.testing.assert_frame_equal(pd.read_parquet(out), local_output)


def test_dask_engine_on_an_existing_scheduler(
    engine_input: Path, local_output: pd.DataFrame, models_dir: Path, tmp_path: Path
) -> None:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        out = tmp_path / "out.parquet"
        summary = tag_file(
            engine_input,
            out,
            models_dir=models_dir,
            chunk_size=10,
            engine="dask",
            scheduler=cluster.scheduler_address,
            progress=False,
        )
    assert summary.engine.startswith("dask at ")
    pd.testing.assert_frame_equal(pd.read_parquet(out), local_output)


def test_dask_workers_that_cannot_load_the_model_say_so(engine_input: Path, tmp_path: Path) -> None:
    source = ModelSource(models_dir=str(tmp_path / "elsewhere"), name="default", version="v1")
    with pytest.raises(AppealRouterError, match="Dask workers cannot load model default@v1"):
        tag_file(
            engine_input,
            tmp_path / "out.parquet",
            model=source,
            engine="dask",
            jobs=1,
            dask_processes=False,
            progress=False,
        )
    assert not work_dir(tmp_path / "out.parquet").exists()


def test_dask_engine_sends_a_task_per_few_chunks_a_bounded_number_at_a_time(
    tickets: pd.DataFrame, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``client.submit`` of every TASK_ROWS rows' worth of consecutive chunks and nothing
    else (no dataframe graph around it); chunks are pulled from the input only as results
    are collected, so memory does not grow with the input; results come back chunk by chunk
    and equal the local engine's."""
    from distributed import get_task_stream

    from nlp.engines import DaskEngine, LocalEngine, TagOptions
    from nlp.engines import dask as dask_engine

    monkeypatch.setattr(dask_engine, "TASK_ROWS", 10)  # chunks of 4 rows: 2 per task
    options = TagOptions(title_col="title")
    chunks = [(n, tickets.iloc[n * 4 : (n + 1) * 4][["title", "text"]]) for n in range(11)]
    pulled = 0

    def stream() -> Iterable[tuple[int, pd.DataFrame]]:
        nonlocal pulled
        for chunk in chunks:
            pulled += 1
            yield chunk

    source = ModelSource(str(models_dir), "default", "v1")
    results: dict[int, pd.DataFrame] = {}
    with DaskEngine(source, options, workers=1, processes=False) as engine:
        client = engine._client
        with get_task_stream(client) as tasks:
            for number, tagged in engine.run(stream()):
                # The task just collected, the ones in flight and its replacement.
                assert pulled - len(results) <= 2 * (dask_engine.IN_FLIGHT + 1)
                results[number] = tagged
        assert not client.futures  # every result released once collected
    assert sorted(results) == list(range(11))
    assert len(tasks.data) == 6  # 5 of two chunks, the last of one
    assert all(task["key"].startswith("_tag_on_worker-") for task in tasks.data)
    with LocalEngine(source, options) as local:
        for number, expected in local.run(iter(chunks)):
            pd.testing.assert_frame_equal(results[number], expected)


def test_dask_local_cluster_workers_run_without_profiler_nor_frequent_monitors(
    models_dir: Path,
) -> None:
    """The LocalCluster the engine starts does not sample its workers' stacks every 10 ms
    (it costs the tagging thread the GIL); that configuration stays with it: the client's
    own, and so a user's own scheduler's, is untouched."""
    import dask

    from nlp.engines import DaskEngine, TagOptions

    def watchers(dask_worker: Any) -> tuple[bool, float]:
        callbacks = dask_worker.periodic_callbacks
        return "profile" in callbacks, callbacks["monitor"].callback_time

    source = ModelSource(str(models_dir), "default", "v1")
    with DaskEngine(source, TagOptions(), workers=1) as engine:
        found = list(engine._client.run(watchers).values())
    assert found == [(False, 5_000)]
    assert dask.config.get("distributed.worker.profile.enabled") is True


def test_dask_local_cluster_workers_keep_the_default_malloc_trim(models_dir: Path) -> None:
    """distributed would start them with MALLOC_TRIM_THRESHOLD_=65536, which makes tagging
    a chunk cost more CPU (memory given back and faulted in again, chunk after chunk)."""
    import os

    from nlp.engines import DaskEngine, TagOptions

    source = ModelSource(str(models_dir), "default", "v1")
    with DaskEngine(source, TagOptions(), workers=1) as engine:
        trims = engine._client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_")
    assert list(trims.values()) == [os.environ.get("MALLOC_TRIM_THRESHOLD_")]


def test_a_loaded_worker_model_is_out_of_the_collectors_sight(models_dir: Path) -> None:
    """After a batch worker loads its model, a full collection no longer walks it."""
    import gc

    from nlp.engines import base

    base._MODELS.clear()
    gc.unfreeze()
    try:
        resolve_source(models_dir, "default", None).load()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        base._MODELS.clear()


def test_engine_errors_are_library_errors() -> None:
    """Raised by the engines, caught by the CLI with every other user-caused error."""
    from nlp import engines, errors

    assert engines.EngineError is errors.EngineError
    assert engines.WorkerLostError is errors.WorkerLostError
    assert issubclass(errors.WorkerLostError, errors.EngineError)
    assert issubclass(errors.EngineError, AppealRouterError)
    assert "fewer --jobs" in str(errors.WorkerLostError())


def test_model_version_is_pinned_when_the_run_starts(models_dir: Path) -> None:
    assert resolve_source(models_dir, "default", None).ref == "default@v1"


# --------------------------------------------------------------------------- resume
class _KilledError(Exception):
    """Stands in for kill -9 between two chunks (the subprocess test kills for real)."""


def _crash_after(monkeypatch: pytest.MonkeyPatch, chunks: int) -> None:
    record = tagging.record
    calls = {"n": 0}

    def flaky(folder: Path, number: int, finished: Any) -> None:
        if calls["n"] == chunks:
            raise _KilledError
        calls["n"] += 1
        record(folder, number, finished)

    monkeypatch.setattr(tagging, "record", flaky)


@pytest.mark.parametrize("damage", ["none", "torn-journal", "unrecorded-part", "temp-file"])
def test_resume_tags_only_what_is_missing(
    damage: str,
    engine_input: Path,
    local_output: pd.DataFrame,
    models_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "out.parquet"
    with monkeypatch.context() as patch:
        _crash_after(patch, 3)
        with pytest.raises(_KilledError):
            tag_file(engine_input, out, models_dir=models_dir, chunk_size=10, progress=False)
    folder = work_dir(out)
    assert not out.exists()
    journal = [json.loads(line) for line in (folder / "chunks.jsonl").read_text().splitlines()]
    assert len(journal) == 3
    # Chunk 2 holds the two blank rows: the journal keeps its errors for the summary.
    assert [entry["errors"] for entry in journal] == [{}, {}, {"empty_text": 2}]
    # A part renamed into place but not yet recorded (the crash came in between).
    assert (folder / "part-000003.parquet").exists()
    if damage == "torn-journal":
        with (folder / "chunks.jsonl").open("a") as journal:
            journal.write('{"chunk": 9, "ro')
    elif damage == "unrecorded-part":
        (folder / "part-000003.parquet").write_bytes(b"half a parquet file")
    elif damage == "temp-file":
        (folder / ".part-000004.parquet.tmp").write_bytes(b"half")

    with pytest.raises(DataError, match="add --resume to continue it"):
        tag_file(engine_input, out, models_dir=models_dir, chunk_size=10, progress=False)
    summary = tag_file(
        engine_input, out, models_dir=models_dir, chunk_size=10, resume=True, progress=False
    )
    assert summary.resumed_chunks == 3
    assert summary.errors == {"empty_text": 2}  # counted in the first run, not again
    pd.testing.assert_frame_equal(pd.read_parquet(out), local_output)
    assert not folder.exists()


def test_resume_refuses_changed_options(
    engine_input: Path, models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.csv"
    with monkeypatch.context() as patch:
        _crash_after(patch, 1)
        with pytest.raises(_KilledError):
            tag_file(engine_input, out, models_dir=models_dir, chunk_size=10, progress=False)
    with pytest.raises(DataError, match="chunk_size: 10 then, 20 now"):
        tag_file(
            engine_input, out, models_dir=models_dir, chunk_size=20, resume=True, progress=False
        )


# --------------------------------------------------------------------------- memory
class _InstantModel:
    """Answers at once, so the check below measures the streaming, not the classifier."""

    name, version, labels = "instant", "v0", ["a", "b"]

    def rank(self, documents: Sequence[str], **options: Any) -> Ranking:
        n = len(documents)
        order = np.tile([0, 1], (n, 1))
        return Ranking(self.labels, order, np.tile([0.9, 0.1], (n, 1)), [None] * n)

    answer = RoutingModel.answer  # the model's own: one answer per row, from rank()


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_memory_does_not_grow_with_the_input(suffix: str, tmp_path: Path) -> None:
    """Peak Python memory for 10x the rows stays within 1.5x (generous; not a timing)."""
    model: Any = _InstantModel()

    def peak(rows: int) -> int:
        frame = pd.DataFrame(
            {"id": [f"r{i}" for i in range(rows)], "text": ["小区停水了，请尽快处理。" * 8] * rows}
        )
        source = write_input(frame, tmp_path / f"in{rows}{suffix}")
        del frame
        tracemalloc.start()
        try:
            tag_file(
                source, tmp_path / f"out{rows}.parquet", model=model, chunk_size=500, progress=False
            )
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(2_000), peak(20_000)
    assert large < 1.5 * small, (small, large)


def test_chunks_are_bounded_and_numbered_on(tickets: pd.DataFrame, tmp_path: Path) -> None:
    source = write_input(tickets, tmp_path / "in.parquet")
    chunks = list(iter_chunks(source, chunk_size=7))
    assert [len(c) for c in chunks[:-1]] == [7] * (len(chunks) - 1)
    assert pd.concat(chunks).index.equals(pd.RangeIndex(len(tickets)))


@pytest.mark.parametrize(
    ("min_confidence", "expect_review"),
    [pytest.param(0.0, False, id="never-unsure"), pytest.param(1.01, True, id="always-unsure")],
)
def test_tag_frame_says_why_a_row_needs_review(
    tiny_model: RoutingModel, min_confidence: float, expect_review: bool
) -> None:
    from nlp.model import ReviewPolicy

    frame = pd.DataFrame({"text": ["小区停水三天了", "", "路灯不亮，晚上很黑"]})
    policy = ReviewPolicy(min_confidence=min_confidence, min_margin=0.0)
    tagged = tag_frame(frame, tiny_model, policy=policy)
    routed = tagged[tagged["error"].isna()]
    assert routed["needs_review"].tolist() == [expect_review] * 2
    assert routed["review_reason"].notna().tolist() == [expect_review] * 2
    if expect_review:
        assert routed["review_reason"].str.contains("confidence").all()
        assert all(codes[0] == "low_confidence" for codes in routed["review_codes"])
    else:
        assert all(codes == [] for codes in routed["review_codes"])
    assert tagged["review_reason"].iloc[1] is pd.NA  # the empty row has no prediction
    assert tagged["review_codes"].iloc[1] is None


def test_parquet_output_is_written_while_the_run_goes(
    engine_input: Path,
    local_output: pd.DataFrame,
    models_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No pass over the parts is left for the end: the assembly at the end never runs."""

    def no_final_pass(*args: Any) -> None:
        raise AssertionError("the output should have been written chunk by chunk")

    monkeypatch.setattr(tagging, "write_output", no_final_pass)
    out = tmp_path / "out.parquet"
    tag_file(engine_input, out, models_dir=models_dir, chunk_size=10, progress=False)
    pd.testing.assert_frame_equal(pd.read_parquet(out), local_output)
    assert not (tmp_path / ".out.parquet.tmp").exists()


def test_chunks_with_other_column_types_fall_back_to_assembling_at_the_end(
    models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JSON Lines column holding numbers in one chunk and text in the next cannot go on
    in the first chunk's schema: the output is assembled from the parts, rows all kept."""
    lines = [
        json.dumps({"id": 1, "n": 7, "text": "楼下烧烤摊油烟太大"}),
        json.dumps({"id": 2, "n": 8, "text": "路灯坏了"}),
        json.dumps({"id": 3, "n": "七号楼", "text": "小区停水"}),
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    calls: list[int] = []
    assemble = tagging.write_output
    monkeypatch.setattr(
        tagging,
        "write_output",
        lambda parts, *rest: calls.append(len(parts)) or assemble(parts, *rest),
    )
    out = tmp_path / "out.parquet"
    tag_file(source, out, models_dir=models_dir, chunk_size=2, progress=False)
    assert calls == [2]
    frame = read_output(out)
    assert frame["n"].tolist() == ["7", "8", "七号楼"]
    assert frame["label"].notna().all()
    assert not (tmp_path / ".out.parquet.tmp").exists()


def test_batch_workers_load_the_model_without_feature_names(
    models_dir: Path, tmp_path: Path
) -> None:
    """The feature names take ~0.3 s to build; nothing on the way to an answer, explained or
    not, reads them."""
    import shutil

    shutil.copytree(models_dir, tmp_path / "models")
    model = ModelSource(str(tmp_path / "models"), "default", "v1").load()
    model.warm_up(explain=False)
    model.warm_up()
    model.classify(["小区停水了"], explain=8)
    assert "feature_names" not in vars(model)


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        pytest.param(
            'id,text\n1,"两行\n的投诉"\n\n2,路灯坏了\n3,"引号""里"\n', "utf-8", id="quoted"
        ),
        pytest.param("\ufeffid,text\n1,停水\n2,停电\n", "utf-8", id="bom"),
        pytest.param("id,text\n1,噪音扰民\n2,占道经营\n", "gb18030", id="gb18030"),
        # A short row: pandas reads it, Arrow refuses the file, and the count falls back.
        pytest.param("id,text\n1,停水\n2\n3,停电\n", "utf-8", id="short-row"),
        pytest.param("id,text\n", "utf-8", id="header-only"),
        pytest.param(",text\n1,停水\n2,停电\n", "utf-8", id="unnamed-first-column"),
        pytest.param("a,a,text\n1,2,停水\n", "utf-8", id="repeated-column-name"),
    ],
)
def test_count_rows_agrees_with_the_chunks_read(
    content: str, encoding: str, tmp_path: Path
) -> None:
    """The progress total counts exactly the rows the run will read."""
    source = tmp_path / "in.csv"
    source.write_bytes(content.encode(encoding))
    read = sum(len(chunk) for chunk in iter_chunks(source, chunk_size=2))
    assert count_rows(source) == read


@pytest.mark.parametrize("jobs", [2, 3])
def test_worker_processes_start_when_the_engine_does(models_dir: Path, jobs: int) -> None:
    """They load the model while the run counts rows, not after the first chunk is sent;
    this process is one of the ``jobs``, so ``jobs - 1`` workers start."""
    from nlp.engines import ProcessEngine, TagOptions

    source = ModelSource(str(models_dir), "default", "v1")
    with ProcessEngine(source, TagOptions(), jobs=jobs) as engine:
        assert engine._pool is not None
        assert len(engine._pool._processes) == jobs - 1  # spawned already, before run()


def test_process_engine_tags_here_and_in_its_worker(
    tickets: pd.DataFrame, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --jobs 2 this process tags chunks while its worker has three to do, the worker
    tags the others, and the results equal this process tagging them all; the chunks in
    flight, files in a private temporary folder, are gone when the engine stops."""
    from nlp.engines import LocalEngine, ProcessEngine, TagOptions, processes

    options = TagOptions(title_col="title")
    chunks = [(n, tickets.iloc[n * 8 : (n + 1) * 8][["title", "text"]]) for n in range(8)]
    here: list[int] = []
    tag_here = processes.tag_chunk

    def counted(frame: pd.DataFrame, model: RoutingModel, opts: TagOptions) -> pd.DataFrame:
        here.append(int(frame.index[0]))
        return tag_here(frame, model, opts)

    monkeypatch.setattr(processes, "tag_chunk", counted)  # this process only: workers spawn
    source = ModelSource(str(models_dir), "default", "v1")
    with ProcessEngine(source, options, jobs=2) as engine:
        results = dict(engine.run(iter(chunks)))
        folder = engine._folder
        assert folder.stat().st_mode & 0o777 == 0o700  # tickets as they came: private
        assert not any(folder.iterdir())  # every file taken back
    assert not folder.exists()
    assert 1 <= len(here) < len(chunks)  # both processes tagged
    assert sorted(results) == list(range(len(chunks)))
    with LocalEngine(source, options) as local:
        for number, expected in local.run(iter(chunks)):
            pd.testing.assert_frame_equal(results[number], expected)


def test_process_engine_used_outside_its_context_says_so(models_dir: Path) -> None:
    from nlp.engines import ProcessEngine, TagOptions

    engine = ProcessEngine(ModelSource(str(models_dir), "default", "v1"), TagOptions(), jobs=2)
    with pytest.raises(RuntimeError, match="context manager"):
        _ = engine._folder
    with pytest.raises(RuntimeError, match="context manager"):
        list(engine.run(iter([])))


def test_chunks_no_worker_started_are_taken_back_at_the_end(
    tickets: pd.DataFrame, tmp_path: Path
) -> None:
    """When the input ends, this process tags a chunk still queued for a worker instead of
    waiting for it; a chunk a worker has started stays with the worker."""
    from concurrent.futures import Future

    from nlp.engines.processes import _put, _reclaim

    chunks = {n: tickets.iloc[n * 5 : (n + 1) * 5] for n in range(3)}
    pending: dict[Future[str], tuple[int, str]] = {}
    for number, frame in chunks.items():
        future: Future[str] = Future()
        pending[future] = (number, _put(tmp_path / f"chunk-{number}.pickle", frame))
    started = next(iter(pending))
    assert started.set_running_or_notify_cancel()  # chunk 0: a worker has it

    taken = [_reclaim(pending), _reclaim(pending)]
    assert [number for number, _ in taken] == [2, 1]  # the last sent first
    for number, frame in taken:
        pd.testing.assert_frame_equal(frame, chunks[number])
    assert _reclaim(pending) is None
    assert list(pending) == [started]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["chunk-0.pickle"]


def test_workers_exit_when_the_input_ends(tickets: pd.DataFrame, models_dir: Path) -> None:
    """They stop while this process writes the last results, not when the engine closes;
    and the engine, its workers gone, refuses a second run."""
    from nlp.engines import ProcessEngine, TagOptions

    chunks = [(n, tickets.iloc[n * 8 : (n + 1) * 8][["title", "text"]]) for n in range(6)]
    source = ModelSource(str(models_dir), "default", "v1")
    with ProcessEngine(source, TagOptions(title_col="title"), jobs=2) as engine:
        assert engine._pool is not None
        # Watched by pid: the pool's own thread joins (reaps) them, and a second join of the
        # same process from here could not tell "gone" from "running".
        workers = [psutil.Process(p.pid) for p in engine._pool._processes.values()]
        assert len(dict(engine.run(iter(chunks)))) == len(chunks)
        _, alive = psutil.wait_procs(workers, timeout=60)
        assert not alive
        with pytest.raises(RuntimeError, match="runs once"):
            list(engine.run(iter(chunks)))


SIGNING_KEY = "batch-signing-key"


@pytest.fixture
def signed_models(registry_copy: Registry) -> Path:
    """A copy of the demo registry whose version carries this key's signature."""
    Registry(registry_copy.root, signing_key=SIGNING_KEY).sign("default", "v1")
    return registry_copy.root


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_signing_key_is_checked_once_and_workers_never_see_it(
    jobs: int, signed_models: Path, engine_input: Path, local_output: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "out.parquet"
    tag_file(
        engine_input,
        out,
        models_dir=signed_models,
        chunk_size=10,
        jobs=jobs,
        progress=False,
        signing_key=SIGNING_KEY,
    )
    pd.testing.assert_frame_equal(pd.read_parquet(out), local_output)
    source = resolve_source(signed_models, "default", None, signing_key=SIGNING_KEY)
    assert SIGNING_KEY not in repr(source)
    assert source.manifest_sha256 is not None


def test_a_signing_key_refuses_an_unsigned_version_before_any_work(
    models_dir: Path, engine_input: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.csv"
    with pytest.raises(ModelIntegrityError, match="not signed"):
        tag_file(engine_input, out, models_dir=models_dir, progress=False, signing_key=SIGNING_KEY)
    assert not out.exists()


def test_a_worker_refuses_a_manifest_changed_after_the_run_pinned_it(
    signed_models: Path,
) -> None:
    source = resolve_source(signed_models, "default", None, signing_key=SIGNING_KEY)
    manifest = signed_models / "default" / "v1" / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8") + " ", encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="changed after the run pinned it"):
        Registry(signed_models).load("default", "v1", manifest_sha256=source.manifest_sha256)


class _InterruptsWhileFinalised:
    """Ctrl-C arriving while the garbage collector runs a finaliser: Python raises the
    KeyboardInterrupt inside ``__del__``, prints it and drops it."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)


def _interrupted_run(
    engine_input: Path,
    models_dir: Path,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    interrupt: Callable[[], None],
) -> tuple[tagging.TagInterrupted, int]:
    """``tag_file`` in chunks of 10 with ``interrupt()`` called as the second chunk is
    written: the TagInterrupted it must end with, and how many chunks were written."""
    to_arrow = tagging.to_arrow
    calls = 0

    def to_arrow_and_interrupt(frame: pd.DataFrame) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            interrupt()
        return to_arrow(frame)

    monkeypatch.setattr(tagging, "to_arrow", to_arrow_and_interrupt)
    with pytest.raises(tagging.TagInterrupted) as stopped:
        tag_file(engine_input, out, models_dir=models_dir, chunk_size=10)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    return stopped.value, calls


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_dropped_by_a_finaliser_still_stops_the_run(
    engine_input: Path, models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt() -> None:
        _InterruptsWhileFinalised()  # deleted at once: its __del__ swallows the Ctrl-C

    stopped, calls = _interrupted_run(
        engine_input, models_dir, tmp_path / "out.csv", monkeypatch, interrupt
    )
    assert stopped.kept.chunks == 2
    assert calls == 2  # stopped before the third chunk


def test_a_ctrl_c_a_library_turns_into_its_own_error_still_stops_the_run(
    engine_input: Path, models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C landing inside a library that raises an error of its own from it (numba's
    loader of compiled functions raises ``SystemError: ... returned a result with an
    exception set``) ends the run as an interrupt, keeping the chunks done, not as a crash."""

    def interrupt() -> None:
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt as error:
            raise SystemError("returned a result with an exception set") from error

    stopped, calls = _interrupted_run(
        engine_input, models_dir, tmp_path / "out.csv", monkeypatch, interrupt
    )
    assert stopped.kept.chunks == 1
    assert calls == 2
    assert isinstance(stopped.__cause__, SystemError)
