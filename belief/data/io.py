"""Reading and writing cases: YAML/JSON case files, tidy CSV tables and pandas DataFrames.

All readers validate through :mod:`belief.data.validation`; all writers produce files the readers
accept, so ``read_case(write_case(case, path))`` gives back an equal case. Writers never leave a
partial file behind: they write to a temporary file next to the target and rename it.
"""

from __future__ import annotations

import csv
import json
import math
import os
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd
import yaml

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


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success."""
    target = Path(path)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.tmp"
    # os.open with mode 0o666 honours the umask (mkstemp would leave the output at 0600)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load_mapping(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ValidationError(f"{path}: cannot read case file ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise ValidationError(
            f"{path}: cannot read case file (not UTF-8 text: {e.reason})"
        ) from None
    kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
    try:
        data = json.loads(text) if kind == "JSON" else yaml.safe_load(text)
    except json.JSONDecodeError as e:
        raise ValidationError(f"{path}: not valid JSON: {e}") from None
    except yaml.YAMLError as e:
        # PyYAML's own message spans several lines; keep the error to one line
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or " ".join(str(e).split())
        raise ValidationError(f"{path}: not valid YAML: {problem}{at}") from None
    if not isinstance(data, dict):
        raise ValidationError(f"{path}: expected a mapping with keys {', '.join(_CASE_KEYS)}")
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
        name=str(data.get("name") or ""),
        description=str(data.get("description") or ""),
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
    else:
        label = str(table)
        try:
            with warnings.catch_warnings():
                # a row with more fields than the header: without index_col=False pandas would
                # silently use the first column as the index and shift every value left
                warnings.simplefilter("error", pd.errors.ParserWarning)
                df = pd.read_csv(
                    table, dtype=str, keep_default_na=False, index_col=False, skip_blank_lines=False
                )
        except FileNotFoundError:
            raise ValidationError(f"{label}: file not found") from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise ValidationError(f"{label}: cannot parse as CSV: {str(e).strip()}") from None
        except pd.errors.ParserWarning:
            raise ValidationError(
                f"{label}, row {_long_row(table)}: more fields than the header has columns "
                "(an unquoted comma?)"
            ) from None
    rows = tuple(range(2, len(df) + 2))  # spreadsheet rows: the header is row 1
    if not isinstance(table, pd.DataFrame):
        # blank lines keep their spreadsheet row number but carry no record
        blank = (df.astype(str).apply(lambda col: col.str.strip()) == "").all(axis=1).to_numpy()
        df, rows = df.loc[~blank], tuple(r for r, b in zip(rows, blank) if not b)
    df = df.astype(object).where(pd.notna(df), None)
    return df.to_dict(orient="records"), Origin(label, name, csv=True, rows=rows)


def _long_row(path: str | os.PathLike[str]) -> int:
    """Spreadsheet row number of the first CSV record longer than the header."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        width = len(next(rows, []))
        return next((i for i, row in enumerate(rows, start=2) if len(row) > width), 2)


def read_tables(
    claims: Table = None,
    sources: Table = None,
    reports: Table = None,
    signals: Table = None,
    *,
    name: str = "",
    config: Mapping[str, Any] | None = None,
) -> Case:
    """Read the contract's tidy tables (CSV paths or DataFrames) into a validated :class:`Case`.

    ``reports`` is required; claims are created from the reports when ``claims`` is omitted.
    Row numbers in errors are spreadsheet rows (the header is row 1).

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
    """Write the four contract tables as ``<table>.csv`` files into ``directory``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for t, df in case_to_frames(case).items():
        out[t] = write_csv(df, d / f"{t}.csv")
    return out


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a DataFrame to CSV atomically (no partial file on failure)."""
    p = Path(path)
    with atomic_path(p) as tmp:
        df.to_csv(tmp, index=False)
    return p
