"""The engine of ``--engine dask``: a task per few chunks on a Dask cluster.

Every task is one ``client.submit`` of :func:`tag_chunk` over a few consecutive chunks
(:data:`TASK_ROWS` rows); results are collected as they complete
(``distributed.as_completed``) and each collected task makes room for the next, so a
bounded number of rows is in flight whatever the input's size. The cluster is a
``LocalCluster`` of single-threaded worker processes by default, or an existing scheduler.
Workers load the model once per process, from the registry path. dask and distributed are
imported only when the engine starts.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any

import pandas as pd

from nlp.engines.base import Chunk, ModelSource, TagOptions, tag_chunk
from nlp.errors import EngineError

__all__ = ["IN_FLIGHT", "TASK_ROWS", "DaskEngine"]

#: Tasks in flight per worker: one it tags and the next, already there or on its way, so
#: that a worker never waits for the client to read or write a chunk.
IN_FLIGHT = 2

#: Rows per task: consecutive chunks go together in one task up to this many rows (3
#: chunks of the default 2,000), so that distributed's cost per task (messages, the
#: scheduler's and the worker's bookkeeping) is spread over several chunks. A chunk of more
#: rows is a task on its own. At most IN_FLIGHT * TASK_ROWS rows per worker are in flight.
TASK_ROWS = 6_000

#: Configuration of the LocalCluster the engine starts (never of a user's own scheduler):
#: no sampling profiler in the workers (it takes the GIL from the tagging thread every
#: 10 ms to walk its stack) and the background monitors every second or more rather than
#: every few milliseconds. What they measure is what the dashboard shows, which the
#: engine's LocalCluster does not start.
_LOCAL_CLUSTER_CONFIG = {
    # distributed starts its workers with MALLOC_TRIM_THRESHOLD_=65536, so that they give
    # freed memory back to the system at once; tagging allocates and frees a chunk's worth
    # of memory every chunk, which then costs page faults and more CPU per chunk. A
    # chunk's memory is bounded: glibc's default it is.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.tick.interval": "500ms",
}


def _tag_on_worker(
    frames: list[pd.DataFrame], source: ModelSource, options: TagOptions
) -> list[pd.DataFrame]:
    """Runs on a Dask worker: the model is loaded once per worker process, then reused."""
    model = source.load()
    return [tag_chunk(frame, model, options) for frame in frames]


def _check_worker(source: ModelSource) -> str:
    """Runs on every worker before work starts: load (and so cache) the model."""
    try:
        source.load()
    except Exception as error:  # reported for every worker at once, as an EngineError
        return f"{type(error).__name__}: {error}"
    return ""


class DaskEngine:
    """A ``client.submit`` per few chunks, collected with ``as_completed``.

    The client reads the input as a stream and sends each chunk with its task; results
    come back as the added columns only, out of order (the caller puts them in place by
    chunk number). With ``scheduler`` None a ``LocalCluster`` of ``workers``
    single-threaded processes is started and stopped, and the client fetches results from
    the workers directly; otherwise the engine connects to that address
    (``tcp://host:8786``), whose workers need appeal-router installed and the models folder
    readable at ``source.models_dir``.
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
        import dask
        from distributed import Client, LocalCluster  # first: it loads its own config

        try:
            if self.scheduler is None:
                with dask.config.set(_LOCAL_CLUSTER_CONFIG):
                    self._cluster = LocalCluster(
                        n_workers=self.workers,
                        threads_per_worker=1,
                        processes=self.processes,
                        # Any free port: two runs on one machine never fight over 8787.
                        dashboard_address=":0",
                    )
                # Results straight from the worker, not relayed by the scheduler (which
                # runs in this process, beside the reading and writing of every chunk).
                self._client = Client(self._cluster, direct_to_workers=True)
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
        """Tag ``chunks``, ``IN_FLIGHT`` tasks of up to ``TASK_ROWS`` rows per worker at
        most; results chunk by chunk, a task's chunks in order, tasks as they complete."""
        from distributed import as_completed

        client = self._client
        if client is None:
            raise RuntimeError("use the engine as a context manager")
        source = iter(chunks)
        first = next(source, None)
        if first is None:
            return
        per_task = max(1, TASK_ROWS // max(1, len(first[1])))
        source = itertools.chain([first], source)
        numbers: dict[Any, list[int]] = {}  # future -> its chunks' numbers
        completed = as_completed()

        def submit() -> None:
            batch = list(itertools.islice(source, per_task))
            if batch:
                frames = [frame for _, frame in batch]
                future = client.submit(
                    _tag_on_worker, frames, self.source, self.options, pure=False
                )
                numbers[future] = [number for number, _ in batch]
                completed.add(future)

        for _ in range(IN_FLIGHT * max(1, self.workers)):
            submit()
        try:
            for future in completed:
                batch_numbers = numbers.pop(future)
                tagged = future.result()
                future.release()  # the worker drops the result now, not at the next GC
                submit()  # the next task is on its way while this one is written
                yield from zip(batch_numbers, tagged, strict=True)
        finally:
            for future in numbers:  # stopped early (an error, Ctrl-C): drop the rest
                future.cancel()
