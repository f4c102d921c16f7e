r"""Kind-level reliability learned from the data when the case does not give it (empirical Bayes).

A source whose sensitivity (or specificity) prior comes from its *kind* — the built-in table
:data:`~belief.priors.reliability.KIND_PRIORS`, or the global default for sources with no kind or
an unknown one — has a Beta prior of mean :math:`m` and strength :math:`s`. When the config does
not give that value (``kind_priors[kind][field]``, ``default_prior[field]``), :math:`m` is learned
from the reports of the kind's *other* sources:

.. math::

    m_{j} = \frac{h\,m_0 + T_k - t_j}{h + N_k - n_j},

where, for sensitivity, :math:`T_k` and :math:`N_k` are the kind's expected confirmations and
expected reports on true claims (:math:`\sum x\,P(c)` and :math:`\sum (x + y) P(c)` over its
sources' weighted reports), :math:`t_j, n_j` the same for source *j* alone (left out, so no
report counts twice: a kind's only source keeps the built-in mean), :math:`m_0` the built-in
mean and :math:`h` the weight of the built-in value in pseudo-reports
(``Config.kind_prior_strength``, default 10).
Specificity is the same with denials on false claims, :math:`1 - P(c)`. The strength :math:`s`
stays as given.

The expected counts are linear in the claims' posterior marginals, so every engine reaches the
same fixed point when it agrees with the exact engine at given priors (the engine contract): each
engine hands its posteriors at given hyperparameters to :func:`belief.core.hyper.learn_hyper`.

With side alignment the counts come from a source's neutral channel (claims that favour no side
it is on); its aligned channels take the learned mean shifted by ``±side_effect``. Sources with
their own values, an Admiralty grade or calibrated priors (``source_priors``) are not touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import expit, logit

from belief.data.types import Source
from belief.priors.config import Config
from belief.priors.reliability import ADMIRALTY_PRIORS, DEFAULT_PRIOR, KIND_PRIORS

if TYPE_CHECKING:
    from belief.core.compiler import Evidence

__all__ = [
    "NO_KIND",
    "KindLearning",
    "apply_means",
    "kind_learning",
    "kind_means",
    "learned_group",
    "report_stats",
    "start_means",
    "with_means",
]

#: The group of sources with no kind.
NO_KIND = "(no kind)"
_FIELDS = ("sensitivity", "specificity")


@dataclass(frozen=True, eq=False)
class KindLearning:
    """Which reliability channels learn their prior mean, and from which kind.

    Per channel: ``group[f]`` (index into ``names``, -1 when the value is fixed) for the
    sensitivity (``f = 0``) and specificity (``f = 1``) means, the prior ``strength``, the
    logit ``shift`` of an aligned channel, and ``own`` (the neutral channel of the same source,
    -1 if none) whose counts are left out. Per group: the built-in mean ``m0[f]``.
    """

    names: list[str]
    group: np.ndarray  # (2, n_channels) int64
    strength: np.ndarray  # (2, n_channels)
    shift: np.ndarray  # (n_channels,): +shift on sensitivity, -shift on specificity
    neutral: np.ndarray  # (n_channels,) bool: its counts inform the kind
    own: np.ndarray  # (n_channels,) int64
    m0: np.ndarray  # (2, n_groups)
    h: float

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KindLearning):
            return NotImplemented
        return all(
            np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b
            for a, b in zip(self.__dict__.values(), other.__dict__.values(), strict=True)
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def size(self) -> int:
        """Number of learned (channel, field) means: the length of the hyperparameter vector."""
        return int((self.group >= 0).sum())


def learned_group(source: Source | None, field: str, config: Config) -> tuple[str, float] | None:
    """``(kind, built-in mean)`` if ``source``'s ``field`` mean is learned, else ``None``.

    Examples
    --------
    >>> learned_group(Source("s", kind="blog"), "sensitivity", Config())
    ('blog', 0.6)
    >>> learned_group(Source("s", kind="blog"), "sensitivity", Config(learn_kind_priors=False))
    """
    if source is None:
        source = Source("_")
    if not config.learn_kind_priors or field not in _FIELDS:  # the strength stays as given
        return None
    if source.source_id in config.source_priors or source.source_id in config.held_priors:
        return None
    if getattr(source, field) is not None or source.admiralty in ADMIRALTY_PRIORS:
        return None
    kind = source.kind
    if kind is not None:
        given = config.kind_priors.get(kind, {})
        if field in given:
            return None
        if field in KIND_PRIORS.get(kind, {}):
            return kind, float(KIND_PRIORS[kind][field])
    if field in config.default_prior:
        return None
    return kind or NO_KIND, float(DEFAULT_PRIOR[field])


def kind_learning(
    channel_source: Sequence[str],
    channel_align: Sequence[int] | np.ndarray,
    sources: Sequence[Source] | Mapping[str, Source],
    config: Config,
    priors: np.ndarray,
) -> KindLearning | None:
    """The channels whose prior means are learned (``None`` if none, or learning is off).

    ``priors`` holds the channels' compiled ``(a_se, b_se, a_sp, b_sp)`` (for the strengths).

    Examples
    --------
    >>> import numpy as np
    >>> from belief.core.compiler import source_prior_rows
    >>> srcs = [Source("a", kind="blog"), Source("b", kind="blog"), Source("w", admiralty="A")]
    >>> cfg = Config()
    >>> kl = kind_learning(["a", "b", "w"], [0, 0, 0], srcs, cfg,
    ...                    source_prior_rows(["a", "b", "w"], srcs, cfg))
    >>> kl.names, kl.group.tolist()
    (['blog'], [[0, 0, -1], [0, 0, -1]])
    """
    if not config.learn_kind_priors or not len(channel_source):
        return None
    table = sources if isinstance(sources, Mapping) else {s.source_id: s for s in sources}
    align = np.asarray(channel_align, dtype=np.int64)
    n = len(channel_source)
    group = np.full((2, n), -1, np.int64)
    m0: list[list[float]] = [[], []]
    labels: list[str] = []
    index: dict[str, int] = {}
    for j, sid in enumerate(channel_source):
        src = table.get(sid)
        for f, field in enumerate(_FIELDS):
            layer = learned_group(src if src is not None else Source(sid), field, config)
            if layer is None:
                continue
            name, mean = layer
            if name not in index:
                index[name] = len(labels)
                labels.append(name)
                for g in (0, 1):
                    m0[g].append(np.nan)
            k = index[name]
            m0[f][k] = mean
            group[f, j] = k
    if (group < 0).all():
        return None
    pri = np.asarray(priors, dtype=float).reshape(-1, 4)
    strength = np.vstack([pri[:, 0] + pri[:, 1], pri[:, 2] + pri[:, 3]])
    neutral = align == 0
    first: dict[str, int] = {}
    for j, sid in enumerate(channel_source):
        if neutral[j]:
            first[sid] = j
    own = np.array([first.get(sid, -1) for sid in channel_source], dtype=np.int64)
    m0_arr = np.nan_to_num(np.asarray(m0, dtype=float), nan=0.5)
    return KindLearning(
        names=labels,
        group=group,
        strength=strength,
        shift=align * float(config.side_effect),
        neutral=neutral,
        own=own,
        m0=m0_arr,
        h=float(config.kind_prior_strength),
    )


def report_stats(
    n_channels: int,
    r_claim: np.ndarray,
    r_source: np.ndarray,
    r_confirm: np.ndarray,
    r_weight: np.ndarray,
    p: np.ndarray,
) -> np.ndarray:
    """Expected counts per channel, in :meth:`belief.engines.cells.Block.source_stats`' layout.

    Columns: confirms on true claims, denies on true, denies on false, confirms on false
    (weighted reports times ``P(true)`` or ``1 - P(true)`` of their claim).
    """
    q = p[r_claim]
    x = np.where(r_confirm, r_weight, 0.0)
    y = np.where(r_confirm, 0.0, r_weight)
    cols = (x * q, y * q, y * (1 - q), x * (1 - q))
    return np.column_stack([np.bincount(r_source, c, n_channels) for c in cols])


def kind_means(kl: KindLearning, stats: np.ndarray, *, pooled: bool = False) -> np.ndarray:
    """Learned means from the expected counts ``stats`` (see the module doc).

    Returns ``(2, n_channels)`` leave-one-out means (NaN where not learned), or with ``pooled``
    the ``(2, n_groups)`` means of each kind over all its sources (what the result reports).
    """
    s = np.asarray(stats, dtype=float)
    hit = np.vstack([s[:, 0], s[:, 2]])  # confirm | true, deny | false
    tot = np.vstack([s[:, 0] + s[:, 1], s[:, 2] + s[:, 3]])
    use = kl.neutral[None, :] & (kl.group >= 0)
    n_groups = kl.m0.shape[1]
    out = np.full((2, n_groups) if pooled else kl.group.shape, np.nan)
    for f in range(2):
        g = np.where(use[f], kl.group[f], 0)
        T = np.bincount(g, np.where(use[f], hit[f], 0.0), n_groups)
        N = np.bincount(g, np.where(use[f], tot[f], 0.0), n_groups)
        if pooled:
            out[f] = (kl.h * kl.m0[f] + T) / (kl.h + N)
            continue
        on = kl.group[f] >= 0
        k = kl.group[f][on]
        own = kl.own[on]
        t = np.where(own >= 0, hit[f][np.maximum(own, 0)], 0.0)
        n = np.where(own >= 0, tot[f][np.maximum(own, 0)], 0.0)
        num = kl.h * kl.m0[f][k] + np.maximum(T[k] - t, 0.0)
        den = kl.h + np.maximum(N[k] - n, 0.0)
        out[f][on] = num / den
    return out


def with_means(priors: np.ndarray, kl: KindLearning, means: np.ndarray) -> np.ndarray:
    """``priors`` (``(n_channels, 4)``) with the learned channels at the given neutral means."""
    out = np.array(priors, dtype=float).reshape(-1, 4)
    for f, sign in ((0, 1.0), (1, -1.0)):
        on = kl.group[f] >= 0
        m = np.clip(means[f][on], 1e-12, 1 - 1e-12)
        mean = expit(logit(m) + sign * kl.shift[on])
        out[on, 2 * f] = mean * kl.strength[f][on]
        out[on, 2 * f + 1] = (1.0 - mean) * kl.strength[f][on]
    return out


def start_means(kl: KindLearning) -> np.ndarray:
    """The built-in means of the learned channels, ``(2, n_channels)`` (NaN where fixed)."""
    out = np.full(kl.group.shape, np.nan)
    for f in range(2):
        on = kl.group[f] >= 0
        out[f][on] = kl.m0[f][kl.group[f][on]]
    return out


def apply_means(ev: Evidence, means: np.ndarray) -> Evidence:
    """``ev`` with its learned channels' prior means set to ``means`` (``(2, n_channels)``)."""
    if ev.kinds is None:
        return ev
    pri = with_means(ev.priors, ev.kinds, means)
    return replace(ev, a_se=pri[:, 0], b_se=pri[:, 1], a_sp=pri[:, 2], b_sp=pri[:, 3])
