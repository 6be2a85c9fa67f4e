"""Batch tagging of ticket files: streamed in chunks, resumable, on any engine.

- :mod:`nlp.tagging.frame`: ``tag_frame(frame, model)``, the one function every engine,
  the API's batch endpoint and the notebooks call to tag rows.
- :mod:`nlp.tagging.run`: ``tag_file``, the run from input file to output file.
- :mod:`nlp.tagging.runstate`: the work folder, its journal and resuming.
- :mod:`nlp.tagging.output`: tagged chunks as Arrow, the output assembled from them.
- :mod:`nlp.tagging.progress`: progress bar or log lines.

Files are read by :mod:`nlp.io`. The names below are imported when first used (PEP 562):
:mod:`nlp.engines` imports ``tag_frame`` from here while :mod:`nlp.tagging.run` imports the
engines, so importing this package must not import ``run``.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from nlp.tagging.frame import OUTPUT_COLUMNS, tag_frame
    from nlp.tagging.output import read_output
    from nlp.tagging.run import TagInterrupted, TagSummary, TagWorkerLostError, tag_file
    from nlp.tagging.runstate import Kept, work_dir

#: module -> the public names it gives ``nlp.tagging``.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "nlp.tagging.frame": ("OUTPUT_COLUMNS", "tag_frame"),
    "nlp.tagging.output": ("read_output",),
    "nlp.tagging.run": ("TagInterrupted", "TagSummary", "TagWorkerLostError", "tag_file"),
    "nlp.tagging.runstate": ("Kept", "work_dir"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "OUTPUT_COLUMNS",
    "Kept",
    "TagInterrupted",
    "TagSummary",
    "TagWorkerLostError",
    "read_output",
    "tag_file",
    "tag_frame",
    "work_dir",
]


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'nlp.tagging' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
