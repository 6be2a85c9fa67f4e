"""Engines that run :func:`nlp.tagging.frame.tag_frame` over a stream of chunks.

Each engine takes ``(chunk_number, frame)`` pairs, where a frame holds only the columns the
model reads, and yields ``(chunk_number, tagged)`` pairs holding only the columns tag_frame
adds, with the chunk's index. Results may come back out of order; the caller puts them in
place by chunk number. Every engine pulls chunks lazily and keeps a bounded number in
flight, so memory does not grow with the input.

- :mod:`nlp.engines.base`: what they share (:class:`TagOptions`, :class:`ModelSource` and
  its per-process model cache, :func:`tag_chunk`, :func:`resolve_source`).
- :mod:`nlp.engines.local`: :class:`LocalEngine`, this process, one chunk at a time.
- :mod:`nlp.engines.processes`: :class:`ProcessEngine`, ``jobs`` processes, this one and
  ``jobs - 1`` workers.
- :mod:`nlp.engines.dask`: :class:`DaskEngine`, a task per chunk on a Dask cluster (dask
  and distributed are imported only when it starts).

All three call the same function on the same chunks, so labels, confidences and order
are identical whatever the engine.
"""

from __future__ import annotations

from nlp.engines.base import Chunk, Engine, ModelSource, TagOptions, resolve_source, tag_chunk
from nlp.engines.dask import DaskEngine
from nlp.engines.local import LocalEngine
from nlp.engines.processes import ProcessEngine
from nlp.errors import EngineError, WorkerLostError

__all__ = [
    "Chunk",
    "DaskEngine",
    "Engine",
    "EngineError",
    "LocalEngine",
    "ModelSource",
    "ProcessEngine",
    "TagOptions",
    "WorkerLostError",
    "resolve_source",
    "tag_chunk",
]
