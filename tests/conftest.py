"""Shared fixtures and generators: the Khasham seed case, a tiny case, random contract records.

Test modules import the generators with ``from conftest import random_records`` (``tests/`` is
on ``sys.path`` under pytest).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from belief.data.io import case_from_records
from belief.data.types import Case

SEED = Path(__file__).resolve().parent.parent / "seeds" / "khasham.yaml"


@pytest.fixture
def khasham_path() -> Path:
    """Path of ``seeds/khasham.yaml`` (found relative to the tests directory)."""
    assert SEED.is_file(), SEED
    return SEED


TINY_RECORDS = {
    "name": "tiny",
    "description": "two competing claims, one more, two sources, a copy and a signal",
    "config": {"base_rate": 0.4, "signal_effects": {"rhetoric": 0.5}},
    "claims": [
        {"claim_id": "a", "text": "A happened", "group": "g", "favors": "red"},
        {"claim_id": "b", "text": "B happened", "group": "g", "prior": 0.3},
        {"claim_id": "c", "text": "C happened", "truth": "true"},
    ],
    "sources": [
        {"source_id": "s1", "name": "Outlet one", "kind": "media", "side": "red"},
        {"source_id": "s2", "name": "Local", "kind": "local", "admiralty": "B"},
        {"source_id": "s3", "sensitivity": 0.9, "specificity": 0.8, "strength": 10},
    ],
    "reports": [
        {"claim_id": "a", "source_id": "s1", "stance": "confirm", "time": "2017-12-19T09:00:00"},
        {"claim_id": "a", "source_id": "s2", "stance": "deny", "time": "2017-12-19T10:00:00"},
        {"claim_id": "b", "source_id": "s2", "stance": "support", "time": "2017-12-19T10:00:00"},
        {
            "claim_id": "a",
            "source_id": "s3",
            "stance": "confirm",
            "time": "2017-12-19T11:00:00",
            "derived_from": "s1",
            "note": "repeats s1",
        },
        {"claim_id": "c", "source_id": "s3", "stance": "comment"},
    ],
    "signals": [
        {
            "signal_id": "sig1",
            "claim_id": "a",
            "kind": "rhetoric",
            "direction": -1,
            "time": "2017-12-18T12:00:00",
            "text": "hostile statement",
        }
    ],
}


@pytest.fixture
def tiny_records() -> dict:
    """The raw records of :func:`tiny_case` (a fresh deep copy per test)."""
    import copy

    return copy.deepcopy(TINY_RECORDS)


@pytest.fixture
def tiny_case(tiny_records) -> Case:
    """A small validated case: 3 claims (a, b in one group), 3 sources, 5 reports, 1 signal."""
    return case_from_records(tiny_records, "tiny")


# ---- shared generators (import them with `from conftest import ...`) ------------------------
STANCES = ["confirm", "deny", "neutral", "support", "against", " Comment "]


def random_records(seed: int, n_claims: int = 12, n_sources: int = 5, n_reports: int = 40):
    """Random contract records: priors, groups, kinds, grades, copies, times, signals."""
    rng = np.random.default_rng(seed)
    claims = []
    for i in range(n_claims):
        c: dict = {"claim_id": f"c{i}"}
        if rng.random() < 0.5:
            c["prior"] = float(np.round(rng.uniform(0.1, 0.9), 3))
        if i < 6:
            c["group"] = f"g{i // 3}"
        claims.append(c)
    sources = []
    for j in range(n_sources):
        s: dict = {"source_id": f"s{j}", "kind": ["media", "blog", "wire", ""][j % 4]}
        if j % 3 == 0:
            s.update(sensitivity=0.8, specificity=0.7, strength=float(rng.uniform(2, 10)))
        if j % 5 == 1:
            s["admiralty"] = "ABCDEF"[j % 6]
        sources.append(s)
    reports = []
    for _ in range(n_reports):
        r = {
            "claim_id": f"c{rng.integers(n_claims)}",
            "source_id": f"s{rng.integers(n_sources + 2)}",  # two not in the sources table
            "stance": str(rng.choice(STANCES, p=[0.4, 0.3, 0.1, 0.1, 0.05, 0.05])),
            "time": "",
            "derived_from": "",
        }
        if rng.random() < 0.8:
            r["time"] = f"2020-01-{1 + rng.integers(3):02d}T{rng.integers(24):02d}:00:00"
        if rng.random() < 0.25:
            r["derived_from"] = f"s{rng.integers(n_sources + 3)}"
        reports.append(r)
    signals = [
        {"signal_id": f"g{k}", "claim_id": f"c{rng.integers(n_claims)}", "kind": ["a", "b"][k % 2],
         "direction": int(rng.choice([-1, 1]))}
        for k in range(4)
    ]  # fmt: skip
    return {"claims": claims, "sources": sources, "reports": reports, "signals": signals}


def write_records(rec: dict, directory: Path) -> dict[str, Path]:
    """Write the four tables as CSV files; return their paths."""
    paths = {}
    for table in ("claims", "sources", "reports", "signals"):
        paths[table] = directory / f"{table}.csv"
        pd.DataFrame(rec[table]).to_csv(paths[table], index=False)
    return paths


#: The joint model's oracle case (tests/model).
RECORDS = {
    "name": "graph-oracle",
    "config": {"base_rate": 0.4, "signal_effects": {"rhetoric": 0.5}, "copy_weight": 0.0},
    "claims": [
        {"claim_id": "a", "group": "g1", "favors": "red"},
        {"claim_id": "b", "group": "g1", "favors": "blue"},
        {"claim_id": "c", "group": "g1"},
        {"claim_id": "d", "prior": 0.3},
        {"claim_id": "e", "favors": "blue"},
        {"claim_id": "f"},
        {"claim_id": "g", "favors": "red"},
    ],
    "sources": [
        {"source_id": "s1", "kind": "media", "side": "red"},
        {"source_id": "s2", "kind": "media", "side": "blue"},
        {"source_id": "s3", "kind": "local", "admiralty": "B"},
        {"source_id": "s4", "kind": "blog", "sensitivity": 0.9, "specificity": 0.7, "strength": 9},
        {"source_id": "s5", "kind": "blog", "side": "red"},
        {"source_id": "agg", "kind": "aggregator"},
    ],
    "reports": [
        {"claim_id": "a", "source_id": "s1", "stance": "confirm", "time": "2024-01-01T01:00:00"},
        {"claim_id": "a", "source_id": "s2", "stance": "deny", "time": "2024-01-01T02:00:00"},
        {"claim_id": "b", "source_id": "s2", "stance": "confirm", "time": "2024-01-01T03:00:00"},
        {"claim_id": "b", "source_id": "s3", "stance": "deny", "time": "2024-01-01T04:00:00"},
        {"claim_id": "c", "source_id": "s4", "stance": "confirm", "time": "2024-01-01T05:00:00"},
        {"claim_id": "d", "source_id": "s1", "stance": "deny", "time": "2024-01-01T06:00:00"},
        {"claim_id": "d", "source_id": "s6", "stance": "confirm", "time": "2024-01-01T07:00:00"},
        {"claim_id": "d", "source_id": "s5", "stance": "neutral", "time": "2024-01-01T08:00:00"},
        {"claim_id": "e", "source_id": "s3", "stance": "confirm", "time": "2024-01-01T09:00:00"},
        {"claim_id": "e", "source_id": "s5", "stance": "deny", "time": "2024-01-01T10:00:00"},
        {"claim_id": "g", "source_id": "s2", "stance": "deny", "time": "2024-01-01T11:00:00"},
        {"claim_id": "g", "source_id": "s4", "stance": "deny", "time": "2024-01-01T12:00:00"},
        # a copy of an existing original: weight copy_weight, attributed to the copier
        {"claim_id": "a", "source_id": "agg", "stance": "confirm", "time": "2024-01-01T13:00:00",
         "derived_from": "s1"},
        # s2 never reported on e: the earliest copy stands in for s2 (weight 1, s2's reliability)
        {"claim_id": "e", "source_id": "agg", "stance": "confirm", "time": "2024-01-01T14:00:00",
         "derived_from": "s2"},
        {"claim_id": "e", "source_id": "s5", "stance": "confirm", "time": "2024-01-01T15:00:00",
         "derived_from": "s2"},
    ],
    "signals": [
        {"signal_id": "g1", "claim_id": "a", "kind": "rhetoric", "direction": -1},
        {"signal_id": "g2", "claim_id": "e", "kind": "rhetoric", "direction": 1},
        {"signal_id": "g3", "claim_id": "d", "kind": "silence", "direction": -1},
        {"signal_id": "g4", "claim_id": "g", "kind": "anything", "likelihood_ratio": 2.5},
    ],
}  # fmt: skip


def assert_evidence_equal(a, b) -> None:
    """Two compiled :class:`~belief.core.compiler.Evidence` equal field by field (arrays
    exactly)."""
    for name in a.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert x == y, name
