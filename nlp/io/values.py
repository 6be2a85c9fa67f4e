"""Values exactly as they were written: Arrow and JSON columns as pandas columns.

Integers and booleans with missing values stay integers and booleans (numpy would make them
floats and objects); integers beyond 64 bits become exact decimals of scale 0
(``decimal128(38, 0)``, then ``decimal256(76, 0)``; longer ones their digits as text); a
JSON column mixing integers and fractions is a float column when every integer fits a float
exactly, otherwise objects, and so is a column mixing numbers and text.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

__all__ = ["arrow_to_pandas", "pandas_type", "records_frame"]

_NULLABLE: dict[pa.DataType, Any] = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def pandas_type(kind: pa.DataType) -> Any:
    """The pandas type that holds an Arrow column's values exactly (``types_mapper``):
    integers and booleans with missing values stay integers and booleans, decimals stay
    Arrow decimals; None: pandas' default."""
    if pa.types.is_decimal(kind):
        return pd.ArrowDtype(kind)
    return _NULLABLE.get(kind)


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """``table`` as a frame of exact values (see :func:`pandas_type`)."""
    return table.replace_schema_metadata(None).to_pandas(types_mapper=pandas_type)


def records_frame(records: list[dict[str, Any]], unreadable: list[int]) -> pd.DataFrame:
    """JSON objects as a frame, column by column (keys in first-seen order), every value
    as it was read (see :func:`_json_column`); a key a record lacks is a missing value.
    ``unreadable`` (positions of rows that were not JSON objects) goes to ``attrs``."""
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    frame = pd.DataFrame(
        {name: _json_column([r.get(name) for r in records]) for name in names},
        index=pd.RangeIndex(len(records)),
    )
    frame.attrs["unreadable"] = list(unreadable)
    return frame


def _json_column(values: list[Any]) -> Any:
    """One JSON Lines column, its values exact: integers (with missing values) as nullable
    integers, not floats; integers beyond int64 as exact decimals; numbers that are not all
    exactly floats, text mixed with numbers, and nested values as the objects they are."""
    try:
        array = pa.array(values)
    except (OverflowError, pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        big = _big_integers(values)
        if big is None:
            return pd.Series(values, dtype=object)
        array = big
    if pa.types.is_nested(array.type):  # a struct would add the keys other rows have
        return pd.Series(values, dtype=object)
    return array.to_pandas(types_mapper=pandas_type)


def _big_integers(values: list[Any]) -> pa.Array | None:
    """Integers some of which int64 cannot hold, as an exact decimal column (or, beyond 76
    digits, their digits as text); None when the values are not all integers."""
    if not all(v is None or type(v) is int for v in values):  # bool is an int: excluded
        return None
    widest = max(abs(v) for v in values if v is not None)
    if widest < 10**38:
        return pa.array(values, type=pa.decimal128(38, 0))
    if widest < 10**76:
        return pa.array(values, type=pa.decimal256(76, 0))
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())
