"""The case model: claims, sources, reports, signals, and the :class:`Case` that holds them.

These are plain frozen dataclasses with no behaviour beyond small derived views. Validation
happens once, at the boundary (:mod:`belief.data.validation`), so code that receives a :class:`Case`
can trust it: ids are unique, every report and signal points at a known claim, stances are
canonical and probabilities lie in (0, 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from belief.exceptions import ValidationError

Stance = Literal["confirm", "deny", "neutral"]
STANCES: tuple[str, ...] = ("confirm", "deny", "neutral")
ADMIRALTY_GRADES: tuple[str, ...] = ("A", "B", "C", "D", "E", "F")

CLAIM_COLUMNS = ("claim_id", "text", "prior", "favors", "group", "truth")
SOURCE_COLUMNS = (
    "source_id",
    "name",
    "kind",
    "side",
    "admiralty",
    "sensitivity",
    "specificity",
    "strength",
)
REPORT_COLUMNS = ("claim_id", "source_id", "stance", "time", "derived_from")
SIGNAL_COLUMNS = ("signal_id", "claim_id", "kind", "direction", "likelihood_ratio", "time", "text")
POSTERIOR_COLUMNS = (
    "claim_id",
    "p_true",
    "p_low",
    "p_high",
    "verbal",
    "n_reports",
    "n_independent",
)


@dataclass(frozen=True)
class Claim:
    """A proposition that is either true or false.

    Parameters
    ----------
    claim_id : str
        Unique id.
    text : str
        The proposition in words.
    prior : float or None
        Prior probability in (0, 1); ``None`` uses the configured base rate.
    favors : str or None
        The side that benefits if the claim is true.
    group : str or None
        Claims sharing a group are competing hypotheses: at most one of them is true.
    truth : bool or None
        Resolved outcome (used by calibration and evaluation), ``None`` if unresolved.
    extra : dict
        Unknown columns, kept so that the case round-trips.
    """

    claim_id: str
    text: str = ""
    prior: float | None = None
    favors: str | None = None
    group: str | None = None
    truth: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        # the constructor trusts its input otherwise; these two are cheap and catch the common
        # mistakes of hand-built cases (a probability in percent, an id that is not text)
        if not isinstance(self.claim_id, str):
            raise ValidationError(
                f"Claim claim_id: expected a string but got {type(self.claim_id).__name__}"
            )
        p = self.prior
        if p is not None and not (
            isinstance(p, int | float) and not isinstance(p, bool) and 0.0 < p < 1.0
        ):
            raise ValidationError(
                f"Claim {self.claim_id!r} prior: expected a number in (0, 1) or None but got {p!r}"
            )


@dataclass(frozen=True)
class Source:
    """Someone who makes reports, with what is known in advance of their reliability.

    ``sensitivity`` is the prior mean of P(confirm | true) and ``specificity`` the prior mean of
    P(deny | false), among informative (non-neutral) reports; ``strength`` is the pseudo-count
    behind those means. Missing values fall back to the Admiralty grade, then the ``kind``
    defaults, then the global default (see :mod:`belief.priors.reliability`).
    """

    source_id: str
    name: str = ""
    kind: str | None = None
    side: str | None = None
    admiralty: str | None = None
    sensitivity: float | None = None
    specificity: float | None = None
    strength: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Report:
    """One statement by a source about a claim.

    ``derived_from`` names the source this report repeats or cites; such a report is not
    independent evidence.
    """

    claim_id: str
    source_id: str
    stance: Stance
    time: datetime | None = None
    derived_from: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Signal:
    """A contextual fact that shifts a claim's prior log-odds.

    ``direction`` is +1 (makes the claim more plausible) or -1. ``likelihood_ratio``, when given,
    is the analyst's explicit P(signal | true) / P(signal | false) and overrides the effect
    configured for the signal's ``kind``.
    """

    signal_id: str
    claim_id: str
    kind: str
    direction: int = 1
    likelihood_ratio: float | None = None
    time: datetime | None = None
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, repr=False)
class Case:
    """Everything known about a set of claims: the unit that engines take.

    Build one with :func:`belief.read_case`, :func:`belief.read_tables` or
    :func:`belief.case_from_frames`, which validate; the constructor itself trusts its input.
    ``config`` carries engine settings stored with the case (``base_rate``, ``signal_effects``,
    ``kind_priors``, ``copy_weight``, ...; see :class:`belief.Config`).
    """

    claims: tuple[Claim, ...]
    sources: tuple[Source, ...] = ()
    reports: tuple[Report, ...] = ()
    signals: tuple[Signal, ...] = ()
    name: str = ""
    description: str = ""
    config: dict[str, Any] = field(default_factory=dict, compare=False)
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def claim_ids(self) -> list[str]:
        """Claim ids in case order."""
        return [c.claim_id for c in self.claims]

    def claim(self, claim_id: str) -> Claim:
        """Return the claim with id ``claim_id`` (a ValidationError naming known ids if absent)."""
        for c in self.claims:
            if c.claim_id == claim_id:
                return c
        from belief.exceptions import ValidationError

        known = ", ".join(repr(c.claim_id) for c in self.claims[:5])
        more = ", ..." if len(self.claims) > 5 else ""
        raise ValidationError(
            f"claim_id: unknown claim {claim_id!r}; known claims are {known}{more}"
        )

    def source_map(self) -> dict[str, Source]:
        """Sources by id, including a bare :class:`Source` for every id only seen in reports."""
        out = {s.source_id: s for s in self.sources}
        for r in self.reports:
            for sid in (r.source_id, r.derived_from):
                if sid is not None and sid not in out:
                    out[sid] = Source(sid)
        return out

    def __repr__(self) -> str:
        name = f"{self.name!r}, " if self.name else ""
        return (
            f"Case({name}claims={len(self.claims)}, sources={len(self.source_map())}, "
            f"reports={len(self.reports)}, signals={len(self.signals)})"
        )

    def _repr_html_(self) -> str:
        """The claims table, for Jupyter."""
        import html

        import pandas as pd

        counts: dict[str, int] = {}
        for r in self.reports:
            counts[r.claim_id] = counts.get(r.claim_id, 0) + 1
        table = pd.DataFrame(
            {
                "claim_id": [c.claim_id for c in self.claims],
                "text": [c.text for c in self.claims],
                "prior": [c.prior for c in self.claims],
                "group": [c.group for c in self.claims],
                "truth": [c.truth for c in self.claims],
                "reports": [counts.get(c.claim_id, 0) for c in self.claims],
            }
        )
        head = html.escape(repr(self))
        return f"<p>{head}</p>" + table.head(50).to_html(index=False, na_rep="")

    def replace(self, **changes: Any) -> Case:
        """Return a copy with some fields replaced (tuples of records, name, config...)."""
        from dataclasses import replace

        return replace(self, **changes)
