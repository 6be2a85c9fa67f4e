"""The engine that tags in this process, one chunk at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from types import TracebackType

from nlp.engines.base import Chunk, ModelSource, TagOptions, tag_chunk
from nlp.model import RoutingModel

__all__ = ["LocalEngine"]


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
