"""The one table of input formats, and telling a file's format from its path.

Train, evaluate and tag all read through :mod:`nlp.io`, so a format is either readable by
all of them or by none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from nlp.errors import DataError, UnsupportedFormatError

__all__ = ["INPUT_FORMATS", "InputFormat", "input_format", "parquet_files"]

InputFormat = Literal["csv", "jsonl", "parquet", "excel"]

#: Extension -> format. A folder of ``*.parquet`` files is a Parquet dataset. Excel goes
#: through python-calamine, which reads the old binary ``.xls`` as well as ``.xlsx``.
INPUT_FORMATS: dict[str, InputFormat] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".xlsx": "excel",
    ".xls": "excel",
}


def input_format(path: str | Path) -> InputFormat:
    """The input's format from its extension (a folder is a Parquet dataset)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; check the INPUT path")
    if path.is_dir():
        if not any(path.glob("*.parquet")):
            raise DataError(f"{path}: a folder must hold .parquet files; it holds none")
        return "parquet"
    found = INPUT_FORMATS.get(path.suffix.lower())
    if found is None:
        raise UnsupportedFormatError(
            f"{path}: unknown input format {path.suffix!r}; use one of "
            f"{', '.join(INPUT_FORMATS)} or a folder of .parquet files"
        )
    return found


def parquet_files(path: Path) -> list[Path]:
    """The files of a Parquet input: the folder's ``*.parquet`` in name order, or the file."""
    return sorted(path.glob("*.parquet")) if path.is_dir() else [path]
