"""Reading and writing cases: YAML/JSON case files, tidy CSV or Parquet tables and DataFrames.

All readers validate through :mod:`belief.data.validation`; all writers produce files the readers
accept, so ``read_case(write_case(case, path))`` gives back an equal case. Writers never leave a
partial file behind: they write to a temporary file next to the target and rename it (links are
followed; devices, FIFOs and hard-linked files are written in place). YAML and JSON are read
with bounded size and depth and without duplicate keys (see :func:`load_mapping`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd
import yaml

from belief.data._arrow import is_parquet, parquet_text, text_frame
from belief.data._columns import check_unique, warn_near_misses
from belief.data._csv import csv_chunks
from belief.data._output import atomic_path, escape_formulas, fast_csv
from belief.data._output import escape_formula as escape_formula  # public: CSV formula escaping
from belief.data._safe_yaml import load_text
from belief.data._text import encodable
from belief.data.types import (
    CLAIM_COLUMNS,
    REPORT_COLUMNS,
    SIGNAL_COLUMNS,
    SOURCE_COLUMNS,
    Case,
)
from belief.data.validation import (
    Origin,
    assemble_case,
    parse_claims,
    parse_reports,
    parse_signals,
    parse_sources,
)
from belief.exceptions import ValidationError

Table: TypeAlias = str | os.PathLike[str] | pd.DataFrame | None
_TABLES = ("claims", "sources", "reports", "signals")
_CASE_KEYS = ("name", "description", "config", *_TABLES)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise ValidationError(f"{path}: cannot read {what} ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise ValidationError(f"{path}: cannot read {what} (not UTF-8 text: {e.reason})") from None


def _kind(path: Path) -> str:
    return "JSON" if path.suffix.lower() == ".json" else "YAML"


def _load_mapping(path: Path) -> dict[str, Any]:
    data = load_text(_read_text(path, "case file"), str(path), kind=_kind(path), case_records=True)
    if not isinstance(data, dict):
        raise ValidationError(f"{path}: expected a mapping with keys {', '.join(_CASE_KEYS)}")
    return data


def load_mapping(path: str | os.PathLike[str], what: str = "config file") -> dict[str, Any]:
    """Read a YAML or JSON file (JSON by the ``.json`` suffix) holding a mapping, safely.

    Safe beyond ``yaml.safe_load``: duplicate keys are errors; a YAML file may not expand
    through aliases to more than 1,000,000 nodes or 10,000,000 characters of text (unless it
    spells them out), and no file may nest lists and mappings deeper than 100 levels; a plain
    scalar is a number, boolean or null only where YAML 1.1 and the YAML 1.2 core schema agree
    (``no``, ``12:30`` and ``1e3`` stay text, ``017`` is 17). An empty file gives ``{}``. This
    is how the command line reads ``--config`` files.

    Raises
    ------
    ValidationError
        Naming the file: it cannot be read, is not valid YAML/JSON, breaks a limit above, or
        holds something other than a mapping. ``what`` names the file in messages.
    """
    p = Path(path)
    data = load_text(_read_text(p, what), str(p), kind=_kind(p))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValidationError(
            f"{p}: expected a mapping (key: value lines) but got a {type(data).__name__}"
        )
    return data


def _records(data: Mapping[str, Any], key: str, label: str) -> list[dict[str, Any]]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise ValidationError(f"{label}: '{key}' must be a list of mappings")
    return value


def case_from_records(
    data: Mapping[str, Any], label: str = "<records>", *, csv: bool = False
) -> Case:
    """Build a validated :class:`Case` from a mapping of record lists (a parsed case file).

    Examples
    --------
    >>> case = case_from_records({
    ...     "claims": [{"claim_id": "c1"}],
    ...     "reports": [{"claim_id": "c1", "source_id": "s1", "stance": "support"}],
    ... })
    >>> case.reports[0].stance
    'confirm'
    """
    origins = {t: Origin(label, t, csv=csv) for t in _TABLES}
    warn_near_misses(data, _CASE_KEYS, lambda k: f"{label}, top-level key {k!r}", "key")
    has_claims = bool(data.get("claims"))
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise ValidationError(f"{label}: 'config' must be a mapping")
    return assemble_case(
        parse_claims(_records(data, "claims", label), origins["claims"]) if has_claims else None,
        parse_sources(_records(data, "sources", label), origins["sources"]),
        parse_reports(_records(data, "reports", label), origins["reports"]),
        parse_signals(_records(data, "signals", label), origins["signals"]),
        origins,
        name=encodable(str(data.get("name") or ""), f"{label}, top-level key 'name'"),
        description=encodable(
            str(data.get("description") or ""), f"{label}, top-level key 'description'"
        ),
        config=dict(config),
        meta={k: v for k, v in data.items() if k not in _CASE_KEYS},
    )


def read_case(path: str | os.PathLike[str]) -> Case:
    """Read a YAML (``.yaml``/``.yml``) or JSON (``.json``) case file, safely.

    Parameters
    ----------
    path : path-like
        The case file: a mapping with ``claims``, ``sources``, ``reports``, ``signals`` (lists
        of records with the data contract's columns), optional ``name``, ``description`` and
        ``config``. Other top-level keys are kept in ``Case.meta``.

    Returns
    -------
    Case

    Raises
    ------
    ValidationError
        If the file cannot be read or any value is invalid; the message names the file, the
        entry and the field.
    """
    p = Path(path)
    data = _load_mapping(p)
    return case_from_records(data, str(p))


def _frame(table: Table, name: str) -> tuple[list[dict[str, Any]], Origin] | None:
    if table is None:
        return None
    if isinstance(table, pd.DataFrame):
        df, label = table, f"{name} DataFrame"
        check_unique(list(df.columns), label)
        rows = tuple(range(2, len(df) + 2))
    else:
        label = str(table)
        if is_parquet(table):  # every column as the text a CSV file would hold
            df = text_frame(parquet_text(table))
            check_unique(list(df.columns), label)
        else:
            df = next(csv_chunks(table))  # the whole file, checked as every CSV reader checks it
        rows = tuple(range(2, len(df) + 2))  # spreadsheet rows: the header is row 1
        # blank lines keep their spreadsheet row number but carry no record
        blank = (df.astype(str).apply(lambda col: col.str.strip()) == "").all(axis=1).to_numpy()
        df, rows = df.loc[~blank], tuple(r for r, b in zip(rows, blank) if not b)
    columns = tuple(df.columns)
    df = df.astype(object).where(pd.notna(df), None)
    return df.to_dict(orient="records"), Origin(label, name, csv=True, rows=rows, columns=columns)


def read_side_tables(
    claims: Table = None,
    sources: Table = None,
    signals: Table = None,
    *,
    config: Mapping[str, Any] | None = None,
) -> Case:
    """The small tables (claims, sources, signals) as a Case without reports.

    What the streaming readers and the Dask backend need besides the reports themselves; read
    once and passed on as ``tables=`` so that no table is read (or warned about) twice.
    """
    empty = pd.DataFrame(columns=["claim_id", "source_id", "stance"])
    return read_tables(claims, sources, empty, signals, config=config)


def read_tables(
    claims: Table = None,
    sources: Table = None,
    reports: Table = None,
    signals: Table = None,
    *,
    name: str = "",
    config: Mapping[str, Any] | None = None,
) -> Case:
    """Read the contract's tidy tables (CSV or Parquet paths, or DataFrames) into a :class:`Case`.

    ``reports`` is required; claims are created from the reports when ``claims`` is omitted.
    Row numbers in errors are spreadsheet rows (the header is row 1). A Parquet file
    (``.parquet``, ``.pq``) is read as the CSV file holding the same values would be (numbers and
    booleans as their text, times as ISO 8601 in UTC, nulls as empty cells; a list or struct
    column is an error naming the row and column), with the same row numbers.

    Examples
    --------
    >>> import pandas as pd
    >>> case = read_tables(reports=pd.DataFrame(
    ...     {"claim_id": ["c1", "c1"], "source_id": ["a", "b"], "stance": ["confirm", "deny"]}))
    >>> [c.claim_id for c in case.claims]
    ['c1']
    """
    if reports is None:
        raise ValidationError("reports table is required")
    frames = {t: _frame(x, t) for t, x in zip(_TABLES, (claims, sources, reports, signals))}
    empty = Origin("<none>", "", csv=True)
    origins = {t: (f[1] if f else empty) for t, f in frames.items()}

    def rows(t: str) -> list[dict[str, Any]]:
        frame = frames[t]
        return frame[0] if frame else []

    parsers: dict[str, Callable[..., Any]] = {
        "claims": parse_claims,
        "sources": parse_sources,
        "reports": parse_reports,
        "signals": parse_signals,
    }
    parsed = {t: parsers[t](rows(t), origins[t]) for t in _TABLES}
    return assemble_case(
        parsed["claims"] if frames["claims"] is not None else None,
        parsed["sources"],
        parsed["reports"],
        parsed["signals"],
        origins,
        name=name,
        config=dict(config or {}),
    )


case_from_frames = read_tables


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _truth_text(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def _record(obj: Any, columns: tuple[str, ...]) -> dict[str, Any]:
    d = asdict(obj)
    extra = d.pop("extra", {})
    if "truth" in d:
        d["truth"] = _truth_text(d["truth"])
    out = {c: _plain(d.get(c)) for c in columns}
    out.update({k: _plain(v) for k, v in extra.items()})
    return out


def case_to_records(case: Case, *, drop_empty: bool = True) -> dict[str, Any]:
    """Return the case as plain records (the inverse of :func:`case_from_records`)."""
    cols = {
        "claims": CLAIM_COLUMNS,
        "sources": SOURCE_COLUMNS,
        "reports": REPORT_COLUMNS,
        "signals": SIGNAL_COLUMNS,
    }
    out: dict[str, Any] = {"name": case.name, "description": case.description}
    if case.config:
        out["config"] = case.config
    out.update(case.meta)
    for t in _TABLES:
        recs = [_record(x, cols[t]) for x in getattr(case, t)]
        if drop_empty:
            recs = [{k: v for k, v in r.items() if v not in (None, "")} for r in recs]
        out[t] = recs
    return out


def _json_default(value: Any) -> Any:
    # YAML case files may hold dates (e.g. an unquoted ``published: 2017-12-19`` extra column)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def case_to_frames(case: Case) -> dict[str, pd.DataFrame]:
    """Return the four contract tables of ``case`` as DataFrames (empty values as ``None``)."""
    recs = case_to_records(case, drop_empty=False)
    cols = dict(zip(_TABLES, (CLAIM_COLUMNS, SOURCE_COLUMNS, REPORT_COLUMNS, SIGNAL_COLUMNS)))
    return {t: pd.DataFrame(recs[t], columns=None if recs[t] else list(cols[t])) for t in _TABLES}


def write_case(case: Case, path: str | os.PathLike[str]) -> Path:
    """Write ``case`` as YAML or JSON (by suffix), atomically. Returns the path."""
    p = Path(path)
    data = case_to_records(case)
    with atomic_path(p) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            if p.suffix.lower() == ".json":
                json.dump(data, f, indent=2, ensure_ascii=False, default=_json_default)
            else:
                yaml.safe_dump(data, f, sort_keys=False, allow_unicode=True)
    return p


def write_tables(case: Case, directory: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the four contract tables as ``<table>.csv`` files into ``directory``.

    Written with :func:`write_csv`, so text a spreadsheet would run as a formula is escaped.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for t, df in case_to_frames(case).items():
        out[t] = write_csv(df, d / f"{t}.csv")
    return out


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a DataFrame to CSV atomically (no partial file on failure).

    Text that a spreadsheet would run as a formula is escaped the OWASP way: a cell or column
    name starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
    ``'`` (so an id ``=HYPERLINK(...)`` is written ``'=HYPERLINK(...)``). Plain numbers such as
    ``-1`` or ``+0.5`` are not escaped, nor is any other value: such files read back unchanged.
    Readers do not remove the quote, so an escaped value reads back with it.
    """
    p = Path(path)
    with atomic_path(p) as tmp:
        if not fast_csv(df, tmp):  # Arrow writes it when no cell needs quoting
            escape_formulas(df).to_csv(tmp, index=False)
    return p


def write_parquet(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a DataFrame to Parquet atomically (pyarrow; no index, no formula escaping: no
    spreadsheet runs a Parquet cell)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ValidationError(
            f"{path}: writing Parquet needs pyarrow (pip install pyarrow)"
        ) from None
    p = Path(path)
    table = pa.Table.from_pandas(df, preserve_index=False)
    with atomic_path(p) as tmp, open(tmp, "wb") as f:
        pq.write_table(table, f)
    return p


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table as Parquet (``.parquet``, ``.pq``) or else CSV (:func:`write_csv`)."""
    return write_parquet(df, path) if is_parquet(path) else write_csv(df, path)
