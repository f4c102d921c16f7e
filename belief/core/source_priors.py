"""Reliability priors of sources and channels: the precedence, and the side-alignment shift.

``config.held_priors`` (learned on the whole case, held by explanations), then
``config.source_priors`` (e.g. calibrated), then
:func:`belief.priors.reliability.resolve_source_prior` (own values, Admiralty grade, kind,
default). A channel aligned with a claim's side has its means
shifted by ``±side_effect`` on the logit scale (see :mod:`belief.core.compiler`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.special import expit, logit

from belief.data.types import Source
from belief.priors.config import Config
from belief.priors.reliability import ADMIRALTY_PRIORS, BetaPrior, SourcePrior, resolve_source_prior

__all__ = ["has_own_prior", "source_prior", "source_prior_rows"]


def has_own_prior(source: Source, rate: str, config: Config) -> bool:
    """Whether ``source`` has its own prior on ``rate`` (not its kind's or the default)."""
    return (
        source.source_id in config.source_priors
        or getattr(source, rate) is not None
        or source.strength is not None
        or source.admiralty in ADMIRALTY_PRIORS
    )


def source_prior(source: Source, config: Config) -> SourcePrior:
    """The Beta priors of one source: held, then ``config.source_priors``, then the precedence."""
    sp = config.held_priors.get(source.source_id) or config.source_priors.get(source.source_id)
    if sp is not None:
        return sp
    return resolve_source_prior(source, config.kind_priors, config.default_prior)


def _shift(sp: SourcePrior, a: float) -> SourcePrior:
    """Move the prior means by ``a`` on the logit scale (sensitivity up, specificity down)."""
    se, spec = sp.sensitivity, sp.specificity
    return SourcePrior(
        BetaPrior.from_mean_strength(float(expit(logit(se.mean) + a)), se.strength),
        BetaPrior.from_mean_strength(float(expit(logit(spec.mean) - a)), spec.strength),
    )


def source_prior_rows(
    source_ids: Sequence[str],
    sources: Sequence[Source] | Mapping[str, Source],
    config: Config,
    align: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """Beta prior parameters ``(a_se, b_se, a_sp, b_sp)`` per source (or channel).

    ``align`` (one of -1, 0, 1 per row) shifts a channel's means by ``±side_effect``.
    """
    table = sources if isinstance(sources, Mapping) else {s.source_id: s for s in sources}
    rows = np.empty((len(source_ids), 4))
    cache: dict[tuple[str | None, int], np.ndarray] = {}
    for i, sid in enumerate(source_ids):
        a = 0 if align is None else int(align[i])
        meta = table.get(sid)
        plain = meta is None and sid not in config.source_priors and sid not in config.held_priors
        key = (None, a)  # every unlisted source shares the default prior
        if plain and key in cache:
            rows[i] = cache[key]
            continue
        sp = source_prior(meta if meta is not None else Source(sid), config)
        if a and config.side_effect:
            sp = _shift(sp, a * config.side_effect)
        se, spc = sp.sensitivity, sp.specificity
        rows[i] = (se.alpha, se.beta, spc.alpha, spc.beta)
        if plain:
            cache[key] = rows[i]
    return rows
