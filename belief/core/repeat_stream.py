"""The repeat rule's running state on one claim, for the incremental engine.

:class:`ClaimRepeats` gives the repeat probability of a report that comes last in its claim's
copy order in O(1) (what :func:`belief.core.repeats.repeat_weights` would give on the whole
claim); a report that sorts earlier, or a new prior, replays the claim.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from belief.core.repeats import _step, channel_terms, start_logodds

__all__ = ["ClaimRepeats"]


class ClaimRepeats:
    """The rule's running state on one claim: what a report that comes last needs, in O(1).

    It holds the claim's log-odds after its reports so far (the starting prior plus their
    weighted evidence), how many confirms and denies came before, in all and per source, and
    the copy-order key of the latest report. :meth:`add` gives the ``rho`` of a report whose
    key sorts after that one, exactly as :func:`repeat_weights` would on the whole claim; a
    report that sorts earlier (or a new prior) needs :meth:`replay` of the claim's reports.

    Examples
    --------
    The second report of :func:`repeat_weights`' example, one at a time:

    >>> state = ClaimRepeats(0.5)
    >>> row = np.array([6.5, 3.5, 6.5, 3.5])
    >>> state.add((0, "a", 0, 0), 0, True, 0.5, row), round(state.add((0, "b", 0, 1), 1, True,
    ...                                                               0.5, row), 4)
    (0.0, 0.6472)
    """

    __slots__ = ("by_source", "cum", "last", "n")

    def __init__(self, p_true: float) -> None:
        self.cum = float(start_logodds(np.array([p_true]))[0])
        self.last: tuple | None = None
        self.n = [0, 0]  # earlier denies, confirms
        self.by_source: dict[int, list[int]] = {}

    def follows(self, key: tuple) -> bool:
        """Whether a report with copy-order ``key`` comes after every report added so far."""
        return self.last is None or key > self.last

    def add(
        self, key: tuple, source: int, confirm: bool, propensity: float, prior: np.ndarray
    ) -> float:
        """Add a report that :meth:`follows`; return its ``rho``.

        ``key`` is its copy-order key (time, source id, stance rank, position), ``prior`` its
        channel's Beta parameters ``(a_se, b_se, a_sp, b_sp)``.
        """
        se, nsp, llr = (float(v[0]) for v in channel_terms(prior, np.array([confirm])))
        return self._add(key, source, bool(confirm), float(propensity), se, nsp, llr)

    def _add(self, key: tuple, source: int, confirm: bool, pi: float, se: float, nsp: float,
             llr: float) -> float:  # fmt: skip
        own = self.by_source.setdefault(source, [0, 0])
        m = self.n[0] + self.n[1] - own[0] - own[1]
        k = self.n[confirm] - own[confirm]
        rho, self.cum = _step(self.cum, pi * (k / m if m > 0 else 0.0), 1.0 - pi, se, nsp,
                              confirm, llr)  # fmt: skip
        self.n[confirm] += 1
        own[confirm] += 1
        self.last = key
        return rho

    @classmethod
    def replay(
        cls, p_true: float, keys: Sequence[tuple], source: np.ndarray, confirm: np.ndarray,
        propensity: np.ndarray, priors: np.ndarray,
    ) -> tuple[ClaimRepeats, np.ndarray]:  # fmt: skip
        """The state after a claim's suspect reports (any order) and their ``rho``."""
        state = cls(p_true)
        se, nsp, llr = channel_terms(priors, np.asarray(confirm, bool))
        rho = np.zeros(len(keys))
        for i in sorted(range(len(keys)), key=keys.__getitem__):
            rho[i] = state._add(keys[i], int(source[i]), bool(confirm[i]), float(propensity[i]),
                                float(se[i]), float(nsp[i]), float(llr[i]))  # fmt: skip
        return state, rho
