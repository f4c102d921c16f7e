r"""The Bayes oracle of a simulated case: P(claim true | the case) under the true parameters.

The oracle uses what :func:`~belief.evaluation.simulate.simulate_case` drew: the true
reliabilities, side effect, signal effects and base rate (``Claim.prior`` and
``Signal.likelihood_ratio`` are ignored). What it knows about copying is set by ``copies``:

``"known"``
    Knows every copy: declared ones (``derived_from``) and the unattributed repeats recorded in
    the ``repeats`` of :class:`~belief.evaluation.simulate.SimulationTruth`. Given that a report
    is a repeat, its stance is the repeated report's, whatever the truth, so it carries no
    evidence: the posterior sums the log-likelihood ratios of the other reports.
``"declared"``
    Knows only what the case says: declared copies carry no evidence, and every other report,
    uncited repeats included, counts as independent evidence (the oracle without copy
    knowledge; what an engine with the true parameters but no copy model computes).
``"propensity"``
    Knows the true copy propensities :math:`\rho_s` and ``p_cited`` but not which reports are
    repeats: the Bayes posterior given exactly what the case shows. Taking a claim's
    confirm/deny reports in time order (ties by source id), an uncited report of source
    :math:`s` with earlier reports has the likelihood
    :math:`q\,f + (1 - \rho_s)\,P(\text{stance} \mid T)`, with :math:`q = \rho_s (1 - p_{cited})`
    and :math:`f` the share of the earlier reports (of non-copier sources, repeats included)
    that take its stance; a cited one carries no evidence.

In each mode the likelihood of a claim's reports factorizes over its reports given its truth,
so the per-claim log-odds are a sum; neutral reports carry no evidence; the allowed states of a
group (none true, or exactly one true) are enumerated exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import expit, logit, logsumexp

from belief.data.types import Case, Report
from belief.evaluation._world import check as _check

if TYPE_CHECKING:
    from belief.evaluation.simulate import SimulationTruth

__all__ = ["COPY_KNOWLEDGE", "oracle_posterior"]

#: The values of ``copies``: what the oracle knows about copying.
COPY_KNOWLEDGE = ("known", "declared", "propensity")


def _in_time_order(reports: Sequence[Report]) -> list[Report]:
    """Reports by time then source id (the simulator's order); the given order without times."""
    if any(r.time is None for r in reports):
        return list(reports)
    return sorted(reports, key=lambda r: (r.time, r.source_id))


def _log_lr(r: Report, case_claims: dict[str, Any], sources: dict[str, Any], t: Any) -> tuple:
    """(log P(stance | true), log P(stance | false)) of an informative report, independent."""
    _check(r.source_id in t.sensitivity, "a source", r.source_id, "in truth_params")
    side, fav = sources[r.source_id].side, case_claims[r.claim_id].favors
    shift = t.side_effect * (0 if not (side and fav) else 1 if side == fav else -1)
    x = logit(t.sensitivity[r.source_id]) + shift  # P(confirm | true) = expit(x)
    y = logit(t.specificity[r.source_id]) - shift  # P(deny | false) = expit(y)
    sign = 1 if r.stance == "confirm" else -1
    # log expit(u) = -logaddexp(0, -u), stably
    return -np.logaddexp(0, -sign * x), -np.logaddexp(0, sign * y)


def _mixture(log_p: float, q: float, f: float, rho: float, label: str) -> float:
    """log(q f + (1 - rho) exp(log_p)): an uncited report that may be a repeat."""
    terms = [math.log(q * f)] if q * f > 0 else []
    if rho < 1:
        terms.append(math.log1p(-rho) + log_p)
    _check(bool(terms), "a report", label, "possible under truth_params (copy propensity 1)")
    top = max(terms)  # log-sum-exp of at most two terms, shifted by the larger for stability
    return top + math.log(sum(math.exp(v - top) for v in terms))


def _log_odds(case: Case, truth: SimulationTruth, copies: str) -> np.ndarray:
    """Prior plus evidence log-odds per claim, under the copy knowledge ``copies``."""
    index, sources = {c: i for i, c in enumerate(case.claim_ids)}, case.source_map()
    claims = {c.claim_id: c for c in case.claims}
    lo = np.full(len(index), logit(truth.base_rate))
    effects = truth.signal_effects
    for g in case.signals:
        _check(g.kind in effects, "a signal kind", g.kind, f"one of {sorted(effects)}")
        lo[index[g.claim_id]] += g.direction * effects[g.kind]
    reports = _in_time_order(case.reports) if copies == "propensity" else case.reports
    earlier: dict[str, list[int]] = {}  # claim -> stances (+1/-1) of its earlier reports
    for r in reports:
        if r.stance == "neutral":
            continue
        sign, seen = (1 if r.stance == "confirm" else -1), earlier.setdefault(r.claim_id, [])
        pooled = r.source_id in truth.sensitivity  # a non-copier source: may be repeated
        if r.derived_from is not None or (
            copies == "known" and (r.claim_id, r.source_id) in truth.repeats
        ):
            seen += [sign] if pooled else []
            continue
        l_true, l_false = _log_lr(r, claims, sources, truth)
        rho = truth.copy_propensity.get(r.source_id, 0.0)
        if copies == "propensity" and seen and rho > 0:
            q, f = rho * (1.0 - truth.p_cited), seen.count(sign) / len(seen)
            label = f"{r.source_id} {r.stance}s {r.claim_id}"
            l_true, l_false = (_mixture(float(v), q, f, rho, label) for v in (l_true, l_false))
        lo[index[r.claim_id]] += l_true - l_false
        seen.append(sign)
    return lo


def oracle_posterior(
    case: Case, truth_params: SimulationTruth, *, copies: str = "known"
) -> dict[str, float]:
    """Bayes-oracle P(true | reports, signals), computed with the true parameters.

    Parameters
    ----------
    case : Case
        A case, normally from :func:`~belief.evaluation.simulate.simulate_case`.
    truth_params : SimulationTruth
        The true parameters behind ``case``.
    copies : {"known", "declared", "propensity"}
        What the oracle knows about copying (see the module docstring): every copy (default);
        only the declared ones (the oracle without copy knowledge); or the true copy
        propensities but not which reports are repeats.

    Returns
    -------
    dict of str to float
        Claim id -> posterior probability that the claim is true.

    Raises
    ------
    ValidationError
        A report's source has no true reliability, a signal's kind no true effect, ``copies``
        is unknown, or (``"propensity"``) a report is impossible under the truth.

    Examples
    --------
    >>> from belief.evaluation.simulate import simulate_case
    >>> case, truth = simulate_case(50, 10, density=0.5, random_seed=0, return_truth=True)
    >>> post = oracle_posterior(case, truth)
    >>> all(0.0 < p < 1.0 for p in post.values())
    True

    With unattributed repeats, the oracle that counts them as independent evidence is more
    extreme:

    >>> case, truth = simulate_case(
    ...     50, 10, density=0.5, p_repeat=0.6, random_seed=0, return_truth=True
    ... )
    >>> known = oracle_posterior(case, truth)
    >>> naive = oracle_posterior(case, truth, copies="declared")
    >>> extreme = lambda post: sum(abs(p - 0.5) for p in post.values())
    >>> extreme(naive) > extreme(known)
    True
    """
    _check(copies in COPY_KNOWLEDGE, "copies", copies, f"one of {list(COPY_KNOWLEDGE)}")
    lo = _log_odds(case, truth_params, copies)
    post = expit(lo)
    members: dict[Any, list[int]] = {}
    for i, c in enumerate(case.claims):
        if c.group is not None:
            members.setdefault(c.group, []).append(i)
    for idx in members.values():
        # states: none true (log-weight 0) or exactly claim j true (log-weight lo[j])
        post[idx] = np.exp(lo[idx] - logsumexp(np.append(lo[idx], 0.0)))
    return dict(zip(case.claim_ids, map(float, post), strict=True))
