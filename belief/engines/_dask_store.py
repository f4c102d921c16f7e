"""Where the Dask backend's partitions live: in worker memory, or on disk (out of core).

A partition (:class:`_Part`) is the claims of whole blocks with all their reports. Held in
memory, every partition's cells and per-claim arrays stay resident for the whole run: about
1.2 GB for 100M reports, plus what each process keeps besides. Spilled (:class:`_Spilled`), a
partition is a file written once, after the shuffle, and read back by
each task that needs it (a sweep, a reduce): only the partitions being worked on are in memory,
and the shuffle's pieces go through disk too (:func:`save_pieces`, :func:`load_piece`). Each
is one file: a JSON index of its arrays, then their bytes. The
claims' log-odds (:class:`_State`, 8 bytes per claim) stay in memory either way.

The files live in a temporary directory that :func:`belief.engines.dask.infer_dask` removes
when it returns; with a distributed cluster it must be on a file system every worker reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from belief.engines.compact import CompactBlock


@dataclass
class _Part:
    """The claims of whole blocks with all their reports: one partition's share of the work."""

    claims: np.ndarray
    ell: np.ndarray
    groups: list[list[int]]
    block: CompactBlock
    n_reports: np.ndarray
    n_independent: np.ndarray


@dataclass
class _State:
    """A part's claim log-odds and the largest change of P(true) in its last sweep (the
    per-source statistics are not kept: they are recomputed into a tree sum)."""

    lo: np.ndarray
    delta: float


@dataclass(frozen=True)
class _Spilled:
    """A part written to ``path``; its base-rate claims' prior log-odds move by ``delta``."""

    path: str
    delta: float = 0.0


_ALIGN = 64  # every array starts at a multiple of this many bytes


def _save(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Write named arrays to one file: a JSON index (dtype, shape, offset) and the raw bytes
    (one read brings a part back; ``.npy`` files cost a header parse each)."""
    index: dict[str, tuple[str, list[int], int]] = {}
    offset = 0
    for name, value in arrays.items():
        index[name] = (value.dtype.str, list(value.shape), offset)
        offset += -(-value.nbytes // _ALIGN) * _ALIGN
    head = json.dumps(index).encode()
    start = -(-(8 + len(head)) // _ALIGN) * _ALIGN
    with open(path, "wb") as f:
        f.write(len(head).to_bytes(8, "little") + head)
        for name, value in arrays.items():
            f.seek(start + index[name][2])
            f.write(np.ascontiguousarray(value).tobytes())
        f.truncate(start + offset)


def _head(f: Any) -> tuple[dict[str, list[Any]], int]:
    """The index of a file :func:`_save` wrote, and where its arrays start."""
    n = int.from_bytes(f.read(8), "little")
    return json.loads(f.read(n)), -(-(8 + n) // _ALIGN) * _ALIGN


def _load_all(path: str) -> dict[str, np.ndarray]:
    """Every array of a file :func:`_save` wrote: read-only views into the file mapped in
    memory, so a task reads the pages of the arrays it uses (a sweep reads neither the claims'
    counts nor their ids)."""
    with open(path, "rb") as f:
        index, start = _head(f)
    raw = np.memmap(path, np.uint8, mode="r")
    out = {}
    for name, (dtype, shape, offset) in index.items():
        count = int(np.prod(shape))
        out[name] = np.frombuffer(raw, dtype, count, start + offset).reshape(shape)
    return out


def spill(part: _Part, path: str, base: np.ndarray) -> _Spilled:
    """Write ``part`` under ``path``; ``base`` flags its claims that take the base rate."""
    sizes = np.array([len(g) for g in part.groups], dtype=np.int64)
    members = np.concatenate([np.asarray(g, np.int64) for g in part.groups] or [sizes])
    block = {f"b_{k}": v for k, v in part.block.to_arrays().items()}
    _save(path, {"claims": part.claims, "ell": part.ell, "base": base, "group_sizes": sizes,
                 "group_members": members, "n_reports": part.n_reports,
                 "n_independent": part.n_independent, **block})  # fmt: skip
    return _Spilled(path)


def load(part: _Part | _Spilled) -> _Part:
    """The part itself: read back from disk when spilled (with its base-rate shift)."""
    if isinstance(part, _Part):
        return part
    a = _load_all(part.path)
    ell = a["ell"] + np.where(a["base"], part.delta, 0.0) if part.delta else a["ell"]
    sizes, members = a["group_sizes"], a["group_members"]
    groups = [g.tolist() for g in np.split(members, np.cumsum(sizes)[:-1])] if len(sizes) else []
    block = CompactBlock.from_arrays({k[2:]: v for k, v in a.items() if k.startswith("b_")})
    return _Part(a["claims"], ell, groups, block, a["n_reports"], a["n_independent"])


def claims_of(part: _Part | _Spilled) -> np.ndarray:
    """The part's claims (only their pages are read when spilled)."""
    return part.claims if isinstance(part, _Part) else _load_all(part.path)["claims"]


def shift_base(part: _Part | _Spilled, mask: np.ndarray, delta: float) -> _Part | _Spilled:
    """The part with the prior log-odds of its base-rate claims (``mask``) moved by ``delta``
    (from their compiled values; a spilled part kept its own claims' flags when written)."""
    if isinstance(part, _Spilled):
        return _Spilled(part.path, delta)
    ell = part.ell + np.where(mask[part.claims], delta, 0.0)
    return _Part(part.claims, ell, part.groups, part.block, part.n_reports, part.n_independent)


def save_pieces(path: str, cols: dict[str, np.ndarray], owner: np.ndarray, n_out: int) -> str:
    """One side of the shuffle on disk: ``cols`` sorted by ``owner`` (stable) and the cuts."""
    order = np.argsort(owner, kind="stable")
    cuts = np.r_[0, np.cumsum(np.bincount(owner, minlength=n_out))].astype("<i8")
    _save(path, {"cuts": cuts, **{f"c_{k}": v[order] for k, v in cols.items()}})
    return path


def load_piece(path: str, j: int) -> dict[str, np.ndarray]:
    """Piece ``j`` of what :func:`save_pieces` wrote (only that slice is read, and copied)."""
    a = _load_all(path)
    lo, hi = int(a["cuts"][j]), int(a["cuts"][j + 1])
    return {k[2:]: np.array(v[lo:hi]) for k, v in a.items() if k.startswith("c_")}
