"""Drawing a simulated world and assembling it into a :class:`~belief.data.types.Case`.

Private to :mod:`belief.evaluation`: :func:`belief.evaluation.simulate.simulate_case` validates
its arguments into the mapping ``a`` and calls :func:`draw_world` then :func:`assemble_case`.
The generative story is told in the docstring of :mod:`belief.evaluation.simulate`. Every draw
happens in a fixed order, and the unattributed repeats are drawn last (only when some copy
propensity is positive), so the cases drawn without them are unchanged by their addition.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from scipy.special import expit, logit, softmax

from belief.data.types import Case, Claim, Report, Signal, Source
from belief.exceptions import ValidationError

COPIER_KIND = "aggregator"  # kind of the copier sources (public as simulate.COPIER_KIND)
_COPY_LAG = 0.01  # mean copy lag, as a fraction of the time window
_STANCES = np.array(["deny", "neutral", "confirm"])  # indexed by stance code (-1, 0, 1) + 1


def check(ok: bool, name: str, value: object, allowed: str) -> None:
    """Raise :class:`ValidationError` ``"{name} should be {allowed} but got {value!r}"``."""
    if not ok:
        raise ValidationError(f"{name} should be {allowed} but got {value!r}")


def _side_codes(rng: np.random.Generator, n: int, p: float, n_sides: int) -> np.ndarray:
    """Side index per item (-1: none): a side with probability ``p``, uniform among sides."""
    return np.where(rng.random(n) < p, rng.integers(0, max(n_sides, 1), size=n), -1)


def _draw_sources(rng: np.random.Generator, a: Mapping[str, Any]) -> dict[str, Any]:
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
    rho = np.array([a["propensity"].get(names[i], 0.0) for i in kind], dtype=float)
    return {
        "kind": [names[i] for i in kind],
        "side": side,
        "l_sens": lo[:, 0],
        "l_spec": lo[:, 1],
        "rho": rho,  # copy propensity per source (no draw: the stream is unchanged)
    }


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


def _draw_reports(rng: np.random.Generator, w: dict[str, Any], a: Mapping[str, Any]) -> tuple:
    """Original reports as (claim index, source index, stance code, time fraction) arrays."""
    ci, si = np.nonzero(rng.random((w["truth"].size, w["side"].size)) < a["density"])
    neutral = rng.random(ci.size) < a["p_neutral"]
    fav, side = w["favors"][ci], w["side"][si]
    shift = a["side_effect"] * np.where((fav >= 0) & (side >= 0), np.where(fav == side, 1, -1), 0)
    p_if_true = expit(w["l_sens"][si] + shift)  # P(confirm | true)
    p_if_false = 1.0 - expit(w["l_spec"][si] - shift)  # P(confirm | false)
    confirm = rng.random(ci.size) < np.where(w["truth"][ci], p_if_true, p_if_false)
    return ci, si, np.where(neutral, 0, np.where(confirm, 1, -1)), rng.random(ci.size)


def _seconds(fractions: np.ndarray, days: float) -> np.ndarray:
    """Time fractions of the window -> whole seconds from its start (the case's clock)."""
    return np.rint(np.asarray(fractions) * days * 86400.0).astype("int64")


def _draw_repeats(rng: np.random.Generator, w: dict[str, Any], a: Mapping[str, Any]) -> None:
    """Turn reports into unattributed repeats; sets ``w["repeats"] = (origin row, cited)``.

    In the order of the case's clock (seconds, then source index: the order of the case's
    reports), an informative report of source ``s`` with at least one earlier informative report
    on its claim is, with probability ``rho_s``, a repeat of one of them (uniform; repeats
    included) and takes its stance; a repeat is cited with probability ``p_cited``.
    """
    ci, si, code, when = w["reports"]
    u_repeat, u_pick, u_cite = rng.random((3, ci.size))
    rho = w["rho"][si]
    origin = np.full(ci.size, -1)
    code = code.copy()
    order = np.lexsort((si, _seconds(when, a["days"]), ci))  # by claim, then the case's order
    claim_of, last = ci.tolist(), -1
    pool: list[int] = []  # rows of the earlier informative reports on the current claim
    for r in order.tolist():  # sequential: a repeat may repeat an earlier repeat
        if claim_of[r] != last:
            pool, last = [], claim_of[r]
        if code[r] == 0:
            continue  # neutral reports are neither repeated nor repeats
        if pool and u_repeat[r] < rho[r]:
            origin[r] = pool[int(u_pick[r] * len(pool))]
            code[r] = code[origin[r]]
        pool.append(r)
    w["reports"] = ci, si, code, when
    w["repeats"] = origin, (origin >= 0) & (u_cite < a["p_cited"])


def draw_world(rng: np.random.Generator, a: Mapping[str, Any]) -> dict[str, Any]:
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
    if w["rho"].any():  # drawn last, and only then: worlds without repeats are unchanged
        _draw_repeats(rng, w, a)
    else:
        n = w["reports"][0].size
        w["repeats"] = np.full(n, -1), np.zeros(n, dtype=bool)
    return w


def _ids(prefix: str, n: int, width: int) -> list[str]:
    return [f"{prefix}{i + 1:0{max(width, len(str(n)))}d}" for i in range(n)]


def _times(start: datetime, fractions: np.ndarray, days: float) -> list[datetime]:
    return [start + timedelta(seconds=int(s)) for s in _seconds(fractions, days)]


def _reports(w: dict[str, Any], ids: dict[str, list[str]], t0: datetime, days: float) -> tuple:
    (ci, si, code, when), (row, k, cwhen) = w["reports"], w["copies"]
    stance, claim, src = _STANCES[code + 1], ids["claim"], ids["source"]
    origin, cited = w["repeats"]
    cites = [src[si[o]] if o >= 0 and cited[i] else None for i, o in enumerate(origin.tolist())]
    out = [
        Report(claim[c], src[s], str(st), t, derived_from=d)  # type: ignore[arg-type]  # valid
        for c, s, st, t, d in zip(ci, si, stance, _times(t0, when, days), cites, strict=True)
    ]
    out += [
        Report(claim[ci[r]], ids["copier"][j], str(stance[r]), t, derived_from=src[si[r]])  # type: ignore[arg-type]
        for r, j, t in zip(row, k, _times(t0, cwhen, days), strict=True)
    ]
    return tuple(sorted(out, key=lambda rep: (rep.time, rep.claim_id, rep.source_id)))


def assemble_case(w: dict[str, Any], a: Mapping[str, Any]) -> tuple[Case, dict[str, Any]]:
    """The case of world ``w``, and the ids it gave (``claim``, ``source``, ``copier``)."""
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
    case = Case(claims, sources, _reports(w, ids, t0, days), signals, name="simulated", config={})
    return case, ids


def repeats_by_report(w: dict[str, Any], ids: dict[str, list[str]]) -> dict[tuple, str]:
    """(claim id, source id) of every repeat -> the source id of the report it repeats."""
    ci, si = w["reports"][:2]
    origin = w["repeats"][0]
    claim, src = ids["claim"], ids["source"]
    return {
        (claim[ci[r]], src[si[r]]): src[si[origin[r]]] for r in np.flatnonzero(origin >= 0).tolist()
    }
