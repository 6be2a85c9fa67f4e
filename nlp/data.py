"""Reading tickets from files.

Formats: CSV (UTF-8, or GB18030 as many Chinese exports are), Excel ``.xlsx`` (via
python-calamine), Parquet (a file or a folder of files) and JSON Lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from nlp.errors import DataError, UnsupportedFormatError

__all__ = ["READ_FORMATS", "read_table", "read_tables"]

#: Extensions :func:`read_table` understands.
READ_FORMATS = (".csv", ".xlsx", ".xls", ".parquet", ".jsonl", ".ndjson")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read one file (or a folder of Parquet files) into a frame of strings where possible."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    try:
        if path.is_dir():
            parts = sorted(path.glob("*.parquet"))
            if not parts:
                raise DataError(f"{path}: a folder must hold .parquet files; it holds none")
            return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
        if suffix == ".csv":
            try:
                return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            except UnicodeDecodeError:
                return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="gb18030")
        if suffix in (".xlsx", ".xls"):
            return pd.read_excel(path, engine="calamine", dtype=str).fillna("")
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".jsonl", ".ndjson"):
            return pd.read_json(path, lines=True, dtype=False)
    except DataError:
        raise
    except (ValueError, OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot be read as {suffix or 'a table'}: {error}") from error
    raise UnsupportedFormatError(
        f"{path}: unknown format {suffix!r}; use one of {', '.join(READ_FORMATS)} "
        "or a folder of .parquet files"
    )


def read_tables(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Read and stack several files; columns missing from a file are empty for its rows."""
    if not paths:
        raise DataError("no input files given")
    frames = [read_table(p) for p in paths]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True, sort=False)
