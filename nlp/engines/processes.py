"""The engine of ``--jobs N``: this process and ``N - 1`` worker processes tag.

Each worker loads the model once, from the registry path. Chunks and results (labels,
never token lists) travel between processes as files in a temporary folder.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import TracebackType
from typing import Any

from nlp.engines.base import Chunk, ModelSource, TagOptions, tag_chunk
from nlp.errors import EngineError, WorkerLostError

__all__ = ["QUEUED", "ProcessEngine"]

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
        """The private folder chunks in flight travel through (while the engine runs)."""
        if self._exchange is None:
            raise RuntimeError("use the engine as a context manager (it has no workers yet)")
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
            while (
                pool is not None
                and not exhausted
                and len(pending) - len(finished) < QUEUED * self.workers
            ):
                chunk = next_chunk()
                if chunk is None:
                    break
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
