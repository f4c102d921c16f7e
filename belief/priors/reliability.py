"""Prior reliability of sources: Beta priors on sensitivity and specificity.

Sensitivity is P(confirm | claim true) and specificity P(deny | claim false), both among a
source's *informative* (confirm/deny) reports. Each source gets two independent Beta priors,
parameterized by a mean and a strength (pseudo-count): ``alpha = mean * strength``,
``beta = (1 - mean) * strength``.

Where a value comes from, in order (first found wins, per field):

1. the source's own ``sensitivity`` / ``specificity`` / ``strength``;
2. its Admiralty grade (:data:`ADMIRALTY_PRIORS`);
3. the defaults of its ``kind`` (the case's ``kind_priors`` config, then :data:`KIND_PRIORS`);
4. the global default (:data:`DEFAULT_PRIOR`).

The Admiralty (NATO STANAG 2511) source grades map to reliability as follows; F ("reliability
cannot be judged") falls through to the kind or global default.

====== ===================== ========== ========
grade  meaning               mean       strength
====== ===================== ========== ========
A      completely reliable   0.95       20
B      usually reliable      0.85       12
C      fairly reliable       0.70       8
D      not usually reliable  0.60       6
E      unreliable            0.50       6
F      cannot be judged      (default)  (default)
====== ===================== ========== ========
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from belief.data.types import Source
from belief.exceptions import ValidationError


@dataclass(frozen=True)
class BetaPrior:
    """A Beta(alpha, beta) prior with a mean/strength view.

    Examples
    --------
    >>> BetaPrior.from_mean_strength(0.75, 8)
    BetaPrior(alpha=6.0, beta=2.0)
    >>> round(BetaPrior(8.0, 2.0).mean, 3)
    0.8
    """

    alpha: float
    beta: float

    def __post_init__(self) -> None:
        if not (self.alpha > 0 and self.beta > 0):
            raise ValidationError(
                f"Beta prior parameters must be > 0 but got alpha={self.alpha}, beta={self.beta}"
            )

    @classmethod
    def from_mean_strength(cls, mean: float, strength: float) -> BetaPrior:
        """Build from a mean in (0, 1) and a strength (pseudo-count) > 0."""
        if not 0.0 < mean < 1.0:
            raise ValidationError(f"mean: expected a number in (0, 1) but got {mean}")
        if not strength > 0:
            raise ValidationError(f"strength: expected a number > 0 but got {strength}")
        return cls(float(mean * strength), float((1.0 - mean) * strength))

    @property
    def mean(self) -> float:
        """Prior mean ``alpha / (alpha + beta)``."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def strength(self) -> float:
        """Pseudo-count ``alpha + beta``."""
        return self.alpha + self.beta


@dataclass(frozen=True)
class SourcePrior:
    """The two Beta priors of one source."""

    sensitivity: BetaPrior
    specificity: BetaPrior


#: Global default: slightly better than chance, weakly held.
DEFAULT_PRIOR: dict[str, float] = {"sensitivity": 0.65, "specificity": 0.65, "strength": 4.0}

#: Admiralty grade -> (mean, strength) for both sensitivity and specificity.
ADMIRALTY_PRIORS: dict[str, tuple[float, float]] = {
    "A": (0.95, 20.0),
    "B": (0.85, 12.0),
    "C": (0.70, 8.0),
    "D": (0.60, 6.0),
    "E": (0.50, 6.0),
}

#: Built-in defaults per source kind; a case's ``kind_priors`` config overrides them.
KIND_PRIORS: dict[str, dict[str, float]] = {
    "official": {"sensitivity": 0.80, "specificity": 0.80, "strength": 8.0},
    "wire": {"sensitivity": 0.80, "specificity": 0.85, "strength": 8.0},
    "media": {"sensitivity": 0.70, "specificity": 0.65, "strength": 6.0},
    "local": {"sensitivity": 0.70, "specificity": 0.70, "strength": 6.0},
    "blog": {"sensitivity": 0.60, "specificity": 0.55, "strength": 4.0},
    "social": {"sensitivity": 0.60, "specificity": 0.55, "strength": 4.0},
}

_FIELDS = ("sensitivity", "specificity", "strength")


def _kind_defaults(kind: str | None, kind_priors: Mapping[str, Mapping[str, float]]) -> dict:
    if kind is None:
        return {}
    return dict(KIND_PRIORS.get(kind, {})) | dict(kind_priors.get(kind, {}))


def resolve_source_prior(
    source: Source,
    kind_priors: Mapping[str, Mapping[str, float]] | None = None,
    default: Mapping[str, float] | None = None,
) -> SourcePrior:
    """Return the Beta priors of ``source`` following the documented precedence.

    Parameters
    ----------
    source : Source
        The source.
    kind_priors : mapping, optional
        Per-kind overrides ``{kind: {"sensitivity": m, "specificity": m, "strength": s}}``.
    default : mapping, optional
        Global default with the same keys; :data:`DEFAULT_PRIOR` if omitted.

    Returns
    -------
    SourcePrior

    Examples
    --------
    >>> p = resolve_source_prior(Source("s", admiralty="B"))
    >>> round(p.sensitivity.mean, 2), p.sensitivity.strength
    (0.85, 12.0)
    >>> resolve_source_prior(Source("t", kind="blog", sensitivity=0.9)).sensitivity.mean
    0.9
    """
    layers: list[Mapping[str, Any]] = [
        {f: getattr(source, f) for f in _FIELDS},
    ]
    if source.admiralty in ADMIRALTY_PRIORS:
        mean, strength = ADMIRALTY_PRIORS[source.admiralty]
        layers.append({"sensitivity": mean, "specificity": mean, "strength": strength})
    layers.append(_kind_defaults(source.kind, kind_priors or {}))
    layers.append(dict(DEFAULT_PRIOR) | dict(default or {}))
    value = {f: next(la[f] for la in layers if la.get(f) is not None) for f in _FIELDS}
    return SourcePrior(
        BetaPrior.from_mean_strength(value["sensitivity"], value["strength"]),
        BetaPrior.from_mean_strength(value["specificity"], value["strength"]),
    )
