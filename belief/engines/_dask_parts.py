"""The partition side of the Dask backend: what each worker runs on its share of the reports.

A partition holds whole claim blocks (a group, or a free claim) with all their reports
(:class:`_Part`, a :class:`~belief.engines.compact.CompactBlock`); these functions read and code the
reports, run one sweep, and return the small per-source summaries the client reduces.
:mod:`belief.engines.dask` orchestrates them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from belief.core.compiler import align_codes
from belief.core.groups import group_logodds
from belief.core.repeats import repeat_weights
from belief.data.arrays import STANCE_RANK
from belief.data.streaming import read_partition
from belief.engines._dask_store import (
    _Part,
    _Spilled,
    _State,
    claims_of,
    load,
    load_piece,
    save_pieces,
    spill,
)
from belief.engines.compact import CompactBlock
from belief.engines.fast import interval_moments, sweep

_ROWS = 1 << 40  # rows per file, for positions


def _read(path: str, part: int, chunksize: int) -> pd.DataFrame:
    """One file as one validated partition (normalized columns plus ``part``)."""
    return read_partition(path, chunksize=chunksize).assign(part=np.int64(part))


def _text(values: pd.Series) -> Any:
    """A text column as an Arrow array (no copy for Arrow-backed text)."""
    import pyarrow as pa

    return pa.array(values, pa.string(), from_pandas=True)


def _distinct(df: pd.DataFrame) -> tuple[Any, Any, Any]:
    """Distinct claims, sources (incl. ``derived_from``) and reporters, in order of first
    appearance, as Arrow arrays (Arrow's hash kernels: no Python string per value)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    claims, reporters = _text(df["claim_id"]), _text(df["source_id"])
    sources = pa.chunked_array([reporters, _text(df["derived_from"]).drop_null()], pa.string())
    return pc.unique(claims), pc.unique(sources), pc.unique(reporters)


def _merge(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
    """Two runs of :func:`_distinct` (``a`` first) as one, order of first appearance kept."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return tuple(pc.unique(pa.chunked_array([x, y], pa.string())) for x, y in zip(a, b))


def _lookup(values: Any, known: Any) -> np.ndarray:
    """Position of each value in the Arrow array ``known`` (-1: absent).

    The partition's distinct values are hashed, and ``known`` is scanned against them: a hash
    table of the few values a partition has, not of every known id (10M claims would make one
    of several hundred MB per task).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(values, pa.Array | pa.ChunkedArray):  # Arrow text: no Python strings
        values = _text(values)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    enc = pc.dictionary_encode(values)
    where = pc.index_in(known, value_set=enc.dictionary).fill_null(-1)
    where = where.to_numpy(zero_copy_only=False)
    glob = np.full(len(enc.dictionary) + 1, -1, np.int64)  # the last: null values
    hit = np.flatnonzero(where >= 0)
    glob[where[hit]] = hit
    local = enc.indices.fill_null(len(enc.dictionary)).to_numpy(zero_copy_only=False)
    return glob[local]


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

    claims: Any  # Arrow array of the claim ids, in order
    sources: Any  # and of the source ids
    block: np.ndarray  # block id per claim
    copy_pos: np.ndarray  # sorted positions of the reports on claims with copies
    copy_attr: np.ndarray  # their attributed source codes
    copy_weight: np.ndarray  # and weights
    side: np.ndarray  # side code per source (-1: none)
    favors: np.ndarray  # favors code per claim (-1: none)
    sided: bool  # side_effect != 0: channels are (source, alignment)
    labels: list[str]
    strict: bool  # claims came from a claims table: unknown ones are errors
    repeats: bool  # unattributed repeats are scored: keep source, time and copy columns
    n_out: int  # partitions after the shuffle
    spill: str | None  # out of core: the directory the shuffle and the parts are written to


def _encode(df: pd.DataFrame, cd: _Coding, index: int) -> list[dict[str, np.ndarray]] | str:
    """The partition's reports coded in narrow columns and cut by owner (claim block modulo
    ``n_out``), each piece in file order: one side of the shuffle (:func:`_gather`). Out of
    core, the pieces are written under ``cd.spill`` and their directory is returned."""
    claim = _lookup(df["claim_id"], cd.claims)
    if cd.strict and (claim < 0).any():
        from belief.data.streaming import unknown_claim_error

        i = int(np.flatnonzero(claim < 0)[0])
        label = cd.labels[int(df["part"].iloc[i])]
        known = cd.claims.to_pylist()
        raise unknown_claim_error(label, int(df["row"].iloc[i]), df["claim_id"].iloc[i], known)
    attr = _lookup(df["source_id"], cd.sources)
    source = attr.copy()
    weight = np.ones(len(df))
    if len(cd.copy_pos):
        pos = _position(df["part"], df["row"])
        k = np.minimum(np.searchsorted(cd.copy_pos, pos), len(cd.copy_pos) - 1)
        hit = cd.copy_pos[k] == pos
        attr[hit], weight[hit] = cd.copy_attr[k[hit]], cd.copy_weight[k[hit]]
    if cd.sided:  # the channel of the claim's side, as the compiler forms it
        attr = attr * 3 + align_codes(cd.favors[claim], cd.side[attr]) + 1
    cols = {"claim": claim.astype(np.int32), "attr": attr.astype(np.int32),
            "stance": df["stance"].to_numpy(np.int8)}  # fmt: skip
    if len(cd.copy_pos):
        cols["weight"] = weight
    if cd.repeats:
        cols["source"] = source.astype(np.int32)
        cols["time"] = df["time"].to_numpy(np.int64)
        cols["copy"] = (df["derived_from"].notna() & (df["derived_from"] != "")).to_numpy(bool)
    owner = cd.block[claim] % cd.n_out
    if cd.spill is not None:
        return save_pieces(os.path.join(cd.spill, f"in-{index:06d}.bin"), cols, owner, cd.n_out)
    order = np.argsort(owner, kind="stable")
    cuts = np.cumsum(np.bincount(owner, minlength=cd.n_out))[:-1]
    pieces = {c: np.split(v[order], cuts) for c, v in cols.items()}
    return [{c: pieces[c][j] for c in cols} for j in range(cd.n_out)]


def _gather(
    world: tuple[Any, ...], n_src: int, j: int, out: str | None, *coded: list[dict] | str
) -> _Part | _Spilled:
    """Partition ``j`` of the shuffle (every input's piece ``j``, in file order) as a part;
    written under the directory ``out`` when given (out of core)."""
    pieces = [load_piece(x, j) if isinstance(x, str) else x[j] for x in coded]
    cols = {c: np.concatenate([x[c] for x in pieces]) for c in pieces[0]}
    del pieces
    part = _make_part(cols, world, n_src)
    if out is None:
        return part
    mask = world[4]
    base = mask[part.claims] if mask is not None else np.zeros(len(part.claims), bool)
    return spill(part, os.path.join(out, f"part-{j:06d}.bin"), base)


def _make_part(df: dict[str, np.ndarray], world: tuple[Any, ...], n_src: int) -> _Part:
    ell, groups, block_of, rep, _ = world
    present = np.zeros(int(block_of.max(initial=-1)) + 1, bool)
    present[block_of[df["claim"]]] = True
    claims = np.flatnonzero(present[block_of])  # the claims of the blocks it has reports on
    local = np.searchsorted(claims, df["claim"])
    stance = df["stance"]
    weight = df["weight"] if "weight" in df else np.ones(len(stance))
    keep = (stance != 0) & (weight > 0)
    full = keep & (weight == 1.0)
    own: list[list[int]] = []
    if groups:
        pos = {c: k for k, c in enumerate(claims.tolist())}
        own = [[pos[m] for m in g] for g in groups if g[0] in pos]
    if rep is not None:  # unattributed repeats (belief.core.repeats), as the compiler has them
        pi, src_rank, rows = rep
        src, attr = df["source"].astype(np.int64), df["attr"].astype(np.int64)
        order = np.empty(len(stance), np.int64)
        order[np.lexsort((STANCE_RANK[stance + 1], src_rank[src], df["time"]))] = np.arange(
            len(stance)
        )
        k = np.flatnonzero(keep)
        rho = repeat_weights(
            local[k], src[k], stance[k] > 0, order[k], ~df["copy"][k], pi[src[k]],
            expit(group_logodds(ell[claims], own)), rows[attr[k]],
        )  # fmt: skip
        weight = weight.copy()
        weight[k] *= 1.0 - rho
        full[k] &= rho < 0.5
    block = CompactBlock(len(claims), n_src, local[keep], df["attr"][keep],
                  stance[keep] > 0, weight[keep])  # fmt: skip
    return _Part(claims, ell[claims], own, block, np.bincount(local, minlength=len(claims)),
                 np.bincount(local[full], minlength=len(claims)))  # fmt: skip


def _start(part: _Part | _Spilled) -> _State:
    part = load(part)
    return _State(group_logodds(part.ell, part.groups), np.inf)


def _resume(part: _Part | _Spilled, state: _State) -> _State:
    """A warm start from an earlier state (its log-odds, this part's statistics)."""
    return _State(state.lo, np.inf)


def _step(part: _Part | _Spilled, state: _State, post: np.ndarray, damping: float) -> _State:
    part = load(part)
    new = sweep(state.lo, post, part.block, part.ell, part.groups, damping)
    delta = float(np.max(np.abs(expit(new) - expit(state.lo)), initial=0.0))
    return _State(new, delta)


def _stats(part: _Part | _Spilled, state: _State) -> tuple[np.ndarray, float]:
    """The part's per-source statistics at its state, and its last change."""
    part = load(part)
    return part.block.source_stats(expit(state.lo)), state.delta


def _add(a: tuple[np.ndarray, float], b: tuple[np.ndarray, float]) -> tuple[np.ndarray, float]:
    """Two parts' :func:`_stats` as one (a node of the tree sum)."""
    return a[0] + b[0], max(a[1], b[1])


def _override(
    part: _Part | _Spilled, state: _State, exact: tuple[np.ndarray, np.ndarray]
) -> _State:
    """Set the owned claims' log-odds to their exact values."""
    claims, values = exact
    mine = claims_of(part)
    k = np.minimum(np.searchsorted(mine, claims), max(len(mine) - 1, 0))
    own = (mine[k] == claims) if len(mine) else np.zeros(len(claims), bool)
    lo = state.lo.copy()
    lo[k[own]] = values[own]
    return _State(lo, state.delta)


def _claim_counts(part: _Part | _Spilled) -> np.ndarray:
    """Per source, how many of this partition's claims it reports on."""
    part = load(part)
    return np.bincount(part.block.source, minlength=part.block.n_sources)


def _small_cells(part: _Part | _Spilled, counts: np.ndarray, limit: int) -> tuple[Any, ...]:
    """Cells of the claims that may lie in a small component (every source has few claims).

    A claim qualifies when each of its sources reports on at most ``limit`` claims in all and
    its whole group qualifies; the client checks the components are complete.
    """
    part = load(part)
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


def _finish(part: _Part | _Spilled, state: _State, post: np.ndarray) -> tuple[np.ndarray, ...]:
    part = load(part)
    centre, var = interval_moments(part.block, part.ell, part.groups, post, state.lo)
    used = np.unique(part.block.source)
    return part.claims, state.lo, centre, var, part.n_reports, part.n_independent, used
