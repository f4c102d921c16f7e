"""belief: probabilistic claim-belief modeling.

How likely is each claim to be true, given who reported what, how reliable they are, and the
context? ``import belief`` is light (numpy, scipy, pandas, pyyaml): the PyMC joint model and the
plots are loaded only when first used.

Examples
--------
>>> import belief
>>> case = belief.case_from_records({
...     "claims": [{"claim_id": "deal", "prior": 0.5}],
...     "reports": [{"claim_id": "deal", "source_id": "blog", "stance": "confirm"}],
... })
>>> belief.infer(case).posterior[["claim_id", "verbal"]].to_dict("records")
[{'claim_id': 'deal', 'verbal': 'likely'}]
"""

from __future__ import annotations

import importlib
from typing import Any

from belief._version import __version__
from belief.config import Config
from belief.engines import METHODS, infer
from belief.exceptions import (
    ApproximationWarning,
    BeliefError,
    BeliefWarning,
    ConvergenceWarning,
    EnumerationLimitError,
    ModelMismatchError,
    NotFittedError,
    ValidationError,
    ValidationWarning,
)
from belief.io import (
    case_from_frames,
    case_from_records,
    case_to_frames,
    case_to_records,
    read_case,
    read_tables,
    write_case,
    write_tables,
)
from belief.priors_file import CalibratedPriors, apply_priors, read_priors, write_priors
from belief.reliability import BetaPrior, SourcePrior
from belief.result import BeliefResult, Interval
from belief.timeline import contributions, timeline
from belief.types import Case, Claim, Report, Signal, Source
from belief.verbal import verbal

_LAZY = {
    "ClaimBeliefModel": ("belief.model", "ClaimBeliefModel"),
    "simulate_case": ("belief.simulate", "simulate_case"),
    "ach_matrix": ("belief.ach", "ach_matrix"),
    "calibrate_priors": ("belief.calibrate", "calibrate"),
    "write_report": ("belief.report", "write_report"),
}
_LAZY_MODULES = {
    "ach",
    "calibrate",
    "fast",
    "incremental",
    "meanfield",
    "model",
    "plots",
    "report",
    "scoring",
    "sensitivity",
    "simulate",
}

__all__ = [
    "METHODS",
    "ApproximationWarning",
    "BeliefError",
    "BeliefResult",
    "BeliefWarning",
    "BetaPrior",
    "CalibratedPriors",
    "Case",
    "Claim",
    "ClaimBeliefModel",
    "Config",
    "ConvergenceWarning",
    "EnumerationLimitError",
    "Interval",
    "ModelMismatchError",
    "NotFittedError",
    "Report",
    "Signal",
    "Source",
    "SourcePrior",
    "ValidationError",
    "ValidationWarning",
    "__version__",
    "ach_matrix",
    "apply_priors",
    "calibrate_priors",
    "case_from_frames",
    "case_from_records",
    "case_to_frames",
    "case_to_records",
    "contributions",
    "infer",
    "read_case",
    "read_priors",
    "read_tables",
    "simulate_case",
    "timeline",
    "verbal",
    "write_case",
    "write_priors",
    "write_report",
    "write_tables",
]


def __getattr__(name: str) -> Any:
    """Import heavy parts (PyMC model, plots) on first use."""
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    if name in _LAZY_MODULES:
        return importlib.import_module(f"belief.{name}")
    raise AttributeError(f"module 'belief' has no attribute {name!r}")
