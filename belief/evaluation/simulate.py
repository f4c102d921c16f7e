r"""Simulate cases with known truth, and compute the Bayes oracle that knows that truth.

:func:`simulate_case` draws a :class:`~belief.data.types.Case` from the story of the joint Bayesian
model; :func:`oracle_posterior` is the best possible posterior, computed with the true parameters.

Generative story
----------------
*Sources.* Kind :math:`k` gets ``share * n_sources`` sources (largest-remainder rounding, random
order). With :math:`z_s, z'_s \sim \mathcal N(0, 1)`, source :math:`s` of kind :math:`k` has
:math:`\operatorname{logit} \mathrm{sens}_s = \operatorname{logit} \mu^{sens}_k + \sigma_k z_s`,
:math:`\operatorname{logit} \mathrm{spec}_s = \operatorname{logit} \mu^{spec}_k + \sigma_k z'_s`
(hidden: *not* on the :class:`~belief.data.types.Source` records) and a side with probability
``p_aligned`` (uniform among ``sides``). Copiers (``agg01``...): kind ``"aggregator"``, no side.

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

*Copies.* Each copier repeats each original confirm/deny report independently with probability
``p_copy / n_copiers`` (``p_copy`` copies per report on average): same claim and stance,
``derived_from`` the original ``source_id``, later by an exponential lag of mean ``days / 100``
(clipped to the window). *Times.* Reports and signals are uniform over ``[start, start + days]``,
rounded to the second; reports are sorted by time, claim, source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
from scipy.special import expit, logit, logsumexp, softmax

from belief.data.types import Case, Claim, Report, Signal, Source
from belief.exceptions import ValidationError


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
COPIER_KIND = "aggregator"  #: kind of the copier sources
_COPY_LAG = 0.01  # mean copy lag, as a fraction of the time window
_STANCES = np.array(["deny", "neutral", "confirm"])  # indexed by stance code (-1, 0, 1) + 1


@dataclass(frozen=True)
class SimulationTruth:
    """The hidden parameters and outcomes behind a simulated case.

    ``sensitivity`` and ``specificity`` are per non-copier source; ``kind_means`` maps a kind to
    (mean sensitivity, mean specificity) and ``kind_sd`` to its logit-scale sd.
    """

    truth: dict[str, bool]
    sensitivity: dict[str, float]
    specificity: dict[str, float]
    kind_means: dict[str, tuple[float, float]]
    kind_sd: dict[str, float]
    side_effect: float
    signal_effects: dict[str, float]
    base_rate: float

    def truth_array(self, claim_ids: Sequence[str]) -> np.ndarray:
        """Return the truth of ``claim_ids`` as an int array of 0/1, in that order."""
        return np.array([int(self.truth[c]) for c in claim_ids], dtype=int)


def _check(ok: bool, name: str, value: object, allowed: str) -> None:
    if not ok:
        raise ValidationError(f"{name} should be {allowed} but got {value!r}")


def _check_args(a: Mapping[str, Any]) -> None:
    for name, low in {"n_claims": 1, "n_sources": 1, "n_copiers": 0, "group_size": 1}.items():
        ok = isinstance(a[name], int | np.integer) and not isinstance(a[name], bool)
        _check(ok and a[name] >= low, name, a[name], f"an integer >= {low}")
    n, m = a["n_claims"], a["group_size"]
    _check(m <= n, "group_size", m, f"in [1, n_claims={n}]")
    for name in ("p_aligned", "p_favors", "density", "p_neutral", "p_copy", "p_signal"):
        _check(0.0 <= a[name] <= 1.0, name, a[name], "in [0, 1]")
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
        for field, v in (("sensitivity", k.sensitivity), ("specificity", k.specificity)):
            _check(0 < v < 1, f"kinds[{name!r}].{field}", v, "in the open interval (0, 1)")
        _check(k.sd >= 0, f"kinds[{name!r}].sd", k.sd, ">= 0")
    total = sum(k.share for k in specs.values())
    _check(abs(total - 1.0) <= 1e-6, "the sum of the kinds' shares", total, "1")
    return specs


def _side_codes(rng: np.random.Generator, n: int, p: float, n_sides: int) -> np.ndarray:
    """Side index per item (-1: none): a side with probability ``p``, uniform among sides."""
    return np.where(rng.random(n) < p, rng.integers(0, max(n_sides, 1), size=n), -1)


def _draw_sources(rng: np.random.Generator, a: Mapping) -> dict:
    specs, names, n = a["specs"], list(a["specs"]), a["n_sources"]
    shares = np.array([k.share for k in specs.values()])
    raw = shares / shares.sum() * n
    counts = np.floor(raw).astype(int)  # largest-remainder rounding: counts sum to n
    counts[np.argsort(counts - raw, kind="stable")[: n - counts.sum()]] += 1
    kind = rng.permutation(np.repeat(np.arange(len(names)), counts))
    mean = logit(np.array([k[1:3] for k in specs.values()]))[kind]  # columns: sens, spec
    sd = np.array([k.sd for k in specs.values()])[kind]
    lo = mean + sd[:, None] * rng.standard_normal((n, 2))
    side = _side_codes(rng, n, a["p_aligned"], len(a["sides"]))
    return {"kind": [names[i] for i in kind], "side": side, "l_sens": lo[:, 0], "l_spec": lo[:, 1]}


def _draw_truth(rng: np.random.Generator, lo: np.ndarray, group_size: int) -> np.ndarray:
    """Truths by consecutive blocks of ``group_size``: at most one true, P(c true) ∝ exp(lo_c)."""
    n_blocks = -(-lo.size // group_size)
    padded = np.full(n_blocks * group_size, -np.inf)  # -inf: weight 0 in the short last block
    padded[: lo.size] = lo
    # state 0 is "none true", of log-weight 0; state j: the j-th claim of the block is true
    logw = np.column_stack([np.zeros(n_blocks), padded.reshape(n_blocks, group_size)])
    cum = np.cumsum(softmax(logw, axis=1), axis=1)[:, :-1]
    state = (rng.random(n_blocks)[:, None] >= cum).sum(axis=1)
    return (state[:, None] == np.arange(1, group_size + 1)).ravel()[: lo.size]


def _draw_reports(rng: np.random.Generator, w: dict, a: Mapping) -> tuple:
    """Original reports as (claim index, source index, stance code, time fraction) arrays."""
    ci, si = np.nonzero(rng.random((w["truth"].size, w["side"].size)) < a["density"])
    neutral = rng.random(ci.size) < a["p_neutral"]
    fav, side = w["favors"][ci], w["side"][si]
    shift = a["side_effect"] * np.where((fav >= 0) & (side >= 0), np.where(fav == side, 1, -1), 0)
    p_if_true = expit(w["l_sens"][si] + shift)  # P(confirm | true)
    p_if_false = 1.0 - expit(w["l_spec"][si] - shift)  # P(confirm | false)
    confirm = rng.random(ci.size) < np.where(w["truth"][ci], p_if_true, p_if_false)
    return ci, si, np.where(neutral, 0, np.where(confirm, 1, -1)), rng.random(ci.size)


def _draw_world(rng: np.random.Generator, a: Mapping) -> dict:
    """Draw everything, in a fixed order (side codes: -1 for none; stances: 1, 0, -1)."""
    w = _draw_sources(rng, a)
    w["favors"] = _side_codes(rng, a["n_claims"], a["p_favors"], len(a["sides"]))
    n, n_kinds = a["n_claims"], len(a["effects"])
    has = rng.random(n) < (a["p_signal"] if n_kinds else 0.0)
    kind, direction = rng.integers(0, max(n_kinds, 1), size=n), rng.choice([-1, 1], size=n)
    effect = np.array([*a["effects"].values(), 0.0])[kind]  # 0.0: a stand-in when no kinds
    lo = logit(a["base_rate"]) + has * direction * effect
    # signals: claim index, kind index, direction, time fraction
    w["signals"] = np.flatnonzero(has), kind[has], direction[has], rng.random(n)[has]
    w["truth"] = _draw_truth(rng, lo, a["group_size"])
    w["reports"] = _draw_reports(rng, w, a)
    rows, n_copiers = np.flatnonzero(w["reports"][2] != 0), a["n_copiers"]
    r, k = np.nonzero(rng.random((rows.size, n_copiers)) < a["p_copy"] / max(n_copiers, 1))
    lag = rng.exponential(_COPY_LAG, size=r.size)
    # copies: original report row, copier index, time fraction
    w["copies"] = rows[r], k, np.minimum(w["reports"][3][rows[r]] + lag, 1.0)
    return w


def _ids(prefix: str, n: int, width: int) -> list[str]:
    return [f"{prefix}{i + 1:0{max(width, len(str(n)))}d}" for i in range(n)]


def _times(start: datetime, fractions: np.ndarray, days: float) -> list[datetime]:
    seconds = np.rint(np.asarray(fractions) * days * 86400.0).astype("int64")
    return [start + timedelta(seconds=int(s)) for s in seconds]


def _reports(w: dict, ids: dict, t0: datetime, days: float) -> tuple[Report, ...]:
    (ci, si, code, when), (row, k, cwhen) = w["reports"], w["copies"]
    stance, claim, src = _STANCES[code + 1], ids["claim"], ids["source"]
    out = [
        Report(claim[c], src[s], str(st), t)  # type: ignore[arg-type]  # a valid stance
        for c, s, st, t in zip(ci, si, stance, _times(t0, when, days), strict=True)
    ]
    out += [
        Report(claim[ci[r]], ids["copier"][j], str(stance[r]), t, derived_from=src[si[r]])  # type: ignore[arg-type]
        for r, j, t in zip(row, k, _times(t0, cwhen, days), strict=True)
    ]
    return tuple(sorted(out, key=lambda rep: (rep.time, rep.claim_id, rep.source_id)))


def _assemble_case(w: dict, a: Mapping) -> Case:
    t0, days, side = datetime.fromisoformat(a["start"]), a["days"], [None, *a["sides"]]
    ids = {"claim": _ids("c", a["n_claims"], 4), "source": _ids("s", a["n_sources"], 3)}
    ids["copier"] = _ids("agg", a["n_copiers"], 2)
    block = np.arange(a["n_claims"]) // a["group_size"]
    sizes, names = np.bincount(block), _ids("grp", block[-1] + 1, 3)
    groups = [names[b] if sizes[b] > 1 else None for b in block]  # a group of one: ungrouped
    claims = tuple(
        Claim(c, favors=side[f + 1], group=g, truth=bool(t))  # side[code + 1]: None for -1
        for c, f, g, t in zip(ids["claim"], w["favors"], groups, w["truth"], strict=True)
    )
    sources = tuple(
        Source(s, kind=k, side=side[d + 1]) for s, k, d in zip(ids["source"], w["kind"], w["side"])
    ) + tuple(Source(x, kind=COPIER_KIND) for x in ids["copier"])
    ci, ki, di, when = w["signals"]
    signals = tuple(
        Signal(g, ids["claim"][c], list(a["effects"])[k], int(d), time=t)
        for g, c, k, d, t in zip(_ids("g", ci.size, 4), ci, ki, di, _times(t0, when, days))
    )
    return Case(claims, sources, _reports(w, ids, t0, days), signals, name="simulated", config={})


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
    side_effect, base_rate : float
        Alignment effect :math:`a` (logit scale); base rate :math:`\\pi` in (0, 1).
    signal_kinds : mapping of str to float, optional
        Kind -> log-odds magnitude > 0; default :data:`DEFAULT_SIGNAL_KINDS`.
    group_size : int
        Size of the groups of competing claims, in [1, n_claims]; the last may be smaller.
    start, days : str, float
        ISO start and length in days (> 0) of the time window.
    random_seed : int, Generator or None
        The same seed gives the same case.
    return_truth : bool
        Also return the :class:`SimulationTruth`.

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
    """
    a = dict(locals(), sides=tuple(sides))  # every argument, by name
    a["effects"] = dict(DEFAULT_SIGNAL_KINDS if signal_kinds is None else signal_kinds)
    _check_args(a)
    a["specs"] = _check_kinds(kinds)
    world = _draw_world(np.random.default_rng(random_seed), a)
    case = _assemble_case(world, a)
    if not return_truth:
        return case
    sids, specs = [s.source_id for s in case.sources[:n_sources]], a["specs"]
    return case, SimulationTruth(
        truth=dict(zip(case.claim_ids, map(bool, world["truth"]), strict=True)),
        sensitivity=dict(zip(sids, map(float, expit(world["l_sens"])), strict=True)),
        specificity=dict(zip(sids, map(float, expit(world["l_spec"])), strict=True)),
        kind_means={k: (v.sensitivity, v.specificity) for k, v in specs.items()},
        kind_sd={k: v.sd for k, v in specs.items()},
        side_effect=float(side_effect),
        signal_effects=dict(a["effects"]),
        base_rate=float(base_rate),
    )


def _log_odds(case: Case, truth: SimulationTruth) -> np.ndarray:
    """Prior plus evidence log-odds per claim; copies and neutral reports carry no evidence."""
    index, sources = {c: i for i, c in enumerate(case.claim_ids)}, case.source_map()
    lo = np.full(len(index), logit(truth.base_rate))
    effects = truth.signal_effects
    for g in case.signals:
        _check(g.kind in effects, "a signal kind", g.kind, f"one of {sorted(effects)}")
        lo[index[g.claim_id]] += g.direction * effects[g.kind]
    for r in case.reports:
        if r.derived_from is not None or r.stance == "neutral":
            continue
        _check(r.source_id in truth.sensitivity, "a source", r.source_id, "in truth_params")
        side, fav = sources[r.source_id].side, case.claims[index[r.claim_id]].favors
        shift = truth.side_effect * (0 if not (side and fav) else 1 if side == fav else -1)
        x = logit(truth.sensitivity[r.source_id]) + shift  # P(confirm | true) = expit(x)
        y = logit(truth.specificity[r.source_id]) - shift  # P(deny | false) = expit(y)
        sign = 1 if r.stance == "confirm" else -1
        # log P(stance | true) - log P(stance | false), stably as log expit(u) = -logaddexp(0, -u)
        lo[index[r.claim_id]] += np.logaddexp(0, sign * y) - np.logaddexp(0, -sign * x)
    return lo


def oracle_posterior(case: Case, truth_params: SimulationTruth) -> dict[str, float]:
    """Bayes-oracle P(true | reports, signals), computed with the true parameters.

    Uses the true reliabilities, side effect, signal effects and base rate (``Claim.prior`` and
    ``Signal.likelihood_ratio`` are ignored); copies and neutral reports carry no evidence; the
    allowed states of a group (none true, or exactly one true) are enumerated exactly.

    Parameters
    ----------
    case : Case
        A case, normally from :func:`simulate_case`.
    truth_params : SimulationTruth
        The true parameters behind ``case``.

    Returns
    -------
    dict of str to float
        Claim id -> posterior probability that the claim is true.

    Raises
    ------
    ValidationError
        A report's source has no true reliability, or a signal's kind no true effect.

    Examples
    --------
    >>> case, truth = simulate_case(50, 10, density=0.5, random_seed=0, return_truth=True)
    >>> post = oracle_posterior(case, truth)
    >>> all(0.0 < p < 1.0 for p in post.values())
    True
    """
    lo = _log_odds(case, truth_params)
    post = expit(lo)
    members: dict[Any, list[int]] = {}
    for i, c in enumerate(case.claims):
        if c.group is not None:
            members.setdefault(c.group, []).append(i)
    for idx in members.values():
        # states: none true (log-weight 0) or exactly claim j true (log-weight lo[j])
        post[idx] = np.exp(lo[idx] - logsumexp(np.append(lo[idx], 0.0)))
    return dict(zip(case.claim_ids, map(float, post), strict=True))
