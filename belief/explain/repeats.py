"""Which reports are probably unattributed repeats, of whom, and how much weight they kept.

:func:`belief.repeat_table` lists, for a case and its settings (for instance calibrated
priors applied with :func:`belief.apply_priors`), every confirm or deny with its repeat
probability (the compiler's rule, :mod:`belief.core.repeats`), the earliest earlier report by
another source with the same stance (the report it most likely goes back to) and the weight it
keeps. The report and ``belief run`` print the probable repeats in the analyst's words with
:func:`describe_repeats`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from belief.core.compiler import compile_case, report_arrays_from_case
from belief.core.copies import copy_rank
from belief.core.repeats import first_same
from belief.data.types import Case
from belief.priors.config import Config, as_config

__all__ = ["describe_repeats", "repeat_table"]

_COLUMNS = ["report_id", "claim_id", "source_id", "stance", "p_repeat", "repeats", "weight"]


def repeat_table(case: Case, config: Config | Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Every informative report with its repeat probability, probable original and weight.

    Columns ``report_id`` (``r1``... in case order, as in timelines), ``claim_id``,
    ``source_id``, ``stance``, ``p_repeat``, ``repeats`` (the source of the earliest earlier
    report with the same stance, empty if none) and ``weight`` (the evidence weight it keeps;
    declared copies keep ``copy_weight``). Sorted by ``p_repeat``, highest first.

    Examples
    --------
    >>> from datetime import datetime
    >>> from belief.data.types import Claim, Report, Source
    >>> case = Case((Claim("c"),), (Source("wire"), Source("blog", kind="blog")), (
    ...     Report("c", "wire", "confirm", time=datetime(2017, 12, 1)),
    ...     Report("c", "blog", "confirm", time=datetime(2017, 12, 2))))
    >>> t = repeat_table(case, {"copy_propensity": {"blog": 0.8}})
    >>> t[["source_id", "p_repeat", "repeats"]].round(2).to_dict("records")[0]
    {'source_id': 'blog', 'p_repeat': 0.88, 'repeats': 'wire'}
    """
    config = as_config(config, case)
    ra = report_arrays_from_case(case)
    ev = compile_case(case, config, keep_copies=True)
    informative = np.flatnonzero(ra.stance != 0)
    rank = copy_rank(ra)
    rho = ev.r_repeat if ev.r_repeat is not None else np.zeros(len(ev.r_claim))
    # the compiler keeps the informative reports with weight > 0 (and copies), in case order
    kept = informative[_kept_mask(ra, config)[informative]]
    by_row = dict(zip(kept.tolist(), zip(rho.tolist(), ev.r_weight.tolist())))
    # the original: the earliest earlier report with the stance that the repeat rule counts
    origin = first_same(ra.claim, ra.source, ra.stance > 0, rank, informative_mask(ra))
    rows = []
    for i in informative.tolist():
        p, w = by_row.get(i, (0.0, 0.0))
        j = int(origin[i]) if p > 0 else -1
        rows.append({
            "report_id": f"r{i + 1}",
            "claim_id": ra.claim_ids[ra.claim[i]],
            "source_id": ra.source_ids[ra.source[i]],
            "stance": "confirm" if ra.stance[i] > 0 else "deny",
            "p_repeat": p,
            "repeats": ra.source_ids[ra.source[j]] if j >= 0 else "",
            "weight": w,
        })  # fmt: skip
    out = pd.DataFrame(rows, columns=_COLUMNS)
    return out.sort_values("p_repeat", ascending=False, kind="stable").reset_index(drop=True)


def informative_mask(ra: Any) -> np.ndarray:
    """The reports the repeat rule counts as earlier stances: informative, not declared copies."""
    return (ra.stance != 0) & (ra.derived < 0)


def _kept_mask(ra: Any, config: Config) -> np.ndarray:
    from belief.core.copies import resolve_copies

    _, weight, _ = resolve_copies(ra, config.copy_weight, warn=False)
    return (ra.stance != 0) & ((weight > 0) | (ra.derived >= 0))


def describe_repeats(table: pd.DataFrame, threshold: float = 0.5) -> list[str]:
    """Sentences for the reports that are probably repeats (``p_repeat >= threshold``).

    Examples
    --------
    >>> t = pd.DataFrame([{"report_id": "r2", "claim_id": "handover", "source_id": "blog_1",
    ...                    "stance": "confirm", "p_repeat": 0.8, "repeats": "outlet_1",
    ...                    "weight": 0.2}])
    >>> describe_repeats(t)
    ['blog_1 confirms handover — probably repeats outlet_1, p = 0.8 (keeps weight 0.2)']
    """
    out = []
    for row in table.itertuples(index=False):
        if row.p_repeat >= threshold:
            verb = "confirms" if row.stance == "confirm" else "denies"
            out.append(
                f"{row.source_id} {verb} {row.claim_id} — probably repeats "
                f"{row.repeats}, p = {row.p_repeat:.2g} (keeps weight {row.weight:.2g})"
            )
    return out
