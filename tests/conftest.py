"""Shared fixtures: the Khasham seed case file and a tiny hand-written case."""

from __future__ import annotations

from pathlib import Path

import pytest

from belief.io import case_from_records
from belief.types import Case

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
