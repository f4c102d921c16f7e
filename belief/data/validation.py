"""Validation at the boundary: raw records (CSV rows, YAML entries) to case dataclasses.

Every error names where the bad value is, as a person would find it: the file, the row
(1-based as a spreadsheet shows it, so the first data row of a CSV is row 2) or the YAML entry,
the column, the bad value and the valid values.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from belief.data._columns import did_you_mean, warn_near_misses
from belief.data._text import as_text as _text
from belief.data._text import free_text
from belief.data._text import ident as _ident
from belief.data._text import missing as _missing
from belief.data._text import short as _short
from belief.data.types import (
    ADMIRALTY_GRADES,
    CLAIM_COLUMNS,
    REPORT_COLUMNS,
    SIGNAL_COLUMNS,
    SOURCE_COLUMNS,
    STANCES,
    Case,
    Claim,
    Report,
    Signal,
    Source,
)
from belief.exceptions import ValidationError, ValidationWarning

STANCE_ALIASES: dict[str, str] = {
    "confirm": "confirm",
    "support": "confirm",
    "for": "confirm",
    "deny": "deny",
    "against": "deny",
    "refute": "deny",
    "neutral": "neutral",
    "observing": "neutral",
    "query": "neutral",
    "comment": "neutral",
}
#: Accepted spellings of ``truth`` (case-insensitive; surrounding blanks ignored).
_TRUTH = {
    **dict.fromkeys(("true", "t", "yes", "y", "1", "1.0"), True),
    **dict.fromkeys(("false", "f", "no", "n", "0", "0.0"), False),
    **dict.fromkeys(("unknown", "unresolved", "na", "n/a", "?"), None),
}


@dataclass(frozen=True)
class Origin:
    """Where a table came from: a file name (or label) and whether rows are CSV rows."""

    label: str
    table: str
    csv: bool = True
    rows: tuple[int, ...] = ()  # spreadsheet row of each record, when not simply index + 2
    columns: tuple[Any, ...] = ()  # a table's columns (a CSV header), even without records

    def where(self, index: int, column: str) -> str:
        """Human location of ``column`` in 0-based record ``index``."""
        if self.csv:
            row = self.rows[index] if index < len(self.rows) else index + 2
            return f"{self.label}, row {row}, column '{column}'"
        return f"{self.label}, {self.table} entry {index + 1}, field '{column}'"


def _number(value: Any, where: str, *, low: float, high: float, open_low: bool = True) -> float:
    try:
        if isinstance(value, bool):  # YAML/JSON true/false: not a number (as in the config)
            raise TypeError
        x = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{where}: expected a number but got {_short(value)}") from None
    except OverflowError:  # an integer beyond float range (YAML/JSON 401-digit numbers)
        x = math.inf
    low_ok = x > low if open_low else x >= low
    if not (math.isfinite(x) and low_ok and x < high):
        bracket = "(" if open_low else "["
        raise ValidationError(
            f"{where}: expected a number in {bracket}{low}, {high}) but got {_short(value)}"
        )
    return x


def parse_time(value: Any, where: str) -> datetime | None:
    """Parse an ISO 8601 time (or date) to a naive UTC datetime; ``None`` if missing."""
    if _missing(value):
        return None
    if isinstance(value, datetime):
        t = value
    elif isinstance(value, date):
        t = datetime(value.year, value.month, value.day)
    else:
        try:
            t = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ValidationError(
                f"{where}: expected an ISO 8601 time such as 2017-12-19T09:00:00 but got {value!r}"
            ) from None
    if t.tzinfo is not None:
        try:
            t = t.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            raise ValidationError(
                f"{where}: expected a time whose UTC value lies in years 1-9999 but got {value!r}"
            ) from None
    return t


def _require(record: Mapping[str, Any], column: str, where: str) -> str:
    value = _ident(record.get(column), where)
    if value is None:
        raise ValidationError(f"{where}: required value missing")
    return value


def _extra(record: Mapping[str, Any], known: Sequence[str]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in known and not _missing(v)}


def _check_columns(
    records: Sequence[Mapping[str, Any]], required: Iterable[str], known: Sequence[str], o: Origin
) -> None:
    if not records and not o.columns:
        return  # nothing to check: a header-only CSV file still has its columns checked
    if o.csv:
        present = list(o.columns or records[0])
    else:
        present = list(dict.fromkeys(k for r in records for k in r))
    for column in required:
        if column not in present:
            unknown = [p for p in present if p not in known]
            raise ValidationError(
                f"{o.label}: required column '{column}' missing{did_you_mean(column, unknown)}"
            )

    def where(name: Any) -> str:
        if o.csv:
            return f"{o.label}, column {name!r}"
        return o.where(next(i for i, r in enumerate(records) if name in r), name)

    warn_near_misses(present, known, where, "column" if o.csv else "field")


def _truth(value: Any, where: str) -> bool | None:
    if _missing(value):
        return None
    if isinstance(value, bool):
        return value
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    key = str(value).strip().lower()
    if key not in _TRUTH:
        raise ValidationError(
            f"{where}: invalid value {value!r}; expected true/false, yes/no, 1/0, t/f, y/n, "
            "unknown or empty"
        )
    return _TRUTH[key]


def _unique(ids: list[str], o: Origin, column: str) -> None:
    seen: dict[str, int] = {}
    for i, x in enumerate(ids):
        if x in seen:
            raise ValidationError(
                f"{o.where(i, column)}: duplicate id {x!r} (first at {o.where(seen[x], column)})"
            )
        seen[x] = i


def parse_claims(records: Sequence[Mapping[str, Any]], o: Origin) -> tuple[Claim, ...]:
    """Validate claim records (see the data contract) and return :class:`Claim` objects."""
    _check_columns(records, ["claim_id"], CLAIM_COLUMNS, o)
    out = []
    for i, r in enumerate(records):
        prior = r.get("prior")
        out.append(
            Claim(
                claim_id=_require(r, "claim_id", o.where(i, "claim_id")),
                text=free_text(r.get("text"), o.where(i, "text")),
                prior=None
                if _missing(prior)
                else _number(prior, o.where(i, "prior"), low=0, high=1),
                favors=_ident(r.get("favors"), o.where(i, "favors")),
                group=_ident(r.get("group"), o.where(i, "group")),
                truth=_truth(r.get("truth"), o.where(i, "truth")),
                extra=_extra(r, CLAIM_COLUMNS),
            )
        )
    _unique([c.claim_id for c in out], o, "claim_id")
    return tuple(out)


def _admiralty(value: Any, where: str) -> str | None:
    grade = _text(value)
    if grade is None:
        return None
    if grade.upper() not in ADMIRALTY_GRADES:
        raise ValidationError(
            f"{where}: invalid grade {value!r}; expected one of {', '.join(ADMIRALTY_GRADES)}"
        )
    return grade.upper()


def parse_sources(records: Sequence[Mapping[str, Any]], o: Origin) -> tuple[Source, ...]:
    """Validate source records and return :class:`Source` objects."""
    _check_columns(records, ["source_id"], SOURCE_COLUMNS, o)
    out = []
    for i, r in enumerate(records):
        probs = {
            f: None if _missing(r.get(f)) else _number(r.get(f), o.where(i, f), low=0, high=1)
            for f in ("sensitivity", "specificity")
        }
        strength = r.get("strength")
        out.append(
            Source(
                source_id=_require(r, "source_id", o.where(i, "source_id")),
                name=free_text(r.get("name"), o.where(i, "name")),
                kind=_ident(r.get("kind"), o.where(i, "kind")),
                side=_ident(r.get("side"), o.where(i, "side")),
                admiralty=_admiralty(r.get("admiralty"), o.where(i, "admiralty")),
                strength=None
                if _missing(strength)
                else _number(strength, o.where(i, "strength"), low=0, high=math.inf),
                extra=_extra(r, SOURCE_COLUMNS),
                **probs,
            )
        )
    _unique([s.source_id for s in out], o, "source_id")
    return tuple(out)


def _stance(value: Any, where: str) -> str:
    key = _text(value)
    if key is None:
        raise ValidationError(
            f"{where}: required value missing; expected one of {', '.join(STANCES)}"
        )
    if key.lower() not in STANCE_ALIASES:
        raise ValidationError(
            f"{where}: invalid stance {value!r}; expected one of {', '.join(STANCES)} "
            f"(aliases: {', '.join(k for k in STANCE_ALIASES if k not in STANCES)})"
        )
    return STANCE_ALIASES[key.lower()]


def parse_reports(records: Sequence[Mapping[str, Any]], o: Origin) -> tuple[Report, ...]:
    """Validate report records and return :class:`Report` objects."""
    _check_columns(records, ["claim_id", "source_id", "stance"], REPORT_COLUMNS, o)
    return tuple(
        Report(
            claim_id=_require(r, "claim_id", o.where(i, "claim_id")),
            source_id=_require(r, "source_id", o.where(i, "source_id")),
            stance=_stance(r.get("stance"), o.where(i, "stance")),  # type: ignore[arg-type]
            time=parse_time(r.get("time"), o.where(i, "time")),
            derived_from=_ident(r.get("derived_from"), o.where(i, "derived_from")),
            extra=_extra(r, REPORT_COLUMNS),
        )
        for i, r in enumerate(records)
    )


def _direction(value: Any, where: str) -> int:
    if _missing(value):
        return 1
    try:
        d = math.nan if isinstance(value, bool) else float(value)
    except (TypeError, ValueError, OverflowError):
        d = math.nan
    if d not in (1.0, -1.0):
        raise ValidationError(f"{where}: invalid direction {_short(value)}; expected +1 or -1")
    return int(d)


def _signal(r: Mapping[str, Any], i: int, o: Origin) -> Signal:
    direction = _direction(r.get("direction"), o.where(i, "direction"))
    lr = r.get("likelihood_ratio")
    lr = None if _missing(lr) else _number(lr, o.where(i, "likelihood_ratio"), low=0, high=math.inf)
    if lr is not None and lr < 1.0 and _missing(r.get("direction")):
        direction = -1  # a ratio below 1 makes the claim less plausible (and must round-trip)
    if lr is not None and not _missing(r.get("direction")) and (lr - 1.0) * direction < 0:
        raise ValidationError(
            f"{o.where(i, 'likelihood_ratio')}: likelihood_ratio {lr} contradicts direction "
            f"{direction:+d} (a ratio above 1 makes the claim more plausible, below 1 less)"
        )
    return Signal(
        signal_id=_require(r, "signal_id", o.where(i, "signal_id")),
        claim_id=_require(r, "claim_id", o.where(i, "claim_id")),
        kind=_require(r, "kind", o.where(i, "kind")),
        direction=direction,
        likelihood_ratio=lr,
        time=parse_time(r.get("time"), o.where(i, "time")),
        text=free_text(r.get("text"), o.where(i, "text")),
        extra=_extra(r, SIGNAL_COLUMNS),
    )


def parse_signals(records: Sequence[Mapping[str, Any]], o: Origin) -> tuple[Signal, ...]:
    """Validate signal records and return :class:`Signal` objects."""
    _check_columns(records, ["signal_id", "claim_id", "kind"], SIGNAL_COLUMNS, o)
    out = tuple(_signal(r, i, o) for i, r in enumerate(records))
    _unique([s.signal_id for s in out], o, "signal_id")
    return out


def _check_claim_refs(items: Sequence[Report | Signal], claims: set[str], o: Origin) -> None:
    for i, item in enumerate(items):
        if item.claim_id not in claims:
            known = ", ".join(sorted(claims)[:10]) + (", ..." if len(claims) > 10 else "")
            raise ValidationError(
                f"{o.where(i, 'claim_id')}: unknown claim {item.claim_id!r}; known claims: {known}"
            )


def assemble_case(
    claims: tuple[Claim, ...] | None,
    sources: tuple[Source, ...],
    reports: tuple[Report, ...],
    signals: tuple[Signal, ...],
    origins: Mapping[str, Origin],
    **fields: Any,
) -> Case:
    """Check cross-references and build the :class:`Case`.

    Claims are created from the reports when no claims table is given. Reports naming sources
    missing from the sources table are kept (default prior) with a :class:`ValidationWarning`.
    """
    if claims is None:
        ids = list(dict.fromkeys([r.claim_id for r in reports] + [s.claim_id for s in signals]))
        claims = tuple(Claim(c) for c in ids)
    ids_set = {c.claim_id for c in claims}
    _check_claim_refs(reports, ids_set, origins["reports"])
    _check_claim_refs(signals, ids_set, origins["signals"])
    named = [r.source_id for r in reports] + [r.derived_from for r in reports if r.derived_from]
    warn_unknown_sources(named, sources, origins["reports"].label)
    return Case(claims=claims, sources=sources, reports=reports, signals=signals, **fields)


def warn_unknown_sources(named: Iterable[str], sources: Sequence[Source], label: str) -> None:
    """Warn (never fail) about source ids used in reports but missing from the sources table.

    ``named`` covers both ``source_id`` and ``derived_from`` values. Nothing is said when there
    is no sources table at all: then every source has the default prior by design.
    """
    unknown = sorted(set(named) - {s.source_id for s in sources})
    if sources and unknown:
        shown = ", ".join(unknown[:10]) + (", ..." if len(unknown) > 10 else "")
        warnings.warn(
            f"{label}: {len(unknown)} source(s) not in the sources table get the default "
            f"prior: {shown}",
            ValidationWarning,
            stacklevel=4,
        )
