"""tag_file: a ticket file tagged in chunks, on any engine, resumable.

:func:`tag_file` reads the input in chunks (:func:`nlp.io.iter_chunks`), has an engine
(:mod:`nlp.engines`) run :func:`nlp.tagging.frame.tag_frame` on each, and writes every
finished chunk as a part in the work folder beside the output (:mod:`nlp.tagging.runstate`),
recording it in a journal. The output is assembled from the parts in order
(:mod:`nlp.tagging.output`) and the work folder removed. A run that is stopped keeps its
finished chunks; the same call with ``resume=True`` tags only the rest.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from nlp.dispatch import DispatchConfig
from nlp.documents import require_columns
from nlp.engines import (
    DaskEngine,
    Engine,
    LocalEngine,
    ModelSource,
    ProcessEngine,
    TagOptions,
    WorkerLostError,
    resolve_source,
)
from nlp.errors import DataError
from nlp.io import DEFAULT_CHUNK_SIZE, count_rows, input_format, iter_chunks
from nlp.model import RoutingModel
from nlp.tagging.frame import DISPATCH_COLUMNS, OUTPUT_COLUMNS
from nlp.tagging.output import (
    CSV_ENCODINGS,
    Assembler,
    CsvEncoding,
    output_format,
    to_arrow,
    write_output,
    write_part,
)
from nlp.tagging.progress import Progress, logger
from nlp.tagging.runstate import (
    Finished,
    Kept,
    error_counts,
    finished_chunks,
    fsync_write,
    input_identity,
    part_path,
    record,
    saved_model_version,
    start_or_resume,
    work_dir,
)

__all__ = [
    "UNREADABLE",
    "EngineName",
    "TagInterrupted",
    "TagSummary",
    "TagWorkerLostError",
    "tag_file",
]

EngineName = Literal["local", "dask"]

#: ``error`` value of a JSON Lines row that is not a JSON object (the row is kept, empty).
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class TagSummary:
    """What a finished run did."""

    output: str
    rows: int
    chunks: int
    resumed_chunks: int
    errors: dict[str, int]
    model: str
    engine: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TagInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped :func:`tag_file`; ``kept`` says what ``resume=True`` keeps.
    A KeyboardInterrupt still, so callers that stop on one keep doing so."""

    def __init__(self, kept: Kept) -> None:
        super().__init__(f"interrupted; {kept}")
        self.kept = kept


class TagWorkerLostError(WorkerLostError):
    """A worker process died during :func:`tag_file`; ``kept`` says what ``resume=True``
    keeps."""

    def __init__(self, message: str, kept: Kept) -> None:
        super().__init__(f"{message}; {kept}")
        self.kept = kept


def tag_file(
    input_path: str | Path,
    output: str | Path,
    *,
    model: RoutingModel | ModelSource | None = None,
    models_dir: str | Path = "models",
    model_name: str = "default",
    model_version: str | None = None,
    text_col: str = "text",
    title_col: str | None = "title",
    title_required: bool = False,
    top_k: int = 3,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    jobs: int = 1,
    engine: EngineName = "local",
    scheduler: str | None = None,
    dask_processes: bool = True,
    resume: bool = False,
    progress: bool = True,
    csv_encoding: CsvEncoding = "utf-8-sig",
    signing_key: bytes | str | None = None,
    dispatch: DispatchConfig | None = None,
) -> TagSummary:
    """Tag every row of ``input_path`` into ``output``; every input column, row and the
    row order are kept. See the module docstring for formats, chunks and resuming.

    The model is ``model`` when given (a loaded model: the local engine with one job only),
    else ``model_name@model_version`` from ``models_dir`` (version None: the active one,
    pinned when the run starts; a resumed run keeps the version it started with).
    ``title_col`` is used when the input has that column; with ``title_required`` its
    absence is an error. ``engine="local"`` uses ``jobs`` processes (1: this process);
    ``engine="dask"`` a ``LocalCluster`` of ``jobs`` workers, or the cluster at
    ``scheduler``. A CSV output is written in ``csv_encoding``: ``"utf-8-sig"`` (with a
    BOM, for Excel) or ``"utf-8"``. With ``signing_key`` the version must carry its signature
    (checked once here; workers check the files against the manifest verified here).
    With ``dispatch`` (:class:`nlp.dispatch.DispatchConfig`), the output has the columns of
    the fields its dispatcher fills (urgency, location, dispatch, problems); its files are
    read and checked against the model's labels here, before any chunk is tagged.

    Stopped part-way, the run keeps its finished chunks: Ctrl-C raises
    :class:`TagInterrupted`, a worker process that dies :class:`TagWorkerLostError`, each
    with ``kept``; the same call with ``resume=True`` continues.
    """
    started = time.monotonic()
    input_path, output = Path(input_path), Path(output)
    out_kind = output_format(output)
    input_format(input_path)
    if engine not in ("local", "dask"):
        raise DataError(f"unknown engine {engine!r}; use 'local' or 'dask'")
    if jobs < 1:
        raise DataError(f"--jobs must be at least 1, not {jobs}")
    if chunk_size < 1:
        raise DataError(f"--chunk-size must be at least 1, not {chunk_size}")
    if scheduler is not None and engine != "dask":
        raise DataError("--scheduler needs --engine dask")
    if csv_encoding not in CSV_ENCODINGS:
        raise DataError(f"unknown CSV encoding {csv_encoding!r}; use {' or '.join(CSV_ENCODINGS)}")
    if input_path.resolve() == output.resolve():
        raise DataError(f"--out {output} is the input file; choose another output path")

    folder = work_dir(output)
    saved_version = saved_model_version(folder) if resume else None
    source: RoutingModel | ModelSource
    if model is not None:
        source = model
        if not isinstance(model, ModelSource) and (jobs > 1 or engine == "dask"):
            raise DataError("a loaded model runs in this process only: pass a ModelSource")
        ref = model.ref if isinstance(model, ModelSource) else f"{model.name}@{model.version}"
    else:
        source = resolve_source(
            models_dir, model_name, model_version or saved_version, signing_key=signing_key
        )
        ref = source.ref

    chunks = iter_chunks(input_path, chunk_size=chunk_size)
    first = next(chunks)
    if len(first.columns) or len(first):  # an empty JSON Lines file has no columns to check
        require_columns(first, [text_col, title_col if title_required else None], what="input")
    use_title = title_col if title_col is not None and title_col in first.columns else None
    options = TagOptions(text_col=text_col, title_col=use_title, top_k=top_k, dispatch=dispatch)
    if dispatch is not None:  # a bad file is refused now, not by every worker
        if isinstance(source, ModelSource):
            from nlp.registry import Registry

            labels = Registry(source.models_dir).manifest(source.name, source.version)["labels"]
        else:
            labels = source.labels
        dispatch.build(labels=labels)

    state = {
        **input_identity(input_path),
        "chunk_size": chunk_size,
        "text_col": text_col,
        "title_col": use_title,
        "top_k": top_k,
        "model": ref,
        "dispatch": dispatch.describe() if dispatch is not None else None,
    }
    start_or_resume(folder, output, state, resume)
    done = finished_chunks(folder)
    resumed = len(done)
    pending: dict[int, pd.DataFrame] = {}
    n_chunks = 0

    def to_tag() -> Iterator[tuple[int, pd.DataFrame]]:
        nonlocal n_chunks
        try:
            for number, frame in enumerate(_chain(first, chunks)):
                n_chunks = number + 1
                if number in done:
                    continue
                pending[number] = frame
                yield number, _model_columns(frame, options)
        except DataError as error:
            raise DataError(
                f"{error} (the chunks tagged so far are kept: rerun with --resume afterwards)"
            ) from error

    runner = _engine(engine, source, options, jobs=jobs, scheduler=scheduler, dask=dask_processes)
    assembler = Assembler(output, out_kind, folder)
    tracker: Progress | None = None
    total: int | None = None
    ctrl_c = threading.Event()
    try:
        # Workers start (and load the model) while the rows are counted for the progress.
        with _ctrl_c_noted(ctrl_c), runner:
            total = count_rows(input_path, chunk_size=chunk_size)
            logger.info(
                "tagging %s (%d rows) with %s on %s; %d chunk(s) already done",
                input_path,
                total,
                ref,
                engine,
                len(done),
            )
            tracker = Progress(total, sum(f.rows for f in done.values()), enabled=progress)
            for number in sorted(done):
                assembler.add(number)
            for number, tagged in runner.run(to_tag()):
                if ctrl_c.is_set():  # its KeyboardInterrupt was dropped by a finaliser
                    raise KeyboardInterrupt
                frame = pending.pop(number)
                result = pd.concat(
                    [
                        frame.drop(columns=[*OUTPUT_COLUMNS, *DISPATCH_COLUMNS], errors="ignore"),
                        tagged,
                    ],
                    axis=1,
                )
                unreadable = frame.attrs.get("unreadable")
                if unreadable:
                    marked = result["error"].copy()
                    marked.iloc[unreadable] = UNREADABLE
                    result["error"] = marked
                table = to_arrow(result)
                fsync_write(part_path(folder, number), partial(write_part, table))
                done[number] = Finished(len(result), error_counts(table))
                record(folder, number, done[number])
                assembler.add(number, table)
                tracker.update(len(result))
        if tracker is not None:
            tracker.close()
            tracker = None
        missing = [n for n in range(n_chunks) if n not in done]
        if missing:  # cannot happen unless the input changed under us
            raise DataError(f"chunks {missing[:5]} of {input_path} were not tagged; rerun --resume")
        parts = [part_path(folder, n) for n in range(n_chunks)]
        if not assembler.finish(n_chunks):
            write_output(parts, output, out_kind, csv_encoding)
    except BaseException as error:
        if tracker is not None:
            tracker.close()
        assembler.abandon()
        # What the journal holds, exactly: a Ctrl-C may come between a chunk's journal
        # line and this process noting it.
        done = finished_chunks(folder)
        if not done:  # nothing finished: leave no work folder that would demand --resume
            shutil.rmtree(folder, ignore_errors=True)
        # Ctrl-C may land inside a library that turns the KeyboardInterrupt into an error of
        # its own (numba's compiled-function loader raises SystemError from it): the note says
        # what it was.
        interrupted = isinstance(error, KeyboardInterrupt) or ctrl_c.is_set()
        if interrupted or isinstance(error, WorkerLostError):
            kept = Kept(
                chunks=len(done),
                rows=sum(f.rows for f in done.values()),
                total_chunks=None if total is None else max(1, -(-total // chunk_size)),
                total_rows=total,
                folder=str(folder),
            )
            if interrupted:
                raise TagInterrupted(kept) from error
            raise TagWorkerLostError(str(error), kept) from error
        raise

    errors: Counter[str] = Counter()
    for n in range(n_chunks):
        errors.update(done[n].errors)
    shutil.rmtree(folder)
    rows = sum(done[n].rows for n in range(n_chunks))
    return TagSummary(
        output=str(output),
        rows=rows,
        chunks=n_chunks,
        resumed_chunks=resumed,
        errors=dict(errors),
        model=ref,
        engine=_describe_engine(engine, jobs, scheduler),
        seconds=round(time.monotonic() - started, 3),
    )


@contextlib.contextmanager
def _ctrl_c_noted(noted: threading.Event) -> Iterator[None]:
    """Ctrl-C noted as well as raised while a run goes on. Python raises KeyboardInterrupt
    wherever the main thread is; when that is a finaliser (a ``__del__``, a weakref
    callback, run by the garbage collector), it is printed and dropped, and the run would
    go on to the end. The run checks the note after every chunk. Only where Ctrl-C has its
    usual meaning: in the main thread, with Python's default handler (not, say, ignored in a
    background job). ``noted`` is set on Ctrl-C."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return

    def note(signum: int, frame: Any) -> None:
        noted.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _describe_engine(engine: EngineName, jobs: int, scheduler: str | None) -> str:
    if engine == "dask":
        return f"dask at {scheduler}" if scheduler else f"dask LocalCluster({jobs} workers)"
    return "local, this process" if jobs == 1 else f"local, {jobs} processes"


def _chain(first: pd.DataFrame, rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    yield first
    yield from rest


def _model_columns(frame: pd.DataFrame, options: TagOptions) -> pd.DataFrame:
    """Only what the model reads travels to a worker; a column absent from this chunk (a
    JSON Lines chunk whose records all lack it) is empty, so its rows get an error."""
    columns = [c for c in (options.text_col, options.title_col) if c is not None]
    subset = pd.DataFrame(index=frame.index)
    for column in columns:
        subset[column] = frame[column] if column in frame.columns else None
    return subset


def _engine(
    name: EngineName,
    source: RoutingModel | ModelSource,
    options: TagOptions,
    *,
    jobs: int,
    scheduler: str | None,
    dask: bool,
) -> Engine:
    if name == "local" and jobs == 1:
        return LocalEngine(source, options)
    if not isinstance(source, ModelSource):
        raise DataError("a loaded model runs in this process only: pass a ModelSource")
    if name == "dask":
        return DaskEngine(source, options, scheduler=scheduler, workers=jobs, processes=dask)
    return ProcessEngine(source, options, jobs=jobs)
