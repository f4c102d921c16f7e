"""The joint model's data: the arrays a :class:`~belief.model.encode.ModelData` becomes
(:func:`data_values`), packed in two ``pm.Data`` containers of fixed shape (``int_data`` and
``float_data``) so one compiled model serves every case of its shape (:func:`shape_key`,
:func:`set_data`). :mod:`belief.model.graph` builds the PyMC graph on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.special import log_ndtr

from belief.model.encode import ModelData

__all__ = ["data_values", "packed_values", "set_data", "shape_key"]

_INTS = {"group_gather", "claim_group", "rel_kind", "sig_claim", "sig_kind"}
_INTS |= {"o_claim", "o_cell", "c_claim", "c_cell", "m_claim", "m_unit"}
#: the per-unit arrays of the repeat mixture: their length depends on the stances (the distinct
#: shares), so they sit in their own resizable container, ``unit_data`` (columns in this order)
_UNITS = ("u_cell", "u_logq", "u_count")
_NO_SHARE = -1000.0  #: log q of a repeat mixture with no earlier report of the same stance


def data_values(data: ModelData) -> dict[str, np.ndarray]:
    """The arrays of the model that depend on the case, by name.

    Claims and groups: ``lo_fixed``, ``use_base``, ``claim_group`` and, per group (row) and
    member, ``group_member`` and ``group_gather`` (into ``[D; prior log-odds]``, hence two
    blocks). Signals: ``sig_*``. Reliability, sensitivity then specificity of every source
    (flat, ``2 x sources``): ``rel_kind`` (into the kind arrays), ``own``, ``own_m``, ``own_sd``;
    per kind the prior centres ``skill_centre`` and ``bias_centre`` and ``skill_lognorm``, the
    log normalizing constant of the skill prior (from ``data.kind_mean_sd``). Reports, originals
    (``o_*``) and copies (``c_*``) apart: ``*_claim`` and ``*_cell`` (cell = 3 x source +
    alignment + 1, plus 3 x sources for a confirm) and the number of reports per cell,
    ``*_count``. Reports that may be unattributed repeats (:attr:`ModelData.r_mixture`) are
    apart from the originals: ``m_claim`` and ``m_unit`` per report, and per *unit* (distinct
    cell and repeat share ``q``) ``u_cell``, ``u_logq`` and ``u_count``; per
    source ``copy_value``, ``copy_logp`` and ``copy_log1mp`` (the fixed propensity, its log
    and the log of its complement) and, when some are learned, ``copy_learn`` and per kind
    ``copy_centre`` (logit).
    Signal arrays are absent without a learned signal, copy arrays without copies, repeat
    arrays without possible repeats.
    The model holds them packed in two ``pm.Data`` containers of fixed shape, ``int_data`` and
    ``float_data`` (nutpie's compile time grows with every container), and the per-unit arrays
    in a third, ``unit_data``, whose length may change between fits of one :func:`shape_key`
    (it depends on the stances).

    Examples
    --------
    >>> from belief.data.types import Case, Claim, Report
    >>> from belief.model.encode import encode_case
    >>> from belief.priors.config import Config
    >>> case = Case((Claim("c1"),), reports=(Report("c1", "s1", "deny"),))
    >>> values = data_values(encode_case(case, Config(), keep_copies=False))
    >>> values["o_cell"].tolist(), values["o_count"].tolist()
    ([1], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    """
    n_claims, n_sources, n_kinds = len(data.claim_ids), len(data.source_ids), len(data.kinds)
    n_cells = 3 * n_sources
    member = data.group_index < n_claims
    gather = np.where(member, data.group_index, 0)
    align = np.rint(data.r_align).astype(np.int64)
    cell = data.r_source * 3 + align + 1 + n_cells * data.r_confirm.astype(np.int64)
    skill = data.kind_m[0] + data.kind_m[1]
    values = {
        "lo_fixed": data.lo_fixed,
        "use_base": data.use_base,
        "group_gather": np.stack([gather, gather + n_claims]),
        "group_member": member,
        "claim_group": data.claim_group,
        "rel_kind": np.concatenate([data.src_kind, data.src_kind + n_kinds]),
        "own": data.own.ravel(),
        "own_m": data.own_m.ravel(),
        "own_sd": data.own_sd.ravel(),
        "skill_centre": skill,
        "bias_centre": (data.kind_m[0] - data.kind_m[1]) / 2.0,
        # log P(skill >= 0) under the skill prior's normal (see _reliability)
        "skill_lognorm": log_ndtr(np.abs(skill) / (np.sqrt(2.0) * data.kind_mean_sd)),
    }
    if data.sig_claim.size:
        values |= {"sig_claim": data.sig_claim, "sig_kind": data.sig_kind}
        values |= {"sig_dir": data.sig_dir, "sig_center": data.sig_center}
    mixture = data.r_mixture & ~data.r_copy
    for prefix, mask in (("o", ~data.r_copy & ~mixture), ("c", data.r_copy)):
        if prefix == "o" or mask.any():
            values[f"{prefix}_claim"] = data.r_claim[mask]
            values[f"{prefix}_cell"] = cell[mask]
            values[f"{prefix}_count"] = np.bincount(cell[mask], minlength=2 * n_cells)
    if mixture.any():
        values |= _repeat_values(data, cell, mixture)
    return {k: np.asarray(v, dtype=np.int64 if k in _INTS else float) for k, v in values.items()}


def _repeat_values(data: ModelData, cell: np.ndarray, mixture: np.ndarray) -> dict[str, Any]:
    """The arrays of the repeat mixture (:func:`data_values`)."""
    m, k = data.r_earlier[mixture], data.r_same[mixture]
    q = k / m
    units, unit = np.unique(np.column_stack([cell[mixture], q]), axis=0, return_inverse=True)
    u_cell = units[:, 0].astype(np.int64)
    fixed = np.clip(data.copy_value, 1e-300, 1.0)
    values = {
        "m_claim": data.r_claim[mixture],
        "m_unit": unit.reshape(-1),
        "u_cell": u_cell,
        "u_logq": np.log(np.where(units[:, 1] > 0, units[:, 1], 1.0))
        + np.where(units[:, 1] > 0, 0.0, _NO_SHARE),
        "u_count": np.bincount(unit.reshape(-1), minlength=len(units)),
        "copy_value": data.copy_value,
        "copy_logp": np.log(fixed),
        "copy_log1mp": np.log1p(-np.minimum(data.copy_value, 1.0 - 1e-16)),
    }
    if data.copy_learned.any():
        values["copy_learn"] = data.copy_learned
        values["copy_centre"] = np.log(data.copy_centre) - np.log1p(-data.copy_centre)
    return values


def _pack(values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Concatenate the arrays of :func:`data_values` into ``int_data`` and ``float_data``, and
    stack the per-unit ones as the columns of ``unit_data`` (when the case has any)."""
    out = {}
    for name, ints in (("int_data", True), ("float_data", False)):
        parts = [
            v.ravel() for k, v in sorted(values.items()) if (k in _INTS) == ints and k not in _UNITS
        ]
        out[name] = np.concatenate(parts) if parts else np.zeros(0, np.int64 if ints else float)
    if _UNITS[0] in values:
        out["unit_data"] = np.column_stack([values[k].astype(float) for k in _UNITS])
    return out


def _unpack(packed: Mapping[str, Any], values: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Tensors sliced out of the packed containers, in the shapes of ``values`` (the per-unit
    arrays in the length of the data the model holds)."""
    out: dict[str, Any] = {}
    if "unit_data" in packed:
        for j, k in enumerate(_UNITS):
            out[k] = packed["unit_data"][:, j]
        out["u_cell"] = pt.cast(out["u_cell"], "int64")  # exact: cells are small integers
    offset = {"int_data": 0, "float_data": 0}
    for k, v in sorted(values.items()):
        if k in _UNITS:
            continue
        name = "int_data" if k in _INTS else "float_data"
        start = offset[name]
        offset[name] += v.size
        flat = packed[name][start : offset[name]]
        out[k] = flat if v.ndim == 1 else flat.reshape(v.shape)
    return out


def shape_key(data: ModelData) -> tuple:
    """What a built model depends on besides the values of its data: the names and shapes of
    :func:`data_values` (not the number of units of the repeat mixture, which the model's
    resizable ``unit_data`` takes as it comes) and the sizes of the coordinates. Cases with
    equal keys share a model.

    Examples
    --------
    >>> from belief.data.types import Case, Claim, Report
    >>> from belief.model.encode import encode_case
    >>> from belief.priors.config import Config
    >>> def key(stance):
    ...     case = Case((Claim("c1"),), reports=(Report("c1", "s1", stance),))
    ...     return shape_key(encode_case(case, Config(), keep_copies=False))
    >>> key("confirm") == key("deny")
    True
    """
    arrays = tuple(
        (k, None if k in _UNITS else v.shape) for k, v in sorted(data_values(data).items())
    )
    return arrays + tuple((k, len(v)) for k, v in data.coords.items())


def packed_values(data: ModelData) -> dict[str, np.ndarray]:
    """The values of the model's two ``pm.Data`` containers for ``data``."""
    return _pack(data_values(data))


def set_data(model: Any, data: ModelData) -> None:
    """Put ``data`` (a case of the model's :func:`shape_key`) into a model from
    :func:`build_model`. The model's coordinate labels stay those of the case it was built for;
    relabel its output with ``data.coords``."""
    pm.set_data(packed_values(data), model=model)
