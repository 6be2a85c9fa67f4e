"""A run's work folder, ``OUTPUT.parts/``: what lets a stopped run resume.

It holds ``run.json`` (the input's identity and the options the run started with), one
Parquet part per finished chunk, each written atomically (a temporary file, fsync, then a
rename), and ``chunks.jsonl``, a journal with a line per finished chunk (its rows and error
counts). A chunk counts as finished when its journal line and a whole part agree; anything
else (a torn line, a part not yet recorded) is simply tagged again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from nlp.errors import DataError
from nlp.io.formats import parquet_files

__all__ = [
    "Finished",
    "Kept",
    "error_counts",
    "finished_chunks",
    "fsync_write",
    "input_identity",
    "part_path",
    "record",
    "saved_model_version",
    "start_or_resume",
    "work_dir",
]

_STATE_FILE = "run.json"
_JOURNAL_FILE = "chunks.jsonl"


def work_dir(output: str | Path) -> Path:
    """Where a run keeps its finished chunks until the output is assembled."""
    output = Path(output)
    return output.with_name(output.name + ".parts")


def part_path(folder: Path, number: int) -> Path:
    """Where chunk ``number``'s tagged part lives in the work folder."""
    return folder / f"part-{number:06d}.parquet"


def fsync_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write with ``write(temp_path)``, fsync, then rename over ``path`` (atomic)."""
    temp = path.with_name(f".{path.name}.tmp")
    try:
        write(temp)
        with temp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:  # Ctrl-C or a full disk: no half-written file left behind
        temp.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Finished:
    """A tagged chunk, as its journal line records it."""

    rows: int
    errors: dict[str, int]  # error value -> rows with it


@dataclass(frozen=True)
class Kept:
    """What a stopped run keeps for ``resume=True``: its finished chunks."""

    chunks: int
    rows: int
    total_chunks: int | None  # None: stopped before the rows were counted
    total_rows: int | None
    folder: str

    def __str__(self) -> str:
        if not self.chunks:
            return "no chunk was finished, nothing kept"
        if self.total_chunks is None or self.total_rows is None:
            return f"kept {self.chunks} chunks ({self.rows:,} rows) in {self.folder}"
        return (
            f"kept {self.chunks} of {self.total_chunks} chunks ({self.rows:,} of "
            f"{self.total_rows:,} rows) in {self.folder}"
        )


def finished_chunks(folder: Path) -> dict[int, Finished]:
    """Every chunk the journal records and whose part is whole, by chunk number.

    A journal line torn by a kill, or a part renamed into place just before the kill but
    not yet recorded, simply means that chunk is tagged again.
    """
    journal = folder / _JOURNAL_FILE
    done: dict[int, Finished] = {}
    if not journal.is_file():
        return done
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
            number, rows = int(entry["chunk"]), int(entry["rows"])
            errors = {str(k): int(v) for k, v in entry["errors"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        part = part_path(folder, number)
        try:
            if pq.read_metadata(part).num_rows == rows:
                done[number] = Finished(rows, errors)
        except (OSError, pa.ArrowException):
            continue
    return done


def error_counts(table: pa.Table) -> dict[str, int]:
    """Rows per ``error`` value of a tagged part."""
    counts = table.column("error").value_counts().to_pylist()
    return {entry["values"]: entry["counts"] for entry in counts if entry["values"] is not None}


def record(folder: Path, number: int, finished: Finished) -> None:
    """Journal a chunk whose part is in place, with its rows and errors: the summary at
    the end adds these up instead of reading every part again."""
    line = {"chunk": number, "rows": finished.rows, "errors": finished.errors}
    with (folder / _JOURNAL_FILE).open("a", encoding="utf-8") as journal:
        journal.write(json.dumps(line, ensure_ascii=False) + "\n")
        journal.flush()
        os.fsync(journal.fileno())


def input_identity(path: Path) -> dict[str, Any]:
    """The input as a resumed run must find it again: path, size and last change."""
    files = parquet_files(path) if path.is_dir() else [path]
    stats = [f.stat() for f in files]
    return {
        "input": str(path.resolve()),
        "input_bytes": sum(s.st_size for s in stats),
        "input_mtime_ns": max(s.st_mtime_ns for s in stats),
    }


def saved_model_version(folder: Path) -> str | None:
    """The model version an unfinished run in ``folder`` started with, if any."""
    try:
        saved = json.loads((folder / _STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    _, _, version = str(saved.get("model", "")).partition("@")
    return version or None


def start_or_resume(folder: Path, output: Path, state: dict[str, Any], resume: bool) -> None:
    """Create the work folder with ``state``, or, with ``resume``, check that the unfinished
    run there has the same ``state``; refuse to overwrite an output or an unfinished run."""
    saved_path = folder / _STATE_FILE
    if folder.is_dir() and saved_path.is_file():
        if not resume:
            raise DataError(
                f"{folder} holds an unfinished run for {output}: add --resume to continue "
                f"it, or delete {folder} to start over"
            )
        saved = json.loads(saved_path.read_text(encoding="utf-8"))
        changed = [key for key in state if saved.get(key) != state[key]]
        if changed:
            listed = ", ".join(f"{k}: {saved.get(k)!r} then, {state[k]!r} now" for k in changed)
            raise DataError(
                f"cannot resume {output}: the unfinished run in {folder} differs ({listed}). "
                f"Rerun with the same input and options, or delete {folder} to start over."
            )
        return
    if output.exists():
        raise DataError(
            f"{output} already exists; choose another --out or delete it"
            + (" (there is no unfinished run to resume)" if resume else "")
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fsync_write(
            saved_path, lambda temp: temp.write_text(json.dumps(state, indent=2), encoding="utf-8")
        )
    except OSError as error:
        raise DataError(
            f"cannot write beside {output} ({error.strerror or error}): choose an --out in a "
            "folder this account can write"
        ) from error
