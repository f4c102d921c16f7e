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

import contextlib
import hashlib
import json
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

    # the graph's code itself, so that an edited model (same version number) is not mistaken
    # for the cached one
    here = Path(__file__).parent
    code = b"".join(
        (here / f).read_bytes() for f in ("graph.py", "values.py", "encode.py", "numba_cache.py")
    )
    return f"{CACHE_FORMAT} {__version__} {pymc.__version__} {pytensor.__version__} " + (
        f"{nutpie.__version__} {numba.__version__} {hashlib.sha256(code).hexdigest()}"
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


def mark(key: Any, meta: dict[str, Any] | None = None) -> None:
    """Record that a nutpie model of ``key`` is cached on disk, with what :func:`compile_nutpie`
    needs to load it without building PyTensor's functions (``meta``; written atomically)."""
    path = _marker(key)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp.{uuid.uuid4().hex[:16]}")
    tmp.write_text(json.dumps(meta or {}))
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


def _cfunc(name, src, key, inner, logp: bool):
    """The C callback of ``src``, loaded from the disk cache under ``key`` or compiled (which
    needs ``inner``, PyTensor's compiled function) and saved there."""
    import numba
    from pytensor.link.numba.cache import compile_numba_function_src

    env = {"__name__": __name__, "numba": numba, "np": np, "to_ptr": _address_as_void_pointer()}
    if inner is not None:
        env["inner"] = inner
    fn = compile_numba_function_src(src, name, env, cache_key=key)
    ptr = numba.types.CPointer(numba.types.double)
    head = (numba.types.uint64, ptr) if logp else (numba.types.uint64, numba.types.uint64, ptr)
    sig = numba.types.int64(*head, ptr, *((ptr,) if logp else ()), numba.types.voidptr)
    return numba.cfunc(sig, cache=True)(fn)


def _wrapper(name, inner_key, names, n_dim, n_expanded, user_data, shared_data, logp: bool):
    """Source and cache key of the C callback around the function of PyTensor key
    ``inner_key`` whose shared inputs are ``names``."""
    import numba
    import nutpie

    arrays = [(shared_data[n].dtype.name, shared_data[n].ndim) for n in names]
    words = _user_data_words(user_data, names, shared_data)
    src = _wrapper_source(name, n_dim, n_expanded, arrays, words, logp)
    key = hashlib.sha256(
        "\n".join([CACHE_FORMAT, inner_key, src, numba.__version__, nutpie.__version__]).encode()
    ).hexdigest()
    return src, key


def _shared(model: Any, names: list[str]):
    """The values of the model's shared variables ``names`` (read-only copies) and nutpie's
    user data record pointing at them."""
    from nutpie import compile_pymc as ncp

    variables = {v.name: v for v in model.data_vars}
    shared_vars = {n: variables[n] for n in names}
    shared_data = {n: np.array(v.get_value(), order="C", copy=True) for n, v in shared_vars.items()}
    for value in shared_data.values():
        value.flags.writeable = False
    return shared_data, ncp.make_user_data(shared_vars, shared_data)


def _compiled_model(model, n_dim, n_expanded, shape_info, point_fn, shared, funcs, pt_fns):
    from nutpie import compile_pymc as ncp

    dims, coords = ncp._prepare_dims_and_coords(model, shape_info)
    return ncp.CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=funcs[0],
        compiled_expand_func=funcs[1],
        initial_point_func=point_fn,
        shared_data=shared[0],
        user_data=shared[1],
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=pt_fns[0],
        expand_func=pt_fns[1],
    )


def _point_fn(model: Any):
    from nutpie import compile_pymc as ncp
    from pymc.initial_point import make_initial_point_fn

    fn = make_initial_point_fn(model=model, jitter_rvs=set(model.free_RVs), return_transformed=True)
    return ncp._wrap_with_lock(fn)


def _load_marked(model: Any, meta: dict[str, Any]):
    """The compiled model from the disk cache, without PyTensor's functions: the marker's
    ``meta`` gives the layout; the callbacks must load (they cannot compile without PyTensor's
    function, so a stale cache raises and :func:`compile_nutpie` compiles)."""
    from nutpie import compile_pymc as ncp

    n_dim, n_expanded = meta["n_dim"], meta["n_expanded"]
    names, bounds, shapes = meta["shape_info"]
    slices = [slice(a, b) for a, b in bounds]
    shape_info = (names, slices, [tuple(x) for x in shapes])
    shared = _shared(model, meta["shared"])
    funcs = []
    for name, logp in (("belief_logp", True), ("belief_expand", False)):
        part = meta[name]
        src, key = _wrapper(
            name, part["inner"], part["names"], n_dim, n_expanded, shared[1], shared[0], logp
        )
        if key != part["key"]:
            raise LookupError("the cached wrapper does not match this model")
        funcs.append(_cfunc(name, src, key, None, logp))
        if funcs[-1].cache_hits != 1:
            raise LookupError("not loaded from the disk cache")
    free = [n for n, s in zip(names, slices, strict=True) if s.stop <= n_dim]
    sizes = [tuple(x) for x, s in zip(shape_info[2], slices, strict=True) if s.stop <= n_dim]
    point_fn = ncp._rv_dict_to_flat_array_wrapper(_point_fn(model), names=free, shapes=sizes)
    return _compiled_model(
        model, n_dim, n_expanded, shape_info, point_fn, shared, funcs, (None, None)
    )


def _compile_cached(model: Any, var_names: list[str]):
    """Build PyTensor's numba functions (loaded from PyTensor's disk cache when there) and the
    C callbacks around them (from the disk cache when there); also return the marker's
    metadata."""
    from nutpie import compile_pymc as ncp
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    n_dim, n_expanded, logp_pt, expand_pt, point_fn, shape_info = ncp._make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=_point_fn(model),
        var_names=var_names,
    )
    names = list(dict.fromkeys(v.name for f in (logp_pt, expand_pt) for v in f.get_shared()))
    shared = _shared(model, names)
    meta: dict[str, Any] = {"n_dim": int(n_dim), "n_expanded": int(n_expanded), "shared": names}
    meta["shape_info"] = [
        list(shape_info[0]),
        [[int(s.start), int(s.stop)] for s in shape_info[1]],
        [[int(d) for d in x] for x in shape_info[2]],
    ]
    funcs = []
    for name, pt_fn, logp in (("belief_logp", logp_pt, True), ("belief_expand", expand_pt, False)):
        inner = pt_fn.vm.jit_fn
        inner_key = CACHED_SRC_FUNCTIONS.get(inner.py_func)
        if inner_key is None:
            raise LookupError("PyTensor cannot cache this graph's numba code")
        part = [v.name for v in pt_fn.get_shared()]
        src, key = _wrapper(name, inner_key, part, n_dim, n_expanded, shared[1], shared[0], logp)
        funcs.append(_cfunc(name, src, key, inner, logp))
        meta[name] = {"inner": inner_key, "names": part, "key": key}
    model_out = _compiled_model(
        model, n_dim, n_expanded, shape_info, point_fn, shared, funcs, (logp_pt, expand_pt)
    )
    return model_out, meta


def compile_nutpie(model: Any, var_names: list[str], key: Any = None) -> tuple[Any, bool]:
    """nutpie's compiled model of ``model`` tracing ``var_names``, and whether its numba code
    is cached on disk (loaded from there, or compiled and saved there now).

    With ``key`` (the model's key in :mod:`belief.model.cache`), a model of that key compiled by
    an earlier process is loaded without building PyTensor's functions at all (the marker
    written then holds their layout), and a model compiled now is marked. Falls back to
    ``nutpie.compile_pymc_model`` (and False) when the cache is off or cannot be used.
    """
    import nutpie

    if cache_dir() is not None:
        path = _marker(key) if key is not None else None
        if path is not None and path.exists():
            try:
                return _load_marked(model, json.loads(path.read_text())), True
            except Exception:  # a stale or partial cache: build the functions below
                pass
        try:
            compiled, meta = _compile_cached(model, var_names)
        except Exception:  # any failure of the cached path: compile as nutpie does
            pass
        else:
            if key is not None:
                with contextlib.suppress(OSError):  # a read-only cache: no marker, no harm
                    mark(key, meta)
            return compiled, True
    return nutpie.compile_pymc_model(model, backend="numba", var_names=var_names), False
