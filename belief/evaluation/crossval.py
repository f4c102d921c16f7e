"""Cross-validation of any method on resolved claims: :func:`evaluate` and its predictors.

:func:`fit_predictor` builds the ``fit_predict(train_case, test_ids)`` function that
:func:`cross_validate` calls, for every evaluation method:

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

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from belief.data.types import Case
from belief.engines import METHODS, posterior
from belief.evaluation.scoring import _check_number, _check_p, _FloatArray, score_all
from belief.exceptions import ValidationError

__all__ = ["EVAL_METHODS", "CVResult", "cross_validate", "evaluate", "fit_predictor", "subcase"]

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

    Returns :class:`CVResult` (``folds`` table, ``predictions``,
    ``summary()``) with ``attrs``-style timing in ``result.predictions.attrs["seconds"]``.

    Examples
    --------
    >>> from belief.evaluation.simulate import simulate_case
    >>> case = simulate_case(80, 8, density=0.4, random_seed=0)
    >>> res = evaluate(case, "exact", k=2, by="claim")
    >>> res.folds["fold"].tolist()
    [0, 1, 'pooled']
    """
    start = time.perf_counter()
    result = cross_validate(case, fit_predictor(method, **options), k=k, seed=seed, by=by)
    result.predictions.attrs["seconds"] = time.perf_counter() - start
    return result


# ---- K-fold cross-validation ------------------------------------------------------------
_METRICS = ("brier", "log_score", "ece", "accuracy", "auc", "slope", "intercept", "macro_f1")


@dataclasses.dataclass(frozen=True)
class CVResult:
    """Result of :func:`cross_validate`.

    ``folds``: a row per fold (``fold`` = 0, 1, ...), then ``fold == "pooled"``: the scores of
    all held-out predictions together (not a mean of per-fold scores, which overstates AUC and
    hides small folds); columns ``fold``, ``n`` and the :func:`score_all` metrics as nullable
    ``Float64`` (``<NA>``, never NaN, where undefined; :func:`missing_reasons` says why).
    ``predictions``: ``claim_id``, ``fold``, ``p_true``, ``truth`` per resolved claim.
    """

    folds: pd.DataFrame
    predictions: pd.DataFrame
    n_bins: int = 10

    def summary(self) -> dict[str, float]:
        """:func:`score_all` on the predictions of all folds pooled."""
        return score_all(self.predictions["truth"], self.predictions["p_true"], self.n_bins)


def _assign_folds(claims: list[Any], k: int, seed: int, by: str) -> dict[str, int]:
    """Claim id -> fold; units (groups or claims) shuffled, then each put in the smallest fold."""
    units: dict[tuple[str, str], list[str]] = {}
    for c in claims:
        key = ("group", c.group) if by == "group" and c.group is not None else ("claim", c.claim_id)
        units.setdefault(key, []).append(c.claim_id)
    if k > len(units):
        raise ValidationError(
            f"k={k} exceeds the {len(units)} folding units ({by}s) among {len(claims)} "
            f"resolved claims; allowed: 2 <= k <= {len(units)}"
        )
    order = np.random.default_rng(seed).permutation(len(units))
    members = sorted((list(units.values())[i] for i in order), key=len, reverse=True)  # stable
    sizes, out = [0] * k, {}
    for ids in members:
        fold = int(np.argmin(sizes))
        sizes[fold] += len(ids)
        out.update(dict.fromkeys(ids, fold))
    return out


def _as_predictions(result: Any, test_ids: list[str], fold: int) -> _FloatArray:
    if isinstance(result, pd.DataFrame) and {"claim_id", "p_true"} <= set(result.columns):
        result = result.set_index("claim_id")["p_true"]
    if not isinstance(result, Mapping | pd.Series):
        raise ValidationError(
            "fit_predict must return a mapping, Series or posterior DataFrame "
            f"claim_id -> p_true, got {type(result).__name__}"
        )
    if missing := [cid for cid in test_ids if cid not in result]:
        raise ValidationError(
            f"fit_predict returned no p_true for {len(missing)} held-out claims in fold {fold} "
            f"(first: {missing[0]!r})"
        )
    return _check_p([result[cid] for cid in test_ids], f"p_true from fit_predict (fold {fold})")


def _fold_table(pred: pd.DataFrame, k: int, n_bins: int) -> pd.DataFrame:
    rows = [{"fold": f, **score_all(d.truth, d.p_true, n_bins)} for f, d in pred.groupby("fold")]
    rows.append({"fold": "pooled", **score_all(pred.truth, pred.p_true, n_bins)})
    table = pd.DataFrame(rows, columns=["fold", "n", *_METRICS])
    return table.astype({"fold": object, "n": int, **dict.fromkeys(_METRICS, "Float64")})


def _hide(case: Case, claim_ids: list[str]) -> Case:
    """The case with ``truth=None`` for ``claim_ids``."""
    held = set(claim_ids)
    claims = [dataclasses.replace(c, truth=None) if c.claim_id in held else c for c in case.claims]
    return case.replace(claims=tuple(claims))


def cross_validate(
    case: Case,
    fit_predict: Callable[[Case, list[str]], Any],
    k: int = 5,
    seed: int = 0,
    by: str = "group",
    *,
    n_bins: int = 10,
) -> CVResult:
    """K-fold cross-validation over the resolved claims of a case.

    Only resolved claims (``truth`` True/False) are put in folds and scored. Units (a
    ``group`` with ``by="group"``, else a claim; ungrouped claims are their own unit) are
    shuffled with ``seed``, then each goes to the fold with fewest claims: deterministic and
    balanced. ``fit_predict(train_case, test_claim_ids)`` gets the case with ``truth=None`` on
    the held-out claims and returns ``p_true`` per held-out id (extra ids ignored) as a
    mapping, Series, or DataFrame with ``claim_id`` and ``p_true`` columns.

    Examples
    --------
    >>> from belief.data.types import Case, Claim
    >>> claims = tuple(Claim(f"c{i}", truth=i % 2 == 0) for i in range(6))
    >>> res = cross_validate(Case(claims), lambda train, ids: dict.fromkeys(ids, 0.5), k=3)
    >>> res.folds[["fold", "n", "brier"]]
         fold  n  brier
    0       0  2   0.25
    1       1  2   0.25
    2       2  2   0.25
    3  pooled  6   0.25
    """
    k = int(_check_number(k, "k", 2))
    n_bins = int(_check_number(n_bins, "n_bins", 1))
    if by not in ("claim", "group"):
        raise ValidationError(f"by must be one of ['claim', 'group'], got {by!r}")
    resolved = [c for c in case.claims if c.truth is not None]
    if not resolved:
        raise ValidationError("case has no resolved claims (truth True/False) to cross-validate")
    fold_of = _assign_folds(resolved, k, seed, by)
    p_true: dict[str, float] = {}
    for fold in range(k):
        test_ids = [c.claim_id for c in resolved if fold_of[c.claim_id] == fold]
        preds = _as_predictions(fit_predict(_hide(case, test_ids), test_ids), test_ids, fold)
        p_true.update(zip(test_ids, preds, strict=True))
    rows = [(c.claim_id, fold_of[c.claim_id], p_true[c.claim_id], c.truth) for c in resolved]
    pred = pd.DataFrame(rows, columns=["claim_id", "fold", "p_true", "truth"])
    return CVResult(_fold_table(pred, k, n_bins), pred, n_bins)
