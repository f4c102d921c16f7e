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
from belief.core.verbal import verbal
from belief.data.io import (
    case_from_frames,
    case_from_records,
    case_to_frames,
    case_to_records,
    read_case,
    read_tables,
    write_case,
    write_tables,
)
from belief.data.types import Case, Claim, Report, Signal, Source
from belief.engines import METHODS, infer
from belief.engines.result import BeliefResult, Interval
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
from belief.explain.timeline import contributions, timeline
from belief.priors.config import Config
from belief.priors.file import CalibratedPriors, apply_priors, read_priors, write_priors
from belief.priors.reliability import BetaPrior, SourcePrior

_LAZY = {
    "ClaimBeliefModel": ("belief.model.estimator", "ClaimBeliefModel"),
    "simulate_case": ("belief.evaluation.simulate", "simulate_case"),
    "ach_matrix": ("belief.explain.ach", "ach_matrix"),
    "repeat_table": ("belief.explain.repeats", "repeat_table"),
    "calibrate": ("belief.calibration.calibrate", "calibrate"),
    "calibrate_priors": ("belief.calibration.calibrate", "calibrate"),
    "evaluate": ("belief.evaluation.crossval", "evaluate"),
    "write_report": ("belief.report.build", "write_report"),
    "Belief": ("belief.engines.incremental", "Belief"),
}
#: Subpackages reachable as attributes (``belief.plots``), imported on first use.
_SUBPACKAGES = {
    "calibration",
    "core",
    "data",
    "engines",
    "evaluation",
    "explain",
    "model",
    "plots",
    "priors",
    "report",
}

__all__ = [
    "METHODS",
    "ApproximationWarning",
    "Belief",
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
    "calibrate",
    "calibrate_priors",
    "case_from_frames",
    "case_from_records",
    "case_to_frames",
    "case_to_records",
    "contributions",
    "evaluate",
    "infer",
    "read_case",
    "read_priors",
    "read_tables",
    "repeat_table",
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
    if name in _SUBPACKAGES:
        return importlib.import_module(f"belief.{name}")
    raise AttributeError(f"module 'belief' has no attribute {name!r}")
