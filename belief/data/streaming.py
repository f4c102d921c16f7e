"""Reading reports: CSV or Parquet files into integer codes, validated.

A report file (CSV, or Parquet by its ``.parquet``/``.pq`` suffix) is first read by the Arrow fast
path (``belief.data._arrow``: pyarrow's multi-threaded CSV parser, ids dictionary-encoded once,
checks on the distinct values only). Anything that path does not take as plainly valid sends the
file through the validating reader: chunks of ``chunksize`` rows read with pandas' C parser (or
slices of the Parquet table), each validated with vectorized checks (the first bad row raises the
same :class:`~belief.exceptions.ValidationError` as :func:`belief.data.io.read_tables`, naming the
file, the spreadsheet row and the column). Both give the same integer codes
(:class:`~belief.data.arrays.ReportArrays`). No :class:`~belief.data.types.Report` object is built
per row and nothing is dense in claims × sources.

:func:`belief.core.compiler.compile_arrays` (the one compiler) then gives the same
:class:`~belief.core.compiler.Evidence` as ``compile_case(read_tables(...))``. :func:`read_evidence`
does both from the contract's files.

Times are parsed with ``pandas.to_datetime(format="ISO8601", utc=True)``; a value pandas cannot
parse is checked with :func:`belief.data.validation.parse_time`, which raises the usual error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from belief.data import _arrow
from belief.data._columns import check_unique, did_you_mean, warn_near_misses
from belief.data._csv import csv_chunks, header
from belief.data._text import encodable, ident
from belief.data.arrays import NO_TIME, ReportArrays, time_code
from belief.data.types import REPORT_COLUMNS, Report
from belief.data.validation import (
    STANCE_ALIASES,
    Origin,
    _stance,
    parse_reports,
    parse_time,
)
from belief.exceptions import ValidationError

__all__ = [
    "iter_report_chunks",
    "normalize_chunk",
    "read_partition",
    "read_reports",
    "report_items",
]

_REQUIRED = ("claim_id", "source_id", "stance")
_IDS = ("claim_id", "source_id", "derived_from")
_CODES = {"confirm": 1, "deny": -1, "neutral": 0}
_STANCE_CODE = {k: _CODES[v] for k, v in STANCE_ALIASES.items()}
PathLike = str | os.PathLike[str]


def _where(label: str, row: int, column: str) -> str:
    return f"{label}, row {row}, column '{column}'"


def _text_column(df: pd.DataFrame, column: str, label: str, rows: np.ndarray) -> pd.Series:
    """Stripped text of ``column`` ('' where missing), for frames read as text or not.

    An id (``claim_id``, ``source_id``, ``derived_from``) may hold no NUL byte and no lone
    surrogate, as in the row-level reader (only a DataFrame can hold a surrogate: no UTF-8 file
    can).
    """
    if column not in df.columns:
        return pd.Series("", index=df.index, dtype=object)
    col = df[column].where(df[column].notna(), "")
    try:
        text = col.astype(str).str.strip()
    except UnicodeEncodeError:  # pandas' Arrow-backed text cannot hold a lone surrogate
        i = next(k for k, v in enumerate(col) if any("\ud800" <= c <= "\udfff" for c in str(v)))
        encodable(str(col.iloc[i]), _where(label, int(rows[i]), column))  # raises
        raise
    bad = text.str.contains("\0", regex=False).to_numpy(dtype=bool)
    if column in _IDS and bad.any():
        i = _first_bad(bad)
        ident(text.iloc[i], _where(label, int(rows[i]), column))  # raises
    return text


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


#: Times that pandas and :func:`~belief.data.validation.parse_time` read alike (a date, then
#: optionally hours, minutes, seconds, a fraction and a UTC offset). pandas also reads ``2017``,
#: ``2017-12``, ``now`` and ``today``, which parse_time refuses: every other value is left to
#: parse_time, so both readers accept and refuse the same times.
_PLAIN_TIME = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}(?::[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})?)?"
)

_FIRST, _LAST = time_code(datetime.min), time_code(datetime.max)


def _times(raw: pd.Series, label: str, rows: np.ndarray) -> np.ndarray:
    """Microseconds since the epoch (UTC), :data:`NO_TIME` where empty; errors as parse_time."""
    present = (raw != "").to_numpy()
    out = np.full(len(raw), NO_TIME, dtype=np.int64)
    if not present.any():
        return out
    text = raw[present]
    parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    us = parsed.dt.tz_localize(None).to_numpy("datetime64[us]").view(np.int64).copy()
    plain = text.str.fullmatch(_PLAIN_TIME).to_numpy(dtype=bool)
    us[~plain | (us < _FIRST) | (us > _LAST)] = NO_TIME  # UTC beyond years 1-9999 included
    idx = np.flatnonzero(present)
    for k in np.flatnonzero(us == NO_TIME):  # not plain, or pandas refused: parse_time decides
        i = idx[k]
        t = parse_time(raw.iloc[i], _where(label, int(rows[i]), "time"))
        us[k] = time_code(t)
    out[idx] = us
    return out


def _check_header(columns: list, label: str) -> None:
    for column in _REQUIRED:
        if column not in columns:
            unknown = [c for c in columns if c not in REPORT_COLUMNS]
            raise ValidationError(
                f"{label}: required column '{column}' missing{did_you_mean(column, unknown)}"
            )


def normalize_chunk(df: pd.DataFrame, label: str, first_row: int = 2) -> pd.DataFrame:
    """Validate one chunk of a reports table and normalize it (vectorized).

    Parameters
    ----------
    df : DataFrame
        Rows of reports.csv (read as text).
    label : str
        The file name used in error messages.
    first_row : int
        Spreadsheet row of ``df``'s first row (the header is row 1).

    Returns
    -------
    DataFrame
        Columns ``claim_id``, ``source_id``, ``derived_from`` (text, ``None`` when empty),
        ``stance`` (int8: 1, -1, 0), ``time`` (int64 microseconds, :data:`NO_TIME`) and ``row``.

    Raises
    ------
    ValidationError
        At the first bad value, naming the file, the row and the column.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"claim_id": ["c1"], "source_id": ["a"], "stance": ["Support"]})
    >>> normalize_chunk(df, "reports.csv")["stance"].tolist()
    [1]
    >>> df.loc[0, "stance"] = "maybe"
    >>> normalize_chunk(df, "reports.csv", first_row=7)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    belief.exceptions.ValidationError: reports.csv, row 7, column 'stance': invalid stance ...
    """
    _check_header(list(df.columns), label)
    rows = first_row + np.arange(len(df), dtype=np.int64)
    # blank lines keep their spreadsheet row number but carry no report
    try:
        blank = (df.astype(str).apply(lambda col: col.str.strip()) == "").all(axis=1).to_numpy()
    except UnicodeEncodeError:  # a lone surrogate in a DataFrame: Arrow text cannot hold it
        blank = df.apply(lambda col: col.map(lambda v: str(v).strip() == "")).all(axis=1)
        blank = blank.to_numpy(dtype=bool)
    if blank.any():
        df, rows = df.loc[~blank], rows[~blank]
    out = {}
    for column in ("claim_id", "source_id"):
        values = _text_column(df, column, label, rows)
        empty = (values == "").to_numpy()
        if empty.any():
            i = _first_bad(empty)
            raise ValidationError(f"{_where(label, int(rows[i]), column)}: required value missing")
        out[column] = values.to_numpy(dtype=object)
    stance_text = _text_column(df, "stance", label, rows)
    code = stance_text.str.lower().map(_STANCE_CODE)
    if code.isna().any():
        i = _first_bad(code.isna().to_numpy())
        _stance(stance_text.iloc[i], _where(label, int(rows[i]), "stance"))  # raises
    derived = _text_column(df, "derived_from", label, rows)
    out["derived_from"] = derived.where(derived != "", None).to_numpy(dtype=object)
    out["stance"] = code.to_numpy(dtype=np.int8)
    out["time"] = _times(_text_column(df, "time", label, rows), label, rows)
    out["row"] = rows
    return pd.DataFrame(out)


def iter_report_chunks(
    reports: PathLike | pd.DataFrame, *, chunksize: int = 200_000
) -> Iterator[pd.DataFrame]:
    """Yield validated, normalized chunks (see :func:`normalize_chunk`) of a reports table."""
    if isinstance(reports, pd.DataFrame):
        for start in range(0, max(len(reports), 1), chunksize):
            yield normalize_chunk(
                reports.iloc[start : start + chunksize], "reports DataFrame", start + 2
            )
        return
    label, first = str(reports), 2
    if _arrow.is_parquet(reports):
        yield from _table_chunks(_arrow.parquet_text(reports), label, chunksize)
        return
    for df in csv_chunks(reports, chunksize=chunksize):
        if first == 2:  # the header, once: as read_tables checks it
            _header_checks(header(reports), label)
        yield normalize_chunk(df, label, first)
        first += len(df)


def _header_checks(columns: list, label: str) -> None:
    """Required columns present, near misses of known names warned (once per file)."""
    _check_header(columns, label)
    warn_near_misses(columns, REPORT_COLUMNS, lambda c: f"{label}, column {c!r}")


def _table_chunks(table: Any, label: str, chunksize: int) -> Iterator[pd.DataFrame]:
    """Validated chunks of a text table (a Parquet file read as text)."""
    check_unique(table.column_names, label)
    _header_checks(table.column_names, label)
    for start in range(0, table.num_rows, chunksize):
        df = _arrow.text_frame(table.slice(start, chunksize))
        yield normalize_chunk(df, label, start + 2)


def _text_table(reports: PathLike) -> Any:
    """The file as an Arrow text table for the fast path, or ``None`` (pandas reads it).

    Parquet files are always read here (errors naming the file are raised); CSV files when
    pyarrow is installed and parses them.
    """
    if _arrow.is_parquet(reports):
        return _arrow.parquet_text(reports)
    if not _arrow.have_pyarrow():
        return None
    try:
        names = header(reports)
    except Exception:  # the validating reader names the problem
        return None
    return _arrow.csv_text(reports, names)


def _fast(reports: PathLike | pd.DataFrame, read: Any) -> Any:
    """``read(table)`` on the Arrow fast path; ``(None, table)`` when the file needs the
    validating reader (``table``: the Parquet text table, not to be read twice)."""
    if isinstance(reports, pd.DataFrame):
        return None, None
    table = _text_table(reports)
    if table is None:
        return None, None
    got = read(table)
    if got is not None:
        _header_checks(table.column_names, str(reports))
    return got, table


def _chunks(reports: PathLike | pd.DataFrame, table: Any, chunksize: int) -> Iterator[pd.DataFrame]:
    if table is not None and _arrow.is_parquet(reports):
        return _table_chunks(table, str(reports), chunksize)
    return iter_report_chunks(reports, chunksize=chunksize)


def read_partition(path: PathLike, *, chunksize: int = 200_000) -> pd.DataFrame:
    """One report file as one validated, normalized frame (:func:`normalize_chunk`'s columns),
    through the Arrow fast path when it can: how a Dask worker reads its partition."""
    got, table = _fast(path, _arrow.normalized)
    if got is not None:
        return got
    chunks = list(_chunks(path, table, chunksize))
    return pd.concat(chunks, ignore_index=True) if chunks else empty_chunk()


def empty_chunk() -> pd.DataFrame:
    """An empty normalized chunk (:func:`normalize_chunk`'s columns) with a real one's dtypes."""
    row = pd.DataFrame({"claim_id": ["c"], "source_id": ["s"], "stance": ["confirm"],
                        "derived_from": ["d"], "time": [""]})  # fmt: skip
    return normalize_chunk(row, "").iloc[:0]


def read_normalized(reports: PathLike | pd.DataFrame, *, chunksize: int = 200_000) -> pd.DataFrame:
    """A whole reports table as one validated, normalized frame (:func:`iter_report_chunks`)."""
    chunks = list(iter_report_chunks(reports, chunksize=chunksize))
    return pd.concat(chunks, ignore_index=True) if chunks else empty_chunk()


def _encode(values: np.ndarray, codes: dict[str, int]) -> np.ndarray:
    """Integer codes of ``values``, extending ``codes`` in order of first appearance."""
    local, uniques = pd.factorize(values)
    glob = np.fromiter(
        (codes.setdefault(u, len(codes)) for u in uniques), dtype=np.int64, count=len(uniques)
    )
    return glob[local] if len(local) else np.zeros(0, dtype=np.int64)


def unknown_claim_error(
    label: str, row: int, claim_id: str, known: Sequence[str]
) -> ValidationError:
    shown = sorted(known)[:10]
    listing = ", ".join(shown) + (", ..." if len(known) > 10 else "")
    return ValidationError(
        f"{_where(label, row, 'claim_id')}: unknown claim {claim_id!r}; known claims: {listing}"
    )


def read_reports(
    reports: PathLike | pd.DataFrame,
    *,
    claim_ids: Sequence[str] | None = None,
    chunksize: int = 200_000,
) -> ReportArrays:
    """Read a reports table in chunks into :class:`ReportArrays`.

    Parameters
    ----------
    reports : path-like or DataFrame
        reports.csv or a Parquet file (``.parquet``, ``.pq``) with the data contract's columns.
    claim_ids : sequence of str, optional
        Known claims (the claims table, in order); a report on another claim is an error.
        Without it, claims are coded in order of first appearance.
    chunksize : int
        Rows per chunk of the validating reader: bounds the memory it spends on text.

    Returns
    -------
    ReportArrays

    Examples
    --------
    >>> import pandas as pd
    >>> ra = read_reports(pd.DataFrame({"claim_id": ["c2", "c1", "c2"],
    ...                                 "source_id": ["a", "b", "a"],
    ...                                 "stance": ["confirm", "deny", "neutral"]}))
    >>> ra.claim_ids, ra.claim.tolist(), ra.stance.tolist()
    (['c2', 'c1'], [0, 1, 0], [1, -1, 0])
    """
    fast, table = _fast(
        reports, lambda t: _arrow.report_arrays(t, None if claim_ids is None else list(claim_ids))
    )
    if fast is not None:
        del table
        _arrow.release_unused()  # the text table's memory goes back to the system now
        return fast
    known = None if claim_ids is None else pd.Index(list(claim_ids))
    cdict: dict[str, int] = {}
    sdict: dict[str, int] = {}
    parts = []
    label = "reports DataFrame" if isinstance(reports, pd.DataFrame) else str(reports)
    for ch in _chunks(reports, table, chunksize):
        if known is not None:
            claim = known.get_indexer(ch["claim_id"].to_numpy()).astype(np.int64)
            if (claim < 0).any():
                i = _first_bad(claim < 0)
                raise unknown_claim_error(
                    label, int(ch["row"].iloc[i]), ch["claim_id"].iloc[i], known
                )
        else:
            claim = _encode(ch["claim_id"].to_numpy(), cdict)
        source = _encode(ch["source_id"].to_numpy(), sdict)
        has = ch["derived_from"].notna().to_numpy()
        derived = np.full(len(ch), -1, dtype=np.int64)
        derived[has] = _encode(ch["derived_from"].to_numpy()[has], sdict)
        parts.append((claim, source, ch["stance"].to_numpy(), derived, ch["time"].to_numpy()))
    empty = (np.zeros(0, np.int64),) * 5
    cols = [np.concatenate(c) for c in zip(*parts)] if parts else list(empty)
    return ReportArrays(
        claim_ids=list(known) if known is not None else list(cdict),
        source_ids=list(sdict),
        claim=cols[0],
        source=cols[1],
        stance=cols[2].astype(np.int8),
        derived=cols[3],
        time=cols[4],
    )


def report_items(reports: Any) -> list[tuple[str, str, int, str | None, int]]:
    """``(claim_id, source_id, stance code, derived_from, time code)`` per report, validated.

    Parameters
    ----------
    reports : Report, mapping, DataFrame or iterable of reports/mappings
        What :meth:`belief.engines.incremental.Belief.update` takes. Mappings and DataFrames use the
        data contract's report columns; errors name ``update`` and the entry or row.

    Returns
    -------
    list of tuple
        One ``(claim_id, source_id, stance, derived_from, time)`` per report, in order, with
        the stance coded ``1``/``-1``/``0`` and the time in microseconds (:data:`NO_TIME` when
        missing).
    """
    if isinstance(reports, pd.DataFrame):
        df = normalize_chunk(reports, "reports DataFrame")
        cols = ("claim_id", "source_id", "stance", "derived_from", "time")
        return [(a, b, int(c), d, int(t)) for a, b, c, d, t in zip(*(df[k] for k in cols))]
    if isinstance(reports, Report | Mapping):
        reports = [reports]
    out = []
    for k, r in enumerate(reports):
        if not isinstance(r, Report):
            r = parse_reports([r], Origin("update", f"reports[{k}]", csv=False))[0]
        if r.stance not in _CODES:
            raise ValidationError(f"update, report {k + 1}: invalid stance {r.stance!r}")
        out.append((r.claim_id, r.source_id, _CODES[r.stance], r.derived_from, time_code(r.time)))
    return out
