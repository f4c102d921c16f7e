"""nutpie's compiled model with its numba code cached on disk, so that a later process (another
``belief infer`` of a case of the same shape) loads it instead of compiling it again.

``nutpie.compile_pymc_model`` compiles the model's log density and gradient with PyTensor's
numba back-end, then wraps them in two numba C callbacks that read the ``pm.Data`` values from
the pointer nutpie passes. PyTensor caches the first on disk (when every op of the graph can be
cached: ``belief.model.graph`` avoids ``erfcx`` for that reason); nutpie's wrappers are compiled
again in every process, and compiling them links and optimizes the whole model again (10-20 s
on the large case of ``benchmarks/model_speed.py``). :func:`compile_nutpie` builds the same
wrappers from generated source registered with PyTensor's numba cache locator, under a key that
hashes PyTensor's key of the graph, the wrapper's source and the versions of numba and nutpie:
a second process loads both from disk.

Where the cache lives: PyTensor's numba cache directory (``pytensor.config.base_compiledir``
/``numba``: ``~/.pytensor`` unless ``PYTENSOR_FLAGS=base_compiledir=...``), next to PyTensor's
own cached numba code of the same graph. numba writes each file under a temporary name and
renames it, so concurrent processes do not corrupt it. ``PYTENSOR_FLAGS=numba__cache=False``
turns the cache off (nutpie then compiles as usual). Anything unexpected (another nutpie
release, a graph PyTensor cannot cache) falls back to ``nutpie.compile_pymc_model``.

A marker file per model key (:func:`mark`, :func:`is_marked`) records that a model of that
shape and configuration was compiled and cached, so that ``nuts_sampler="auto"`` can pick
nutpie for a small case without compiling anything first (:func:`belief.model.nuts.choose_sampler`).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CACHE_FORMAT", "cache_dir", "compile_nutpie", "is_marked", "mark"]

CACHE_FORMAT = "belief-nutpie-1"  #: part of every key: change it when the wrappers change


def cache_dir() -> Path | None:
    """The directory of the on-disk numba cache, or None when PyTensor's numba cache is off."""
    from pytensor import config

    if not config.numba__cache:
        return None
    return Path(config.base_compiledir) / "numba"


def _versions() -> str:
    import numba
    import nutpie
    import pymc
    import pytensor

    from belief._version import __version__

    return f"{CACHE_FORMAT} {__version__} {pymc.__version__} {pytensor.__version__} " + (
        f"{nutpie.__version__} {numba.__version__}"
    )


def _marker(key: Any) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    digest = hashlib.sha256(f"{_versions()}\n{key!r}".encode()).hexdigest()[:32]
    return folder / f"belief-model-{digest}.marker"


def is_marked(key: Any) -> bool:
    """Whether a nutpie model of ``key`` (:mod:`belief.model.cache`) was compiled and cached on
    disk by some process (a hint: loading it may still fall back to compiling)."""
    try:
        path = _marker(key)
    except ImportError:
        return False
    return path is not None and path.exists()


def mark(key: Any) -> None:
    """Record that a nutpie model of ``key`` is cached on disk (written atomically)."""
    path = _marker(key)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp.{uuid.uuid4().hex[:16]}")
    tmp.write_text("compiled\n")
    os.replace(tmp, path)


def _address_as_void_pointer():
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def address_as_void_pointer(typingctx, src):
        """A void pointer from an integer address."""

        def codegen(cgctx, builder, sig, args):
            return builder.inttoptr(args[0], cgutils.voidptr_t)

        return types.voidptr(src), codegen

    return address_as_void_pointer


def _wrapper_source(name, n_dim, n_expanded, arrays, words, logp: bool) -> str:
    """Source of a C callback nutpie calls: ``(dim, x, out, logp, user_data)`` for the log
    density and gradient, ``(dim, expanded, x, out, user_data)`` for the draws to keep.
    ``arrays``: (dtype name, ndim) of each shared input; ``words``: their data pointer, then
    shape, positions in the user data read as 8-byte words."""
    head = "dim, x_, out_, logp_, user_data_" if logp else "dim, expanded, x_, out_, user_data_"
    n_out = n_dim if logp else n_expanded
    lines = [f"def {name}({head}):", f"    if dim != {n_dim}:", "        return -1"]
    if not logp:
        lines += [f"    if expanded != {n_expanded}:", "        return -1"]
    lines += [
        "    try:",
        f"        x = numba.carray(x_, ({n_dim},))",
        f"        out = numba.carray(out_, ({n_out},))",
        f"        meta = numba.carray(user_data_, ({words['n']},), np.uint64)",
    ]
    args = []
    for j, ((dtype, ndim), (data, shape)) in enumerate(zip(arrays, words["arrays"], strict=True)):
        dims = "".join(f"int(meta[{shape + i}]), " for i in range(ndim))
        lines.append(f"        a{j} = numba.carray(to_ptr(meta[{data}]), ({dims}), np.{dtype})")
        args.append(f"a{j}")
    lines.append(f"        res = inner(x, {', '.join(args)})")
    if logp:
        lines += [
            "        value = res[0]",
            "        grad = res[1]",
            "        numba.carray(logp_, ())[()] = value",
            "        finite = True",
            f"        for i in range({n_dim}):",
            "            out[i] = grad[i]",
            "            finite = finite and np.isfinite(grad[i])",
            "        if not finite:",
            "            return 3",
            "        if not np.isfinite(value):",
            "            return 4",
        ]
    else:
        lines += [
            "        values = res[0]",
            f"        for i in range({n_out}):",
            "            out[i] = values[i]",
        ]
    lines += ["    except Exception:", "        return 1", "    return 0", ""]
    return "\n".join(lines)


def _user_data_words(user_data: np.ndarray, names: list[str], shared: dict) -> dict:
    """Positions (in 8-byte words) of each shared array's data pointer and shape in nutpie's
    user data record."""
    fields: Any = user_data.dtype.fields
    record, base = fields["shared"][0], fields["shared"][1]

    def word(kind: str, name: str) -> int:
        sub: Any = record.fields[kind]
        return (base + sub[1] + sub[0].fields[name][1]) // 8

    return {
        "n": user_data.dtype.itemsize // 8,
        "arrays": [(word("data", n), word("shape", n)) for n in names],
        "shared": shared,
    }


def _cached_cfunc(pt_fn, name, n_dim, n_expanded, user_data, shared_data, logp: bool):
    """The C callback around PyTensor's compiled ``pt_fn``, from the disk cache when there."""
    import numba
    import nutpie
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

    inner = pt_fn.vm.jit_fn
    inner_key = CACHED_SRC_FUNCTIONS.get(inner.py_func)
    if inner_key is None:
        raise LookupError("PyTensor cannot cache this graph's numba code")
    names = [v.name for v in pt_fn.get_shared()]
    arrays = [(shared_data[n].dtype.name, shared_data[n].ndim) for n in names]
    words = _user_data_words(user_data, names, shared_data)
    src = _wrapper_source(name, n_dim, n_expanded, arrays, words, logp)
    key = hashlib.sha256(
        "\n".join([CACHE_FORMAT, inner_key, src, numba.__version__, nutpie.__version__]).encode()
    ).hexdigest()
    env = {"__name__": __name__, "numba": numba, "np": np, "inner": inner}
    env["to_ptr"] = _address_as_void_pointer()
    fn = compile_numba_function_src(src, name, env, cache_key=key)
    ptr = numba.types.CPointer(numba.types.double)
    head = (numba.types.uint64, ptr) if logp else (numba.types.uint64, numba.types.uint64, ptr)
    sig = numba.types.int64(*head, ptr, *((ptr,) if logp else ()), numba.types.voidptr)
    return numba.cfunc(sig, cache=True)(fn)


def _compile_cached(model: Any, var_names: list[str]):
    from nutpie import compile_pymc as ncp
    from pymc.initial_point import make_initial_point_fn

    point_fn = make_initial_point_fn(
        model=model, jitter_rvs=set(model.free_RVs), return_transformed=True
    )
    n_dim, n_expanded, logp_pt, expand_pt, initial_point_fn, shape_info = ncp._make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=ncp._wrap_with_lock(point_fn),
        var_names=var_names,
    )
    shared_data, shared_vars = {}, {}
    for var in [*logp_pt.get_shared(), *expand_pt.get_shared()]:
        shared_data[var.name] = np.array(var.get_value(), order="C", copy=True)
        shared_vars[var.name] = var
    for value in shared_data.values():
        value.flags.writeable = False
    user_data = ncp.make_user_data(shared_vars, shared_data)
    args = (n_dim, n_expanded, user_data, shared_data)
    logp_fn = _cached_cfunc(logp_pt, "belief_logp", *args, logp=True)
    expand_fn = _cached_cfunc(expand_pt, "belief_expand", *args, logp=False)
    dims, coords = ncp._prepare_dims_and_coords(model, shape_info)
    return ncp.CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_fn,
        compiled_expand_func=expand_fn,
        initial_point_func=initial_point_fn,
        shared_data=shared_data,
        user_data=user_data,
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_pt,
        expand_func=expand_pt,
    )


def compile_nutpie(model: Any, var_names: list[str]) -> tuple[Any, bool]:
    """nutpie's compiled model of ``model`` tracing ``var_names``, and whether its numba code
    is cached on disk (loaded from there, or compiled and saved there now).

    Falls back to ``nutpie.compile_pymc_model`` (and False) when the cache is off or cannot be
    used.
    """
    import nutpie

    if cache_dir() is not None:
        try:
            return _compile_cached(model, var_names), True
        except Exception:  # any failure of the cached path: compile as nutpie does
            pass
    return nutpie.compile_pymc_model(model, backend="numba", var_names=var_names), False
