"""An in-process cache of built and compiled joint models, shared by fits of the same shape.

A fit encodes its case, then looks up its *key*: the shapes of the model's data
(:func:`belief.model.graph.shape_key`: numbers of claims, sources, kinds, signals, reports and
copies, group widths; not the number of distinct repeat shares of the copy mixture, which
depends on the stances and sits in a resizable container) and the resolved model configuration.
Cases with the same key share one ``pm.Model`` whose evidence sits in ``pm.Data``; the fit puts
its own data in (:func:`belief.model.graph.set_data`) and reuses what earlier fits compiled:
nutpie's compiled model (refilled with ``with_data``), PyMC's NUTS step (its compiled
log-density and gradient), the initial-point function and the function that computes the
deterministics from the draws.
The cache holds the :data:`MAXSIZE` most recently used keys.

Examples
--------
>>> from belief.model.cache import cache_info, clear_cache
>>> clear_cache()
>>> cache_info()
CacheInfo(hits=0, misses=0, maxsize=8, currsize=0, compilations=0)
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np

from belief.model.graph import ModelData, build_model, set_data, shape_key

__all__ = ["MAXSIZE", "CacheInfo", "CachedModel", "cache_info", "checkout", "clear_cache"]

MAXSIZE = 8  #: number of models kept (least recently used first out)


class CacheInfo(NamedTuple):
    """Counters of the model cache.

    ``hits``/``misses``: fits that found / did not find a model of their key; ``currsize``:
    models held; ``compilations``: sampler compilations so far (nutpie models and PyMC NUTS
    steps; a fit that reuses one does not add to it).
    """

    hits: int
    misses: int
    maxsize: int
    currsize: int
    compilations: int


class CachedModel:
    """A built model and what was compiled for it, for every case of one key.

    Attributes
    ----------
    model : pymc.Model
        The model; its ``pm.Data`` hold the data of the latest fit.
    lock : threading.RLock
        Held by a fit while the model holds its data.
    """

    def __init__(self, key: Any, model: Any) -> None:
        self.key = key
        self.model = model
        self.lock = threading.RLock()
        self.free_names = [rv.name for rv in model.free_RVs]
        self._nutpie: Any = None
        self._steps: dict[float, Any] = {}
        self._initial: Any = None
        self._deterministics: Any = None
        self._core_ndim: list[int] = []

    @property
    def has_nutpie(self) -> bool:
        """Whether a nutpie model is compiled for this key in this process."""
        return self._nutpie is not None

    @property
    def nutpie_on_disk(self) -> bool:
        """Whether a nutpie model of this key was compiled and cached on disk (by any
        process: :func:`belief.model.numba_cache.is_marked`)."""
        from belief.model.numba_cache import is_marked

        return is_marked(self.key)

    def nutpie_model(self) -> tuple[Any, float]:
        """nutpie's compiled model (numba) and the seconds spent compiling it now (0 if cached).

        Only the free variables are traced: the deterministics are computed afterwards
        (:meth:`deterministics`), which keeps numba's compilation short. The numba code is
        cached on disk (:mod:`belief.model.numba_cache`): a model of this key compiled by an
        earlier process is loaded (a second or two) rather than compiled again.
        """
        if self._nutpie is not None:
            return self._nutpie, 0.0
        from belief.model.numba_cache import compile_nutpie

        start = time.perf_counter()
        self._nutpie, _ = compile_nutpie(self.model, self.free_names, self.key)
        _count_compilation()
        return self._nutpie, time.perf_counter() - start

    def pymc_step(self, target_accept: float) -> tuple[Any, float]:
        """PyMC's NUTS step for ``target_accept`` and the seconds spent compiling it now."""
        if target_accept in self._steps:
            return self._steps[target_accept], 0.0
        import pymc as pm

        start = time.perf_counter()
        with self.model:
            self._steps[target_accept] = pm.NUTS(target_accept=target_accept)
        _count_compilation()
        return self._steps[target_accept], time.perf_counter() - start

    def initial_points(self, chains: int, random_seed: Any) -> list[dict[str, np.ndarray]]:
        """One starting point per chain (untransformed, by variable name): the support point
        jittered by U(-1, 1) on the unconstrained scale, as PyMC's ``jitter+adapt_diag``."""
        if self._initial is None:
            from pymc.initial_point import make_initial_point_fn

            self._initial = make_initial_point_fn(
                model=self.model, jitter_rvs=set(self.model.free_RVs), return_transformed=False
            )
        seeds = np.random.default_rng(random_seed).integers(2**30, size=chains)
        return [self._initial(int(s)) for s in seeds]

    def deterministics_function(self) -> tuple[Any, float]:
        """The compiled function from a batch of draws of the free variables (untransformed,
        leading dim the draw) to the deterministics, and the seconds spent compiling it now (0 if
        cached).

        The model's graph, vectorized over the draws and compiled with PyTensor's
        ``FAST_COMPILE`` mode (no C code, few rewrites): a fraction of a second where compiling
        the per-draw function to C took seconds (3 to 17 s measured on a loaded machine, the
        first C compilation of a process loading PyTensor's module cache too), and a few calls
        in numpy rather than one compiled call per draw (``benchmarks/README.md``, "Joint model
        speed").
        """
        if self._deterministics is not None:
            return self._deterministics, 0.0
        import pytensor
        import pytensor.tensor as pt
        from pytensor.graph.replace import graph_replace, vectorize_graph

        start = time.perf_counter()
        model = self.model
        core = [rv.type() for rv in model.free_RVs]
        outputs: list[Any] = graph_replace(
            list(model.deterministics), dict(zip(model.free_RVs, core, strict=True))
        )
        batch = [pt.tensor(dtype=x.dtype, shape=(None, *x.type.shape)) for x in core]
        batched = vectorize_graph(outputs, dict(zip(core, batch, strict=True)))
        self._deterministics = pytensor.function(
            batch, batched, on_unused_input="ignore", mode="FAST_COMPILE"
        )
        self._core_ndim = [o.ndim for o in outputs]
        return self._deterministics, time.perf_counter() - start

    def deterministics(self, draws: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The model's deterministics for every draw of the free variables.

        Parameters
        ----------
        draws : mapping of str to ndarray
            Per free variable, its draws with leading dims (chain, draw).

        Returns
        -------
        dict of str to ndarray
            Per deterministic, its values with leading dims (chain, draw).
        """
        fn, _ = self.deterministics_function()
        names = [d.name for d in self.model.deterministics]
        lead = next(iter(draws.values())).shape[:2] if draws else (1, 1)
        n = int(np.prod(lead))
        flat = [np.reshape(draws[k], (n, *np.shape(draws[k])[2:])) for k in self.free_names]
        # draws per call: intermediate arrays of (draws x reports) stay near 32 MB
        width = max((np.size(d.get_value()) for d in self.model.data_vars), default=1)
        step = max(1, min(n, 4_000_000 // max(width, 1)))
        parts: list[list[np.ndarray]] = [[] for _ in names]
        for lo in range(0, n, step):
            values = fn(*(x[lo : lo + step] for x in flat))
            for j, (value, ndim) in enumerate(zip(values, self._core_ndim, strict=True)):
                value = np.asarray(value)
                if value.ndim == ndim:  # a constant: the same for every draw
                    value = np.broadcast_to(value, (min(step, n - lo), *value.shape))
                parts[j].append(value)
        return {
            name: np.concatenate(p).reshape(lead + p[0].shape[1:])
            for name, p in zip(names, parts, strict=True)
        }


_CACHE: OrderedDict[Any, CachedModel] = OrderedDict()
_LOCK = threading.Lock()
_STATS = {"hits": 0, "misses": 0, "compilations": 0}


def _count_compilation() -> None:
    with _LOCK:
        _STATS["compilations"] += 1


def _config_key(config: Mapping[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=repr)


@contextmanager
def checkout(data: ModelData, config: Mapping[str, Any]) -> Iterator[tuple[CachedModel, bool]]:
    """The cached model of ``data``'s key (built if missing), holding ``data``.

    Parameters
    ----------
    data : ModelData
        The encoded case.
    config : mapping
        The resolved model configuration (:func:`belief.model.estimator.resolve_config`).

    Yields
    ------
    (CachedModel, bool)
        The entry, and whether it was already cached. Until the block ends, the model's
        ``pm.Data`` hold ``data`` and no other fit uses the entry.
    """
    key = (shape_key(data), _config_key(config))
    with _LOCK:
        entry = _CACHE.get(key)
        hit = entry is not None
        _STATS["hits" if hit else "misses"] += 1
        if entry is not None:
            _CACHE.move_to_end(key)
    if entry is None:
        built = CachedModel(key, build_model(data, config))
        with _LOCK:
            entry = _CACHE.setdefault(key, built)
            while len(_CACHE) > MAXSIZE:
                _CACHE.popitem(last=False)
    with entry.lock:
        set_data(entry.model, data)
        yield entry, hit


def cache_info() -> CacheInfo:
    """Counters of the model cache (a :class:`CacheInfo`).

    Examples
    --------
    >>> cache_info().maxsize
    8
    """
    with _LOCK:
        return CacheInfo(
            _STATS["hits"], _STATS["misses"], MAXSIZE, len(_CACHE), _STATS["compilations"]
        )


def clear_cache() -> None:
    """Drop every cached model and reset the counters."""
    with _LOCK:
        _CACHE.clear()
        _STATS.update(hits=0, misses=0, compilations=0)
