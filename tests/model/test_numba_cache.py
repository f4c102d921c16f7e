"""nutpie's model with its numba code cached on disk (belief.model.numba_cache): the cached
wrappers compute the model's log density, gradient and draws exactly; a second process loads
them from disk; ``auto`` picks nutpie when the disk holds a model of the case's shape; any
failure of the cached path falls back to nutpie's own compilation.

The first run on a machine compiles the tiny model below (10-20 s); later runs load it.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("nutpie")

from belief.data.types import Case, Claim, Report, Source
from belief.model import ClaimBeliefModel, numba_cache
from belief.model.cache import CachedModel
from belief.model.estimator import prepare
from belief.model.graph import build_model, packed_values
from belief.model.nuts import choose_sampler

ROOT = Path(__file__).resolve().parents[2]


def tiny_case(flip: bool = False) -> Case:
    """3 claims, 3 sources of 2 kinds, one repeat (so the copy mixture is in the graph)."""
    a, b = ("deny", "confirm") if flip else ("confirm", "deny")
    return Case(
        (Claim("c1"), Claim("c2"), Claim("c3")),
        (Source("s1", kind="wire"), Source("s2", kind="blog"), Source("s3", kind="blog")),
        (
            Report("c1", "s1", a), Report("c1", "s2", a), Report("c2", "s2", b),
            Report("c2", "s3", a), Report("c3", "s1", b), Report("c3", "s3", b),
        ),
    )  # fmt: skip


@pytest.fixture(scope="module")
def compiled():
    if numba_cache.cache_dir() is None:
        pytest.skip("PyTensor's numba cache is off")
    data, cfg = prepare(tiny_case(), ClaimBeliefModel().full_model_config)
    model = build_model(data, cfg)
    names = [rv.name for rv in model.free_RVs]
    out, on_disk = numba_cache.compile_nutpie(model, names)
    assert on_disk  # the cached path was taken, not the fallback
    return model, out


def call_logp(compiled, x):
    out, logp = np.zeros(compiled.n_dim), np.zeros(())
    fn, dbl = compiled.compiled_logp_func.ctypes, ctypes.POINTER(ctypes.c_double)
    code = fn(
        compiled.n_dim, x.ctypes.data_as(dbl), out.ctypes.data_as(dbl),
        logp.ctypes.data_as(dbl), compiled.user_data.ctypes.data,
    )  # fmt: skip
    assert code == 0
    return float(logp), out


def as_point(compiled, x):
    """The unconstrained values in ``x`` by value variable (the leading entries of
    shape_info; the rest are the traced constrained values)."""
    names, slices, shapes = compiled.shape_info
    return {
        n: x[s].reshape(shape)
        for n, s, shape in zip(names, slices, shapes, strict=True)
        if s.stop <= compiled.n_dim
    }


def test_cached_wrappers_give_the_models_log_density_and_gradient(compiled):
    model, out = compiled
    logp_fn, dlogp_fn = model.compile_logp(), model.compile_dlogp()
    rng = np.random.default_rng(4)
    for _ in range(3):
        x = rng.normal(0.0, 0.7, out.n_dim)
        point = as_point(out, x)
        logp, grad = call_logp(out, x)
        assert logp == pytest.approx(float(logp_fn(point)), rel=1e-10, abs=1e-10)
        np.testing.assert_allclose(grad, dlogp_fn(point), rtol=1e-8, atol=1e-10)
    # the expand function returns the free values unchanged (only they are traced)
    expanded = np.zeros(out.n_expanded)
    dbl = ctypes.POINTER(ctypes.c_double)
    code = out.compiled_expand_func.ctypes(
        out.n_dim, out.n_expanded, x.ctypes.data_as(dbl), expanded.ctypes.data_as(dbl),
        out.user_data.ctypes.data,
    )  # fmt: skip
    assert code == 0 and np.array_equal(expanded[: out.n_dim], x)


def test_refilled_cached_model_answers_for_the_new_data(compiled):
    _, out = compiled
    other, cfg = prepare(tiny_case(flip=True), ClaimBeliefModel().full_model_config)
    refilled = out.with_data(**packed_values(other))
    fresh = build_model(other, cfg)
    x = np.random.default_rng(5).normal(0.0, 0.5, out.n_dim)
    logp, grad = call_logp(refilled, x)
    point = as_point(out, x)
    assert logp == pytest.approx(float(fresh.compile_logp()(point)), rel=1e-10, abs=1e-10)
    np.testing.assert_allclose(grad, fresh.compile_dlogp()(point), rtol=1e-8, atol=1e-10)
    assert logp != pytest.approx(call_logp(out, x)[0], abs=1e-3)  # not the old data's


SECOND_PROCESS = """
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
from test_numba_cache import as_point, call_logp, tiny_case
from belief.model import ClaimBeliefModel
from belief.model.estimator import prepare
from belief.model.graph import build_model
from belief.model.numba_cache import compile_nutpie
data, cfg = prepare(tiny_case(), ClaimBeliefModel().full_model_config)
model = build_model(data, cfg)
out, on_disk = compile_nutpie(model, [rv.name for rv in model.free_RVs], key=sys.argv[3])
hits = [out.compiled_logp_func.cache_hits, out.compiled_expand_func.cache_hits]
x = np.random.default_rng(6).normal(0.0, 0.5, out.n_dim)
logp, grad = call_logp(out, x)
point = as_point(out, x)
error = [abs(logp - float(model.compile_logp()(point))),
         float(np.max(np.abs(grad - model.compile_dlogp()(point))))]
print(json.dumps([on_disk, hits, out.logp_func is None, error]))
"""


def second_process(key: str):
    env = os.environ | {"PYTHONWARNINGS": "ignore"}
    args = [sys.executable, "-c", SECOND_PROCESS, str(ROOT), str(Path(__file__).parent), key]
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_second_process_loads_the_model_from_disk(compiled, key):
    """With the model's key: the first process builds PyTensor's functions and marks the key;
    the next loads the callbacks from the marker alone (no PyTensor functions), and they give
    the model's log density and gradient."""
    on_disk, hits, skipped, error = second_process(key)
    assert on_disk and hits == [1, 1] and not skipped  # the test's module compiled them
    assert numba_cache.is_marked(key)
    on_disk, hits, skipped, error = second_process(key)
    assert on_disk and hits == [1, 1] and skipped
    assert error[0] < 1e-9 and error[1] < 1e-8


@pytest.fixture
def key():
    """A model key no earlier run marked (its marker removed afterwards)."""
    key = f"tiny-{uuid.uuid4().hex}"
    yield key
    numba_cache._marker(key).unlink(missing_ok=True)


def test_a_stale_marker_falls_back_to_building_the_functions(compiled, key):
    model, _ = compiled
    numba_cache.mark(key, {"n_dim": 1})  # wrong and incomplete layout
    out, on_disk = numba_cache.compile_nutpie(model, [rv.name for rv in model.free_RVs], key)
    assert on_disk and out.logp_func is not None  # built, not loaded from the marker
    assert json.loads(numba_cache._marker(key).read_text())["n_dim"] == out.n_dim  # re-marked


def test_auto_picks_nutpie_for_a_small_case_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(numba_cache, "cache_dir", lambda: tmp_path)
    data, cfg = prepare(tiny_case(), ClaimBeliefModel().full_model_config)
    entry = CachedModel(("tiny", "key"), build_model(data, cfg))
    small = {"chains": 4, "draws": 1000, "tune": 1000}
    assert choose_sampler("auto", entry, data, small)[0] == "pymc"
    numba_cache.mark(entry.key)
    assert [p.name.endswith(".marker") for p in tmp_path.iterdir()] == [True]
    name, reason = choose_sampler("auto", entry, data, small)
    assert name == "nutpie" and "on disk" in reason
    other = CachedModel(("other", "key"), entry.model)
    assert choose_sampler("auto", other, data, small)[0] == "pymc"  # another key: not marked


def test_failure_of_the_cached_path_falls_back_to_nutpies_compilation(monkeypatch):
    import nutpie

    def broken(model, var_names):
        raise RuntimeError("no cache here")

    monkeypatch.setattr(numba_cache, "_compile_cached", broken)
    monkeypatch.setattr(nutpie, "compile_pymc_model", lambda model, **kw: ("nutpie's", kw))
    out, on_disk = numba_cache.compile_nutpie("model", ["a"])
    assert out == ("nutpie's", {"backend": "numba", "var_names": ["a"]}) and not on_disk
    monkeypatch.setattr(numba_cache, "cache_dir", lambda: None)  # cache off: not even tried
    monkeypatch.setattr(numba_cache, "_compile_cached", lambda *a: pytest.fail("tried"))
    assert numba_cache.compile_nutpie("model", ["a"]) == (out, False)
