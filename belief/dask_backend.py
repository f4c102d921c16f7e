"""The fast engine's sweeps as map-reduce over Dask partitions of report files.

:func:`infer_dask` gives the numbers of :func:`belief.fast.infer_fast` on
:func:`belief.streaming.read_evidence` of the same files (tests check 1e-8), with the reports
never gathered on one machine:

1. *read*: one partition per file, each validated chunk by chunk exactly as
   :func:`belief.streaming.iter_report_chunks` does (errors name the file, row and column);
2. *index*: claim and source ids are collected per partition (only the distinct ids travel);
3. *copies*: the reports on claims that have a copy are collected and resolved on the client
   with the compiler's rule (:func:`belief.evidence.resolve_copies`; chains, stand-ins);
4. *shuffle*: reports are coded and shuffled by claim block (a group, or a free claim), so each
   partition owns whole blocks with all their reports (a :class:`belief.fast.Block`);
5. *sweeps*: per iteration each partition updates its claims from the broadcast source
   posteriors and returns its per-source statistics (``S × 4`` floats); the client sums them.
   Claim states stay on the workers (``dask.persist``).

Pointing it at a distributed cluster
------------------------------------
Start a scheduler and workers (``dask scheduler``; ``dask worker tcp://HOST:8786``) that can
all read the report files (a shared file system, or URLs such as ``s3://bucket/reports-*.csv``
with ``s3fs`` installed: pandas opens them through fsspec), then::

    from distributed import Client
    from belief.dask_backend import infer_dask

    result = infer_dask(["s3://bucket/reports-0.csv", ...], claims="claims.csv",
                        client=Client("tcp://HOST:8786"))

Without ``client`` the ``scheduler`` argument (``"threads"``, ``"processes"``,
``"synchronous"``) or Dask's configured default is used. Dask is imported only when called.
"""

from __future__ import annotations

import glob as _glob
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from belief.arrays import ReportArrays, posterior_frame, reliability_frame
from belief.cells import Block
from belief.config import Config, as_config
from belief.evidence import compile_arrays, resolve_copies, source_prior_rows
from belief.exceptions import ConvergenceWarning, ValidationError
from belief.fast import Damping, bounds, interval_moments, sweep
from belief.meanfield import _group_logodds
from belief.result import BeliefResult, Interval
from belief.streaming import empty_chunk, read_normalized, warn_unknown_sources
from belief.types import Claim

__all__ = ["infer_dask"]

_ROWS = 1 << 40  # rows per file, for positions


def _paths(reports: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    if isinstance(reports, str | os.PathLike):
        text = str(reports)
        found = sorted(_glob.glob(text)) if _glob.has_magic(text) else [text]
    else:
        found = [str(p) for p in reports]
    if not found:
        raise ValidationError(f"{reports}: no report files match")
    return found


def _read(path: str, part: int, chunksize: int) -> pd.DataFrame:
    """One file as one validated partition (normalized columns plus ``part``)."""
    return read_normalized(path, chunksize=chunksize).assign(part=np.int64(part))


def _distinct(df: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    """Distinct claims, sources (incl. ``derived_from``) and reporters, in order of appearance."""
    sources = pd.concat([df["source_id"], df["derived_from"].dropna()], ignore_index=True)
    return (df["claim_id"].drop_duplicates().tolist(), sources.drop_duplicates().tolist(),
            df["source_id"].drop_duplicates().tolist())  # fmt: skip


def _copy_claims(df: pd.DataFrame) -> list[str]:
    return df.loc[df["derived_from"].notna(), "claim_id"].drop_duplicates().tolist()


def _rows_on(df: pd.DataFrame, claims: set[str]) -> pd.DataFrame:
    return df[df["claim_id"].isin(claims)]


def _position(part: Any, row: Any) -> np.ndarray:
    """A report's global position as one int64: (partition, spreadsheet row)."""
    return np.asarray(part, dtype=np.int64) * _ROWS + np.asarray(row, dtype=np.int64)


@dataclass(frozen=True)
class _Coding:
    """What every partition needs to code its reports (broadcast once)."""

    claims: pd.Index
    sources: pd.Index
    block: np.ndarray  # block id per claim
    copy_pos: np.ndarray  # sorted positions of the reports on claims with copies
    copy_attr: np.ndarray  # their attributed source codes
    copy_weight: np.ndarray  # and weights
    side: np.ndarray  # side code per source (-1: none)
    favors: np.ndarray  # favors code per claim (-1: none)
    sided: bool  # side_effect != 0: channels are (source, alignment)
    labels: list[str]
    strict: bool  # claims came from a claims table: unknown ones are errors


def _encode(df: pd.DataFrame, cd: _Coding) -> pd.DataFrame:
    claim = cd.claims.get_indexer(df["claim_id"].to_numpy())
    if cd.strict and (claim < 0).any():
        from belief.streaming import _unknown_claim

        i = int(np.flatnonzero(claim < 0)[0])
        label = cd.labels[int(df["part"].iloc[i])]
        raise _unknown_claim(label, int(df["row"].iloc[i]), df["claim_id"].iloc[i], cd.claims)
    attr = cd.sources.get_indexer(df["source_id"].to_numpy()).astype(np.int64)
    weight = np.ones(len(df))
    if len(cd.copy_pos):
        pos = _position(df["part"], df["row"])
        k = np.minimum(np.searchsorted(cd.copy_pos, pos), len(cd.copy_pos) - 1)
        hit = cd.copy_pos[k] == pos
        attr[hit], weight[hit] = cd.copy_attr[k[hit]], cd.copy_weight[k[hit]]
    if cd.sided:  # the channel of the claim's side, as the compiler forms it
        f, s_ = cd.favors[claim], cd.side[attr]
        align = np.where((f < 0) | (s_ < 0), 0, np.where(f == s_, 1, -1))
        attr = attr * 3 + align + 1
    return pd.DataFrame(
        {
            "claim": claim.astype(np.int64),
            "attr": attr,
            "stance": df["stance"].to_numpy(np.int8),
            "weight": weight,
            "block": cd.block[claim],
        }
    )


@dataclass
class _Part:
    """The claims of whole blocks with all their reports: one partition's share of the work."""

    claims: np.ndarray
    ell: np.ndarray
    groups: list[list[int]]
    block: Block
    n_reports: np.ndarray
    n_independent: np.ndarray


@dataclass
class _State:
    lo: np.ndarray
    stats: np.ndarray
    delta: float


def _make_part(df: pd.DataFrame, world: tuple[Any, ...], n_src: int) -> _Part:
    ell, groups, block_of = world
    present = np.unique(block_of[df["claim"].to_numpy()])
    claims = np.flatnonzero(np.isin(block_of, present))
    local = np.searchsorted(claims, df["claim"].to_numpy())
    keep = (df["stance"].to_numpy() != 0) & (df["weight"].to_numpy() > 0)
    full = keep & (df["weight"].to_numpy() == 1.0)
    pos = {c: k for k, c in enumerate(claims.tolist())}
    own = [[pos[m] for m in g] for g in groups if g[0] in pos]
    block = Block(len(claims), n_src, local[keep], df["attr"].to_numpy()[keep],
                  df["stance"].to_numpy()[keep] > 0, df["weight"].to_numpy()[keep])  # fmt: skip
    return _Part(claims, ell[claims], own, block, np.bincount(local, minlength=len(claims)),
                 np.bincount(local[full], minlength=len(claims)))  # fmt: skip


def _start(part: _Part) -> _State:
    lo = _group_logodds(part.ell, part.groups)
    return _State(lo, part.block.source_stats(expit(lo)), np.inf)


def _step(part: _Part, state: _State, post: np.ndarray, damping: float) -> _State:
    new = sweep(state.lo, post, part.block, part.ell, part.groups, damping)
    delta = float(np.max(np.abs(expit(new) - expit(state.lo)), initial=0.0))
    return _State(new, part.block.source_stats(expit(new)), delta)


def _summary(state: _State) -> tuple[np.ndarray, float]:
    return state.stats, state.delta


def _override(part: _Part, state: _State, exact: tuple[np.ndarray, np.ndarray]) -> _State:
    """Set the owned claims' log-odds to their exact values; refresh the statistics."""
    claims, values = exact
    k = np.searchsorted(part.claims, claims)
    k = np.minimum(k, max(len(part.claims) - 1, 0))
    own = (part.claims[k] == claims) if len(part.claims) else np.zeros(len(claims), bool)
    lo = state.lo.copy()
    lo[k[own]] = values[own]
    return _State(lo, part.block.source_stats(expit(lo)), state.delta)


def _claim_counts(part: _Part) -> np.ndarray:
    """Per source, how many of this partition's claims it reports on."""
    return np.bincount(part.block.source, minlength=part.block.n_sources)


def _small_cells(part: _Part, counts: np.ndarray, limit: int) -> tuple[np.ndarray, ...]:
    """Cells of the claims that may lie in a small component (every source has few claims).

    A claim qualifies when each of its sources reports on at most ``limit`` claims in all and
    its whole group qualifies; the client checks the components are complete.
    """
    claim, source, x, y = part.block.cells()
    n = len(part.claims)
    big = np.bincount(claim, counts[source] > limit, n) > 0
    for g in part.groups:
        if len(g) > limit or big[g].any():
            big[g] = True
    keep = ~big[claim]
    ok = np.flatnonzero(~big)
    groups = [part.claims[g] for g in part.groups if not big[g[0]]]
    return (
        part.claims[ok],
        part.ell[ok],
        part.claims[claim[keep]],
        source[keep],
        x[keep],
        y[keep],
        groups,
    )


def _exact_small(
    run: _Runner, parts: list[Any], prior: np.ndarray, max_states: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact log-odds of the small coupled components, as the in-memory fast engine has them."""
    from belief.evidence import Evidence
    from belief.exact import _enumerate, components, n_states
    from belief.fast import EXACT_COMPONENTS

    empty = (np.zeros(0, np.int64), np.zeros(0))
    if max_states < 2:
        return empty
    limit = 24
    counts = sum(run.compute([_call(_claim_counts, p) for p in parts]))
    found = run.compute([_call(_small_cells, p, counts, limit) for p in parts])
    claims = np.concatenate([f[0] for f in found])
    if not len(claims):
        return empty
    local = {int(c): k for k, c in enumerate(claims)}
    r_claim = np.array([local[int(c)] for f in found for c in f[2]], dtype=np.int64)
    r_source = np.concatenate([f[3] for f in found]).astype(np.int64)
    x, y = np.concatenate([f[4] for f in found]), np.concatenate([f[5] for f in found])
    groups = [[local[int(c)] for c in g] for f in found for g in f[6]]
    both = np.r_[x > 0, y > 0]
    ev = Evidence(
        claim_ids=[str(c) for c in claims], source_ids=[str(i) for i in range(len(prior))],
        prior_logodds=np.concatenate([f[1] for f in found]), groups=groups,
        r_claim=np.r_[r_claim, r_claim][both], r_source=np.r_[r_source, r_source][both],
        r_confirm=np.r_[np.ones(len(x), bool), np.zeros(len(y), bool)][both],
        r_weight=np.r_[x, y][both], a_se=prior[:, 0], b_se=prior[:, 1], a_sp=prior[:, 2],
        b_sp=prior[:, 3], n_reports=np.zeros(len(claims), np.int64),
        n_independent=np.zeros(len(claims), np.int64),
    )  # fmt: skip
    small = []
    for comp in components(ev):
        if len(comp) < 2 or len(comp) > limit or n_states(comp, ev.groups) > max_states:
            continue
        srcs = ev.r_source[np.isin(ev.r_claim, comp)]
        pairs = np.unique(ev.r_claim[np.isin(ev.r_claim, comp)] * len(prior) + srcs)
        inside = np.bincount(pairs % len(prior), minlength=len(prior))
        if (inside[np.unique(srcs)] == counts[np.unique(srcs)]).all():  # the whole component
            small.append(comp)
    if not small or len(small) > EXACT_COMPONENTS:
        return empty
    lo = [_enumerate(ev, comp) for comp in small]
    return claims[np.concatenate(small)], np.concatenate(lo)


def _finish(part: _Part, state: _State, post: np.ndarray) -> tuple[np.ndarray, ...]:
    centre, var = interval_moments(part.block, part.ell, part.groups, post, state.lo)
    used = np.unique(part.block.source)
    return part.claims, state.lo, centre, var, part.n_reports, part.n_independent, used


def _call(fn: Any, *args: Any) -> Any:
    from dask import delayed

    return delayed(fn, pure=True)(*args)


def _ordered(lists: Sequence[list[str]]) -> list[str]:
    return list(dict.fromkeys(x for part in lists for x in part))


class _Runner:
    """``compute`` / ``persist`` on a distributed client or a local scheduler."""

    def __init__(self, client: Any, scheduler: str | None) -> None:
        self.client, self.scheduler = client, scheduler

    def compute(self, xs: list[Any]) -> list[Any]:
        import dask

        if self.client is not None:
            return list(self.client.compute(xs, sync=True))
        return list(dask.compute(*xs, scheduler=self.scheduler))

    def persist(self, xs: list[Any]) -> list[Any]:
        import dask

        if self.client is not None:
            return list(self.client.persist(xs))
        return list(dask.persist(*xs, scheduler=self.scheduler))


def _iterate(
    run: _Runner,
    parts: list[Any],
    prior: np.ndarray,
    tol: float,
    max_iter: int,
    damping: float | None,
) -> tuple[np.ndarray, list[Any], int, bool]:
    """The sweeps of :func:`belief.fast.run_vb`, one map-reduce per sweep."""
    from dask import delayed

    states = run.persist([_call(_start, p) for p in parts])
    summaries = run.compute([_call(_summary, s) for s in states])
    post, schedule = prior + sum(st for st, _ in summaries), Damping(damping)
    for it in range(1, max_iter + 1):
        shared = delayed(post, pure=True)  # one copy per sweep, not one per task
        d = schedule.value
        states = run.persist([_call(_step, p, s, shared, d) for p, s in zip(parts, states)])
        summaries = run.compute([_call(_summary, s) for s in states])
        post = prior + sum(st for st, _ in summaries)
        delta = max(d for _, d in summaries)
        schedule.observe(delta)
        if delta < tol:
            return post, states, it, True
    return post, states, max_iter, False


def _copies(
    run: _Runner, raw: Any, claim_ids: list[str], source_ids: list[str], copy_weight: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Attributed source and weight of every report on a claim with copies (the compiler's rule).

    Only those claims' reports travel to the client; they are resolved there with
    :func:`belief.evidence.resolve_copies`, in (file, row) order as the in-memory engine reads
    them. Returns sorted positions, attributed source codes and weights.
    """
    found = run.compute([_call(_copy_claims, p) for p in raw.to_delayed()])
    claims = {c for part in found for c in part}
    empty = np.zeros(0, np.int64)
    if not claims:
        return empty, empty, np.zeros(0)
    rows = run.compute([_call(_rows_on, p, claims) for p in raw.to_delayed()])
    df = pd.concat(rows, ignore_index=True).sort_values(["part", "row"], kind="stable")
    cindex, sindex = pd.Index(claim_ids), pd.Index(source_ids)
    arrays = ReportArrays(
        claim_ids=claim_ids,
        source_ids=source_ids,
        claim=cindex.get_indexer(df["claim_id"].to_numpy()).astype(np.int64),
        source=sindex.get_indexer(df["source_id"].to_numpy()).astype(np.int64),
        stance=df["stance"].to_numpy(np.int8),
        derived=np.where(
            df["derived_from"].notna(),
            sindex.get_indexer(df["derived_from"].fillna(df["source_id"]).to_numpy()),
            -1,
        ).astype(np.int64),
        time=df["time"].to_numpy(np.int64),
    )
    attr, weight, _ = resolve_copies(arrays, copy_weight)
    return _position(df["part"], df["row"]), attr, weight


def infer_dask(
    reports: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    claims: Any = None,
    sources: Any = None,
    signals: Any = None,
    *,
    config: Config | Mapping[str, Any] | None = None,
    client: Any = None,
    scheduler: str | None = None,
    tol: float = 1e-6,
    max_iter: int = 2000,
    damping: float | None = None,
    level: float = 0.9,
    chunksize: int = 200_000,
    exact_states: int = 1 << 12,
) -> BeliefResult:
    """:func:`belief.fast.infer_fast` as map-reduce over Dask partitions (see the module doc).

    Parameters
    ----------
    reports : str, path or sequence of them
        Report files (one partition each), or a glob such as ``"reports/part-*.csv"``.
    claims, sources, signals : path or DataFrame, optional
        The small tables, read on the client with :func:`belief.io.read_tables`.
    config : Config or mapping, optional
        Settings (a mapping deep-merges into the small tables' defaults); every field is
        honoured as by the in-memory engines (side effect, copy weight, priors).
    client : distributed.Client, optional
        Run on this cluster; otherwise ``scheduler`` (or Dask's default) is used.
    scheduler : str, optional
        ``"threads"``, ``"processes"`` or ``"synchronous"`` when no client is given.
    tol, max_iter, damping, level : float, int, float or None, float
        As in :func:`belief.fast.infer_fast`.
    chunksize : int
        Rows per chunk when a worker reads a file.
    exact_states : int
        As in :func:`belief.fast.infer_fast`: small coupled components (sources with few
        claims) are found with one extra map-reduce and enumerated exactly on the client.

    Returns
    -------
    BeliefResult

    Examples
    --------
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "r1.csv").write_text("claim_id,source_id,stance\\nc1,a,confirm\\n")
    >>> _ = (d / "r2.csv").write_text("claim_id,source_id,stance\\nc1,b,deny\\n")
    >>> res = infer_dask(str(d / "r*.csv"), scheduler="synchronous")
    >>> res.posterior[["claim_id", "p_true", "n_reports"]].to_dict("records")
    [{'claim_id': 'c1', 'p_true': 0.5, 'n_reports': 2}]
    """
    import dask
    import dask.dataframe as dd

    from belief.io import read_tables

    run, paths = _Runner(client, scheduler), _paths(reports)
    empty = pd.DataFrame(columns=["claim_id", "source_id", "stance"])
    side = read_tables(claims, sources, empty, signals)
    config = as_config(config, side)
    meta = empty_chunk().assign(part=np.int64(0))
    reads = [_call(_read, p, k, chunksize) for k, p in enumerate(paths)]
    raw = dd.from_delayed(reads, meta=meta, verify_meta=False)
    (raw,) = run.persist([raw])
    ids = run.compute([_call(_distinct, p) for p in raw.to_delayed()])
    claim_ids = side.claim_ids if claims is not None else _ordered(
        [x[0] for x in ids] + [[s.claim_id for s in side.signals]])  # fmt: skip
    source_ids = _ordered([x[1] for x in ids])
    warn_unknown_sources(_ordered([x[2] for x in ids]), side.sources, str(reports))
    claim_objs = side.claims if claims is not None else tuple(Claim(c) for c in claim_ids)
    ev0 = compile_arrays(ReportArrays(claim_ids, [], *(np.zeros(0, np.int64),) * 5), config,
                         claims=claim_objs, signals=side.signals)  # fmt: skip
    block_of = np.arange(len(claim_ids), dtype=np.int64) + len(ev0.groups)
    for k, g in enumerate(ev0.groups):
        block_of[g] = k
    vocab: dict[str, int] = {}
    smeta = {s.source_id: s for s in side.sources}
    favors = np.array([vocab.setdefault(c.favors, len(vocab)) if c.favors else -1
                       for c in claim_objs], dtype=np.int64)  # fmt: skip
    sides = np.array([vocab.setdefault(smeta[s].side, len(vocab))
                      if s in smeta and smeta[s].side else -1 for s in source_ids],
                     dtype=np.int64)  # fmt: skip
    sided = bool(config.side_effect)
    copy_pos, copy_attr, copy_w = _copies(run, raw, claim_ids, source_ids, config.copy_weight)
    coding = _Coding(pd.Index(claim_ids), pd.Index(source_ids), block_of, copy_pos, copy_attr,
                     copy_w, sides, favors, sided, paths, claims is not None)  # fmt: skip
    coded = raw.map_partitions(_encode, dask.delayed(coding), meta=_encode(meta, coding))
    coded = coded.shuffle(on="block", npartitions=len(paths))
    world = dask.delayed((ev0.prior_logodds, ev0.groups, block_of), pure=True)
    n_slots = 3 * len(source_ids) if sided else len(source_ids)
    parts = run.persist([_call(_make_part, p, world, n_slots) for p in coded.to_delayed()])
    if sided:  # one prior row per (source, alignment) slot
        slot_src = np.repeat(np.asarray(source_ids, dtype=object), 3).tolist()
        prior = source_prior_rows(
            slot_src, side.sources, config, np.tile([-1, 0, 1], len(source_ids))
        )
        suffix = {0: " [opposed side]", 1: "", 2: " [favoured side]"}
        slot_ids = [s + suffix[k % 3] for k, s in enumerate(slot_src)]
    else:
        prior = source_prior_rows(source_ids, side.sources, config)
        slot_ids = list(source_ids)
    post, states, n_iter, ok = _iterate(run, parts, prior, tol, max_iter, damping)
    if not ok:
        warnings.warn(f"dask backend: no convergence to tol={tol:g} in {max_iter} sweeps",
                      ConvergenceWarning, stacklevel=2)  # fmt: skip
    exact = _exact_small(run, parts, prior, min(exact_states, 2**config.max_enumeration))
    if len(exact[0]):  # the final state: reliability posteriors follow the exact claims
        fixed = dask.delayed(exact, pure=True)
        states = run.persist([_call(_override, p, st, fixed) for p, st in zip(parts, states)])
        post = prior + sum(st for st, _ in run.compute([_call(_summary, st) for st in states]))
    done = run.compute([_call(_finish, p, s, post) for p, s in zip(parts, states)])
    return _result(ev0, slot_ids, done, post, n_iter, ok, config, level, exact)


def _result(
    ev0: Any, source_ids: list[str], done: list[Any], post: np.ndarray, n_iter: int, ok: bool,
    config: Config, level: float, exact: tuple[np.ndarray, np.ndarray],
) -> BeliefResult:  # fmt: skip
    """Assemble the partitions' claims (others keep their prior) into a result."""
    n = len(ev0.claim_ids)
    lo = _group_logodds(ev0.prior_logodds, ev0.groups)
    centre, var = lo.copy(), np.zeros(n)
    n_rep, n_ind = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for claims, *values, _ in done:
        lo[claims], centre[claims], var[claims], n_rep[claims], n_ind[claims] = values
    lo[exact[0]] = exact[1]  # small coupled components: exact, as the in-memory engine
    used = np.unique(np.concatenate([d[-1] for d in done] or [np.zeros(0, np.int64)]))
    order = sorted(used.tolist(), key=lambda i: source_ids[i])
    return BeliefResult(
        posterior=posterior_frame(ev0.claim_ids, lo, bounds(centre, var, lo, level), n_rep, n_ind),
        log_odds=pd.Series(lo, index=ev0.claim_ids, name="log_odds"),
        method="dask",
        interval=Interval("reliability", level),
        config=config,
        reliability=reliability_frame([source_ids[i] for i in order], post[order]),
        diagnostics={"n_iter": n_iter, "converged": ok, "exact_claims": len(exact[0])},
    )
