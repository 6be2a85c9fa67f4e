"""Excel workbooks (``.xlsx``, and the older binary ``.xls``) through python-calamine: the
first sheet, cells as text (empty cells ``""``). The format cannot be streamed: the sheet
is read whole, then handed out in chunks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from nlp.errors import DataError

__all__ = ["excel_chunks", "excel_rows", "read_excel"]


def read_excel(path: Path) -> pd.DataFrame:
    """The first sheet, whole, as text: like a CSV cell, a cell that reads "NA" or "null"
    is that text, not a missing value."""
    from python_calamine import CalamineError

    try:
        frame = pd.read_excel(path, engine="calamine", dtype=str, keep_default_na=False)
    except CalamineError as error:  # not a ValueError: named here
        raise DataError(f"{path}: cannot be read as excel: {error}") from error
    return frame.fillna("")


def excel_chunks(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    """The sheet in frames of at most ``chunk_size`` rows (one empty frame if it has none)."""
    whole = read_excel(path)
    if whole.empty:
        yield whole
    for start in range(0, len(whole), chunk_size):
        yield whole.iloc[start : start + chunk_size].copy()


def excel_rows(path: Path) -> int:
    """Rows of the first sheet (read whole: a workbook has no cheaper count)."""
    return len(read_excel(path))
