"""Explanations hold what the engines learn (base rate, kind reliability) at the whole case's."""

from __future__ import annotations

import dataclasses

from scipy.special import expit

from belief.data.types import Case, Source
from belief.priors.config import Config
from belief.priors.reliability import BetaPrior, SourcePrior


def settled(case: Case, config: Config, *, kinds: bool = True) -> Config:
    """``config`` with what is learned from the data replaced by the values the case gives it.

    Timelines, contributions, leave-one-out, ACH and what-if tables then show what the
    *evidence* does, at the base rate (:mod:`belief.core.base_rate`) and the kind-level
    reliability (:mod:`belief.core.kinds`) the exact engine learns from the whole case, rather
    than re-learning them at every step. The learned reliability priors are held per source
    (``held_priors``); ``kinds=False`` holds the base rate only (a what-if on a kind's prior).
    """
    from belief.core.compiler import compile_case, source_prior
    from belief.core.hyper import learn_hyper
    from belief.core.kinds import kind_means, report_stats
    from belief.engines.exact import posterior_logodds

    ev = compile_case(case, config)
    if not kinds:
        ev = dataclasses.replace(ev, kinds=None)
    learns_rate = ev.base_mask is not None and bool(ev.base_mask.any())
    kl = ev.kinds
    if not learns_rate and (kl is None or kl.size == 0):
        return config
    cache: dict = {}
    ev, lo, info = learn_hyper(ev, lambda e: (posterior_logodds(e, config, None, None, cache)[0],
                                              None))  # fmt: skip
    out = config
    if "base_rate" in info:
        # the repeat weights keep the starting rate the engines used (belief.core.repeats)
        out = dataclasses.replace(out, base_rate=float(info["base_rate"]), repeat_base_rate=0.5)  # type: ignore[arg-type]
    if kl is not None and kl.size:
        stats = report_stats(len(ev.source_ids), ev.r_claim, ev.r_source, ev.r_confirm,
                             ev.r_weight, expit(lo))  # fmt: skip
        means = kind_means(kl, stats)
        held: dict[str, SourcePrior] = {}
        smap = case.source_map()
        assert ev.channel_source is not None
        for j, sid in enumerate(ev.channel_source):
            if sid in held or not (kl.group[:, j] >= 0).any():
                continue
            fixed = source_prior(smap.get(sid, Source(sid)), config)  # before learning
            pair = [fixed.sensitivity, fixed.specificity]
            for f in range(2):
                if kl.group[f, j] >= 0:  # the neutral learned mean (aligned channels shift it)
                    pair[f] = BetaPrior.from_mean_strength(float(means[f, j]),
                                                           float(kl.strength[f, j]))  # fmt: skip
            held[sid] = SourcePrior(pair[0], pair[1])
        out = dataclasses.replace(out, held_priors={**config.held_priors, **held})
    return out
