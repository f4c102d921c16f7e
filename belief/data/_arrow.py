"""The Arrow fast path: report tables read and coded without a Python object per row.

Reading: CSV through pyarrow's multi-threaded parser and Parquet through ``pyarrow.parquet``,
every column as text (a Parquet column is turned into the text a CSV file would hold: see
:func:`parquet_text`). :func:`report_arrays` then codes the reports with vectorized Arrow
kernels: each id column is dictionary-encoded once, and stripping, the NUL check, stance
aliases and time parsing run on the distinct values only.

The fast path never decides that input is bad: whenever it sees anything it does not take as
plainly valid (a parse error, an empty id, an unknown stance or claim, a time it cannot read, a
blank line), it returns ``None`` and the caller reads the file again through the validating
readers of :mod:`belief.data.streaming`, which accept the same files, give the same codes and
raise the same errors naming the file, row and column. pyarrow is optional (pandas brings it);
without it everything goes through those readers, and Parquet files cannot be read.
"""

from __future__ import annotations

import importlib.util
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from belief.data.arrays import NO_TIME, ReportArrays
from belief.exceptions import ValidationError

#: The characters ``str.strip()`` removes (``str.isspace``), for Arrow's trim kernel.
SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
PARQUET_SUFFIXES = (".parquet", ".pq")
#: Report columns with few distinct values: read from Parquet as dictionaries, never decoded.
_FEW_VALUES = ("source_id", "stance", "derived_from")
_BLOCK = 16 << 20  # bytes per block of the CSV parser (one block per thread at a time)


def have_pyarrow() -> bool:
    """Whether pyarrow can be imported (without importing it)."""
    return importlib.util.find_spec("pyarrow") is not None


def is_parquet(path: Any) -> bool:
    """Whether ``path`` names a Parquet file (by its suffix)."""
    return isinstance(path, str | os.PathLike) and str(path).lower().endswith(PARQUET_SUFFIXES)


# ----------------------------------------------------------------------------- reading


def csv_text(path: str | os.PathLike[str], names: list[str]) -> Any:
    """The CSV file as a pyarrow Table of text columns, or ``None`` if pyarrow refuses it.

    The options are those of :data:`belief.data._csv.OPTIONS`: every value text (no NA
    guessing), quoted line breaks allowed, blank lines kept as rows. ``names`` is the header
    as pandas reads it: a file whose header pyarrow reads otherwise is left to pandas.
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if len(set(names)) != len(names):
        return None
    try:
        table = pcsv.read_csv(
            path,
            read_options=pcsv.ReadOptions(use_threads=True, block_size=_BLOCK),
            parse_options=pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, OSError, ValueError):
        return None
    return table if table.column_names == names else None


def parquet_text(path: str | os.PathLike[str]) -> Any:
    """A Parquet file as a pyarrow Table whose every column is text, as in a CSV file.

    Text columns stay as they are (checked to be UTF-8); integers, floats, booleans
    (``true``/``false``) and decimals become their text, so the readers parse them exactly as
    they parse a CSV cell; times become ISO 8601 text in UTC (microseconds), dates
    ``YYYY-MM-DD``; a missing value (null) is an empty cell. A column of any other type
    (lists, structs, maps, binary that is not UTF-8) is an error naming the file, the row of its
    first value and the column. Rows are numbered as in the CSV file the table would be (the
    header is row 1, the first row of data row 2), as for DataFrames.

    Raises
    ------
    ValidationError
        Naming the file: pyarrow is missing, the file is missing, a directory or not Parquet,
        or a column has a type that holds no text.
    """
    label = str(path)
    if not have_pyarrow():
        raise ValidationError(f"{label}: reading Parquet needs pyarrow (pip install pyarrow)")
    import pyarrow as pa
    import pyarrow.parquet as pq

    if os.path.isdir(path):
        raise ValidationError(f"{label}: is a directory, expected a Parquet file")
    try:
        schema = pq.read_schema(path)
        few = [
            n for n in _FEW_VALUES if n in schema.names and pa.types.is_string(schema.field(n).type)
        ]
        table = pq.read_table(path, read_dictionary=few)
    except FileNotFoundError:
        raise ValidationError(f"{label}: file not found") from None
    except (pa.ArrowException, OSError) as e:
        raise ValidationError(
            f"{label}: cannot read as Parquet: {' '.join(str(e).split())}"
        ) from None
    cols = [_text_column(table.column(i), label, name) for i, name in enumerate(table.column_names)]
    return pa.table(cols, names=table.column_names)


def _text_column(col: Any, label: str, name: str) -> Any:
    """One Parquet column as non-null UTF-8 text (see :func:`parquet_text`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = col.type
    if pa.types.is_dictionary(t) and pa.types.is_string(t.value_type) and not col.null_count:
        for chunk in col.chunks:
            chunk.dictionary.validate(full=True)  # UTF-8
        return col  # kept encoded: :func:`_encode` uses the codes
    if pa.types.is_dictionary(t):
        col, t = col.cast(t.value_type), t.value_type
    try:
        if pa.types.is_timestamp(t):
            naive = col.cast(pa.timestamp("us"), safe=False)  # UTC, as the contract stores it
            text = pc.strftime(naive, format="%Y-%m-%dT%H:%M:%S")
        elif pa.types.is_null(t):
            text = pa.nulls(len(col), pa.string())  # every cell empty
        elif (
            pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or pa.types.is_string_view(t)
            or pa.types.is_binary(t)
            or pa.types.is_large_binary(t)
            or pa.types.is_integer(t)
            or pa.types.is_floating(t)
            or pa.types.is_boolean(t)
            or pa.types.is_decimal(t)
            or pa.types.is_date(t)
        ):
            text = col.cast(pa.string())
        else:
            raise TypeError
        text.validate(full=True)  # UTF-8, for text and binary columns
    except (TypeError, pa.ArrowException):
        valid = pc.is_valid(col) if len(col) else pa.array([], pa.bool_())
        first = int(pc.index(valid, True).as_py()) if pc.any(valid).as_py() else 0
        raise ValidationError(
            f"{label}, row {first + 2}, column '{name}': expected text, numbers or times but "
            f"the Parquet column holds {t}"
        ) from None
    return pc.fill_null(text, "").cast(pa.string())


# ------------------------------------------------------------------------------ coding


def _combined(col: Any) -> Any:
    """One contiguous array of a text column (large offsets past 2 GB of text)."""
    import pyarrow as pa

    if col.num_chunks == 1:
        return col.chunk(0)
    if col.nbytes > (1 << 31) - (1 << 26):
        col = col.cast(pa.large_string())
    return col.combine_chunks()


def _dictionary(col: Any, first: bool) -> tuple[np.ndarray, Any]:
    """Codes and distinct values of a dictionary-encoded column (Parquet); in order of first
    appearance if ``first``, else in the order of the file's dictionaries."""
    import pyarrow as pa

    col = col.unify_dictionaries()
    if not col.num_chunks:
        return np.zeros(0, np.int64), pa.array([], pa.string())
    codes = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in col.chunks])
    values = col.chunk(0).dictionary
    if first:
        codes, order = pd.factorize(codes)
        values = values.take(pa.array(order))
    return codes, values


def _encode(col: Any, first: bool = True) -> tuple[np.ndarray, Any]:
    """Codes and the stripped distinct values of a text column (in order of first appearance,
    or, for a column read encoded and ``first`` false, in the file's order).

    The column is dictionary-encoded once; stripping (``str.strip``'s characters) runs on the
    distinct values, and values that differ only by blanks share one code.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(col.type):
        codes, raw = _dictionary(col, first)
    else:
        enc = pc.dictionary_encode(_combined(col))
        codes, raw = enc.indices.to_numpy(zero_copy_only=False), enc.dictionary
    values = pc.utf8_trim(raw, characters=SPACE)
    if not values.equals(raw):
        again = pc.dictionary_encode(values)
        codes, values = again.indices.to_numpy(zero_copy_only=False)[codes], again.dictionary
    return codes, values


def _plain_ids(values: Any, empty_ok: bool = False) -> bool:
    """No NUL byte in the distinct ids, and no empty one unless ``empty_ok``."""
    import pyarrow.compute as pc

    if not len(values):
        return True
    if not empty_ok and pc.any(pc.equal(values, "")).as_py():
        return False
    return not pc.any(pc.match_substring(values, "\0")).as_py()


def _stances(values: Any) -> np.ndarray | None:
    from belief.data.streaming import _STANCE_CODE

    codes = [_STANCE_CODE.get(v.lower()) for v in values.to_pylist()]
    return None if None in codes else np.array(codes, dtype=np.int8)


def _time_codes(values: Any) -> np.ndarray | None:
    from belief.data.streaming import _times

    text = values.to_pandas()  # pandas text backed by Arrow: no Python string per value
    try:
        return _times(text, "", np.zeros(len(text), dtype=np.int64))
    except ValidationError:
        return None


def _columns(table: Any) -> dict[str, tuple[np.ndarray, Any]] | None:
    """The report columns of ``table``, encoded (two at a time: Arrow releases the GIL)."""
    names = [c for c in ("claim_id", "source_id", "stance", "derived_from", "time")
             if c in table.column_names]  # fmt: skip
    if not {"claim_id", "source_id", "stance"} <= set(names):
        return None
    with ThreadPoolExecutor(2) as pool:  # claims (and sources) in order of first appearance
        work = pool.map(lambda c: _encode(table.column(c), c in ("claim_id", "source_id")), names)
        return dict(zip(names, work))


def _checked(table: Any) -> dict[str, Any] | None:
    """Per column: row codes and what each distinct value means; ``None`` at anything odd."""
    cols = _columns(table)
    if cols is None:
        return None
    out: dict[str, Any] = {}
    for c in ("claim_id", "source_id"):
        if not _plain_ids(cols[c][1]):
            return None
    if "derived_from" in cols and not _plain_ids(cols["derived_from"][1], empty_ok=True):
        return None
    stance = _stances(cols["stance"][1])
    if stance is None:
        return None
    out["stance"] = stance[cols["stance"][0]]
    n = len(out["stance"])
    out["time"] = np.full(n, NO_TIME, dtype=np.int64)
    if "time" in cols:
        times = _time_codes(cols["time"][1])
        if times is None:
            return None
        out["time"] = times[cols["time"][0]]
    out.update({c: cols[c] for c in ("claim_id", "source_id", "derived_from") if c in cols})
    return out


def _derived(cols: dict[str, Any], sources: Any) -> tuple[np.ndarray, list[str]]:
    """Codes of ``derived_from`` (``-1`` when empty) and the source ids they add."""
    import pyarrow.compute as pc

    n = len(cols["stance"])
    if "derived_from" not in cols:
        return np.full(n, -1, dtype=np.int64), []
    codes, values = cols["derived_from"]
    at = pc.index_in(values, value_set=sources).to_numpy(zero_copy_only=False)
    at = np.where(np.isnan(at), -1, at).astype(np.int64)  # nulls: not a reporting source
    empty = pc.equal(values, "").to_numpy(zero_copy_only=False)
    new = np.flatnonzero((at < 0) & ~empty)
    at[new] = len(sources) + np.arange(len(new))
    at[empty] = -1
    extra = values.take(new).to_pylist()
    return at[codes], extra


def release_unused() -> None:
    """Return the memory Arrow's pool keeps from freed tables (hundreds of MB at 10M reports)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def report_arrays(table: Any, claim_ids: list[str] | None = None) -> ReportArrays | None:
    """:func:`belief.data.streaming.read_reports` of a text table, or ``None`` to fall back.

    Claims are coded in order of first appearance (or by ``claim_ids``), sources in order of
    first appearance of ``source_id``, then the ``derived_from`` values not among them.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = _checked(table)
    if cols is None:
        return None
    claim, claims = cols["claim_id"]
    if claim_ids is not None:
        at = pc.index_in(claims, value_set=pa.array(claim_ids, pa.string()))
        if at.null_count:
            return None  # an unknown claim: the validating reader names its row
        claim = at.to_numpy(zero_copy_only=False).astype(np.int64)[claim]
        names = list(claim_ids)
    else:
        names = claims.to_pylist()
    source, sources = cols["source_id"]
    derived, extra = _derived(cols, sources)
    return ReportArrays(
        claim_ids=names,
        source_ids=sources.to_pylist() + extra,
        claim=claim.astype(np.int64),
        source=source.astype(np.int64),
        stance=cols["stance"],
        derived=derived,
        time=cols["time"],
    )


def normalized(table: Any) -> pd.DataFrame | None:
    """:func:`belief.data.streaming.read_normalized` of a text table, or ``None`` to fall back.

    The id columns are pandas text columns built from Arrow (no Python string per row).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = _checked(table)
    if cols is None:
        return None
    n = len(cols["stance"])
    out: dict[str, Any] = {}
    for c in ("claim_id", "source_id", "derived_from"):
        codes, values = cols.get(c, (np.zeros(n, np.int64), pa.array([""], pa.string())))
        if c == "derived_from":  # an empty cell: an original report (missing value)
            values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
        out[c] = values.take(pa.array(codes)).to_pandas().astype("str")
    out["stance"], out["time"] = cols["stance"], cols["time"]
    out["row"] = np.arange(2, n + 2, dtype=np.int64)
    return pd.DataFrame(out)


def text_frame(table: Any) -> pd.DataFrame:
    """A text table as a pandas DataFrame of text columns (what the CSV readers produce)."""
    import pyarrow as pa

    return table.cast(pa.schema([(n, pa.string()) for n in table.column_names])).to_pandas()
