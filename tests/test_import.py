"""``import belief`` stays light: no PyMC, PyTensor, ArviZ, matplotlib or dask, and fast."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pymc", "pytensor", "arviz", "matplotlib", "dask")

PROBE = f"""
import json, sys, time
t0 = time.perf_counter()
import belief
elapsed = time.perf_counter() - t0
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
print(json.dumps({{"elapsed": elapsed, "heavy": heavy, "version": belief.__version__}}))
"""


def probe() -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_belief_is_light_and_fast():
    result = probe()
    assert result["heavy"] == [], f"import belief pulled in {result['heavy']}"
    # a guard, not a benchmark: ~0.4 s on an idle machine (almost all pandas and scipy), so
    # 1 s is generous headroom; the best of three tries keeps a busy CI machine from failing it
    times = [result["elapsed"]]
    while min(times) >= 1.0 and len(times) < 3:
        times.append(probe()["elapsed"])
    assert min(times) < 1.0, times


def test_public_api_is_available_without_heavy_modules():
    code = (
        "import sys, belief\n"
        "lazy = {'ClaimBeliefModel', 'simulate_case'}\n"
        "missing = [n for n in belief.__all__ if n not in lazy and not hasattr(belief, n)]\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "print(missing, heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] []"
