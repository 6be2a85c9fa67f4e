"""Engines that run :func:`nlp.batch.tag_frame` over a stream of chunks.

Each engine takes ``(chunk_number, frame)`` pairs, where a frame holds only the columns the
model reads, and yields ``(chunk_number, tagged)`` pairs holding only the columns tag_frame
adds, with the chunk's index. Results may come back out of order; the caller puts them in
place by chunk number. Every engine pulls chunks lazily and keeps a bounded number in
flight, so memory does not grow with the input.

- :class:`LocalEngine`: this process, one chunk at a time.
- :class:`ProcessEngine`: ``jobs`` processes, this one and ``jobs - 1`` workers; each loads
  the model once, from the registry path. Chunks and results (labels, never token lists)
  travel between processes as files in a temporary folder.
- :class:`DaskEngine`: every chunk is a partition of a dask.dataframe that
  ``map_partitions(tag_frame)`` tags on a Dask cluster (a ``LocalCluster`` by default, or
  an existing scheduler). Workers load the model once per process, from the registry path.

All three call the same function on the same chunks, so labels, confidences and order
are identical whatever the engine.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import shutil
import signal
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self, cast

import pandas as pd

from nlp.errors import AppealRouterError, ModelNotFoundError
from nlp.model import RoutingModel
from nlp.tagging.frame import OUTPUT_COLUMNS, tag_frame

__all__ = [
    "DaskEngine",
    "Engine",
    "EngineError",
    "LocalEngine",
    "ModelSource",
    "ProcessEngine",
    "TagOptions",
    "WorkerLostError",
    "tag_chunk",
]

logger = logging.getLogger(__name__)

Chunk = tuple[int, pd.DataFrame]


class EngineError(AppealRouterError, RuntimeError):
    """A batch engine could not start or its workers cannot do the work (say what to fix)."""


class WorkerLostError(EngineError):
    """A worker process died while the run went on (killed, or out of memory)."""

    def __init__(
        self,
        message: str = "a worker process died (killed, or out of memory: then use fewer "
        "--jobs or a smaller --chunk-size)",
    ) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class ModelSource:
    """Where a worker finds the model: a registry folder, a name and a pinned version.

    Cheap to send to a worker (three strings); :meth:`load` verifies and loads the model
    once per process and reuses it for every chunk after that.
    """

    models_dir: str
    name: str
    version: str
    #: The sha256 of the manifest verified (signature included) when the run started
    #: (:meth:`nlp.registry.Registry.pin`); workers load only that manifest's files.
    manifest_sha256: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def load(self) -> RoutingModel:
        key = (str(Path(self.models_dir).resolve()), self.name, self.version)
        with _MODELS_LOCK:
            model = _MODELS.get(key)
            if model is None:
                from nlp.registry import Registry

                model = Registry(self.models_dir).load(
                    self.name, self.version, manifest_sha256=self.manifest_sha256
                )
                model.warm_up(explain=False)  # tag_chunk never explains
                _MODELS[key] = model
            return model


# One loaded model per (registry, name, version) per process: workers load it once.
_MODELS: dict[tuple[str, str, str], RoutingModel] = {}
_MODELS_LOCK = threading.Lock()


@dataclass(frozen=True)
class TagOptions:
    """What tag_frame needs besides the model; the same for every chunk of a run."""

    text_col: str = "text"
    title_col: str | None = None
    top_k: int = 3


def tag_chunk(frame: pd.DataFrame, model: RoutingModel, options: TagOptions) -> pd.DataFrame:
    """The columns :func:`tag_frame` adds to ``frame`` (same index), and nothing else."""
    tagged = tag_frame(
        frame,
        model,
        text_col=options.text_col,
        title_col=options.title_col,
        top_k=options.top_k,
    )
    return tagged[list(OUTPUT_COLUMNS)]


class Engine(Protocol):
    """Tags a stream of chunks; a context manager that starts and stops its workers."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None: ...

    def run(self, chunks: Iterable[Chunk]) -> Iterator[Chunk]: ...


class LocalEngine:
    """This process, one chunk at a time (results in order)."""

    def __init__(self, model: RoutingModel | ModelSource, options: TagOptions) -> None:
        self.model = model
        self.options = options

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        return None

    def run(self, chunks: Iterable[Chunk]) -> Iterator[Chunk]:
        model = self.model.load() if isinstance(self.model, ModelSource) else self.model
        for number, frame in chunks:
            yield number, tag_chunk(frame, model, self.options)


# --------------------------------------------------------------------------- processes
_WORKER: dict[str, Any] = {}


def _init_worker(source: ModelSource, options: TagOptions, parent: int, exchange: str) -> None:
    # Ctrl-C reaches every process of the terminal's group: the parent stops the run and
    # the workers with it, so a worker ignores SIGINT rather than print a traceback. (It
    # started ignoring it, see _sigint_ignored; this covers a pool started from a thread.)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The parent's pid comes from the parent: one killed while this worker was starting
    # has already left it to another parent by now.
    watch = threading.Thread(target=_exit_with_parent, args=(parent, exchange), daemon=True)
    watch.start()
    _WORKER["model"] = source.load()
    _WORKER["options"] = options


def _exit_with_parent(parent: int, exchange: str) -> None:
    """A worker whose parent was killed (kill -9 leaves no time to stop the pool) removes
    the chunks in flight and exits, instead of waiting forever for work."""
    while os.getppid() == parent:
        time.sleep(1.0)
    shutil.rmtree(exchange, ignore_errors=True)
    os._exit(1)


def _started() -> None:
    """A task that only makes the pool start a worker process (and run its initializer)."""


def _tag_in_worker(path: str) -> str:
    """Tag the chunk the parent left at ``path``; leave the result beside it."""
    tagged = tag_chunk(_take(path), _WORKER["model"], _WORKER["options"])
    return _put(Path(path).with_suffix(".tagged"), tagged)


def _put(path: Path, value: Any) -> str:
    """Chunks and results travel as files; only their paths go through the pool's pipes.

    A pipe holds 64 KiB, so a 2 MB chunk sent through it takes dozens of writes, each of
    which waits for the sending process's GIL; while that process tags a chunk of its own,
    the worker would wait for its next one. A file is written at once.
    """
    with path.open("wb") as handle:
        pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return str(path)


def _take(path: str) -> Any:
    """The value :func:`_put` left at ``path``; the file is removed."""
    with open(path, "rb") as handle:
        value = pickle.load(handle)
    os.unlink(path)
    return value


#: Chunks each worker of a ProcessEngine has to do: enough that it still has one to start
#: when this process has tagged one of its own and written the results waiting (with two,
#: a worker sometimes waited for its next chunk).
QUEUED = 3


class ProcessEngine:
    """``jobs`` processes tag: this one and ``jobs - 1`` workers (started fresh with
    'spawn', so no thread state is forked), each loading the model once.

    This process also reads and writes every chunk, so it tags a chunk itself only when
    every worker has ``QUEUED`` chunks to do and no finished chunk waits to be written:
    workers never wait for it, and with many workers it is left to the reading and writing.
    Tagging here, rather than in one more worker, saves that worker's start-up and sending
    its chunks between processes. When the input ends, this process takes back the chunks
    no worker has started and tags them itself, and the workers exit as they finish, so
    neither waits for the other at the end. Chunks in flight (tickets as they came, so
    personal data included) are files in a temporary folder under ``TMPDIR`` that only
    this user can read; each file is removed once read, and the folder when the engine
    stops, or by the workers if this process is killed."""

    def __init__(self, source: ModelSource, options: TagOptions, *, jobs: int) -> None:
        if jobs < 1:
            raise EngineError(f"--jobs must be at least 1, not {jobs}")
        self.source = source
        self.options = options
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = None
        self._exchange: tempfile.TemporaryDirectory[str] | None = None
        self._ran = False

    @property
    def _folder(self) -> Path:
        assert self._exchange is not None
        return Path(self._exchange.name)

    @property
    def workers(self) -> int:
        return self.jobs - 1

    def __enter__(self) -> ProcessEngine:
        self._ran = False
        if self.workers:
            self._exchange = tempfile.TemporaryDirectory(prefix="appeal-router-chunks-")
            try:
                with _sigint_ignored():  # inherited: workers never see a Ctrl-C
                    self._pool = ProcessPoolExecutor(
                        max_workers=self.workers,
                        mp_context=multiprocessing.get_context("spawn"),
                        initializer=_init_worker,
                        initargs=(self.source, self.options, os.getpid(), self._exchange.name),
                    )
                    # The pool starts a process per task submitted: start them all now, so
                    # they load the model while the caller gets ready (counts the rows).
                    for _ in range(self.workers):
                        self._pool.submit(_started)
            except BaseException as error:
                self.__exit__(type(error), error, error.__traceback__)
                raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            if kind is not None:
                # Stopped by an error or Ctrl-C: the chunks in flight are dropped anyway
                # (the caller keeps only finished ones), so the workers need not finish them.
                # (_processes is None once the pool has shut down by itself.)
                for process in list((getattr(self._pool, "_processes", None) or {}).values()):
                    process.terminate()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._exchange is not None:
            self._exchange.cleanup()
            self._exchange = None

    def run(self, chunks: Iterable[Chunk]) -> Iterator[Chunk]:
        """Tag ``chunks`` (once per ``with`` block: the workers stop when the input ends).

        A worker that dies (killed, out of memory) stops the run with a
        :class:`WorkerLostError`."""
        try:
            yield from self._run(chunks)
        except BrokenProcessPool as error:  # from a result, or from submitting the next chunk
            raise WorkerLostError() from error

    def _run(self, chunks: Iterable[Chunk]) -> Iterator[Chunk]:
        if self._pool is None and self.workers:
            raise RuntimeError("use the engine as a context manager")
        if self._ran:
            raise RuntimeError("a ProcessEngine runs once; start another for more chunks")
        self._ran = True
        pool = self._pool
        pending: dict[Future[str], tuple[int, str]] = {}
        source = iter(chunks)
        exhausted = closing = False

        def next_chunk() -> Chunk | None:
            nonlocal exhausted
            chunk = None if exhausted else next(source, None)
            if chunk is None:
                exhausted = True
            return chunk

        while True:
            # Every worker gets QUEUED chunks to do (finished ones, not yet collected, do not
            # count), enough to keep it busy while this process tags one and writes a few.
            finished = [future for future in pending if future.done()]
            while not exhausted and len(pending) - len(finished) < QUEUED * self.workers:
                chunk = next_chunk()
                if chunk is None:
                    break
                assert pool is not None
                sent = _put(self._folder / f"chunk-{chunk[0]}.pickle", chunk[1])
                pending[pool.submit(_tag_in_worker, sent)] = (chunk[0], sent)
            if not finished:
                # The workers are busy: tag a chunk here, or at the end of the input one
                # that no worker has started.
                chunk = next_chunk() or _reclaim(pending)
                if chunk is not None:
                    yield chunk[0], tag_chunk(chunk[1], self.source.load(), self.options)
                    continue
                if pool is not None and not closing:
                    # Nothing left to send or to take back: the workers exit as they finish,
                    # while this process writes the last results. Not before: a future
                    # cancelled after shutdown() does not wake the pool's manager thread,
                    # which would then wait for it, and the workers for the manager.
                    pool.shutdown(wait=False)
                    closing = True
                if not pending:
                    return
                finished = list(wait(pending, return_when=FIRST_COMPLETED)[0])
            for future in finished:
                number, _ = pending.pop(future)
                yield number, _take(future.result())


def _reclaim(pending: dict[Future[str], tuple[int, str]]) -> Chunk | None:
    """A chunk sent to a worker that has not started it yet, taken back (the last sent
    first), or None. At the end of the input this process tags it rather than wait for
    workers that still have chunks queued."""
    for future in reversed(list(pending)):
        if future.cancel():
            number, sent = pending.pop(future)
            return number, _take(sent)
    return None


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored meanwhile, so that processes started now ignore it from their first
    instruction: an ignored signal stays ignored across exec, and Python then installs no
    KeyboardInterrupt handler. (Blocked instead, it still reached workers while they
    imported scikit-learn.) A Ctrl-C in these few milliseconds is lost; press it again.
    Only the main thread may set handlers: from another, SIGINT is blocked instead."""
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            yield
        finally:
            signal.signal(
                signal.SIGINT, signal.default_int_handler if previous is None else previous
            )
    elif hasattr(signal, "pthread_sigmask"):
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    else:
        yield


# --------------------------------------------------------------------------- dask
def _tag_partition(frame: pd.DataFrame, source: ModelSource, options: TagOptions) -> pd.DataFrame:
    """Runs on a Dask worker: the model is loaded once per worker process, then reused."""
    return tag_chunk(frame, source.load(), options)


def _check_worker(source: ModelSource) -> str:
    """Runs on every worker before work starts: load (and so cache) the model."""
    try:
        source.load()
    except Exception as error:  # reported for every worker at once, as an EngineError
        return f"{type(error).__name__}: {error}"
    return ""


class DaskEngine:
    """``map_partitions(tag_frame)`` over dask.dataframe partitions, one chunk each.

    The client reads the input as a stream and scatters each chunk to the cluster as one
    partition; results come back as the added columns only. With ``scheduler`` None a
    ``LocalCluster`` of ``workers`` single-threaded processes is started and stopped;
    otherwise the engine connects to that address (``tcp://host:8786``), whose workers
    need appeal-router installed and the models folder readable at ``source.models_dir``.
    """

    def __init__(
        self,
        source: ModelSource,
        options: TagOptions,
        *,
        scheduler: str | None = None,
        workers: int = 2,
        processes: bool = True,
    ) -> None:
        self.source = source
        self.options = options
        self.scheduler = scheduler
        self.workers = workers
        self.processes = processes
        self._client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> DaskEngine:
        from distributed import Client, LocalCluster

        try:
            if self.scheduler is None:
                self._cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=self.processes,
                    dashboard_address=None,
                )
                self._client = Client(self._cluster)
            else:
                self._client = Client(self.scheduler, timeout="10s")
        except OSError as error:
            self.__exit__(None, None, None)
            raise EngineError(
                f"cannot reach the Dask scheduler at {self.scheduler}: {error}. Check the "
                "address (tcp://HOST:8786) and that 'dask scheduler' is running there."
            ) from error
        self._preflight()
        return self

    def _preflight(self) -> None:
        """Every worker loads the model now, so a worker that cannot fails with a clear
        message before any chunk is sent (and the model is loaded once per worker)."""
        client = self._client
        if not client.scheduler_info().get("workers"):
            client.wait_for_workers(1, timeout=60)
        problems = {
            worker: message
            for worker, message in client.run(_check_worker, self.source).items()
            if message
        }
        if problems:
            listed = "; ".join(f"{worker}: {message}" for worker, message in problems.items())
            self.__exit__(None, None, None)
            raise EngineError(
                f"Dask workers cannot load model {self.source.ref} from "
                f"{self.source.models_dir} ({listed}). Every worker needs appeal-router "
                "installed (same version) and the models folder at that path, e.g. on a "
                "shared mount; pass --models-dir with a path the workers can read."
            )
        self.workers = len(client.scheduler_info()["workers"])

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def run(self, chunks: Iterable[Chunk]) -> Iterator[Chunk]:
        import dask.dataframe as dd
        from distributed import wait as dask_wait

        client = self._client
        if client is None:
            raise RuntimeError("use the engine as a context manager")
        limit = 2 * max(1, self.workers)
        pending: deque[tuple[int, Any]] = deque()
        source = iter(chunks)
        exhausted = False
        meta: pd.DataFrame | None = None
        while True:
            while not exhausted and len(pending) < limit:
                try:
                    number, frame = next(source)
                except StopIteration:
                    exhausted = True
                    break
                if meta is None:
                    meta = tag_chunk(frame.iloc[:0], cast(RoutingModel, _MetaModel()), self.options)
                scattered = client.scatter(frame)
                partition = dd.from_delayed([scattered], meta=frame.iloc[:0], verify_meta=False)
                tagged = partition.map_partitions(
                    _tag_partition, self.source, self.options, meta=meta
                )
                pending.append((number, client.compute(tagged)))
            if not pending:
                return
            dask_wait([future for _, future in pending], return_when="FIRST_COMPLETED")
            still: deque[tuple[int, Any]] = deque()
            for number, future in pending:
                if future.done():
                    yield number, future.result()
                else:
                    still.append((number, future))
            pending = still


class _MetaModel:
    """Stands in for the model when building Dask's empty ``meta`` frame (no rows, no calls)."""

    version = ""

    def classify_documents(self, documents: Any, **options: Any) -> list[Any]:
        return []


def resolve_source(
    models_dir: str | Path,
    name: str,
    version: str | None,
    *,
    signing_key: bytes | str | None = None,
) -> ModelSource:
    """Pin ``version`` (None: the active one now) and its verified manifest, so every worker
    loads the same model. With ``signing_key`` the signature is checked here, once; workers
    never see the key (see :meth:`nlp.registry.Registry.pin`)."""
    from nlp.registry import Registry

    registry = Registry(models_dir, signing_key=signing_key)
    if version is None:
        pointer = registry.active(name)
        if pointer is None:
            raise ModelNotFoundError(
                f"model {name!r} has no active version under {models_dir}; train one with "
                f"'appeals train DATA --name {name}' or pass --model {name}@VERSION"
            )
        version = pointer.version
    return ModelSource(
        models_dir=str(Path(models_dir).resolve()),
        name=name,
        version=version,
        manifest_sha256=registry.pin(name, version),
    )
