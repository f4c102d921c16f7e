"""The fast engine's sweeps as map-reduce over Dask partitions of report files.

:func:`infer_dask` gives the numbers of :func:`belief.fast.infer_fast` on
:func:`belief.streaming.read_evidence` of the same files (tests check 1e-8), with the reports
never gathered on one machine:

1. *read*: one partition per file, each validated chunk by chunk exactly as
   :func:`belief.streaming.iter_report_chunks` does (errors name the file, row and column);
2. *index*: claim and source ids are collected per partition (only the distinct ids travel);
3. *copies*: the copy rows and the originals they might repeat are collected and resolved
   with the batch rule on the client;
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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from belief.arrays import (
    _STANCE_RANK,
    ReportArrays,
    compile_arrays,
    posterior_frame,
    reliability_frame,
    source_prior_rows,
)
from belief.evidence import ExactConfig
from belief.exceptions import ConvergenceWarning, ValidationError
from belief.fast import Block, Damping, FastResult, bounds, interval_moments, sweep
from belief.meanfield import _group_logodds
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


def _copy_rows(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["derived_from"].notna()]


def _originals(df: pd.DataFrame, keys: pd.MultiIndex) -> pd.DataFrame:
    orig = df[df["derived_from"].isna()][["claim_id", "source_id"]]
    hit = pd.MultiIndex.from_frame(orig).isin(keys)
    return orig[hit].drop_duplicates()


def _position(part: Any, row: Any) -> np.ndarray:
    """A report's global position as one int64: (partition, spreadsheet row)."""
    return np.asarray(part, dtype=np.int64) * _ROWS + np.asarray(row, dtype=np.int64)


def _stand_ins(copies: pd.DataFrame, originals: pd.DataFrame) -> np.ndarray:
    """Sorted positions of the copies that stand in for an original (the batch rule)."""
    have = pd.MultiIndex.from_frame(originals.rename(columns={"source_id": "derived_from"}))
    cand = copies[~pd.MultiIndex.from_frame(copies[["claim_id", "derived_from"]]).isin(have)]
    cand = cand.assign(rank=_STANCE_RANK[cand["stance"].to_numpy() + 1])  # the batch order
    by = ["claim_id", "derived_from", "time", "source_id", "rank", "part", "row"]
    cand = cand.sort_values(by, kind="stable")
    first = cand.drop_duplicates(["claim_id", "derived_from"])
    return np.sort(_position(first["part"], first["row"]))


@dataclass(frozen=True)
class _Coding:
    """What every partition needs to code its reports (broadcast once)."""

    claims: pd.Index
    sources: pd.Index
    block: np.ndarray  # block id per claim
    stand_in: np.ndarray  # sorted positions
    copy_weight: float
    labels: list[str]
    strict: bool  # claims came from a claims table: unknown ones are errors


def _encode(df: pd.DataFrame, cd: _Coding) -> pd.DataFrame:
    claim = cd.claims.get_indexer(df["claim_id"].to_numpy())
    if cd.strict and (claim < 0).any():
        from belief.streaming import _unknown_claim

        i = int(np.flatnonzero(claim < 0)[0])
        label = cd.labels[int(df["part"].iloc[i])]
        raise _unknown_claim(label, int(df["row"].iloc[i]), df["claim_id"].iloc[i], cd.claims)
    copy = df["derived_from"].notna().to_numpy()
    source = cd.sources.get_indexer(df["source_id"].to_numpy())
    derived = cd.sources.get_indexer(df["derived_from"].fillna(df["source_id"]).to_numpy())
    stand = copy & np.isin(_position(df["part"], df["row"]), cd.stand_in)
    return pd.DataFrame(
        {
            "claim": claim.astype(np.int64),
            "attr": np.where(stand, derived, source).astype(np.int64),
            "stance": df["stance"].to_numpy(np.int8),
            "weight": np.where(copy & ~stand, cd.copy_weight, 1.0),
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


def _copies(run: _Runner, raw: Any) -> np.ndarray:
    """Positions of the copies that stand in for their original (resolved on the client)."""
    found = run.compute([_call(_copy_rows, p) for p in raw.to_delayed()])
    copies = pd.concat(found, ignore_index=True)
    if not len(copies):
        return np.zeros(0, np.int64)
    keys = pd.MultiIndex.from_frame(copies[["claim_id", "derived_from"]].drop_duplicates())
    found = run.compute([_call(_originals, p, keys) for p in raw.to_delayed()])
    return _stand_ins(copies, pd.concat(found, ignore_index=True))


def infer_dask(
    reports: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    claims: Any = None,
    sources: Any = None,
    signals: Any = None,
    *,
    config: ExactConfig | None = None,
    client: Any = None,
    scheduler: str | None = None,
    tol: float = 1e-6,
    max_iter: int = 2000,
    damping: float | None = None,
    level: float = 0.9,
    chunksize: int = 200_000,
) -> FastResult:
    """:func:`belief.fast.infer_fast` as map-reduce over Dask partitions (see the module doc).

    Parameters
    ----------
    reports : str, path or sequence of them
        Report files (one partition each), or a glob such as ``"reports/part-*.csv"``.
    claims, sources, signals : path or DataFrame, optional
        The small tables, read on the client with :func:`belief.io.read_tables`.
    config : ExactConfig, optional
        Engine settings (default ``ExactConfig()``).
    client : distributed.Client, optional
        Run on this cluster; otherwise ``scheduler`` (or Dask's default) is used.
    scheduler : str, optional
        ``"threads"``, ``"processes"`` or ``"synchronous"`` when no client is given.
    tol, max_iter, damping, level : float, int, float or None, float
        As in :func:`belief.fast.infer_fast`.
    chunksize : int
        Rows per chunk when a worker reads a file.

    Returns
    -------
    FastResult

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
    config = ExactConfig.from_case(side) if config is None else config
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
    coding = _Coding(pd.Index(claim_ids), pd.Index(source_ids), block_of, _copies(run, raw),
                     config.copy_weight, paths, claims is not None)  # fmt: skip
    coded = raw.map_partitions(_encode, dask.delayed(coding), meta=_encode(meta, coding))
    coded = coded.shuffle(on="block", npartitions=len(paths))
    world = dask.delayed((ev0.prior_logodds, ev0.groups, block_of), pure=True)
    parts = run.persist([_call(_make_part, p, world, len(source_ids)) for p in coded.to_delayed()])
    prior = source_prior_rows(source_ids, side.sources, config)
    post, states, n_iter, ok = _iterate(run, parts, prior, tol, max_iter, damping)
    if not ok:
        warnings.warn(f"dask backend: no convergence to tol={tol:g} in {max_iter} sweeps",
                      ConvergenceWarning, stacklevel=2)  # fmt: skip
    done = run.compute([_call(_finish, p, s, post) for p, s in zip(parts, states)])
    return _result(ev0, source_ids, done, post, n_iter, ok, config, level)


def _result(
    ev0: Any, source_ids: list[str], done: list[Any], post: np.ndarray, n_iter: int, ok: bool,
    config: ExactConfig, level: float,
) -> FastResult:  # fmt: skip
    """Assemble the partitions' claims (others keep their prior) into a :class:`FastResult`."""
    n = len(ev0.claim_ids)
    lo = _group_logodds(ev0.prior_logodds, ev0.groups)
    centre, var = lo.copy(), np.zeros(n)
    n_rep, n_ind = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for claims, *values, _ in done:
        lo[claims], centre[claims], var[claims], n_rep[claims], n_ind[claims] = values
    used = np.unique(np.concatenate([d[-1] for d in done] or [np.zeros(0, np.int64)]))
    order = sorted(used.tolist(), key=lambda i: source_ids[i])
    return FastResult(
        posterior=posterior_frame(ev0.claim_ids, lo, bounds(centre, var, lo, level), n_rep, n_ind),
        log_odds=pd.Series(lo, index=ev0.claim_ids, name="log_odds"),
        reliability=reliability_frame([source_ids[i] for i in order], post[order]),
        n_iter=n_iter,
        converged=ok,
        config=config,
    )
