"""Calibrated priors: the value object, the versioned ``priors.json`` file, and applying it.

:func:`belief.calibration.calibrate.calibrate` learns a :class:`CalibratedPriors` from resolved
cases; :func:`write_priors` stores it, :func:`read_priors` loads it back (schema-checked), and
:func:`apply_priors` turns it into the :class:`~belief.core.compiler.Config` of a new case.

File format (``schema: "belief.priors/1"``)::

    {
      "schema": "belief.priors/1",
      "method": "em",
      "base_rate": 0.41,
      "side_effect": 0.9,
      "signal_effects": {"hostile_rhetoric": 0.7},
      "reliability": {
        "default": {"sensitivity": {"alpha": 7.1, "beta": 2.3}, "specificity": {...}},
        "kinds":   {"wire": {"sensitivity": {...}, "specificity": {...}}},
        "sources": {"s001": {"kind": "wire", "sensitivity": {...}, "specificity": {...}}}
      },
      "provenance": {"belief_version": "...", "created": "...", "case_sha256": "...", ...}
    }

``reliability.sources`` holds each calibrated source's Beta *posterior* (prior + soft counts),
``reliability.kinds`` the Beta prior that describes the spread of reliability among a kind's
sources (what an unseen source of that kind gets), ``reliability.default`` the same over all
sources (for unseen sources of an unseen or missing kind).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from belief.data.io import atomic_path
from belief.data.types import Case, Source
from belief.exceptions import ModelMismatchError, ValidationError
from belief.priors.config import Config
from belief.priors.reliability import ADMIRALTY_PRIORS, BetaPrior, SourcePrior

SCHEMA = "belief.priors/1"
_PREFIX = "belief.priors/"
_RATES = ("sensitivity", "specificity")


@dataclass(frozen=True)
class CalibratedPriors:
    """What calibration learned, ready to be applied to a new case.

    Parameters
    ----------
    base_rate : float
        Prior P(true) of a claim without its own prior or signals, in (0, 1).
    default : SourcePrior
        Reliability prior of an unseen source whose kind was not calibrated.
    kinds : mapping of str to SourcePrior
        Reliability prior of an unseen source of each calibrated kind.
    sources : mapping of str to SourcePrior
        Learned reliability (Beta posterior) of each calibrated source.
    source_kinds : mapping of str to str or None
        The kind each calibrated source had (for tables; not used to apply).
    side_effect : float
        Side-alignment effect on the logit scale (see :mod:`belief.model.graph`).
    signal_effects : mapping of str to float
        Log-odds effect per signal kind (the signal's direction gives the sign).
    method : str
        ``"em"`` or ``"bayes"``.
    copy_propensity : mapping of str to float
        Learned probability that a report of each calibrated source is an unattributed repeat
        (:mod:`belief.core.repeats`).
    kind_copy_propensity : mapping of str to float
        The same for an unseen source of each calibrated kind.
    default_copy_propensity : float or None
        The same for an unseen source of another kind; ``None`` when the priors say nothing
        about copying (a ``priors.json`` written before copy learning): applying them then
        keeps the configured propensities.
    provenance : mapping
        Input hashes, belief version, date, sizes and fit diagnostics.

    Examples
    --------
    >>> p = CalibratedPriors(0.3, SourcePrior(BetaPrior(7, 3), BetaPrior(6, 4)))
    >>> CalibratedPriors.from_dict(p.to_dict()) == p
    True
    >>> round(p.source_prior(Source("new", kind="wire")).sensitivity.mean, 2)
    0.7
    """

    base_rate: float
    default: SourcePrior
    kinds: Mapping[str, SourcePrior] = field(default_factory=dict)
    sources: Mapping[str, SourcePrior] = field(default_factory=dict)
    source_kinds: Mapping[str, str | None] = field(default_factory=dict)
    side_effect: float = 0.0
    signal_effects: Mapping[str, float] = field(default_factory=dict)
    method: str = "em"
    copy_propensity: Mapping[str, float] = field(default_factory=dict)
    kind_copy_propensity: Mapping[str, float] = field(default_factory=dict)
    default_copy_propensity: float | None = 0.0
    provenance: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.base_rate < 1.0:
            raise ValidationError(
                f"priors base_rate: expected a number in (0, 1) but got {self.base_rate!r}"
            )
        if not math.isfinite(self.side_effect):
            raise ValidationError(
                f"priors side_effect: expected a finite number but got {self.side_effect!r}"
            )

    def source_prior(self, source: Source) -> SourcePrior:
        """Learned prior of ``source``: its own if calibrated, else its kind's, else the default."""
        if source.source_id in self.sources:
            return self.sources[source.source_id]
        return self.kinds.get(source.kind or "", self.default)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready mapping written by :func:`write_priors`."""
        sources = {
            sid: {"kind": self.source_kinds.get(sid), **_sp_dict(sp)}
            for sid, sp in self.sources.items()
        }
        out = {
            "schema": SCHEMA,
            "method": self.method,
            "base_rate": float(self.base_rate),
            "side_effect": float(self.side_effect),
            "signal_effects": {k: float(v) for k, v in self.signal_effects.items()},
            "reliability": {
                "default": _sp_dict(self.default),
                "kinds": {k: _sp_dict(sp) for k, sp in self.kinds.items()},
                "sources": sources,
            },
            "copying": {
                "default": float(self.default_copy_propensity or 0.0),
                "kinds": {k: float(v) for k, v in self.kind_copy_propensity.items()},
                "sources": {k: float(v) for k, v in self.copy_propensity.items()},
            },
            "provenance": dict(self.provenance),
        }
        if self.default_copy_propensity is None:  # nothing known about copying: say nothing
            del out["copying"]
        return out

    @classmethod
    def from_dict(cls, data: Any, label: str = "<priors>") -> CalibratedPriors:
        """Check and load a mapping in the ``belief.priors/1`` format.

        Raises
        ------
        ModelMismatchError
            ``data`` is not a belief priors mapping, or another version of the format.
        ValidationError
            A field is missing or invalid; the message names the field path.
        """
        _check_schema(data, label)
        rel = _get(data, "reliability", dict, label)
        kinds = _get(rel, "kinds", dict, label, "reliability.")
        sources = _get(rel, "sources", dict, label, "reliability.")
        effects = _get(data, "signal_effects", dict, label)
        copying = _get(data, "copying", dict, label) if "copying" in data else {}
        c_kinds = _get(copying, "kinds", dict, label, "copying.") if copying else {}
        c_srcs = _get(copying, "sources", dict, label, "copying.") if copying else {}
        return cls(
            base_rate=_number(data, "base_rate", label, "", low=0.0, high=1.0),
            default=_sp_load(_get(rel, "default", dict, label, "reliability."), label, "default"),
            kinds={str(k): _sp_load(v, label, f"kinds.{k}") for k, v in kinds.items()},
            sources={str(s): _sp_load(v, label, f"sources.{s}") for s, v in sources.items()},
            source_kinds={
                str(s): (None if v.get("kind") is None else str(v["kind"]))
                for s, v in sources.items()
            },
            side_effect=_number(data, "side_effect", label, ""),
            signal_effects={str(k): _number(effects, k, label, "signal_effects.") for k in effects},
            method=str(data.get("method", "em")),
            copy_propensity={
                str(s): _number(
                    c_srcs, s, label, "copying.sources.", low=0.0, high=1.0, closed_low=True
                )
                for s in c_srcs
            },
            kind_copy_propensity={
                str(k): _number(
                    c_kinds, k, label, "copying.kinds.", low=0.0, high=1.0, closed_low=True
                )
                for k in c_kinds
            },
            default_copy_propensity=(
                _number(copying, "default", label, "copying.", low=0.0, high=1.0, closed_low=True)
                if copying
                else None
            ),
            provenance=dict(_get(data, "provenance", dict, label)),
        )


def _sp_dict(sp: SourcePrior) -> dict[str, dict[str, float]]:
    pairs = zip(_RATES, (sp.sensitivity, sp.specificity))
    return {r: {"alpha": float(b.alpha), "beta": float(b.beta)} for r, b in pairs}


def _check_schema(data: Any, label: str) -> None:
    found = data.get("schema") if isinstance(data, dict) else None
    if not isinstance(found, str) or not found.startswith(_PREFIX):
        raise ModelMismatchError(
            f"{label}: not a belief priors file (expected a JSON object with "
            f'"schema": "{SCHEMA}", found schema {found!r}); create one with `belief calibrate`'
        )
    if found != SCHEMA:
        raise ModelMismatchError(
            f"{label}: priors file format {found!r} is not supported; this belief reads "
            f"{SCHEMA!r}. Re-run `belief calibrate` to write a current file"
        )


def _get(data: Mapping[str, Any], key: str, kind: type, label: str, path: str = "") -> Any:
    if key not in data:
        raise ValidationError(f"{label}: field '{path}{key}': expected a value but it is missing")
    if not isinstance(data[key], kind):
        raise ValidationError(
            f"{label}: field '{path}{key}': expected a JSON "
            f"{'object' if kind is dict else kind.__name__} but got {data[key]!r}"
        )
    return data[key]


def _number(
    data: Mapping[str, Any],
    key: str,
    label: str,
    path: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    closed_low: bool = False,
) -> float:
    value = data.get(key)
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if (
        not (isinstance(value, int | float) and ok)
        or not math.isfinite(value)
        or (math.isfinite(low) and not ((low <= value) if closed_low else (low < value)))
        or (math.isfinite(low) and not value < high)
    ):
        lb = "[" if closed_low else "("
        allowed = "a finite number" if math.isinf(low) else f"a number in {lb}{low:g}, {high:g})"
        raise ValidationError(f"{label}: field '{path}{key}': expected {allowed} but got {value!r}")
    return float(value)


def _sp_load(value: Any, label: str, path: str) -> SourcePrior:
    full = f"reliability.{path}"
    if not isinstance(value, dict):
        raise ValidationError(f"{label}: field '{full}': expected a JSON object but got {value!r}")
    betas = []
    for rate in _RATES:
        b = _get(value, rate, dict, label, f"{full}.")
        alpha, beta = (_number(b, k, label, f"{full}.{rate}.", low=0.0) for k in ("alpha", "beta"))
        betas.append(BetaPrior(alpha, beta))
    return SourcePrior(*betas)


def read_priors(path: str | os.PathLike[str]) -> CalibratedPriors:
    """Read and check a ``priors.json`` written by :func:`write_priors`.

    Parameters
    ----------
    path : path-like
        The file.

    Returns
    -------
    CalibratedPriors

    Raises
    ------
    ModelMismatchError
        The file is not a belief priors file, or has another format version.
    ValidationError
        It cannot be read or parsed, or a field is invalid (the message names the field).

    Examples
    --------
    >>> import tempfile, os
    >>> p = CalibratedPriors(0.3, SourcePrior(BetaPrior(7, 3), BetaPrior(6, 4)))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     f = write_priors(p, os.path.join(d, "priors.json"))
    ...     read_priors(f) == p
    True
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ValidationError(f"{p}: cannot read priors file ({e.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ModelMismatchError(f"{p}: not a belief priors file (not valid JSON: {e})") from None
    return CalibratedPriors.from_dict(data, str(p))


def write_priors(priors: CalibratedPriors, path: str | os.PathLike[str]) -> Path:
    """Write ``priors`` as JSON, atomically (no partial file on failure). Returns the path.

    Examples
    --------
    >>> import tempfile, os, json
    >>> p = CalibratedPriors(0.3, SourcePrior(BetaPrior(7, 3), BetaPrior(6, 4)))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     f = write_priors(p, os.path.join(d, "priors.json"))
    ...     json.loads(f.read_text())["schema"]
    'belief.priors/1'
    """
    p = Path(path)
    text = json.dumps(priors.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)
    with atomic_path(p) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return p


def _has_own(source: Source) -> bool:
    own = (source.sensitivity, source.specificity, source.strength)
    return any(v is not None for v in own) or source.admiralty in ADMIRALTY_PRIORS


def _mean_strength(sp: SourcePrior) -> dict[str, float]:
    """The Config ``kind_priors`` form: one strength, the smaller of the two (cautious)."""
    strength = min(sp.sensitivity.strength, sp.specificity.strength)
    return {
        "sensitivity": sp.sensitivity.mean,
        "specificity": sp.specificity.mean,
        "strength": strength,
    }


def apply_priors(
    case: Case,
    priors: CalibratedPriors | str | os.PathLike[str],
    config: Config | Mapping[str, Any] | None = None,
) -> Config:
    """The settings of ``case`` with calibrated ``priors`` applied to its sources.

    ``priors`` is a :class:`CalibratedPriors` or the path of a ``priors.json``; ``config``
    defaults to the case's own settings (a mapping deep-merges into them).

    * A source seen in calibration gets its learned reliability (Beta posterior).
    * An unseen source with no prior information of its own (no ``sensitivity``,
      ``specificity``, ``strength`` or Admiralty grade A-E) gets its kind's calibrated prior,
      or the calibrated default if its kind was not calibrated. An unseen source *with* its own
      values keeps them; missing fields come from the calibrated kind (``kind_priors``).
    * ``base_rate`` becomes the calibrated one (a claim's own ``prior`` still wins), and the
      calibrated signal effects replace the configured ones kind by kind (a signal's explicit
      ``likelihood_ratio`` still wins).
    * Per-source priors already in ``config.source_priors`` are kept (they win).

    * ``side_effect`` becomes the calibrated side-alignment effect (the exact engine applies
      it through per-side reliability channels; see :mod:`belief.core.compiler`).
    * The learned copy propensities (circular reporting, :mod:`belief.core.repeats`) apply per
      source, kind and default; ones already in ``config.source_copy_propensity`` win.

    Examples
    --------
    >>> from belief.data.types import Claim, Report
    >>> case = Case((Claim("c"),), (Source("a", kind="wire"),), (Report("c", "a", "confirm"),))
    >>> wire = SourcePrior(BetaPrior(9, 1), BetaPrior(8, 2))
    >>> p = CalibratedPriors(0.2, SourcePrior(BetaPrior(1, 1), BetaPrior(1, 1)), {"wire": wire})
    >>> cfg = apply_priors(case, p)
    >>> cfg.base_rate, cfg.source_priors["a"] == wire
    (0.2, True)
    """
    from belief.priors.config import as_config

    if not isinstance(priors, CalibratedPriors):
        priors = read_priors(priors)
    config = as_config(config, case)
    learned: dict[str, SourcePrior] = {}
    for sid, src in case.source_map().items():
        if sid in priors.sources or not _has_own(src):
            learned[sid] = priors.source_prior(src)
    return dataclasses.replace(
        config,
        base_rate=float(priors.base_rate),
        side_effect=float(priors.side_effect),
        signal_effects={**config.signal_effects, **priors.signal_effects},
        kind_priors={
            **config.kind_priors,
            **{k: _mean_strength(sp) for k, sp in priors.kinds.items()},
        },
        default_prior=_mean_strength(priors.default),
        source_priors={**learned, **config.source_priors},
        default_copy_propensity=(
            config.default_copy_propensity
            if priors.default_copy_propensity is None  # the priors say nothing about copying
            else float(priors.default_copy_propensity)
        ),
        copy_propensity={**config.copy_propensity, **priors.kind_copy_propensity},
        source_copy_propensity={**priors.copy_propensity, **config.source_copy_propensity},
    )
