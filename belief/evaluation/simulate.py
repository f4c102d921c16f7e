r"""Simulate cases with known truth, and compute the Bayes oracle that knows that truth.

:func:`simulate_case` draws a :class:`~belief.data.types.Case` from the story of the joint Bayesian
model; :func:`~belief.evaluation.oracle.oracle_posterior` (re-exported here) is the best possible
posterior, computed with the true parameters.

Generative story
----------------
*Sources.* Kind :math:`k` gets ``share * n_sources`` sources (largest-remainder rounding, random
order). With :math:`z_s, z'_s \sim \mathcal N(0, 1)`, source :math:`s` of kind :math:`k` has
:math:`\operatorname{logit} \mathrm{sens}_s = \operatorname{logit} \mu^{sens}_k + \sigma_k z_s`,
:math:`\operatorname{logit} \mathrm{spec}_s = \operatorname{logit} \mu^{spec}_k + \sigma_k z'_s`
(hidden: *not* on the :class:`~belief.data.types.Source` records), a side with probability
``p_aligned`` (uniform among ``sides``) and the copy propensity :math:`\rho_s` of its kind
(``p_repeat``). Copiers (``agg01``...): kind ``"aggregator"``, no side.

*Claims.* A claim favors a side with probability ``p_favors`` (uniform among ``sides``) and gets
a signal with probability ``p_signal`` (kind :math:`k` and direction :math:`d = \pm 1` uniform):
prior log-odds :math:`\ell_c = \operatorname{logit}\pi + \sum_g d_g e_{k_g}`. Claims are cut, in
order, into groups of ``group_size`` (the last holds the remainder; a remainder of one claim is
ungrouped). In a group at most one claim is true: :math:`P(T) \propto \prod_c \exp(\ell_c T_c)`
over the allowed states ("none true" has weight 1); ungrouped,
:math:`T_c \sim \mathrm{Bernoulli}(\operatorname{expit} \ell_c)`.

*Reports.* Each non-copier source reports on each claim with probability ``density``; a report
is neutral with probability ``p_neutral``. Otherwise, with :math:`\mathrm{al} = +1` if the claim
favors the source's side, :math:`-1` if both sides are set and differ, :math:`0` if either is
empty, and side effect :math:`a`: :math:`P(\text{confirm} \mid T_c = 1) = \operatorname{expit}(
\operatorname{logit}\mathrm{sens}_s + a\,\mathrm{al})` and :math:`P(\text{deny} \mid T_c = 0) =
\operatorname{expit}(\operatorname{logit}\mathrm{spec}_s - a\,\mathrm{al})`.

*Unattributed repeats* (circular reporting). Taken in the order of the case (by time, then
source id), a confirm/deny report of source :math:`s` on a claim that already has earlier
confirm/deny reports is, with probability :math:`\rho_s`, a *repeat*: it copies the stance of one
of those earlier reports, chosen uniformly (repeats included), whatever the truth. Otherwise it
is independent evidence as above. A repeat is *cited* with probability ``p_cited``:
``derived_from`` is then the source of the report it repeats; an uncited repeat looks like an
independent report. So, marginally, an uncited report's stance has the mixture likelihood
:math:`\rho_s (1 - p_{cited})\, f + (1 - \rho_s)\, P(\text{stance} \mid T_c)`, with :math:`f`
the share of the earlier reports that take that stance.
``SimulationTruth.repeats`` records every repeat.

*Copies.* Each copier repeats each confirm/deny report of a non-copier source independently
with probability ``p_copy / n_copiers`` (``p_copy`` copies per report on average): same claim
and stance, ``derived_from`` the original ``source_id``, later by an exponential lag of mean
``days / 100`` (clipped to the window). *Times.* Reports and signals are uniform over ``[start,
start + days]``, rounded to the second; reports are sorted by time, claim, source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np
from scipy.special import expit

from belief.data.types import Case
from belief.evaluation import _world
from belief.evaluation._world import check as _check
from belief.evaluation.oracle import oracle_posterior

__all__ = [
    "COPIER_KIND",
    "DEFAULT_KINDS",
    "DEFAULT_SIGNAL_KINDS",
    "KindSpec",
    "SimulationTruth",
    "oracle_posterior",
    "simulate_case",
]


class KindSpec(NamedTuple):
    """How the sources of one kind are generated.

    ``share``: share of the non-copier sources (shares sum to 1); ``sensitivity``,
    ``specificity``: kind means of P(confirm | true), P(deny | false) in (0, 1); ``sd``: their
    standard deviation across sources on the logit scale (>= 0).
    """

    share: float
    sensitivity: float
    specificity: float
    sd: float


#: Default source kinds.
DEFAULT_KINDS: dict[str, KindSpec] = {
    "wire": KindSpec(0.2, 0.85, 0.90, 0.3),
    "media": KindSpec(0.4, 0.75, 0.75, 0.4),
    "blog": KindSpec(0.4, 0.60, 0.55, 0.5),
}
#: Default signal kinds and their log-odds magnitudes.
DEFAULT_SIGNAL_KINDS: dict[str, float] = {"hostile_rhetoric": 1.0, "official_statement": 1.5}
COPIER_KIND = _world.COPIER_KIND  #: kind of the copier sources


@dataclass(frozen=True)
class SimulationTruth:
    """The hidden parameters and outcomes behind a simulated case.

    Attributes
    ----------
    truth : dict of str to bool
        Claim id -> its truth.
    sensitivity, specificity : dict of str to float
        Non-copier source id -> its P(confirm | true), P(deny | false) at alignment 0.
    kind_means : dict of str to (float, float)
        Kind -> (mean sensitivity, mean specificity).
    kind_sd : dict of str to float
        Kind -> logit-scale sd of the reliabilities of its sources.
    side_effect : float
        The side-alignment effect :math:`a`.
    signal_effects : dict of str to float
        Signal kind -> log-odds magnitude.
    base_rate : float
        The base rate :math:`\\pi`.
    copy_propensity : dict of str to float
        Non-copier source id -> :math:`\\rho_s`, the probability that one of its confirm/deny
        reports is an unattributed repeat when earlier ones exist (0.0 for every source when
        ``p_repeat`` is 0; empty when built by hand).
    p_cited : float
        The probability that a repeat is cited (``derived_from`` set).
    repeats : dict of (str, str) to str
        ``(claim_id, source_id)`` of every repeat, cited or not -> the source id of the earlier
        report it repeats (a non-copier source reports at most once per claim, so the pair
        names the report).

    Examples
    --------
    >>> case, truth = simulate_case(
    ...     30, 6, density=0.8, p_repeat=0.5, p_cited=0.5, random_seed=0, return_truth=True
    ... )
    >>> (claim_id, source_id), of = next(iter(truth.repeats.items()))
    >>> report = next(r for r in case.reports if (r.claim_id, r.source_id) == (claim_id, source_id))
    >>> report.derived_from in (None, of)
    True
    """

    truth: dict[str, bool]
    sensitivity: dict[str, float]
    specificity: dict[str, float]
    kind_means: dict[str, tuple[float, float]]
    kind_sd: dict[str, float]
    side_effect: float
    signal_effects: dict[str, float]
    base_rate: float
    copy_propensity: dict[str, float] = field(default_factory=dict)
    p_cited: float = 0.0
    repeats: dict[tuple[str, str], str] = field(default_factory=dict)

    def truth_array(self, claim_ids: Sequence[str]) -> np.ndarray:
        """Return the truth of ``claim_ids`` as an int array of 0/1, in that order."""
        return np.array([int(self.truth[c]) for c in claim_ids], dtype=int)


def _check_args(a: Mapping[str, Any]) -> None:
    for name, low in {"n_claims": 1, "n_sources": 1, "n_copiers": 0, "group_size": 1}.items():
        ok = isinstance(a[name], int | np.integer) and not isinstance(a[name], bool)
        _check(ok and a[name] >= low, name, a[name], f"an integer >= {low}")
    n, m = a["n_claims"], a["group_size"]
    _check(m <= n, "group_size", m, f"in [1, n_claims={n}]")
    for name in ("p_aligned", "p_favors", "density", "p_neutral", "p_copy", "p_signal"):
        _check(0.0 <= a[name] <= 1.0, name, a[name], "in [0, 1]")
    _check(0.0 <= a["p_cited"] <= 1.0, "p_cited", a["p_cited"], "in [0, 1]")
    _check(0.0 < a["base_rate"] < 1.0, "base_rate", a["base_rate"], "in the open interval (0, 1)")
    _check(np.isfinite(a["side_effect"]), "side_effect", a["side_effect"], "a finite number")
    _check(a["days"] > 0, "days", a["days"], "> 0")
    sides = a["sides"]
    ok = all(isinstance(s, str) and s for s in sides) and len(set(sides)) == len(sides)
    ok = ok and (bool(sides) or a["p_aligned"] == a["p_favors"] == 0)
    _check(ok, "sides", sides, "distinct non-empty strings, some if p_aligned or p_favors > 0")
    for kind, e in a["effects"].items():
        _check(np.isfinite(e) and e > 0, f"signal_kinds[{kind!r}]", e, "a finite number > 0")
    try:
        datetime.fromisoformat(a["start"])
    except (TypeError, ValueError):
        _check(False, "start", a["start"], "an ISO 8601 date or datetime")


def _check_kinds(kinds: Mapping[str, Any] | None) -> dict[str, KindSpec]:
    specs = {}
    for name, spec in (DEFAULT_KINDS if kinds is None else kinds).items():
        k = specs[name] = KindSpec(**spec) if isinstance(spec, Mapping) else KindSpec(*spec)
        _check(0 <= k.share <= 1, f"kinds[{name!r}].share", k.share, "in [0, 1]")
        for field_, v in (("sensitivity", k.sensitivity), ("specificity", k.specificity)):
            _check(0 < v < 1, f"kinds[{name!r}].{field_}", v, "in the open interval (0, 1)")
        _check(k.sd >= 0, f"kinds[{name!r}].sd", k.sd, ">= 0")
    total = sum(k.share for k in specs.values())
    _check(abs(total - 1.0) <= 1e-6, "the sum of the kinds' shares", total, "1")
    return specs


def _propensity(p_repeat: float | Mapping[str, float], kinds: Sequence[str]) -> dict[str, float]:
    """Kind -> copy propensity, from ``p_repeat`` (one number for every kind, or per kind)."""
    if not isinstance(p_repeat, Mapping):
        _check(0.0 <= p_repeat <= 1.0, "p_repeat", p_repeat, "in [0, 1]")
        return dict.fromkeys(kinds, float(p_repeat))
    for kind, rho in p_repeat.items():
        _check(kind in kinds, "a p_repeat key", kind, f"one of the source kinds {sorted(kinds)}")
        _check(0.0 <= rho <= 1.0, f"p_repeat[{kind!r}]", rho, "in [0, 1]")
    return {k: float(p_repeat.get(k, 0.0)) for k in kinds}


def simulate_case(
    n_claims: int = 200,
    n_sources: int = 30,
    *,
    kinds: Mapping[str, KindSpec] | None = None,
    sides: Sequence[str] = ("government", "opposition"),
    p_aligned: float = 0.5,
    p_favors: float = 0.5,
    side_effect: float = 1.0,
    density: float = 0.1,
    p_neutral: float = 0.1,
    n_copiers: int = 0,
    p_copy: float = 0.5,
    p_repeat: float | Mapping[str, float] = 0.0,
    p_cited: float = 0.0,
    signal_kinds: Mapping[str, float] | None = None,
    p_signal: float = 0.3,
    group_size: int = 1,
    base_rate: float = 0.4,
    start: str = "2024-01-01",
    days: float = 10.0,
    random_seed: int | np.random.Generator | None = None,
    return_truth: bool = False,
) -> Case | tuple[Case, SimulationTruth]:
    """Simulate a case from the generative story of the module docstring.

    Parameters
    ----------
    n_claims, n_sources, n_copiers : int
        Numbers of claims (>= 1), non-copier sources (>= 1) and copiers (>= 0).
    kinds : mapping of str to KindSpec, optional
        Source kinds (or 4-tuples, or mappings of its fields); default :data:`DEFAULT_KINDS`.
    sides : sequence of str
        The sides that sources take and claims favor.
    p_aligned, p_favors, density, p_neutral, p_copy, p_signal : float
        Probabilities in [0, 1]: a source has a side; a claim favors one; a source reports on a
        claim; a report is neutral; expected copies of a confirm/deny report; a claim has a signal.
    p_repeat : float or mapping of str to float
        Copy propensity :math:`\\rho` in [0, 1] (circular reporting): the probability that a
        confirm/deny report of a non-copier source is an unattributed repeat of an earlier
        report on the same claim (when there is one). One number for every kind, or a mapping
        source kind -> propensity (kinds not named: 0). Default 0: no repeats.
    p_cited : float
        Probability in [0, 1] that a repeat is cited (``derived_from`` names the source of the
        report it repeats); uncited repeats have no ``derived_from``.
    side_effect, base_rate : float
        Alignment effect :math:`a` (logit scale); base rate :math:`\\pi` in (0, 1).
    signal_kinds : mapping of str to float, optional
        Kind -> log-odds magnitude > 0; default :data:`DEFAULT_SIGNAL_KINDS`.
    group_size : int
        Size of the groups of competing claims, in [1, n_claims]; the last may be smaller.
    start, days : str, float
        ISO start and length in days (> 0) of the time window.
    random_seed : int, Generator or None
        The same seed gives the same case. With ``p_repeat`` 0, a seed gives the same case as
        before repeats were added.
    return_truth : bool
        Also return the :class:`SimulationTruth` (with every repeat and copy propensity).

    Returns
    -------
    Case or (Case, SimulationTruth)
        Claims carry ``favors``, ``group`` and ``truth``; ``config`` is empty.

    Raises
    ------
    ValidationError
        An argument is out of range; the message shows the value and the allowed range.

    Examples
    --------
    >>> case, truth = simulate_case(20, 5, random_seed=1, return_truth=True)
    >>> len(case.claims), len(case.sources), case.claims[0].claim_id
    (20, 5, 'c0001')
    >>> truth.truth_array(case.claim_ids).shape
    (20,)

    Media outlets and blogs that repeat earlier reports, citing half of the repeats:

    >>> case, truth = simulate_case(
    ...     200, 20, density=0.3, p_repeat={"media": 0.3, "blog": 0.6}, p_cited=0.5,
    ...     random_seed=1, return_truth=True,
    ... )
    >>> sorted(set(truth.copy_propensity.values()))
    [0.0, 0.3, 0.6]
    >>> cited = [r for r in case.reports if (r.claim_id, r.source_id) in truth.repeats
    ...          and r.derived_from is not None]
    >>> 0.4 < len(cited) / len(truth.repeats) < 0.6
    True
    """
    a = dict(locals(), sides=tuple(sides))  # every argument, by name
    a["effects"] = dict(DEFAULT_SIGNAL_KINDS if signal_kinds is None else signal_kinds)
    _check_args(a)
    a["specs"] = _check_kinds(kinds)
    a["propensity"] = _propensity(p_repeat, list(a["specs"]))
    world = _world.draw_world(np.random.default_rng(random_seed), a)
    case, ids = _world.assemble_case(world, a)
    if not return_truth:
        return case
    sids, specs = ids["source"], a["specs"]
    return case, SimulationTruth(
        truth=dict(zip(case.claim_ids, map(bool, world["truth"]), strict=True)),
        sensitivity=dict(zip(sids, map(float, expit(world["l_sens"])), strict=True)),
        specificity=dict(zip(sids, map(float, expit(world["l_spec"])), strict=True)),
        kind_means={k: (v.sensitivity, v.specificity) for k, v in specs.items()},
        kind_sd={k: v.sd for k, v in specs.items()},
        side_effect=float(side_effect),
        signal_effects=dict(a["effects"]),
        base_rate=float(base_rate),
        copy_propensity=dict(zip(sids, map(float, world["rho"]), strict=True)),
        p_cited=float(p_cited),
        repeats=_world.repeats_by_report(world, ids),
    )
