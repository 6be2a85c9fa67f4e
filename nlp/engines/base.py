"""What every engine shares: the chunk, the options, the model source and its cache.

A chunk is ``(chunk_number, frame)``, the frame holding only the columns the model reads;
an engine gives back ``(chunk_number, tagged)``, ``tagged`` holding only the columns
:func:`tag_chunk` adds, with the chunk's index.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

import pandas as pd

from nlp.dispatch import DispatchConfig
from nlp.model import RoutingModel
from nlp.tagging.frame import OUTPUT_COLUMNS, tag_frame

__all__ = ["Chunk", "Engine", "ModelSource", "TagOptions", "resolve_source", "tag_chunk"]

Chunk = tuple[int, pd.DataFrame]


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
                # Everything loaded so far (libraries, the model) lives as long as the
                # process: out of the collector's sight, a full collection, which every
                # chunk's answers trigger, no longer walks it.
                gc.freeze()
            return model


# One loaded model per (registry, name, version) per process: workers load it once.
_MODELS: dict[tuple[str, str, str], RoutingModel] = {}
_MODELS_LOCK = threading.Lock()


@dataclass(frozen=True)
class TagOptions:
    """What tag_frame needs besides the model; the same for every chunk of a run.
    ``dispatch``: the files of the dispatcher (None: none); each worker builds it once
    (:meth:`nlp.dispatch.DispatchConfig.build`)."""

    text_col: str = "text"
    title_col: str | None = None
    top_k: int = 3
    dispatch: DispatchConfig | None = None


def tag_chunk(frame: pd.DataFrame, model: RoutingModel, options: TagOptions) -> pd.DataFrame:
    """The columns :func:`tag_frame` adds to ``frame`` (same index), and nothing else."""
    dispatcher = (
        options.dispatch.build(labels=model.labels) if options.dispatch is not None else None
    )
    tagged = tag_frame(
        frame,
        model,
        text_col=options.text_col,
        title_col=options.title_col,
        top_k=options.top_k,
        dispatcher=dispatcher,
    )
    return tagged[[*OUTPUT_COLUMNS, *(dispatcher.fields if dispatcher is not None else ())]]


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
        version = registry.active_version(name)
    return ModelSource(
        models_dir=str(Path(models_dir).resolve()),
        name=name,
        version=version,
        manifest_sha256=registry.pin(name, version),
    )
