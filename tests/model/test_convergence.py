"""The vectorized R-hat and ESS (``belief.model.convergence``) against ArviZ, element by element.

ArviZ's ``az.rhat(method="rank")`` and ``az.ess(method="bulk" | "tail")`` are the oracle: the
same estimators computed one parameter at a time with independent code.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

from belief.model.convergence import ess_bulk, ess_tail, rank_rhat


def ar1(rng, shape, phi):
    """AR(1) chains (chain, draw, n) with autocorrelation ``phi`` (a slowly mixing sampler)."""
    x = np.empty(shape)
    x[:, 0] = rng.normal(size=(shape[0], shape[2]))
    for t in range(1, shape[1]):
        x[:, t] = phi * x[:, t - 1] + np.sqrt(1 - phi**2) * rng.normal(size=(shape[0], shape[2]))
    return x


def worlds():
    rng = np.random.default_rng(11)
    out = {
        "iid": rng.normal(size=(4, 200, 6)),
        "ar1 0.9": ar1(rng, (4, 301, 5), 0.9),  # odd number of draws: the middle one is dropped
        "ar1 0.99": ar1(rng, (2, 120, 4), 0.99),  # short: Geyer's loop hits its limit or stops
        "antithetic": ar1(rng, (3, 100, 4), -0.7),
        "skewed": np.exp(2 * rng.normal(size=(4, 150, 4))),
        "probabilities": 1 / (1 + np.exp(-ar1(rng, (4, 200, 4), 0.5) * 4)),
        "ties": np.round(rng.normal(size=(4, 100, 4)), 1),
        "one chain": rng.normal(size=(1, 200, 3)),
    }
    shifted = rng.normal(size=(4, 200, 3))
    shifted[1] += np.array([0.0, 0.5, 3.0])  # one chain elsewhere: R-hat large
    out["shifted"] = shifted
    const = rng.normal(size=(4, 100, 3))
    const[..., 1] = 0.25  # a constant parameter
    out["constant"] = const
    return out


@pytest.mark.parametrize("name", list(worlds()))
def test_matches_arviz(name):
    x = worlds()[name]
    data = az.from_dict(posterior={"v": x}).posterior
    with np.errstate(all="ignore"):
        want = {
            "rhat": az.rhat(data)["v"].values,
            "bulk": az.ess(data, method="bulk")["v"].values,
            "tail": az.ess(data, method="tail")["v"].values,
        }
    got = {"rhat": rank_rhat(x), "bulk": ess_bulk(x), "tail": ess_tail(x)}
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-9, atol=1e-9, err_msg=key)


def test_flags_what_it_should():
    x = worlds()["shifted"]
    assert rank_rhat(x)[2] > 1.3 and rank_rhat(x)[0] < 1.01
    slow = worlds()["ar1 0.99"]
    assert (ess_bulk(slow) < 50).all() and (ess_bulk(worlds()["iid"]) > 400).all()
