"""Parquet, a file or a folder of ``*.parquet`` files read as one: columns keep their
types exactly (see :mod:`nlp.io.values`); rows counted from the footers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from nlp.io.formats import parquet_files
from nlp.io.values import arrow_to_pandas

__all__ = ["parquet_chunks", "parquet_rows"]


def parquet_chunks(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    """Record batches re-cut to exactly ``chunk_size`` rows across the files of a folder."""
    buffered: list[pa.Table] = []
    rows = 0
    schema: pa.Schema | None = None
    for file in parquet_files(path):
        parquet = pq.ParquetFile(file)
        schema = schema or parquet.schema_arrow
        for batch in parquet.iter_batches(batch_size=chunk_size):
            buffered.append(pa.Table.from_batches([batch]))
            rows += batch.num_rows
            while rows >= chunk_size:
                table = pa.concat_tables(buffered, promote_options="permissive")
                yield arrow_to_pandas(table.slice(0, chunk_size))
                rest = table.slice(chunk_size)
                buffered, rows = ([rest] if rest.num_rows else []), rest.num_rows
    if rows:
        yield arrow_to_pandas(pa.concat_tables(buffered, promote_options="permissive"))
    elif schema is not None and parquet_rows(path) == 0:
        yield arrow_to_pandas(schema.empty_table())


def parquet_rows(path: Path) -> int:
    """Rows of a Parquet file or folder, from the footers."""
    return sum(pq.ParquetFile(f).metadata.num_rows for f in parquet_files(path))
