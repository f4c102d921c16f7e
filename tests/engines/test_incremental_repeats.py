"""Incremental updates with copy propensities: the O(1) repeat update against the batch compiler.

Random streams (times in order, out of order, tied, missing; groups; signals mid-stream; declared
copies; mixed propensities) are fed one report at a time. Without a refit, every source's
statistics must equal its prior plus the batch compiler's weights on the same reports at the
current P(true) (so each report's repeat weight is the compiler's, 1e-12); after a refit the
posteriors equal the batch fast engine's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from scipy.special import expit

from belief.core import repeat_stream
from belief.core.compiler import compile_case
from belief.data.io import case_from_records
from belief.data.types import Case, Claim, Report
from belief.engines.fast import Block, infer_fast
from belief.engines.incremental import Belief

pytestmark = pytest.mark.filterwarnings("ignore::belief.exceptions.ValidationWarning")
PROPENSITY = {
    "copy_propensity": {"blog": 0.7, "media": 0.3},
    "source_copy_propensity": {"s5": 0.9},
    "default_copy_propensity": 0.1,
    # the statistics are checked against the compiled priors, which a refit's learned kind
    # reliability would move (tests/engines/test_contract.py covers streams that learn it)
    "learn_kind_priors": False,
}
CONFIGS = {
    "fixed rate": {"base_rate": 0.4, **PROPENSITY},
    "learned rate": PROPENSITY,
    "repeat_base_rate": {"base_rate": 0.3, "repeat_base_rate": 0.6, **PROPENSITY},
}


def stream_records(seed: int, times: str, n_reports: int = 70) -> dict:
    """Claims (a group, a prior), 7 sources of three kinds, reports and two signals.

    ``times``: ``"in order"`` (increasing), ``"shuffled"`` (random), ``"ties"`` (three
    values) or ``"none"``. Half the reports are on ``c0``; one in ten is a declared copy.
    """
    rng = np.random.default_rng(seed)
    kinds = ["media", "blog", "wire"]
    sources = [{"source_id": f"s{j}", "kind": kinds[j % 3]} for j in range(7)]
    claims = [{"claim_id": f"c{i}", "group": "g" if i in (1, 2) else "",
               **({"prior": 0.7} if i == 3 else {})} for i in range(5)]  # fmt: skip
    t0 = datetime(2021, 3, 1)
    hours = {"in order": np.arange(n_reports), "shuffled": rng.permutation(n_reports),
             "ties": rng.integers(0, 3, n_reports)}.get(times)  # fmt: skip
    reports = []
    for r in range(n_reports):
        s = int(rng.integers(7))
        rep = {
            "claim_id": "c0" if rng.random() < 0.5 else f"c{rng.integers(1, 5)}",
            "source_id": f"s{s}",
            "stance": str(rng.choice(["confirm", "deny", "neutral"], p=[0.5, 0.4, 0.1])),
        }
        if hours is not None:
            rep["time"] = (t0 + timedelta(hours=int(hours[r]))).isoformat()
        if rng.random() < 0.1:
            rep["derived_from"] = f"s{(s + 1 + rng.integers(6)) % 7}"
        reports.append(rep)  # fmt: skip
    signals = [
        {"signal_id": "g1", "claim_id": "c0", "kind": "k", "likelihood_ratio": 3.0},
        {"signal_id": "g2", "claim_id": "c1", "kind": "k", "likelihood_ratio": 0.4},
    ]
    return {"claims": claims, "sources": sources, "reports": reports, "signals": signals}


def feed(case: Case, config: dict, seed: int) -> Belief:
    """Claims and sources first, then the reports one by one, the signals at random points."""
    b = Belief(case.replace(reports=(), signals=()), config, tol=1e-12)
    at = dict(zip(np.random.default_rng(seed).integers(0, len(case.reports), 2), case.signals))
    for k, report in enumerate(case.reports):
        if k in at:
            b.add_signal(at[k])
        b.update(report)
    return b


def assert_matches_batch(b: Belief, case: Case) -> None:
    """Statistics = prior + batch weights at the current P(true); n_independent; then refit."""
    ev = compile_case(case, b.config)
    block = Block(len(ev.claim_ids), len(ev.source_ids), ev.r_claim, ev.r_source, ev.r_confirm,
                  ev.r_weight)  # fmt: skip
    q = expit(b.log_odds.loc[ev.claim_ids].to_numpy())
    expected = ev.priors + block.source_stats(q)
    cols = ["sens_alpha", "sens_beta", "spec_alpha", "spec_beta"]
    got = b.reliability.set_index("source_id").loc[ev.source_ids, cols].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    post = b.result().posterior.set_index("claim_id").loc[ev.claim_ids]
    np.testing.assert_array_equal(post["n_independent"], ev.n_independent)
    assert (ev.r_repeat > 0.05).sum() >= 5  # the repeat rule is at work
    batch = infer_fast(case, b.config, tol=1e-12)
    np.testing.assert_allclose(b.refit().log_odds, batch.log_odds, rtol=0, atol=1e-8)


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("times", ["in order", "shuffled", "ties", "none"])
@pytest.mark.parametrize("seed", range(3))
def test_a_stream_with_propensities_equals_the_batch_compiler(seed, times, config):
    case = case_from_records(stream_records(seed, times))
    b = feed(case, CONFIGS[config], seed)
    # the signals went in mid-stream: the batch case has them from the start
    assert_matches_batch(b, case)


@pytest.mark.parametrize("seed", range(3))
def test_a_stream_on_a_loaded_case_equals_the_batch_compiler(seed):
    """Half the reports at construction (batch weights), the rest streamed; twice refitted."""
    case = case_from_records(stream_records(seed, "shuffled"))
    half = len(case.reports) // 2
    b = Belief(case.replace(reports=case.reports[:half]), CONFIGS["learned rate"], tol=1e-12)
    b.refit()  # learns the base rate; the repeat rule keeps the starting one
    for report in case.reports[half:]:
        b.update(report)
    assert_matches_batch(b, case)


def test_in_order_reports_do_not_replay_the_claim(monkeypatch):
    """One replay per claim (its first report), then each report in O(1); a late one replays."""
    calls = []
    replay = repeat_stream.ClaimRepeats.replay.__func__

    def counted(cls, *args):
        calls.append(len(args[1]))
        return replay(cls, *args)

    monkeypatch.setattr(repeat_stream.ClaimRepeats, "replay", classmethod(counted))
    t0 = datetime(2021, 3, 1)
    reports = [Report("c", f"s{k % 7}", ["confirm", "deny"][k % 3 == 0], t0 + timedelta(hours=k))
               for k in range(200)]  # fmt: skip
    b = Belief(config={"default_copy_propensity": 0.4, "base_rate": 0.5}, tol=1e-12)
    for r in reports:
        b.update(r)
    assert calls == [1]  # the claim's first report (no state yet): a replay of itself
    b.update(Report("c", "s1", "confirm", t0))  # earlier than all but the first: replayed
    assert calls == [1, 201]
    case = Case(claims=(Claim("c"),), reports=(*reports, Report("c", "s1", "confirm", t0)))
    assert_matches_batch(b, case)
