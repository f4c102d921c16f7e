"""The joint PyMC model: the scikit-learn-style estimator (:class:`ClaimBeliefModel`), its graph,
the cache of compiled models (:func:`cache_info`, :func:`clear_cache`), the NUTS back-ends,
save/load and convergence diagnostics. Imports PyMC and ArviZ: loaded only when used.
"""

from belief.model.cache import cache_info, clear_cache
from belief.model.estimator import ClaimBeliefModel

__all__ = ["ClaimBeliefModel", "cache_info", "clear_cache"]
