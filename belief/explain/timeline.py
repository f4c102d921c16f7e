"""How belief evolves: the timeline of P(true), and how much each item of evidence moved it.

Timeline
    Reports and signals are taken in time order. Step 0 is the prior (no evidence); untimed
    items come next, as if known from the start; then one step per distinct time, adding every
    item stamped with that time at once (so the order of items within a time never matters).

Contributions (two definitions, both in log-odds of the claim)
    ``sequential``: the change when the item is added, items taken one at a time in time order
    (file order within a time). These add up *exactly* to posterior minus prior log-odds.

    ``loo`` (leave-one-out): posterior log-odds minus the log-odds with that item removed. It does
    not depend on order. Removing an original whose copies remain lets the earliest copy stand
    in for it, so its ``loo`` is 0: the evidence reaches the analyst anyway. When the claim's
    evidence is independent (each source reports on one claim, no groups, no copies) log-odds
    are additive and the ``loo`` values also add up exactly to posterior minus prior; with
    coupling they need not, and the gap is the interaction.

Only items on claims that can ever be linked to the target (by a source that reports on both,
or repeats or is repeated on both, or by a group) can move it; the others are left out, so a
subset gives exactly the values of the whole case. Item ids (``r1``, ``r2``, ...) number the
reports of the whole case in file order.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from belief.data.types import Case, Report, Signal
from belief.engines.exact import infer_exact
from belief.exceptions import ApproximationWarning
from belief.explain._rate import settled
from belief.priors.config import Config, as_config


@dataclass(frozen=True)
class _Item:
    item_id: str
    kind: str  # "report" or "signal"
    time: datetime | None
    order: int
    obj: Report | Signal

    @property
    def label(self) -> str:
        o = self.obj
        if isinstance(o, Signal):
            return f"signal {o.signal_id} ({o.kind}, {o.direction:+d}) on {o.claim_id}"
        copy = f" (via {o.derived_from})" if o.derived_from else ""
        verb = {"confirm": "confirms", "deny": "denies", "neutral": "comments on"}[o.stance]
        return f"{o.source_id} {verb} {o.claim_id}{copy}"


def _items(case: Case, within: Case | None = None) -> list[_Item]:
    """Reports (ids ``r<k>`` numbered in the whole case) and signals, in time order.

    With ``within`` (a sub-case), only its items are kept, keeping the whole case's ids.
    """
    out = [_Item(f"r{i + 1}", "report", r.time, i, r) for i, r in enumerate(case.reports)]
    n = len(out)
    out += [_Item(s.signal_id, "signal", s.time, n + i, s) for i, s in enumerate(case.signals)]
    if within is not None:
        keep = set(within.claim_ids)
        out = [it for it in out if it.obj.claim_id in keep]
    return sorted(out, key=lambda it: (it.time is not None, it.time or datetime.min, it.order))


def _subcase(case: Case, claim_ids: Sequence[str]) -> Case:
    """The part of ``case`` that can influence ``claim_ids``, at any step of a timeline.

    Claims are linked by every report's source *and* ``derived_from`` source (a copy can stand
    in for, and so be attributed to, the source it repeats) and by groups: a superset of the
    links of any subset of the evidence, so the sub-case gives the whole case's values.
    """
    index = {c: i for i, c in enumerate(case.claim_ids)}
    unknown = [c for c in claim_ids if c not in index]
    if unknown:
        from belief.exceptions import ValidationError

        known = ", ".join(map(repr, case.claim_ids[:5]))
        raise ValidationError(
            f"claim_id: unknown claim {unknown[0]!r}; known claims are {known}"
            + (", ..." if len(case.claim_ids) > 5 else "")
        )
    n = len(index)
    nodes: dict[str, int] = {}
    rows, cols = [], []
    for r in case.reports:
        for sid in (r.source_id, r.derived_from):
            if sid is not None:
                rows.append(index[r.claim_id])
                cols.append(n + nodes.setdefault("s:" + sid, len(nodes)))
    for c in case.claims:
        if c.group is not None:
            rows.append(index[c.claim_id])
            cols.append(n + nodes.setdefault("g:" + c.group, len(nodes)))
    from scipy.sparse import coo_matrix  # not at import: the CLI's fast path never needs it
    from scipy.sparse.csgraph import connected_components

    size = n + len(nodes)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(size, size))
    _, label = connected_components(graph, directed=False)
    wanted = {label[index[c]] for c in claim_ids}
    keep = {c for c, i in index.items() if label[i] in wanted}
    return case.replace(
        claims=tuple(c for c in case.claims if c.claim_id in keep),
        reports=tuple(r for r in case.reports if r.claim_id in keep),
        signals=tuple(s for s in case.signals if s.claim_id in keep),
    )


class _Steps:
    """Exact runs on subsets of one case's evidence, warning once if any was approximated."""

    def __init__(self, case: Case, config: Config) -> None:
        self.case, self.config, self.approximated = case, config, False

    def logodds(
        self,
        items: Sequence[_Item],
        init: pd.Series | None = None,
        only: Sequence[str] | None = None,
    ) -> pd.Series:
        """Log-odds given ``items`` (warm-started from ``init``; only ``only``'s components)."""
        reports = [it.obj for it in items if isinstance(it.obj, Report)]
        signals = [it.obj for it in items if isinstance(it.obj, Signal)]
        # the same warnings would repeat at every step: keep them, say it once in ``warn``
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ApproximationWarning)
            res = infer_exact(
                self.case, self.config, reports=reports, signals=signals, init=init, only=only
            )
        self.approximated |= any(issubclass(w.category, ApproximationWarning) for w in caught)
        return res.log_odds

    def warn(self, what: str) -> None:
        if self.approximated:
            warnings.warn(
                f"{what}: some steps exceed the enumeration limit (max_enumeration); their "
                "values use the mean-field approximation",
                ApproximationWarning,
                stacklevel=3,
            )


def timeline(
    case: Case,
    claim_ids: str | Sequence[str] | None = None,
    config: Config | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """P(true) of claims after each time step (see the module docstring).

    Parameters
    ----------
    case : Case
    claim_ids : str or sequence of str, optional
        One claim id or several; default every claim. A subset gives exactly the values the
        whole case's timeline gives for those claims.
    config : Config or mapping, optional
        Settings (a mapping deep-merges into the case's).

    Returns
    -------
    DataFrame
        Long format: ``step, time, events, claim_id, p_true, log_odds``; ``events`` lists the
        items added at that step (``"prior"`` at step 0); ``time`` is NaT for steps 0 and for
        the untimed items.

    Examples
    --------
    >>> from belief.data.io import case_from_records
    >>> case = case_from_records({"reports": [
    ...     {"claim_id": "c", "source_id": "a", "stance": "confirm", "time": "2017-12-19"},
    ...     {"claim_id": "c", "source_id": "b", "stance": "deny", "time": "2017-12-20"}]})
    >>> timeline(case)[["step", "p_true"]].round(3).values.tolist()
    [[0.0, 0.5], [1.0, 0.65], [2.0, 0.5]]
    """
    config = settled(case, as_config(config, case))
    if isinstance(claim_ids, str):
        claim_ids = [claim_ids]
    claim_ids = list(case.claim_ids if claim_ids is None else claim_ids)
    sub = _subcase(case, claim_ids)
    runs = _Steps(sub, config)
    items = _items(case, sub)
    notes = {k: _note(v) for k, v in _repeats(case, config).items() if v[0] >= 0.5}
    steps: list[tuple[datetime | None, list[_Item]]] = [(None, [])]
    for it in items:
        if len(steps) > 1 and steps[-1][0] == it.time:
            steps[-1][1].append(it)
        else:
            steps.append((it.time, [it]))
    rows, seen = [], []
    lo: pd.Series | None = None
    for k, (t, added) in enumerate(steps):
        seen += added
        lo = runs.logodds(seen, lo, claim_ids)  # warm start from the previous step
        events = "; ".join(it.label + notes.get(it.item_id, "") for it in added) or "prior"
        for c in claim_ids:
            rows.append((k, t, events, c, float(expit(lo[c])), float(lo[c])))
    runs.warn("timeline")
    cols = ["step", "time", "events", "claim_id", "p_true", "log_odds"]
    df = pd.DataFrame(rows, columns=cols)
    df["time"] = pd.to_datetime(df["time"])
    return df


def _repeats(case: Case, config: Config) -> dict[str, tuple[float, str, float]]:
    """``report_id -> (p_repeat, repeats, weight)`` when copy propensities are set, else empty."""
    if not (
        config.default_copy_propensity or config.copy_propensity or config.source_copy_propensity
    ):
        return {}
    from belief.explain.repeats import repeat_table

    t = repeat_table(case, config)
    return {r.report_id: (r.p_repeat, r.repeats, r.weight) for r in t.itertuples(index=False)}


def _note(rep: tuple[float, str, float]) -> str:
    p, original, weight = rep
    return f" — probably repeats {original}, p = {p:.2g} (keeps weight {weight:.2g})"


def contributions(
    case: Case, claim_id: str, config: Config | Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """How much each report and signal moved ``claim_id``'s log-odds (module docstring).

    Returns
    -------
    DataFrame
        ``item_id, type, label, time, source_id, stance, is_copy, sequential, loo, p_repeat,
        repeats``, in time order (``p_repeat`` and ``repeats``: the report's repeat probability
        and the source it probably repeats, :func:`belief.repeat_table`; 0 and empty when no
        copy propensity is set); a probable repeat's label says so. ``df.attrs`` holds
        ``prior_logodds`` and ``posterior_logodds``.

    Examples
    --------
    >>> from belief.data.io import case_from_records
    >>> case = case_from_records({"reports": [
    ...     {"claim_id": "c", "source_id": "a", "stance": "confirm"},
    ...     {"claim_id": "c", "source_id": "b", "stance": "confirm"}]})
    >>> df = contributions(case, "c")
    >>> bool(np.isclose(df["sequential"].sum(),
    ...                 df.attrs["posterior_logodds"] - df.attrs["prior_logodds"]))
    True
    """
    config = settled(case, as_config(config, case))
    sub = _subcase(case, [claim_id])
    runs = _Steps(sub, config)
    items = _items(case, sub)
    path: list[float] = []
    lo: pd.Series | None = None
    for k in range(len(items) + 1):  # warm starts: each prefix from the one before
        lo = runs.logodds(items[:k], lo, [claim_id])
        path.append(float(lo[claim_id]))
    final = lo
    full = path[-1]
    loo = [  # warm starts from the full posterior, one item away
        full - float(runs.logodds(items[:k] + items[k + 1 :], final, [claim_id])[claim_id])
        for k in range(len(items))
    ]
    runs.warn("contributions")
    rep = _repeats(case, config)
    none = (0.0, "", 1.0)
    df = pd.DataFrame(
        {
            "item_id": [it.item_id for it in items],
            "type": [it.kind for it in items],
            "label": [
                it.label + (_note(rep[it.item_id]) if rep.get(it.item_id, none)[0] >= 0.5 else "")
                for it in items
            ],
            "time": pd.to_datetime([it.time for it in items]),
            "source_id": [getattr(it.obj, "source_id", None) for it in items],
            "stance": [getattr(it.obj, "stance", None) for it in items],
            "is_copy": [getattr(it.obj, "derived_from", None) is not None for it in items],
            "sequential": np.diff(path),
            "loo": loo,
            "p_repeat": [rep.get(it.item_id, none)[0] for it in items],
            "repeats": [rep.get(it.item_id, none)[1] for it in items],
        }
    )
    df.attrs.update(prior_logodds=path[0], posterior_logodds=full)
    return df
