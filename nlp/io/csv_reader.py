"""CSV: cells as text (an id ``007`` keeps its zeros), UTF-8 with or without a byte order
mark, or GB18030 as many Chinese exports are; read in chunks, rows counted fast."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from nlp.errors import DataError

__all__ = ["csv_chunks", "csv_rows", "sniff_encoding"]


def sniff_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) unless the first megabyte does not decode: GB18030.

    Plain "utf-8" when there is no BOM: pandas' C reader decodes it natively, while
    "utf-8-sig" goes through a Python codec with a larger buffer."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
        block = head
        try:
            for _ in range(16):  # the first megabyte, 64 KiB at a time
                decoder.decode(block, final=False)
                block = handle.read(1 << 16)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"


def csv_chunks(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    """Frames of at most ``chunk_size`` rows of text cells (empty cells ``""``); a file with
    a header only gives one empty frame with its columns."""
    encoding = sniff_encoding(path)
    options: dict[str, Any] = {"dtype": str, "keep_default_na": False, "encoding": encoding}
    try:
        header = pd.read_csv(path, nrows=0, **options)
    except pd.errors.EmptyDataError as error:
        raise DataError(f"{path}: the file is empty (not even a header row)") from error
    produced = False
    with pd.read_csv(path, chunksize=chunk_size, **options) as reader:
        for frame in reader:
            produced = True
            yield frame
    if not produced:
        yield header


def csv_rows(path: Path, chunk_size: int) -> int:
    """Rows of a CSV file. Arrow's parser converts only the first column (in 1 MiB
    blocks, faster than pandas reading it); pandas counts when Arrow refuses the file
    (ragged rows)."""
    encoding = sniff_encoding(path)
    first = pd.read_csv(path, nrows=0, dtype=str, encoding=encoding).columns[0]
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(
                use_threads=False, block_size=1 << 20, encoding=encoding
            ),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                include_columns=[first], column_types={first: pa.string()}
            ),
        )
        with reader:
            return sum(batch.num_rows for batch in reader)
    except (pa.ArrowInvalid, pa.ArrowKeyError):
        pass
    total = 0
    with pd.read_csv(
        path,
        usecols=[0],
        dtype=str,
        keep_default_na=False,
        encoding=encoding,
        chunksize=chunk_size,
    ) as reader:
        for frame in reader:
            total += len(frame)
    return total
