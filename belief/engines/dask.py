"""The fast engine's sweeps as map-reduce over Dask partitions of report files.

:func:`infer_dask` gives the numbers of :func:`belief.engines.fast.infer_fast` on
:func:`belief.core.compiler.read_evidence` of the same files (tests check 1e-8), with the reports
never gathered on one machine:

1. *read*: one partition per file, each validated chunk by chunk exactly as
   :func:`belief.data.streaming.iter_report_chunks` does (errors name the file, row and column);
2. *index*: claim and source ids are collected per partition (only the distinct ids travel);
3. *copies*: the reports on claims that have a copy are collected and resolved on the client
   with the compiler's rule (:func:`belief.core.compiler.resolve_copies`; chains, stand-ins);
4. *shuffle*: reports are coded and shuffled by claim block (a group, or a free claim), so each
   partition owns whole blocks with all their reports (a
   :class:`belief.engines.compact.CompactBlock`);
5. *sweeps*: per iteration each partition updates its claims from the broadcast source
   posteriors and returns its per-source statistics (``S × 4`` floats), summed in a tree.
   Claim states stay on the workers (``dask.persist``).

Out of core (``spill``, the default without a cluster), the shuffle's pieces and the coded
partitions are written to disk once and each task reads back the partition it works on
(``belief/engines/_dask_store.py``): memory holds the partitions being worked on, the claims'
log-odds (8 bytes per claim), the claim ids as Arrow text and the per-source arrays, so a
hundred million reports run on one machine in a few GB.

Pointing it at a distributed cluster
------------------------------------
Start a scheduler and workers (``dask scheduler``; ``dask worker tcp://HOST:8786``) that can
all read the report files (a shared file system, or URLs such as ``s3://bucket/reports-*.csv``
with ``s3fs`` installed: pandas opens them through fsspec), then::

    from distributed import Client
    from belief.engines.dask import infer_dask

    result = infer_dask(["s3://bucket/reports-0.csv", ...], claims="claims.csv",
                        client=Client("tcp://HOST:8786"))

Without ``client`` the ``scheduler`` argument (``"threads"``, ``"processes"``,
``"synchronous"``) or Dask's configured default is used. Dask is imported only when called.
"""

from __future__ import annotations

import glob as _glob
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logit

from belief.core.compiler import channel_label, compile_arrays, side_codes, source_prior_rows
from belief.core.copies import resolve_copies
from belief.core.hyper import learn_hyper
from belief.core.kinds import kind_learning
from belief.core.propensity import copy_propensity
from belief.data.arrays import ReportArrays
from belief.data.streaming import empty_chunk
from belief.data.types import Case
from belief.data.validation import warn_unknown_sources
from belief.engines._dask_learn import joint_start
from belief.engines._dask_parts import (
    _Coding,
    _copy_claims,
    _distinct,
    _encode,
    _merge,
    _override,
    _position,
    _read,
    _rows_on,
)
from belief.engines._dask_parts import _gather as _gather_part
from belief.engines._dask_result import _claim_logodds, _collect, _exact_small, _n_cells, _result
from belief.engines._dask_run import _call, _iterate, _Runner, _summed, _tree, release_memory
from belief.engines._dask_store import shift_base
from belief.engines.fast import JOINT_START_CELLS
from belief.engines.result import BeliefResult
from belief.exceptions import ConvergenceWarning, ValidationError
from belief.priors.config import Config, as_config

__all__ = ["infer_dask"]


#: What a directory of report partitions holds: CSV (plain or compressed) and Parquet files.
_PART_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zst", ".parquet", ".pq")


def _files_in(directory: str) -> list[str]:
    """The partitions under ``directory`` (recursively, sorted), skipping names that start with
    ``_`` or ``.`` (``_SUCCESS``, ``_metadata``, ``.crc`` files of Spark and Dask writers)."""
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")))
        for f in files:
            if not f.startswith(("_", ".")) and f.lower().endswith(_PART_SUFFIXES):
                found.append(os.path.join(root, f))
    return sorted(found)


def _paths(reports: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    """Report files (one partition each): a file, a sequence of files, a glob, or a directory
    of CSV and Parquet files (:func:`_files_in`)."""
    if isinstance(reports, str | os.PathLike):
        text = str(reports)
        found = sorted(_glob.glob(text)) if _glob.has_magic(text) else [text]
    else:
        found = [str(p) for p in reports]
    found = [f for p in found for f in (_files_in(p) if os.path.isdir(p) else [p])]
    if not found:
        raise ValidationError(f"{reports}: no report files match")
    return found


def _copies(
    run: _Runner, raw: Any, claim_ids: list[str], source_ids: list[str], copy_weight: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Attributed source and weight of every report on a claim with copies (the compiler's rule).

    Only those claims' reports travel to the client; they are resolved there with
    :func:`belief.core.compiler.resolve_copies`, in (file, row) order as the in-memory engine reads
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
    tables: Case | None = None,
    spill: bool | str | os.PathLike[str] | None = None,
) -> BeliefResult:
    """:func:`belief.engines.fast.infer_fast` as map-reduce over Dask partitions (see the module
    doc).

    Parameters
    ----------
    reports : str, path or sequence of them
        Report files (one partition each), or a glob such as ``"reports/part-*.csv"``.
    claims, sources, signals : path or DataFrame, optional
        The small tables, read on the client with :func:`belief.data.io.read_tables`.
    config : Config or mapping, optional
        Settings (a mapping deep-merges into the small tables' defaults); every field is
        honoured as by the in-memory engines (side effect, copy weight, priors).
    client : distributed.Client, optional
        Run on this cluster; otherwise ``scheduler`` (or Dask's default) is used.
    scheduler : str, optional
        ``"threads"``, ``"processes"`` or ``"synchronous"`` when no client is given.
    tol, max_iter, damping, level : float, int, float or None, float
        As in :func:`belief.engines.fast.infer_fast`.
    chunksize : int
        Rows per chunk when a worker reads a file.
    exact_states : int
        As in :func:`belief.engines.fast.infer_fast`: small coupled components (sources with few
        claims) are found with one extra map-reduce and enumerated exactly on the client.
    tables : Case, optional
        The small tables already read (:func:`belief.data.io.read_side_tables`); ``claims`` then
        only says whether a claims table was given.
    spill : bool, path or None
        Out of core: the shuffle and the coded partitions are written to disk once and read
        back by each task (``belief/engines/_dask_store.py``), so only the partitions being
        worked on are in memory. ``None`` (the default) spills when no ``client`` is given (one
        machine); ``True`` spills to the system's temporary directory, a path spills there (with
        a cluster: a directory every worker can read), ``False`` keeps the partitions in
        memory. The files are removed when the function returns.

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
    keep = _spill_dir(spill, client)
    try:
        return _infer(reports, claims, sources, signals, config, _Runner(client, scheduler),
                      tol, max_iter, damping, level, chunksize, exact_states, tables,
                      None if keep is None else keep.name)  # fmt: skip
    finally:
        if keep is not None:
            keep.cleanup()


def _spill_dir(spill: bool | str | os.PathLike[str] | None, client: Any) -> Any:
    """The temporary directory the partitions are written to (None: in memory)."""
    if spill is None:
        spill = client is None
    if spill is False:
        return None
    where = None if spill is True else os.fspath(spill)
    if where is not None and not os.path.isdir(where):
        raise ValidationError(
            f"spill={where!r}: not a directory (give an existing directory, True, False or None)"
        )
    # ignore_cleanup_errors: on Windows a file still mapped by a live array cannot be removed
    return tempfile.TemporaryDirectory(prefix="belief-dask-", dir=where, ignore_cleanup_errors=True)


def _infer(
    reports: Any, claims: Any, sources: Any, signals: Any, config: Any, run: _Runner,
    tol: float, max_iter: int, damping: float | None, level: float, chunksize: int,
    exact_states: int, tables: Case | None, spill_dir: str | None,
) -> BeliefResult:  # fmt: skip
    """:func:`infer_dask`'s work, given its runner and spill directory."""
    import dask
    import dask.dataframe as dd
    import pyarrow as pa

    from belief.data.io import read_side_tables

    paths = _paths(reports)
    side = read_side_tables(claims, sources, signals) if tables is None else tables
    config = as_config(config, side)
    meta = empty_chunk().assign(part=np.int64(0))
    # Not persisted: each pass over the reports (ids, copies, coding) reads the files again,
    # so the text of all partitions is never in memory at once.
    reads = [_call(_read, p, k, chunksize) for k, p in enumerate(paths)]
    raw = dd.from_delayed(reads, meta=meta, verify_meta=False)
    ids = run.compute([_tree(_merge, [_call(_distinct, p) for p in raw.to_delayed()])])[0]
    if claims is not None:
        claim_ids: Any = side.claim_ids
    else:  # an Index of Arrow text: no Python string per claim
        extra_ids = pa.array([s.claim_id for s in side.signals], pa.string())
        claim_ids = pd.Index(_merge((ids[0],), (extra_ids,))[0].to_pandas())
    source_ids = ids[1].to_pylist()
    warn_unknown_sources(ids[2].to_pylist(), side.sources, str(reports))
    del ids
    release_memory()
    claim_objs = side.claims if claims is not None else None  # no table: no objects per claim
    ev0 = compile_arrays(ReportArrays(claim_ids, [], *(np.zeros(0, np.int64),) * 5), config,
                         claims=claim_objs, signals=side.signals)  # fmt: skip
    block_of = np.arange(len(claim_ids), dtype=np.int64) + len(ev0.groups)
    for k, g in enumerate(ev0.groups):
        block_of[g] = k
    vocab: dict[str, int] = {}
    side_of = {s.source_id: s.side for s in side.sources}
    if claim_objs is None:
        favors = np.full(len(claim_ids), -1, np.int8)
    else:
        favors = side_codes([c.favors for c in claim_objs], vocab)
    sides = side_codes([side_of.get(s) for s in source_ids], vocab)
    sided = bool(config.side_effect)
    copy_pos, copy_attr, copy_w = _copies(run, raw, claim_ids, source_ids, config.copy_weight)
    pi = copy_propensity(source_ids, side.sources, config)
    shuffle_dir = None if spill_dir is None else tempfile.mkdtemp(dir=spill_dir)
    coding = _Coding(pa.array(claim_ids, pa.string()), pa.array(source_ids, pa.string()),
                     block_of, copy_pos, copy_attr, copy_w, sides, favors, sided, paths,
                     claims is not None, bool((pi > 0).any()), len(paths),
                     shuffle_dir)  # fmt: skip
    shared_coding = dask.delayed(coding, pure=True)
    coded = [_call(_encode, p, shared_coding, k) for k, p in enumerate(raw.to_delayed())]
    if sided:  # one prior row per (source, alignment) slot
        slot_src = np.repeat(np.asarray(source_ids, dtype=object), 3).tolist()
        slot_align = np.tile([-1, 0, 1], len(source_ids))
        prior = source_prior_rows(slot_src, side.sources, config, slot_align)
        slot_ids = [channel_label(s, a) for s, a in zip(slot_src, slot_align)]
    else:
        slot_src, slot_align = list(source_ids), np.zeros(len(source_ids), np.int64)
        prior = source_prior_rows(source_ids, side.sources, config)
        slot_ids = list(source_ids)
    rep = None
    if (pi > 0).any():  # unattributed repeats: what the compiler needs, per partition
        src_rank = np.empty(len(source_ids), np.int64)
        src_rank[np.argsort(np.asarray(source_ids, dtype=str), kind="stable")] = np.arange(
            len(source_ids)
        )
        rep = (pi, src_rank, prior)
    world = dask.delayed((ev0.prior_logodds, ev0.groups, block_of, rep, ev0.base_mask), pure=True)
    n_slots = 3 * len(source_ids) if sided else len(source_ids)
    parts = run.persist(
        [_call(_gather_part, world, n_slots, j, spill_dir, *coded) for j in range(len(paths))]
    )
    del coded, world, coding, shared_coding
    if shuffle_dir is not None:
        run.wait(parts)  # the parts are written: the shuffle's pieces can go
        shutil.rmtree(shuffle_dir, ignore_errors=True)
    release_memory()
    limit = min(exact_states, 2**config.max_enumeration)

    def solve(parts: list[Any], warm: list[Any] | None, prior: np.ndarray) -> tuple[Any, ...]:
        post, states, n_iter, ok = _iterate(run, parts, prior, tol, max_iter, damping, warm)
        exact = _exact_small(run, parts, prior, limit)
        if len(exact[0]):  # the final state: reliability posteriors follow the exact claims
            fixed = dask.delayed(exact, pure=True)
            states = run.persist([_call(_override, p, st, fixed) for p, st in zip(parts, states)])
            post = prior + _summed(run, parts, states)[0]
        return post, states, n_iter, ok, exact

    extra: dict[str, object] = {}
    kinds = kind_learning(slot_src, slot_align, side.sources, config, prior)
    ev_h = replace(ev0, source_ids=slot_ids, a_se=prior[:, 0], b_se=prior[:, 1],
                   a_sp=prior[:, 2], b_sp=prior[:, 3], kinds=kinds)  # fmt: skip
    learns = (ev0.base_mask is not None and ev0.base_mask.any()) or (
        kinds is not None and kinds.size > 0
    )
    if learns:  # learn the base rate and kind reliability, as fast (belief.core.hyper)
        mask, base = dask.delayed(ev0.base_mask, pure=True), parts
        last: list[Any] = [None]
        start = float(logit(ev0.base_start))

        def shifted(e: Any) -> list[Any]:
            if ev0.base_mask is None:
                return base
            delta = float(logit(e.base_start)) - start
            return run.persist([_call(shift_base, p, mask, delta) for p in base])

        def at(e: Any) -> tuple[np.ndarray, np.ndarray]:
            out = solve(shifted(e), last[0], e.priors)
            last[0] = out[1]
            return _claim_logodds(run, e, parts, out[1], out[4]), out[0] - e.priors

        rate0, means0 = 0.5, None
        n_cells = sum(run.compute([_call(_n_cells, p) for p in parts]))
        if n_cells >= JOINT_START_CELLS:  # as the in-memory engine: a start next to the root
            rate0, means0, last[0] = joint_start(run, parts, ev_h, tol=tol, max_iter=max_iter,
                                                 damping=damping)  # fmt: skip
        ev_h, _, learned = learn_hyper(ev_h, at, xtol=max(tol, 1e-12), start=rate0,
                                       start_means=means0)  # fmt: skip
        extra.update(learned)
        ev0 = replace(ev0, prior_logodds=ev_h.prior_logodds, base_start=ev_h.base_start)
        parts = shifted(ev_h)
        post, states, n_iter, ok, exact = solve(parts, last[0], ev_h.priors)
    else:
        post, states, n_iter, ok, exact = solve(parts, None, prior)
    if not ok:
        warnings.warn(f"dask backend: no convergence to tol={tol:g} in {max_iter} sweeps",
                      ConvergenceWarning, stacklevel=2)  # fmt: skip
    return _result(ev0, slot_ids, _collect(run, ev0, parts, states, post, exact), post, n_iter,
                   ok, config, level, exact, extra)  # fmt: skip
