"""Cross-validation of any method on resolved claims: :func:`evaluate` and its predictors.

:func:`fit_predictor` builds the ``fit_predict(train_case, test_ids)`` function that
:func:`belief.evaluation.scoring.cross_validate` calls, for every evaluation method:

========================  ==================================================================
``exact``                 exact engine, the case's own priors (truths unused)
``fast``                  vectorized engine, the case's own priors
``calibrated``            calibrate by EM on the training claims (held-out claims and their
                          reports removed), then the exact engine on the held-out claims
``calibrated-bayes``      the same, calibrating with the joint model (``method="bayes"``)
``em``                    EM on the whole case with held-out truths hidden (transductive);
                          its plug-in posterior (uses the side-alignment effect)
``map/advi/mcmc``         the joint PyMC model on the whole case (truths unused)
========================  ==================================================================
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from belief.data.types import Case
from belief.engines import METHODS, posterior
from belief.exceptions import ValidationError

__all__ = ["EVAL_METHODS", "evaluate", "fit_predictor", "subcase"]

EVAL_METHODS = ("exact", "fast", "calibrated", "calibrated-bayes", "em", "map", "advi", "mcmc")
FitPredict = Callable[[Case, list[str]], Any]


def subcase(case: Case, claim_ids: Iterable[str]) -> Case:
    """The claims ``claim_ids`` of ``case`` with their reports and signals (all sources kept).

    Examples
    --------
    >>> from belief.data.types import Claim, Report
    >>> case = Case((Claim("a"), Claim("b")), reports=(Report("a", "s", "confirm"),))
    >>> sub = subcase(case, ["b"])
    >>> sub.claim_ids, len(sub.reports)
    (['b'], 0)
    """
    keep = set(claim_ids)
    return case.replace(
        claims=tuple(c for c in case.claims if c.claim_id in keep),
        reports=tuple(r for r in case.reports if r.claim_id in keep),
        signals=tuple(s for s in case.signals if s.claim_id in keep),
    )


def _cached(predict_all: Callable[[Case], pd.DataFrame]) -> FitPredict:
    """A fit_predict that ignores truths: one run on the whole case serves every fold."""
    memo: dict[int, pd.Series] = {}

    def fit_predict(train: Case, test_ids: list[str]) -> pd.Series:
        key = id(train.reports)  # folds share the reports tuple; only truths differ
        if key not in memo:
            memo.clear()
            memo[key] = predict_all(train).set_index("claim_id")["p_true"]
        return memo[key].loc[test_ids]

    return fit_predict


def fit_predictor(method: str, **options: Any) -> FitPredict:
    """The ``fit_predict(train_case, test_ids)`` of an evaluation method (see module table).

    ``options``: ``sampler_config`` (joint model), ``max_iter`` (EM).

    Examples
    --------
    >>> from belief.evaluation.simulate import simulate_case
    >>> case = simulate_case(60, 8, density=0.4, random_seed=0)
    >>> p = fit_predictor("calibrated")(case, ["c0001", "c0002"])
    >>> sorted(p.index)
    ['c0001', 'c0002']
    """
    if method not in EVAL_METHODS:
        raise ValidationError(f"--method: expected one of {list(EVAL_METHODS)} but got {method!r}")
    sampler = options.get("sampler_config")
    if method in METHODS:  # engines that ignore truths: one run serves every fold
        joint = {"sampler_config": sampler} if method in ("mcmc", "advi", "map") else {}
        return _cached(lambda case: posterior(case, method, **joint))
    if method == "em":
        from belief.calibration.calibrate import fit_em

        def em(train: Case, test_ids: list[str]) -> pd.Series:
            res = fit_em(train, max_iter=options.get("max_iter", 500))
            return res.posterior.set_index("claim_id")["p_true"].loc[test_ids]

        return em
    return _calibrated("bayes" if method == "calibrated-bayes" else "em", sampler)


def _calibrated(how: str, sampler: Any) -> FitPredict:
    from belief.calibration.calibrate import calibrate
    from belief.engines.exact import infer_exact as infer
    from belief.priors.file import apply_priors

    def fit_predict(train: Case, test_ids: list[str]) -> pd.Series:
        held = set(test_ids)
        fit_case = subcase(train, [c for c in train.claim_ids if c not in held])
        priors = calibrate(fit_case, how, sampler_config=sampler)
        test = subcase(train, test_ids)
        config = apply_priors(test, priors)
        return infer(test, config).posterior.set_index("claim_id")["p_true"]

    return fit_predict


def evaluate(
    case: Case, method: str = "calibrated", k: int = 5, seed: int = 0, by: str = "group", **options
):
    """K-fold cross-validated scores of ``method`` on the resolved claims of ``case``.

    Returns :class:`belief.evaluation.scoring.CVResult` (``folds`` table, ``predictions``,
    ``summary()``) with ``attrs``-style timing in ``result.predictions.attrs["seconds"]``.

    Examples
    --------
    >>> from belief.evaluation.simulate import simulate_case
    >>> case = simulate_case(80, 8, density=0.4, random_seed=0)
    >>> res = evaluate(case, "exact", k=2, by="claim")
    >>> res.folds["fold"].tolist()
    [0, 1, 'pooled']
    """
    from belief.evaluation.scoring import cross_validate

    start = time.perf_counter()
    result = cross_validate(case, fit_predictor(method, **options), k=k, seed=seed, by=by)
    result.predictions.attrs["seconds"] = time.perf_counter() - start
    return result
