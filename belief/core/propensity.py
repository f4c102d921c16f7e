"""Copy propensity: how likely each source is to repeat an earlier report unattributed.

The precedence, in one place: a source's own value (``config.source_copy_propensity``: set by
the user or calibrated), else its kind's (``config.copy_propensity``), else
``config.default_copy_propensity``. :mod:`belief.core.repeats` turns it into report weights; the
joint model (:mod:`belief.model`) uses the levels to decide which propensities it learns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from belief.data.types import Source
from belief.priors.config import Config

__all__ = ["PROPENSITY_LEVELS", "copy_propensity", "copy_propensity_levels"]

#: What :func:`copy_propensity_levels` says each propensity came from, by code.
PROPENSITY_LEVELS = ("default", "kind", "source")


def copy_propensity_levels(
    source_ids: Sequence[str], sources: Sequence[Source], config: Config
) -> tuple[np.ndarray, np.ndarray]:
    """Copy propensity of each source and where it came from (the precedence, in one place).

    Its own (``config.source_copy_propensity``: set by the user or calibrated), else its kind's
    (``config.copy_propensity``), else ``config.default_copy_propensity``. The level codes index
    :data:`PROPENSITY_LEVELS`: 0 default, 1 kind, 2 source.

    Examples
    --------
    >>> from belief.priors.config import Config
    >>> cfg = Config(copy_propensity={"blog": 0.4}, source_copy_propensity={"b2": 0.9})
    >>> srcs = (Source("b1", kind="blog"), Source("b2", kind="blog"), Source("w", kind="wire"))
    >>> pi, level = copy_propensity_levels(["b1", "b2", "w"], srcs, cfg)
    >>> pi.tolist(), [PROPENSITY_LEVELS[i] for i in level]
    ([0.4, 0.9, 0.0], ['kind', 'source', 'default'])
    """
    kind = {s.source_id: s.kind for s in sources}
    out = np.full(len(source_ids), float(config.default_copy_propensity))
    level = np.zeros(len(source_ids), np.int64)
    for i, sid in enumerate(source_ids):
        if sid in config.source_copy_propensity:
            out[i], level[i] = config.source_copy_propensity[sid], 2
        elif kind.get(sid) in config.copy_propensity:
            out[i], level[i] = config.copy_propensity[str(kind[sid])], 1
    return out, level


def copy_propensity(
    source_ids: Sequence[str], sources: Sequence[Source], config: Config
) -> np.ndarray:
    """Copy propensity of each source: its own (calibrated), else its kind's, else the default.

    Examples
    --------
    >>> from belief.priors.config import Config
    >>> cfg = Config(copy_propensity={"blog": 0.4}, source_copy_propensity={"b2": 0.9})
    >>> srcs = (Source("b1", kind="blog"), Source("b2", kind="blog"), Source("w", kind="wire"))
    >>> copy_propensity(["b1", "b2", "w", "x"], srcs, cfg).tolist()
    [0.4, 0.9, 0.0, 0.0]
    """
    return copy_propensity_levels(source_ids, sources, config)[0]
