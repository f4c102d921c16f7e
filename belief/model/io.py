"""The fitted joint model's InferenceData: sampling it, its layout, summaries, saving/loading.

``fit`` stores the encoded evidence in the ``constant_data`` group (:func:`constant_data`), so
everything derived from a fit (:func:`reliability_table`, :func:`effects_table`, the posterior
predictive check) can be recomputed from the InferenceData alone, e.g. after :func:`load_idata`.

Saving and loading: netCDF files with an identity check.

A saved model is its ArviZ ``InferenceData`` (posterior, sample stats, the encoded evidence in
``constant_data``) whose attributes record ``model_type``, the belief ``version``, the
``model_config`` and ``sampler_config`` (JSON) and ``id``, a SHA-256 of type, version and model
configuration. Loading recomputes the id from the stored configuration and the running belief
version and raises :class:`~belief.exceptions.ModelMismatchError` when they differ.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from belief._version import __version__
from belief.exceptions import ModelMismatchError, ValidationError
from belief.model.graph import ModelData

INTERVAL = 0.90  #: probability mass of the reported intervals


def model_id(model_type: str, model_config: Mapping[str, Any], version: str | None = None) -> str:
    """Identity hash of a model type, its configuration and the belief version.

    Examples
    --------
    >>> a = model_id("ClaimBeliefModel", {"x": 1}, "0.1.0")
    >>> a == model_id("ClaimBeliefModel", {"x": 1}, "0.1.0"), a == model_id("M", {"x": 1}, "0.1.0")
    (True, False)
    """
    version = __version__ if version is None else version
    payload = json.dumps(
        {"model_type": model_type, "version": version, "model_config": model_config},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def save_idata(idata, path: str | os.PathLike[str], attrs: Mapping[str, Any]) -> Path:
    """Write ``idata`` with ``attrs`` to ``path`` (netCDF), atomically.

    Mapping-valued attributes are stored as JSON text.
    """
    from belief.data.io import atomic_path

    plain = {
        k: json.dumps(v, sort_keys=True) if isinstance(v, Mapping) else v for k, v in attrs.items()
    }
    idata.attrs.update(plain)
    target = Path(path)
    with atomic_path(target) as tmp:
        idata.to_netcdf(str(tmp))
    return target


def load_idata(path: str | os.PathLike[str], model_type: str) -> tuple[Any, dict[str, Any]]:
    """Read a saved model; return ``(idata, attrs)`` after checking its identity.

    Raises
    ------
    ValidationError
        The file does not exist or is not a saved belief model.
    ModelMismatchError
        Type, version or configuration differ from what the running belief would write.
    """
    if not Path(path).is_file():
        raise ValidationError(f"{path}: no such model file")
    with az.rc_context({"data.load": "eager"}):
        idata = az.from_netcdf(str(path))
    attrs = dict(idata.attrs)
    missing = [k for k in ("id", "model_type", "version", "model_config") if k not in attrs]
    if missing:
        raise ValidationError(f"{path}: not a saved belief model (missing {', '.join(missing)})")
    for key in ("model_config", "sampler_config"):
        attrs[key] = json.loads(attrs.get(key) or "{}")
    if attrs["model_type"] != model_type:
        raise ModelMismatchError(f"{path}: holds a {attrs['model_type']}, not a {model_type}")
    expected = model_id(model_type, attrs["model_config"])
    if attrs["id"] != expected:
        raise ModelMismatchError(
            f"{path}: model id {attrs['id']} (belief {attrs['version']}) does not match "
            f"{expected} computed by belief {__version__} from the stored configuration; "
            "refit the model with this version"
        )
    return idata, attrs


# -- layout and summaries of a fitted model's InferenceData ---------------------------------------
def constant_data(data: ModelData) -> xr.Dataset:
    """The encoded evidence, stored with the posterior (``constant_data`` group)."""
    report = ("report",)
    return xr.Dataset(
        {
            "r_claim": (report, data.r_claim),
            "r_source": (report, data.r_source),
            "r_confirm": (report, data.r_confirm),
            "r_align": (report, data.r_align),
            "r_copy": (report, data.r_copy.astype(np.int8)),
            "r_earlier": (report, data.r_earlier),
            "r_same": (report, data.r_same),
            "copy_learned": (("source",), data.copy_learned.astype(np.int8)),
            "source_kind": (("source",), np.array(data.source_kind, dtype=str)),
            "source_side": (("source",), np.array(data.source_side, dtype=str)),
            "group_index": (("group", "member"), data.group_index),
            "n_reports": (("claim",), data.n_reports),
            "n_independent": (("claim",), data.n_independent),
        },
        coords={"claim": list(data.claim_ids), "source": list(data.source_ids)},
    )


def interval_summary(da: xr.DataArray, prob: float = INTERVAL):
    """Mean and central ``prob`` interval over chains and draws: ``(mean, low, high)``."""
    stacked = da.stack(_s=("chain", "draw"))
    q = ((1.0 - prob) / 2.0, (1.0 + prob) / 2.0)
    low, high = (stacked.quantile(x, dim="_s").values for x in q)
    return stacked.mean("_s").values, low, high


def reliability_table(idata) -> pd.DataFrame:
    """Per source: kind, side, reports, mean and interval of sensitivity and specificity and,
    when the model has unattributed repeats, of the copy propensity (``copy_learned``: learned,
    or fixed by the config)."""
    post, cd = idata.posterior, idata.constant_data
    out = pd.DataFrame(
        {
            "source_id": post["source"].values.astype(str),
            "kind": cd["source_kind"].values.astype(str),
            "side": cd["source_side"].values.astype(str),
            "n_reports": np.bincount(
                cd["r_source"].values[cd["r_copy"].values == 0], minlength=post.sizes["source"]
            ),
        }
    )
    for name in ("sensitivity", "specificity", "copy_propensity"):
        if name in post:
            out[name], out[f"{name}_low"], out[f"{name}_high"] = interval_summary(post[name])
    if "copy_propensity" in post and "copy_learned" in cd:
        out["copy_learned"] = cd["copy_learned"].values.astype(bool)
    return out


def effects_table(idata) -> pd.DataFrame:
    """Mean and interval of base rate, alignment, copy weight, signal and kind effects, and
    ``copy_propensity[kind]`` (the copy propensity of a kind's typical source, ``expit`` of its
    mean logit) for the kinds with a learned propensity."""
    post = idata.posterior
    cd = getattr(idata, "constant_data", None)
    rows: list[tuple[Any, ...]] = []
    for name in (
        "base_rate",
        "alignment",
        "copy_weight",
        "signal_effect",
        "mu_sensitivity",
        "mu_specificity",
        "sigma_sensitivity",
        "sigma_specificity",
        "copy_propensity_kind",
    ):
        if name not in post:
            continue
        da = post[name]
        if name == "copy_propensity_kind":  # only the kinds with a learned propensity
            if cd is None or "copy_learned" not in cd:
                continue
            learned = cd["source_kind"].values[cd["copy_learned"].values > 0]
            da = da.sel(kind=[k for k in da["kind"].values if k in set(learned)])
            if not da.sizes["kind"]:
                continue
            name = "copy_propensity"
        mean, low, high = interval_summary(da)
        labels = [name] if da.ndim == 2 else [f"{name}[{c}]" for c in da[da.dims[-1]].values]
        rows += zip(labels, np.atleast_1d(mean), np.atleast_1d(low), np.atleast_1d(high))
    return pd.DataFrame(rows, columns=["param", "mean", "low", "high"])


# -- producing the InferenceData: the fitting back-ends -------------------------------------------
def _relabel(idata, data: ModelData):
    """Give every group ``data``'s coordinate labels (a cached model keeps its first case's)."""
    coords = data.coords | {"rate": ["sensitivity", "specificity"]}
    for group in idata.groups():
        ds = idata[group]
        setattr(idata, group, ds.assign_coords({k: v for k, v in coords.items() if k in ds.dims}))
    return idata


def _fit_advi(model, data: ModelData, cfg: Mapping[str, Any]):
    import pymc as pm

    seed = cfg["random_seed"]
    with model:
        approx = pm.fit(
            n=cfg["advi_iterations"], method="advi", random_seed=seed, progressbar=False
        )
        idata = approx.sample(cfg["advi_draws"], random_seed=seed)
    idata = az.InferenceData(posterior=idata.posterior)
    idata.add_groups(sample_stats=xr.Dataset({"loss": ("iteration", np.asarray(approx.hist))}))
    return _relabel(idata, data)


def _fit_map(model, data: ModelData, cfg: Mapping[str, Any]):
    import pymc as pm

    with model:
        point = pm.find_MAP(progressbar=False, seed=cfg["random_seed"])
    dims = {k: list(v) for k, v in model.named_vars_to_dims.items()}
    names = [v.name for v in model.free_RVs + model.deterministics]
    posterior = {k: np.asarray(point[k])[None, None, ...] for k in names}
    coords = data.coords | {"rate": ["sensitivity", "specificity"]}
    return az.from_dict(posterior=posterior, coords=coords, dims=dims)


def sample_idata(entry, data: ModelData, method: str, cfg: Mapping[str, Any]):
    """Fit a cached model (:func:`belief.model.cache.checkout`, holding ``data``) with
    ``method`` ("mcmc", "advi" or "map") and sampler configuration ``cfg``.

    NUTS: :func:`belief.model.nuts.sample_nuts` (nutpie or PyMC, ``cfg["chains"]`` chains on
    ``min(chains, 2)`` cores); ADVI draws ``advi_draws`` from the fitted approximation (its
    loss history in ``sample_stats``); MAP stores the mode as a single draw.
    """
    if method == "mcmc":
        from belief.model.nuts import sample_nuts

        return sample_nuts(entry, data, cfg)
    fit = _fit_advi if method == "advi" else _fit_map
    return fit(entry.model, data, cfg)
