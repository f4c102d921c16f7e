"""Explanations hold a learned base rate fixed at its value on the whole case."""

from __future__ import annotations

import dataclasses

from belief.data.types import Case
from belief.priors.config import Config


def settled(case: Case, config: Config) -> Config:
    """``config`` with a learned base rate (``None``) replaced by the value the case gives it.

    Timelines, contributions, leave-one-out, ACH and what-if tables then show what the
    *evidence* does, at the base rate the exact engine learns from the whole case, rather than
    re-learning the rate at every step (:mod:`belief.core.base_rate`).
    """
    if config.base_rate is not None:
        return config
    from belief.engines.exact import infer_exact

    rate = infer_exact(case, config).diagnostics.get("base_rate")
    if rate is None:
        return config
    # the repeat weights keep the starting rate the engines used (belief.core.repeats)
    return dataclasses.replace(config, base_rate=float(rate), repeat_base_rate=0.5)
