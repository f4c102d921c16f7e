"""The Dask backend's map-reduce machinery: tasks, tree sums, the runner and the sweeps.

:func:`_iterate` is :func:`belief.engines.fast.run_vb`'s loop with one map-reduce per sweep:
each partition updates its claims from the broadcast source posteriors and returns its
per-source statistics, summed in a balanced tree (:func:`_tree`) so the client never holds
every partition's result at once.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

import numpy as np

from belief.engines._dask_parts import _add, _resume, _start, _stats, _step
from belief.engines.fast import Damping


def _call(fn: Any, *args: Any) -> Any:
    from dask import delayed

    return delayed(fn, pure=True)(*args)


def _tree(fn: Any, xs: list[Any]) -> Any:
    """``fn`` folded over ``xs`` in a balanced tree of tasks, order kept (so each node frees
    its inputs: the client never holds every partition's result at once)."""
    while len(xs) > 1:
        pairs = [_call(fn, a, b) for a, b in zip(xs[::2], xs[1::2])]
        xs = pairs + ([xs[-1]] if len(xs) % 2 else [])
    return xs[0]


def _summed(run: _Runner, parts: list[Any], states: list[Any]) -> tuple[np.ndarray, float]:
    """The summed per-source statistics of all parts and their largest last change."""
    return run.compute([_tree(_add, [_call(_stats, p, s) for p, s in zip(parts, states)])])[0]


class _Runner:
    """``compute`` / ``persist`` on a distributed client or a local scheduler."""

    def __init__(self, client: Any, scheduler: str | None) -> None:
        self.client, self.scheduler = client, scheduler

    def compute(self, xs: list[Any]) -> list[Any]:
        import dask

        if self.client is not None:
            return list(self.client.compute(xs, sync=True))
        return list(dask.compute(*xs, scheduler=self.scheduler))

    def wait(self, xs: list[Any]) -> None:
        """Until ``xs`` (persisted) are computed: at once with a local scheduler."""
        if self.client is not None:
            from distributed import wait

            wait(xs)

    def persist(self, xs: list[Any]) -> list[Any]:
        import dask

        if self.client is not None:
            return list(self.client.persist(xs))
        return list(dask.persist(*xs, scheduler=self.scheduler))


def _iterate(
    run: _Runner,
    parts: list[Any],
    prior: np.ndarray,
    tol: float,
    max_iter: int,
    damping: float | None,
    warm: list[Any] | None = None,
) -> tuple[np.ndarray, list[Any], int, bool]:
    """The sweeps of :func:`belief.engines.fast.run_vb`, one map-reduce per sweep."""
    from dask import delayed

    if warm is None:
        states = run.persist([_call(_start, p) for p in parts])
    else:
        states = run.persist([_call(_resume, p, s) for p, s in zip(parts, warm)])
    post, schedule = prior + _summed(run, parts, states)[0], Damping(damping)
    for it in range(1, max_iter + 1):
        shared = delayed(post, pure=True)  # one copy per sweep, not one per task
        d = schedule.value
        states = run.persist([_call(_step, p, s, shared, d) for p, s in zip(parts, states)])
        stats, delta = _summed(run, parts, states)
        post = prior + stats
        schedule.observe(delta)
        if delta < tol:
            return post, states, it, True
    return post, states, max_iter, False


def release_memory() -> None:
    """Give freed memory back to the system after a pass over the reports: Arrow's pool and,
    on Linux (glibc), malloc's free lists. Otherwise the process keeps the pass's peak."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl): nothing to trim
            pass
