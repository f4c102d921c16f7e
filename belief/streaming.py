"""Reports as integer-coded arrays: chunked CSV reading, copy resolution and compilation.

Large report files are read in chunks of ``chunksize`` rows with pandas' C parser; each chunk is
validated with vectorized checks (the first bad row raises the same
:class:`~belief.exceptions.ValidationError` as :func:`belief.io.read_tables`, naming the file,
the spreadsheet row and the column) and turned into integer codes. No
:class:`~belief.types.Report` object is built per row and nothing is dense in claims × sources:
memory is a few int64 arrays per report plus one chunk of text.

:func:`compile_arrays` then applies the batch engine's conventions (:mod:`belief.evidence`:
priors, signals, neutral reports, copies) with array operations, giving the same
:class:`~belief.evidence.Evidence` as ``compile_evidence(read_tables(...))``.
:func:`read_evidence` does both from the contract's files.

Times are parsed with ``pandas.to_datetime(format="ISO8601", utc=True)``; a value pandas cannot
parse is checked with :func:`belief.validation.parse_time`, which raises the usual error.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.special import logit

from belief.evidence import Evidence, ExactConfig, signal_logodds
from belief.exceptions import ValidationError, ValidationWarning
from belief.reliability import resolve_source_prior
from belief.types import Case, Claim, Signal, Source
from belief.validation import STANCE_ALIASES, _stance, parse_time

__all__ = [
    "NO_TIME",
    "ReportArrays",
    "compile_arrays",
    "iter_report_chunks",
    "normalize_chunk",
    "read_evidence",
    "read_reports",
    "report_arrays_from_case",
    "resolve_copies",
]

#: Time code of a report without a time: sorts before every real time, as in the batch engine.
NO_TIME = np.iinfo(np.int64).min
_REQUIRED = ("claim_id", "source_id", "stance")
_STANCE_CODE = {k: {"confirm": 1, "deny": -1, "neutral": 0}[v] for k, v in STANCE_ALIASES.items()}
_STANCE_RANK = np.array([1, 2, 0])  # by code + 1 (deny, neutral, confirm): alphabetical order
PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class ReportArrays:
    """Reports as integer-coded arrays (no :class:`~belief.types.Report` object per row).

    Attributes
    ----------
    claim_ids, source_ids : list of str
        The codes' labels. ``source_ids`` covers ``source_id`` and ``derived_from`` values.
    claim, source : ndarray of int64
        Codes of each report's claim and source.
    stance : ndarray of int8
        ``1`` confirm, ``-1`` deny, ``0`` neutral.
    derived : ndarray of int64
        Code of the ``derived_from`` source, ``-1`` when the report is original.
    time : ndarray of int64
        Nanoseconds since the epoch (UTC), :data:`NO_TIME` when missing.
    """

    claim_ids: list[str]
    source_ids: list[str]
    claim: np.ndarray
    source: np.ndarray
    stance: np.ndarray
    derived: np.ndarray
    time: np.ndarray

    def __len__(self) -> int:
        return len(self.claim)


def resolve_copies(
    arrays: ReportArrays, copy_weight: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Attributed source, evidence weight and stand-in positions (the copy rule, vectorized).

    Same rule as :func:`belief.evidence.effective_reports`: a copy of *X* on claim *c* gets
    ``copy_weight`` when *X* has an original report on *c*; otherwise the first copy in
    :func:`copy_order` stands in for *X* with weight 1.

    Examples
    --------
    >>> import numpy as np
    >>> ra = ReportArrays(["c"], ["x", "a", "b", "d"], np.zeros(3, np.int64),
    ...                   np.array([1, 2, 3]), np.ones(3, np.int8), np.array([-1, 0, 0]),
    ...                   np.array([5, 2, 1]))
    >>> attr, w, stand_in = resolve_copies(ra, 0.0)
    >>> attr.tolist(), w.tolist(), stand_in.tolist()  # the earliest copy stands in for x
    ([1, 2, 0], [1.0, 0.0, 1.0], [2])
    """
    claim, source, derived = arrays.claim, arrays.source, arrays.derived
    attr = np.asarray(source, dtype=np.int64).copy()
    weight = np.ones(len(attr))
    is_copy = derived >= 0
    if not is_copy.any():
        return attr, weight, np.zeros(0, dtype=np.int64)
    n_src = int(max(source.max(initial=0), derived.max(initial=0))) + 1
    orig_keys = np.unique(claim[~is_copy] * n_src + source[~is_copy])
    idx = np.flatnonzero(is_copy)
    keys = claim[idx] * n_src + derived[idx]
    pos = np.minimum(np.searchsorted(orig_keys, keys), max(len(orig_keys) - 1, 0))
    has_orig = orig_keys[pos] == keys if len(orig_keys) else np.zeros(len(keys), dtype=bool)
    cand, ckeys = idx[~has_orig], keys[~has_orig]
    order = np.lexsort((*copy_order(arrays, cand), ckeys))
    first = order[np.r_[True, ckeys[order][1:] != ckeys[order][:-1]]] if len(order) else order
    weight[idx] = copy_weight
    stand_in = cand[first]
    weight[stand_in] = 1.0
    attr[stand_in] = derived[stand_in]
    return attr, weight, np.sort(stand_in)


def copy_order(arrays: ReportArrays, idx: np.ndarray) -> tuple[np.ndarray, ...]:
    """``np.lexsort`` keys (last is primary) of the batch engine's report order.

    Reports without time first, then by time, source id, stance (confirm, deny, neutral) and
    position: ties are broken by content, so results do not depend on row order.
    """
    rank = np.empty(len(arrays.source_ids), dtype=np.int64)
    rank[np.argsort(np.asarray(arrays.source_ids, dtype=str), kind="stable")] = np.arange(
        len(arrays.source_ids)
    )
    stance = _STANCE_RANK[arrays.stance[idx] + 1]
    return idx, stance, rank[arrays.source[idx]], arrays.time[idx]


def source_prior_rows(
    source_ids: list[str], sources: tuple[Source, ...], config: ExactConfig
) -> np.ndarray:
    """Beta prior parameters ``(a_se, b_se, a_sp, b_sp)`` per source, as the batch engine."""
    table = {s.source_id: s for s in sources}
    kinds, default = config.kind_priors, None
    rows = np.empty((len(source_ids), 4))
    for i, sid in enumerate(source_ids):
        sprior = config.source_priors.get(sid)
        if sprior is None and sid not in table:
            if default is None:  # every unlisted source shares the same default prior
                default = resolve_source_prior(Source(sid), kinds, config.default_prior)
            sprior = default
        elif sprior is None:
            sprior = resolve_source_prior(table[sid], kinds, config.default_prior)
        se, spc = sprior.sensitivity, sprior.specificity
        rows[i] = (se.alpha, se.beta, spc.alpha, spc.beta)
    return rows


def compile_arrays(
    arrays: ReportArrays,
    config: ExactConfig | None = None,
    *,
    claims: tuple[Claim, ...] | None = None,
    sources: tuple[Source, ...] = (),
    signals: tuple[Signal, ...] = (),
) -> Evidence:
    """Compile coded reports (plus the small tables) into :class:`~belief.evidence.Evidence`.

    Vectorized equivalent of :func:`belief.evidence.compile_evidence` (same priors, signal,
    neutral and copy conventions, same claim and source order); ``claims`` must list
    ``arrays.claim_ids`` in order when given.

    Examples
    --------
    >>> import numpy as np
    >>> ra = ReportArrays(["c1"], ["a", "b"], np.array([0, 0]), np.array([0, 1]),
    ...                   np.array([1, 0], dtype=np.int8), np.array([-1, -1]),
    ...                   np.full(2, NO_TIME))
    >>> ev = compile_arrays(ra)
    >>> ev.source_ids, ev.n_reports.tolist(), ev.n_independent.tolist()
    (['a'], [2], [1])
    """
    config = ExactConfig() if config is None else config
    n_claims = len(arrays.claim_ids)
    if claims is not None and [c.claim_id for c in claims] != list(arrays.claim_ids):
        raise ValueError("claims must list arrays.claim_ids in the same order")
    claims = claims or ()  # no claims table: base rate for all, no groups
    prior = np.array([np.nan if c.prior is None else c.prior for c in claims], dtype=float)
    lo = np.full(n_claims, logit(config.base_rate))
    if claims:
        lo = logit(np.where(np.isnan(prior), config.base_rate, prior))
    index = {c: i for i, c in enumerate(arrays.claim_ids)}
    for s in signals:
        lo[index[s.claim_id]] += signal_logodds(s, config)
    attr, weight, _ = resolve_copies(arrays, config.copy_weight)
    keep = (arrays.stance != 0) & (weight > 0)
    used = np.flatnonzero(np.bincount(attr[keep], minlength=len(arrays.source_ids)))
    code = np.zeros(len(arrays.source_ids), dtype=np.int64)
    code[used] = np.arange(len(used))
    r_source = code[attr[keep]]  # O(n) instead of a sort
    labels = np.asarray(arrays.source_ids, dtype=object)[used]
    order = np.argsort(labels.astype(str), kind="stable")  # the batch engine sorts source ids
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    source_ids = [str(x) for x in labels[order]]
    priors = source_prior_rows(source_ids, sources, config)
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(claims):
        if c.group is not None:
            groups.setdefault(c.group, []).append(i)
    r_claim, r_weight = arrays.claim[keep].astype(np.int64), weight[keep]
    return Evidence(
        claim_ids=list(arrays.claim_ids),
        source_ids=source_ids,
        prior_logodds=lo,
        groups=[g for g in groups.values() if len(g) > 1],
        r_claim=r_claim,
        r_source=rank[r_source].astype(np.int64),
        r_confirm=arrays.stance[keep] > 0,
        r_weight=r_weight,
        a_se=priors[:, 0],
        b_se=priors[:, 1],
        a_sp=priors[:, 2],
        b_sp=priors[:, 3],
        n_reports=np.bincount(arrays.claim, minlength=n_claims),
        n_independent=np.bincount(r_claim[r_weight == 1.0], minlength=n_claims),
    )


def _where(label: str, row: int, column: str) -> str:
    return f"{label}, row {row}, column '{column}'"


def _text_column(df: pd.DataFrame, column: str) -> pd.Series:
    """Stripped text of ``column`` ('' where missing), for frames read as text or not."""
    if column not in df.columns:
        return pd.Series("", index=df.index, dtype=object)
    col = df[column]
    return col.where(col.notna(), "").astype(str).str.strip()


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _times(raw: pd.Series, label: str, rows: np.ndarray) -> np.ndarray:
    """Nanoseconds since the epoch (UTC), :data:`NO_TIME` where empty; errors as parse_time."""
    present = (raw != "").to_numpy()
    out = np.full(len(raw), NO_TIME, dtype=np.int64)
    if not present.any():
        return out
    parsed = pd.to_datetime(raw[present], format="ISO8601", utc=True, errors="coerce")
    ns = parsed.dt.tz_localize(None).to_numpy("datetime64[ns]").view(np.int64)
    idx = np.flatnonzero(present)
    for k in np.flatnonzero(ns == NO_TIME):  # pandas refused: the row-level parser decides
        i = idx[k]
        t = parse_time(raw.iloc[i], _where(label, int(rows[i]), "time"))
        ns[k] = np.datetime64(t, "ns").view(np.int64)
    out[idx] = ns
    return out


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
        ``stance`` (int8: 1, -1, 0), ``time`` (int64 ns, :data:`NO_TIME`) and ``row``.

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
    for column in _REQUIRED:
        if column not in df.columns:
            raise ValidationError(f"{label}: required column '{column}' missing")
    rows = first_row + np.arange(len(df), dtype=np.int64)
    out = {}
    for column in ("claim_id", "source_id"):
        values = _text_column(df, column)
        empty = (values == "").to_numpy()
        if empty.any():
            i = _first_bad(empty)
            raise ValidationError(f"{_where(label, int(rows[i]), column)}: required value missing")
        out[column] = values.to_numpy(dtype=object)
    stance_text = _text_column(df, "stance")
    code = stance_text.str.lower().map(_STANCE_CODE)
    if code.isna().any():
        i = _first_bad(code.isna().to_numpy())
        _stance(stance_text.iloc[i], _where(label, int(rows[i]), "stance"))  # raises
    derived = _text_column(df, "derived_from")
    out["derived_from"] = derived.where(derived != "", None).to_numpy(dtype=object)
    out["stance"] = code.to_numpy(dtype=np.int8)
    out["time"] = _times(_text_column(df, "time"), label, rows)
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
    label = str(reports)
    try:
        reader = pd.read_csv(reports, dtype=str, keep_default_na=False, chunksize=chunksize)
        first = 2
        for df in reader:
            yield normalize_chunk(df, label, first)
            first += len(df)
    except FileNotFoundError:
        raise ValidationError(f"{label}: file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ValidationError(f"{label}: cannot parse as CSV: {e}") from None


def _encode(values: np.ndarray, codes: dict[str, int]) -> np.ndarray:
    """Integer codes of ``values``, extending ``codes`` in order of first appearance."""
    local, uniques = pd.factorize(values)
    glob = np.fromiter(
        (codes.setdefault(u, len(codes)) for u in uniques), dtype=np.int64, count=len(uniques)
    )
    return glob[local] if len(local) else np.zeros(0, dtype=np.int64)


def _unknown_claim(label: str, row: int, claim_id: str, known: Sequence[str]) -> ValidationError:
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
        reports.csv (the data contract's columns).
    claim_ids : sequence of str, optional
        Known claims (the claims table, in order); a report on another claim is an error.
        Without it, claims are coded in order of first appearance.
    chunksize : int
        Rows per chunk: bounds the memory spent on text.

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
    known = None if claim_ids is None else pd.Index(list(claim_ids))
    cdict: dict[str, int] = {}
    sdict: dict[str, int] = {}
    parts = []
    label = "reports DataFrame" if isinstance(reports, pd.DataFrame) else str(reports)
    for ch in iter_report_chunks(reports, chunksize=chunksize):
        if known is not None:
            claim = known.get_indexer(ch["claim_id"].to_numpy()).astype(np.int64)
            if (claim < 0).any():
                i = _first_bad(claim < 0)
                raise _unknown_claim(label, int(ch["row"].iloc[i]), ch["claim_id"].iloc[i], known)
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


def report_arrays_from_case(case: Case) -> ReportArrays:
    """The reports of a validated :class:`~belief.types.Case` as :class:`ReportArrays`."""
    reps = case.reports
    index = {c: i for i, c in enumerate(case.claim_ids)}
    sdict: dict[str, int] = {}
    source = np.array([sdict.setdefault(r.source_id, len(sdict)) for r in reps], dtype=np.int64)
    derived = np.array(
        [-1 if r.derived_from is None else sdict.setdefault(r.derived_from, len(sdict))
         for r in reps], dtype=np.int64,
    )  # fmt: skip
    times = np.array([r.time for r in reps], dtype="datetime64[ns]").view(np.int64)
    codes = {"confirm": 1, "deny": -1, "neutral": 0}
    return ReportArrays(
        claim_ids=case.claim_ids,
        source_ids=list(sdict),
        claim=np.array([index[r.claim_id] for r in reps], dtype=np.int64),
        source=source,
        stance=np.array([codes[r.stance] for r in reps], dtype=np.int8),
        derived=derived,
        time=times.astype(np.int64),
    )


def read_evidence(
    reports: PathLike | pd.DataFrame,
    claims: PathLike | pd.DataFrame | None = None,
    sources: PathLike | pd.DataFrame | None = None,
    signals: PathLike | pd.DataFrame | None = None,
    *,
    config: ExactConfig | None = None,
    chunksize: int = 200_000,
) -> Evidence:
    """Read the contract's tables into :class:`~belief.evidence.Evidence`, reports in chunks.

    Equal to ``compile_evidence(read_tables(claims, sources, reports, signals), config)``
    (same validation errors and unknown-source warning) without a Report object per row. The
    small tables (claims, sources, signals) go through :func:`belief.io.read_tables`.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = read_evidence(pd.DataFrame({"claim_id": ["c1", "c1"], "source_id": ["a", "b"],
    ...                                  "stance": ["confirm", "deny"]}))
    >>> ev.claim_ids, ev.source_ids, ev.r_confirm.tolist()
    (['c1'], ['a', 'b'], [True, False])
    """
    from belief.io import read_tables

    side = read_tables(claims, sources, pd.DataFrame(columns=list(_REQUIRED)), signals)
    config = ExactConfig.from_case(side) if config is None else config
    arrays = read_reports(
        reports, claim_ids=side.claim_ids if claims is not None else None, chunksize=chunksize
    )
    claim_objs = side.claims if claims is not None else None
    if claims is None:
        seen = set(arrays.claim_ids)
        extra = [c for c in dict.fromkeys(s.claim_id for s in side.signals) if c not in seen]
        arrays = replace(arrays, claim_ids=arrays.claim_ids + extra)
    label = "reports DataFrame" if isinstance(reports, pd.DataFrame) else str(reports)
    used = np.asarray(arrays.source_ids, dtype=object)[np.unique(arrays.source)]
    warn_unknown_sources(used.tolist(), side.sources, label)
    return compile_arrays(
        arrays, config, claims=claim_objs, sources=side.sources, signals=side.signals
    )


def warn_unknown_sources(reporters: Sequence[str], sources: Sequence[Source], label: str) -> None:
    """The :func:`belief.io.read_tables` warning for reporters missing from the sources table."""
    unknown = sorted(set(reporters) - {s.source_id for s in sources})
    if sources and unknown:
        shown = ", ".join(unknown[:10]) + (", ..." if len(unknown) > 10 else "")
        warnings.warn(
            f"{label}: {len(unknown)} source(s) not in the sources table get the default "
            f"prior: {shown}",
            ValidationWarning,
            stacklevel=3,
        )
