"""NUTS for the joint model: nutpie (numba) when installed, PyMC's sampler otherwise.

``sampler_config["nuts_sampler"]`` chooses:

``"auto"`` (default)
    nutpie when it is installed and either a compiled nutpie model of the case's shape is
    cached (in the process, :mod:`belief.model.cache`, or on disk by an earlier process,
    :mod:`belief.model.numba_cache`) or the sampling work, reports x chains x (draws + tune),
    reaches :data:`NUTPIE_MIN_WORK`; PyMC's sampler otherwise. nutpie's gradient is several
    times cheaper, but numba takes seconds to compile it (measured in ``benchmarks/README.md``,
    "Joint model speed"): on a small case such as the seed case PyMC's sampler finishes first.
``"nutpie"``
    nutpie (falls back to PyMC's sampler, with a :class:`~belief.exceptions.BeliefWarning`
    saying so, when nutpie is not installed).
``"pymc"``
    PyMC's sampler.

Both trace only the free variables; the deterministics (P(true), reliabilities, kind means)
are computed afterwards for every draw, with one compiled function per cached model. Both
samplers target the same posterior (a test compares them within Monte Carlo error).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from typing import Any

import arviz as az
import numpy as np
import xarray as xr

from belief.exceptions import BeliefWarning, ValidationError
from belief.model.cache import CachedModel
from belief.model.graph import ModelData, packed_values

__all__ = [
    "INSTALL_HINT",
    "NUTPIE_MIN_WORK",
    "SAMPLERS",
    "check_nuts_sampler",
    "choose_sampler",
    "nutpie_installed",
    "sample_nuts",
]

SAMPLERS = ("auto", "nutpie", "pymc")
#: reports x chains x (draws + tune) from which "auto" compiles nutpie rather than use PyMC's
#: sampler. Measured at 4 x 2,000 iterations (benchmarks/README.md): PyMC first on the seed case
#: (20 reports: 0.16 million) and at 98 reports, about even at 1,125 reports (9 million),
#: nutpie twice as fast on the 2,000-claim case (10,000 reports: 80 million).
NUTPIE_MIN_WORK = 5_000_000
INSTALL_HINT = 'pip install "belief[fast-mcmc]"  (or: pip install nutpie)'


def nutpie_installed() -> bool:
    """Whether nutpie (and numba, which it compiles with) can be imported."""
    try:
        import numba  # noqa: F401
        import nutpie  # noqa: F401
    except ImportError:
        return False
    return True


def check_nuts_sampler(name: Any) -> None:
    """Raise a :class:`~belief.exceptions.ValidationError` unless ``name`` is in
    :data:`SAMPLERS`."""
    if name not in SAMPLERS:
        raise ValidationError(
            f"sampler_config nuts_sampler: expected one of {list(SAMPLERS)} but got {name!r}"
        )


def choose_sampler(
    requested: str, entry: CachedModel, data: ModelData, cfg: Mapping[str, Any]
) -> tuple[str, str]:
    """The NUTS back-end for a fit, and why.

    Parameters
    ----------
    requested : {"auto", "nutpie", "pymc"}
        ``sampler_config["nuts_sampler"]``.
    entry : CachedModel
        The fit's cached model (whether a nutpie model is compiled for it).
    data : ModelData
        The encoded case (its number of reports).
    cfg : mapping
        The sampler configuration (``chains``, ``draws``, ``tune``).

    Returns
    -------
    (str, str)
        ``"nutpie"`` or ``"pymc"``, and the reason (stored as the fit's
        ``idata.attrs["nuts_sampler_reason"]``).

    Raises
    ------
    ValidationError
        ``requested`` is not one of :data:`SAMPLERS`.

    Warns
    -----
    BeliefWarning
        nutpie would be used but is not installed: PyMC's sampler is used instead.
    """
    check_nuts_sampler(requested)
    if requested == "pymc":
        return "pymc", "requested"
    work = data.r_claim.size * cfg["chains"] * (cfg["draws"] + cfg["tune"])
    if requested == "auto":
        if entry.has_nutpie:
            reason = "auto: a compiled nutpie model of this shape is cached"
        elif nutpie_installed() and entry.nutpie_on_disk:
            reason = "auto: a compiled nutpie model of this shape is cached on disk"
        elif work >= NUTPIE_MIN_WORK:
            reason = f"auto: sampling work {work:,} >= {NUTPIE_MIN_WORK:,}"
        else:
            return "pymc", f"auto: sampling work {work:,} < {NUTPIE_MIN_WORK:,} (no compiled model)"
    else:
        reason = "requested"
    if not nutpie_installed():
        warnings.warn(
            "nutpie is not installed, so the joint model is sampled with PyMC's NUTS sampler "
            f"(slower on large cases). Install it with: {INSTALL_HINT}",
            BeliefWarning,
            stacklevel=5,
        )
        return "pymc", f"{reason}; nutpie not installed"
    return "nutpie", reason


def _nutpie_seed(seed: Any) -> int | None:
    """nutpie takes an integer seed: an integer as is, anything numpy takes through it."""
    if seed is None or isinstance(seed, int | np.integer):
        return None if seed is None else int(seed)
    return int(np.random.default_rng(seed).integers(2**32))


def _run_nutpie(entry: CachedModel, data: ModelData, cfg: Mapping[str, Any]):
    import nutpie

    compiled, compile_s = entry.nutpie_model()
    start = time.perf_counter()
    raw = nutpie.sample(
        compiled.with_data(**packed_values(data)),
        draws=cfg["draws"],
        tune=cfg["tune"],
        chains=cfg["chains"],
        cores=min(cfg["chains"], 2),
        seed=_nutpie_seed(cfg["random_seed"]),
        progress_bar=bool(cfg["progressbar"]),
        target_accept=cfg["target_accept"],
        save_warmup=False,
    )
    seconds = time.perf_counter() - start
    draws = {n: raw.posterior[n].values for n in entry.free_names}
    return draws, raw.sample_stats, compile_s, seconds


def _run_pymc(entry: CachedModel, data: ModelData, cfg: Mapping[str, Any]):
    import pymc as pm

    step, compile_s = entry.pymc_step(float(cfg["target_accept"]))
    seed = cfg["random_seed"]
    start = time.perf_counter()
    with entry.model:
        raw = pm.sample(
            draws=cfg["draws"],
            tune=cfg["tune"],
            chains=cfg["chains"],
            cores=min(cfg["chains"], 2),
            random_seed=seed,
            step=step,
            initvals=entry.initial_points(cfg["chains"], seed),
            var_names=entry.free_names,
            progressbar=bool(cfg["progressbar"]),
            compute_convergence_checks=False,
        )
    seconds = time.perf_counter() - start
    draws = {n: raw.posterior[n].values for n in entry.free_names}
    return draws, raw.sample_stats, compile_s, seconds


def posterior_dataset(entry: CachedModel, data: ModelData, draws: Mapping[str, np.ndarray]):
    """The posterior of a fit: the free variables' draws and the deterministics computed from
    them, with ``data``'s coordinates (not those of the case the cached model was built for)."""
    values = dict(draws) | entry.deterministics(draws)
    dims = {k: list(v) for k, v in entry.model.named_vars_to_dims.items()}
    coords = data.coords | {"rate": ["sensitivity", "specificity"]}
    return az.from_dict(posterior=values, coords=coords, dims=dims).posterior


def sample_nuts(entry: CachedModel, data: ModelData, cfg: Mapping[str, Any]):
    """Sample the cached model (holding ``data``) with NUTS; return an ``InferenceData``.

    Parameters
    ----------
    entry : CachedModel
        From :func:`belief.model.cache.checkout` for ``data``.
    data : ModelData
        The encoded case.
    cfg : mapping
        The sampler configuration (``draws``, ``tune``, ``chains``, ``target_accept``,
        ``random_seed``, ``nuts_sampler``, ``progressbar``).

    Returns
    -------
    arviz.InferenceData
        ``posterior`` and ``sample_stats`` (with ``diverging``); ``attrs`` record
        ``nuts_sampler``, ``nuts_sampler_reason``, ``compile_seconds`` (compilation done by
        this fit; 0 when everything was cached) and ``sampling_seconds`` (the sampler's wall
        time, tuning included).
    """
    sampler, reason = choose_sampler(cfg["nuts_sampler"], entry, data, cfg)
    run = _run_nutpie if sampler == "nutpie" else _run_pymc
    _, det_compile = entry.deterministics_function()
    draws, stats, compile_s, seconds = run(entry, data, cfg)
    stats = xr.Dataset(
        {
            k: (("chain", "draw"), v.values)
            for k, v in stats.items()
            if v.dims == ("chain", "draw") and v.dtype.kind in "biuf"
        }
    )
    idata = az.InferenceData(posterior=posterior_dataset(entry, data, draws), sample_stats=stats)
    idata.attrs.update(
        nuts_sampler=sampler,
        nuts_sampler_reason=reason,
        compile_seconds=round(compile_s + det_compile, 3),
        sampling_seconds=round(seconds, 3),
    )
    return idata
