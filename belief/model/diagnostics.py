"""Diagnostics of a fitted joint model: convergence checks and a posterior predictive check.

Both work on the ArviZ ``InferenceData`` that :class:`belief.model.estimator.ClaimBeliefModel`
stores (``idata_``), so they also work on a model loaded from disk.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import expit

from belief.exceptions import ConvergenceWarning, ValidationError
from belief.model.convergence import summary

_PPC_COLUMNS = [
    "group",
    "statistic",
    "n_reports",
    "observed",
    "predicted",
    "low",
    "high",
    "p_value",
]


def _labels(da) -> list[str]:
    """``name[i, j]`` per element of one variable (its dims other than chain and draw)."""
    dims = [d for d in da.dims if d not in ("chain", "draw")]
    if not dims:
        return [str(da.name)]
    index = pd.MultiIndex.from_product([da[d].values for d in dims])
    return [f"{da.name}[{', '.join(map(str, idx))}]" for idx in index]


def convergence_table(idata, var_names: Sequence[str]) -> pd.DataFrame:
    """R-hat, bulk and tail ESS of every element of ``var_names``.

    Rank-normalized split R-hat and bulk / tail ESS as ArviZ computes them, for all the
    elements at once (:mod:`belief.model.convergence`).

    Parameters
    ----------
    idata : arviz.InferenceData
        Posterior draws (several chains for R-hat).
    var_names : sequence of str
        Posterior variables to check.

    Returns
    -------
    pandas.DataFrame
        Columns ``param``, ``rhat``, ``ess_bulk``, ``ess_tail`` (``rhat`` is NaN with one chain).

    Examples
    --------
    >>> import numpy as np, arviz as az
    >>> idata = az.from_dict(posterior={"a": np.random.default_rng(0).normal(size=(2, 100))})
    >>> convergence_table(idata, ["a"]).columns.tolist()
    ['param', 'rhat', 'ess_bulk', 'ess_tail']
    """
    post = idata.posterior
    labels: list[str] = []
    blocks = []
    for name in var_names:
        da = post[name].transpose("chain", "draw", ...)
        labels += _labels(da)
        blocks.append(da.values.reshape(da.sizes["chain"], da.sizes["draw"], -1))
    x = np.concatenate(blocks, axis=2).astype(float)
    n_chains = x.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rhat, bulk, tail = summary(x)
        if n_chains < 2:
            rhat = np.full(x.shape[2], np.nan)
    return pd.DataFrame({"param": labels, "rhat": rhat, "ess_bulk": bulk, "ess_tail": tail})


def check_convergence(
    idata,
    var_names: Sequence[str],
    *,
    rhat_max: float = 1.01,
    ess_min: float | None = None,
    warn: bool = True,
) -> pd.DataFrame:
    """Check R-hat, ESS and divergences; warn, naming the parameters that fail.

    Parameters
    ----------
    idata : arviz.InferenceData
        MCMC output with ``sample_stats.diverging``.
    var_names : sequence of str
        Posterior variables to check.
    rhat_max : float
        Largest acceptable R-hat.
    ess_min : float, optional
        Smallest acceptable bulk and tail ESS; default 100 per chain.
    warn : bool
        Emit a :class:`~belief.exceptions.ConvergenceWarning` when a check fails.

    Returns
    -------
    pandas.DataFrame
        :func:`convergence_table` plus a boolean column ``ok``; ``attrs["divergences"]`` holds
        the number of divergent transitions.

    Examples
    --------
    >>> import numpy as np, arviz as az, warnings
    >>> draws = np.random.default_rng(0).normal(size=(2, 500)) + [[0.0], [3.0]]
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     table = check_convergence(az.from_dict(posterior={"a": draws}), ["a"])
    >>> table["ok"].tolist(), "R-hat > 1.01 for a" in str(caught[-1].message)
    ([False], True)
    """
    table = convergence_table(idata, var_names)
    if ess_min is None:
        ess_min = 100.0 * idata.posterior.sizes["chain"]
    bad_rhat = table["rhat"] > rhat_max
    bad_ess = (table["ess_bulk"] < ess_min) | (table["ess_tail"] < ess_min)
    table["ok"] = ~(bad_rhat | bad_ess)
    stats = getattr(idata, "sample_stats", None)
    n_div = int(stats["diverging"].sum()) if stats is not None and "diverging" in stats else 0
    table.attrs["divergences"] = n_div
    problems = []
    if bad_rhat.any():
        problems.append(f"R-hat > {rhat_max} for {_names(table.loc[bad_rhat, 'param'])}")
    if bad_ess.any():
        problems.append(f"ESS < {ess_min:g} for {_names(table.loc[bad_ess, 'param'])}")
    if n_div:
        problems.append(f"{n_div} divergent transition(s) (raise target_accept)")
    if warn and problems:
        warnings.warn(
            "Sampling diagnostics failed: " + "; ".join(problems), ConvergenceWarning, stacklevel=3
        )
    return table


#: correlation of per-chain P(true) below which two chains are in mirror-image solutions
MIRROR_CORRELATION = -0.5


def _chain_list(chains) -> str:
    chains = list(chains)
    return ("chain " if len(chains) == 1 else "chains ") + ", ".join(map(str, chains))


def check_orientation(idata, *, warn: bool = True) -> pd.DataFrame:
    """Detect chains that landed in mirror-image solutions (label switching).

    Without resolved claims the joint model's likelihood is unchanged when every claim is
    flipped, the base rate becomes 1 - base rate and every source's sensitivity and specificity
    become 1 - specificity and 1 - sensitivity ("every source a liar"). The kind-skill constraint
    (:mod:`belief.model.graph`) keeps the model out of that mirror, but a fit saved before it,
    a model with ``constrain_skill=False`` or a case whose kind priors disagree can still split.
    Chains are compared by their mean P(true) per claim: the chains whose means are correlated
    below :data:`MIRROR_CORRELATION` with the main group are mirrored. The main group is the
    larger one; between groups of equal size, the one whose sources are on average better than
    chance (mean logit sensitivity + logit specificity).

    Parameters
    ----------
    idata : arviz.InferenceData
        Posterior with ``p_true`` (and, when present, ``base_rate``, ``logit_sensitivity``,
        ``logit_specificity``).
    warn : bool
        Emit a :class:`~belief.exceptions.ConvergenceWarning` naming the mirrored chains.

    Returns
    -------
    pandas.DataFrame
        Per chain: ``chain``, ``base_rate`` (mean), ``skill`` (mean over sources of logit
        sensitivity + logit specificity), ``correlation`` (of its mean P(true) per claim with the
        main group's) and ``mirrored``; ``attrs["mirrored_chains"]`` lists the mirrored chains.
        Empty with one chain or fewer than 3 claims.

    Examples
    --------
    >>> import numpy as np, arviz as az, warnings
    >>> p = np.random.default_rng(0).uniform(0.05, 0.95, size=(1, 100, 8)).repeat(3, axis=0)
    >>> p[2] = 1 - p[2]  # chain 2 flipped every claim
    >>> idata = az.from_dict(posterior={"p_true": p})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     table = check_orientation(idata)
    >>> table.attrs["mirrored_chains"], "mirror-image" in str(caught[-1].message)
    ([2], True)
    """
    post = idata.posterior
    columns = ["chain", "base_rate", "skill", "correlation", "mirrored"]
    n_chains = post.sizes["chain"]
    claim_dim = [d for d in post["p_true"].dims if d not in ("chain", "draw")]
    means = post["p_true"].mean("draw").values.reshape(n_chains, -1)
    table = pd.DataFrame(columns=columns)
    table.attrs["mirrored_chains"] = []
    if n_chains < 2 or not claim_dim or means.shape[1] < 3:
        return table
    base = (
        post["base_rate"].mean("draw").values if "base_rate" in post else np.full(n_chains, np.nan)
    )
    if "logit_sensitivity" in post and "logit_specificity" in post:
        skill = sum(
            post[n].mean([d for d in post[n].dims if d != "chain"]).values
            for n in ("logit_sensitivity", "logit_specificity")
        )
    else:
        skill = np.full(n_chains, np.nan)
    centred = means - means.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(centred, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (centred @ centred.T) / np.outer(norm, norm)
    side = np.where(np.nan_to_num(corr[0]) < MIRROR_CORRELATION, 1, 0)  # 0: with chain 0
    sizes = np.bincount(side, minlength=2)
    if sizes[0] != sizes[1]:
        main = int(np.argmax(sizes))
    else:
        main = int(np.nan_to_num(skill[side == 1].mean()) > np.nan_to_num(skill[side == 0].mean()))
    reference = centred[side == main].mean(axis=0)
    ref_norm = np.linalg.norm(reference)
    with np.errstate(invalid="ignore", divide="ignore"):
        to_main = centred @ reference / (norm * ref_norm)
    mirrored = np.nan_to_num(to_main) < MIRROR_CORRELATION
    chains = post["chain"].values
    table = pd.DataFrame(
        {"chain": chains, "base_rate": base, "skill": skill, "correlation": to_main,
         "mirrored": mirrored}
    )  # fmt: skip
    table.attrs["mirrored_chains"] = [c.item() for c in chains[mirrored]]
    if warn and mirrored.any():
        warnings.warn(_mirror_message(table), ConvergenceWarning, stacklevel=3)
    return table


def _mirror_message(table: pd.DataFrame) -> str:
    bad, good = table[table["mirrored"]], table[~table["mirrored"]]
    parts = [f"per-chain P(true) correlation {bad['correlation'].mean():.2f}"]
    if table["base_rate"].notna().all():
        parts.append(
            f"base rate {bad['base_rate'].mean():.2f} against {good['base_rate'].mean():.2f}"
        )
    if table["skill"].notna().all():
        parts.append(
            f"mean source skill (logit sensitivity + logit specificity) "
            f"{bad['skill'].mean():.2f} against {good['skill'].mean():.2f}"
        )
    return (
        "Chains landed in mirror-image solutions (labels switched): "
        f"{_chain_list(bad['chain'])} against {_chain_list(good['chain'])} ("
        + "; ".join(parts)
        + "). In the mirror every claim is flipped and every source is worse than chance; "
        "pooled, the chains pull every claim toward 0.5, so do not use this fit. Refit with "
        "constrain_skill=True (the default), another random_seed or more tuning, or give the "
        "model an anchor: a few claims with known truth or sources with their own priors."
    )


def _names(params: pd.Series, limit: int = 8) -> str:
    names = list(params)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _stacked(idata, name: str, draws: np.ndarray) -> np.ndarray:
    values = idata.posterior[name].stack(_s=("chain", "draw")).transpose("_s", ...).values
    return values[draws]


def _sample_truth(p_true: np.ndarray, group_index: np.ndarray, rng) -> np.ndarray:
    """Draw joint truth states per group (at most one true) from per-claim P(true)."""
    n_draws, n_claims = p_true.shape
    padded = np.concatenate([p_true, np.zeros((n_draws, 1))], axis=1)[:, group_index]
    upper = np.cumsum(padded, axis=2)
    u = rng.random((n_draws, group_index.shape[0], 1))
    hit = (u < upper) & (u >= upper - padded) & (padded > 0)
    truth = np.zeros((n_draws, n_claims + 1), dtype=bool)
    d, g, k = np.nonzero(hit)
    truth[d, group_index[g, k]] = True
    return truth[:, :n_claims]


def stance_check(idata, *, by: str = "kind", n_draws: int = 500, random_seed=None):
    """Posterior predictive check of report stances, per kind or source.

    For each posterior draw the truth of every claim is drawn from its posterior given that
    draw's parameters (jointly within a group), then every full-weight informative report is
    replicated. Two statistics of the observed stances are compared with their replications:
    ``confirm_share`` (share of confirms) and ``agreement`` (share of pairs of reports on the
    same claim that agree; it tests that reports are independent given the truth).

    Parameters
    ----------
    idata : arviz.InferenceData
        ``ClaimBeliefModel.idata_`` (needs the ``constant_data`` group written by ``fit``).
    by : {"kind", "source"}
        Grouping of the reports; a group ``"all"`` is always added.
    n_draws : int
        Number of posterior draws used (with replacement when fewer are stored).
    random_seed : int, optional
        Seed of the replication.

    Returns
    -------
    pandas.DataFrame
        Columns ``group``, ``statistic``, ``n_reports``, ``observed``, ``predicted``
        (replicated mean), ``low``/``high`` (90% predictive interval) and ``p_value``
        (two-sided posterior predictive p-value; small values flag misfit). Statistics that
        are undefined for a group (no pairs) are NaN.

    Examples
    --------
    >>> stance_check(model.idata_, by="kind", random_seed=0)  # doctest: +SKIP
      group      statistic  n_reports  observed  predicted   low  high  p_value
    0   all  confirm_share         13      0.77       0.58  0.38  0.77    0.29
    ...
    """
    if by not in ("kind", "source"):
        raise ValidationError(f"by: expected one of ['kind', 'source'] but got {by!r}")
    cd = idata.constant_data
    rng = np.random.default_rng(random_seed)
    total = idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"]
    draws = rng.choice(total, size=n_draws, replace=total < n_draws)
    keep = ~cd["r_copy"].values.astype(bool)
    r_claim, r_source = cd["r_claim"].values[keep], cd["r_source"].values[keep]
    align = cd["r_align"].values[keep]
    confirm = cd["r_confirm"].values[keep].astype(bool)
    a = _stacked(idata, "alignment", draws)[:, None]
    lam1 = _stacked(idata, "logit_sensitivity", draws)[:, r_source] + a * align
    lam0 = _stacked(idata, "logit_specificity", draws)[:, r_source] - a * align
    truth = _sample_truth(_stacked(idata, "p_true", draws), cd["group_index"].values, rng)
    p_conf = np.where(truth[:, r_claim], expit(lam1), 1.0 - expit(lam0))
    rep = rng.random(p_conf.shape) < p_conf
    labels = cd["source_kind"].values if by == "kind" else idata.posterior["source"].values
    key = np.asarray(labels)[r_source].astype(str)
    rows, n_claims = [], idata.posterior.sizes["claim"]
    for g in ["all", *sorted(set(key))]:
        m = np.ones(key.size, dtype=bool) if g == "all" else key == g
        obs_share, rep_share = confirm[m].mean(keepdims=True), rep[:, m].mean(axis=1)
        obs_agree = _agreement(confirm[None, m], r_claim[m], n_claims)
        rep_agree = _agreement(rep[:, m], r_claim[m], n_claims)
        rows.append(_ppc_row(g, "confirm_share", int(m.sum()), obs_share[0], rep_share))
        rows.append(_ppc_row(g, "agreement", int(m.sum()), obs_agree[0], rep_agree))
    return pd.DataFrame(rows, columns=_PPC_COLUMNS)


def _agreement(stances: np.ndarray, claim: np.ndarray, n_claims: int) -> np.ndarray:
    """Per row of ``stances`` (draws x reports): share of same-claim report pairs that agree."""
    onehot = np.zeros((claim.size, n_claims))
    onehot[np.arange(claim.size), claim] = 1.0
    n = onehot.sum(axis=0)
    k = stances.astype(float) @ onehot  # confirms per claim
    pairs = (n * (n - 1) / 2).sum()
    if pairs == 0:
        return np.full(stances.shape[0], np.nan)
    agree = k * (k - 1) / 2 + (n - k) * (n - k - 1) / 2
    return agree.sum(axis=1) / pairs


def _ppc_row(label: str, stat: str, n: int, obs: float, rep: np.ndarray) -> tuple:
    if n == 0 or np.isnan(obs):
        return (label, stat, n, np.nan, np.nan, np.nan, np.nan, np.nan)
    p = min(1.0, 2.0 * min((rep >= obs).mean(), (rep <= obs).mean()))
    lo, hi = np.quantile(rep, [0.05, 0.95])
    return (label, stat, n, float(obs), float(rep.mean()), float(lo), float(hi), float(p))
