"""Reliability priors and settings: Beta priors on sensitivity and specificity (Admiralty, kind
and default precedence), the engine :class:`~belief.priors.config.Config`, and calibrated priors
(``priors.json``).

May import numpy, scipy, pandas and :mod:`belief.data`.
"""

from belief.priors.config import Config, as_config
from belief.priors.file import CalibratedPriors, apply_priors, read_priors, write_priors
from belief.priors.reliability import BetaPrior, SourcePrior, resolve_source_prior

__all__ = [
    "BetaPrior",
    "CalibratedPriors",
    "Config",
    "SourcePrior",
    "apply_priors",
    "as_config",
    "read_priors",
    "resolve_source_prior",
    "write_priors",
]
