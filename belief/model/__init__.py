"""The joint PyMC model: the scikit-learn-style estimator (:class:`ClaimBeliefModel`), its graph,
save/load and convergence diagnostics. Imports PyMC and ArviZ: loaded only when used.
"""

from belief.model.estimator import ClaimBeliefModel

__all__ = ["ClaimBeliefModel"]
