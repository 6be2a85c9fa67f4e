"""Reading tickets from files: one format table, chunked readers for every format.

:func:`iter_chunks` streams a file in frames of rows (batch tagging); :func:`read_table`
is all of its chunks put together (training, evaluation, the notebooks), so every client
reads the same values. Formats (see :data:`INPUT_FORMATS`): CSV (UTF-8 or GB18030), JSON
Lines, Parquet (a file or a folder of ``*.parquet``), Excel ``.xlsx`` and ``.xls``.

- :mod:`nlp.io.formats`: the format table and telling a path's format.
- :mod:`nlp.io.tables`: ``iter_chunks``, ``count_rows``, ``read_table``, ``read_tables``.
- ``csv_reader``, ``jsonl_reader``, ``parquet_reader``, ``excel_reader``: one per format.
- :mod:`nlp.io.values`: Arrow and JSON values as exact pandas columns.
"""

from nlp.io.formats import INPUT_FORMATS, InputFormat, input_format
from nlp.io.tables import DEFAULT_CHUNK_SIZE, count_rows, iter_chunks, read_table, read_tables

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "INPUT_FORMATS",
    "InputFormat",
    "count_rows",
    "input_format",
    "iter_chunks",
    "read_table",
    "read_tables",
]
