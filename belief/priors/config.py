"""The engine configuration: one settings object for every engine, and its one validator.

:class:`Config` holds the modelling settings that every engine honours (base rate, signal
effects, reliability defaults, per-source priors, copy weight, side effect) and the exact
engine's enumeration limit. It is built from a case's own ``config`` mapping with
:meth:`Config.from_case`; overrides *deep-merge* into the case's settings (overriding one kind's
prior keeps the case's other kinds). Anywhere a config is accepted, a plain mapping is too
(:func:`as_config`): it is read as overrides of the case's settings.

Every check raises :class:`~belief.exceptions.ValidationError` in one style:
``config <field>: expected <what> but got <value>``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from belief.exceptions import ValidationError
from belief.priors.reliability import BetaPrior, SourcePrior

if TYPE_CHECKING:
    from belief.data.types import Case

__all__ = ["Config", "as_config", "check_number", "merge_settings"]

_MAPPINGS = (
    "signal_effects",
    "kind_priors",
    "default_prior",
    "source_priors",
    "held_priors",
    "copy_propensity",
    "source_copy_propensity",
)
_RELIABILITY_KEYS = ("sensitivity", "specificity", "strength")


def check_number(
    name: str, value: object, low: float, high: float, *, closed: bool = True, where: str = "config"
) -> float:
    """Return ``value`` as a float, or raise a ValidationError naming ``where name``.

    Accepts Python and numpy numbers (not booleans); rejects NaN, infinities and values out of
    ``[low, high]`` (``(low, high)`` when ``closed`` is false).

    Examples
    --------
    >>> check_number("base_rate", 0.25, 0, 1, closed=False)
    0.25
    >>> check_number("base_rate", 1.5, 0, 1, closed=False)
    Traceback (most recent call last):
    ...
    belief.exceptions.ValidationError: config base_rate: expected a number in (0, 1) but got 1.5
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        try:
            x = float(value)  # type: ignore[arg-type]
        except OverflowError:
            ok = False
        else:
            ok = math.isfinite(x) and (low <= x <= high if closed else low < x < high)
    if not ok:
        lb, rb = ("[", "]") if closed else ("(", ")")
        raise ValidationError(
            f"{where} {name}: expected a number in {lb}{low:g}, {high:g}{rb} but got {value!r}"
        )
    return x


def _reliability(name: str, prior: object) -> dict[str, float]:
    """Validate one reliability mapping (``sensitivity``/``specificity`` in (0, 1), strength)."""
    if not isinstance(prior, Mapping) or not prior or set(prior) - set(_RELIABILITY_KEYS):
        raise ValidationError(
            f"config {name}: expected a mapping with keys among "
            f"{', '.join(_RELIABILITY_KEYS)} but got {prior!r}"
        )
    out = {}
    for key, value in prior.items():
        high = 1e12 if key == "strength" else 1.0
        out[key] = check_number(f"{name}.{key}", value, 0.0, high, closed=False)
    return out


def _propensity(name: str, value: object) -> float:
    """A copy propensity: a number in [0, 1) (1 would make every report a repeat)."""
    x = check_number(name, value, 0.0, 1.0)
    if x >= 1.0:
        raise ValidationError(f"config {name}: expected a number in [0, 1) but got {value!r}")
    return x


def _hyper(name: str, value: object) -> tuple[float, float]:
    """A ``(alpha, beta)`` pair (or ``{alpha, beta}`` mapping) with both values above 1."""
    if isinstance(value, Mapping) and set(value) == {"alpha", "beta"}:
        value = (value["alpha"], value["beta"])
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise ValidationError(
            f"config {name}: expected (alpha, beta) with both above 1 but got {value!r}"
        )
    a = check_number(f"{name}.alpha", value[0], 1.0, 1e12, closed=False)
    b = check_number(f"{name}.beta", value[1], 1.0, 1e12, closed=False)
    return (a, b)


def _beta(name: str, value: object) -> BetaPrior:
    if isinstance(value, BetaPrior):
        return value
    if not isinstance(value, Mapping) or set(value) != {"alpha", "beta"}:
        raise ValidationError(
            f"config {name}: expected a mapping with keys alpha, beta but got {value!r}"
        )
    a = check_number(f"{name}.alpha", value["alpha"], 0.0, 1e12, closed=False)
    b = check_number(f"{name}.beta", value["beta"], 0.0, 1e12, closed=False)
    return BetaPrior(a, b)


def _source_prior(sid: str, value: object) -> SourcePrior:
    """A per-source prior: a SourcePrior, Beta parameters, or mean/strength values."""
    name = f"source_priors[{sid!r}]"
    if isinstance(value, SourcePrior):
        return value
    if (
        isinstance(value, Mapping)
        and set(value) == {"sensitivity", "specificity"}
        and all(isinstance(v, Mapping | BetaPrior) for v in value.values())
    ):
        return SourcePrior(
            _beta(f"{name}.sensitivity", value["sensitivity"]),
            _beta(f"{name}.specificity", value["specificity"]),
        )
    if isinstance(value, Mapping) and set(value) == set(_RELIABILITY_KEYS):
        v = _reliability(name, value)
        return SourcePrior(
            BetaPrior.from_mean_strength(v["sensitivity"], v["strength"]),
            BetaPrior.from_mean_strength(v["specificity"], v["strength"]),
        )
    raise ValidationError(
        f"config {name}: expected {{sensitivity: {{alpha, beta}}, specificity: {{alpha, beta}}}} "
        f"or {{sensitivity, specificity, strength}} but got {value!r}"
    )


@dataclass(frozen=True)
class Config:
    """Settings every engine honours (exact, fast, incremental, Dask, joint model, EM).

    Parameters
    ----------
    base_rate : float, "learn" or None
        Prior P(true) of claims without their own ``prior``, in (0, 1). Not given (``None``,
        the default, or ``"learn"``), it is learned from the data by empirical Bayes in every
        engine (:mod:`belief.core.base_rate`); the learned value is in the result's
        ``diagnostics``.
    base_rate_prior : (float, float)
        ``(alpha, beta)`` of the Beta hyperprior of a learned base rate, both > 1 (default
        ``(5, 5)``: worth ten claims at one half).
    signal_effects : mapping of str to float
        Log-odds magnitude per signal ``kind``; the signal's ``direction`` gives the sign.
    default_signal_effect : float
        Magnitude for kinds not in ``signal_effects`` (default ``log 3``: a signal makes the
        claim three times more, or less, likely in odds).
    kind_priors : mapping
        Per-kind reliability defaults ``{kind: {"sensitivity", "specificity", "strength"}}``;
        a kind given here overrides the built-in kind field by field.
    default_prior : mapping
        Global reliability default (same keys); a key left out takes the built-in
        :data:`~belief.priors.reliability.DEFAULT_PRIOR` value (sensitivity and specificity 0.65,
        strength 4), learned when ``learn_kind_priors``.
    source_priors : mapping of str to SourcePrior
        Explicit per-source priors (from calibration); they take precedence over everything.
        In a case file, ``{sensitivity: {alpha, beta}, specificity: {alpha, beta}}`` or
        ``{sensitivity, specificity, strength}`` per source.
    copy_weight : float
        Evidence weight of a report that repeats another (``derived_from``), in [0, 1].
    default_copy_propensity : float
        Probability, in [0, 1), that a report is an unattributed repeat of an earlier report on
        its claim (circular reporting; :mod:`belief.core.repeats`); default 0 (off).
    copy_propensity : mapping of str to float
        The same per source ``kind`` (overrides the default).
    source_copy_propensity : mapping of str to float
        The same per source (from calibration; overrides the kind's).
    held_priors : mapping of str to SourcePrior
        Reliability priors learned on the whole case (kind-level learning), held fixed by
        explanations: they take precedence like ``source_priors``, but the repeat weights keep
        starting from the priors before learning (as ``repeat_base_rate`` does for the rate).
    repeat_base_rate : float, optional
        The base rate the repeat weights' predictive starts from (default: ``base_rate``, or
        0.5 when it is learned). Explanations set it when they hold a learned base rate fixed,
        so that they keep the repeat weights of the whole case.
    side_effect : float
        Side alignment on the logit scale (0 = off; ``belief calibrate`` learns it). A source
        whose ``side`` a claim ``favors`` is more likely to confirm it and less likely to deny
        it, whatever the truth (see :mod:`belief.core.compiler`).
    learn_kind_priors : bool
        Learn, by empirical Bayes in every engine, the mean sensitivity and specificity of the
        source kinds (and of sources with no kind) whose values the config does not give: a
        kind's built-in values (and the global default) then only start the estimate, worth
        ``kind_prior_strength`` reports (:mod:`belief.core.kinds`). Default ``True``.
    kind_prior_strength : float
        Weight of the built-in kind values in the learned ones, in pseudo-reports (> 0,
        default 10).
    max_enumeration : int
        Exact enumeration is used while a component has at most ``2**max_enumeration`` joint
        truth states; larger components use the mean-field approximation (with a warning).
    on_large : {"approximate", "error"}
        What the exact engine does with a component too large to enumerate.

    Examples
    --------
    >>> Config(base_rate=0.3).base_rate
    0.3
    >>> Config(base_rate="learn").base_rate is None  # learned from the data
    True
    >>> Config(copy_weight=2)
    Traceback (most recent call last):
    ...
    belief.exceptions.ValidationError: config copy_weight: expected a number in [0, 1] but got 2
    """

    base_rate: float | None = None  # or "learn" (stored as None): learned from the data
    base_rate_prior: tuple[float, float] = (5.0, 5.0)
    signal_effects: Mapping[str, float] = field(default_factory=dict)
    default_signal_effect: float = math.log(3.0)
    kind_priors: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    default_prior: Mapping[str, float] = field(default_factory=dict)  # empty: DEFAULT_PRIOR
    source_priors: Mapping[str, SourcePrior] = field(default_factory=dict)
    held_priors: Mapping[str, SourcePrior] = field(default_factory=dict)
    copy_weight: float = 0.0
    default_copy_propensity: float = 0.0
    copy_propensity: Mapping[str, float] = field(default_factory=dict)
    source_copy_propensity: Mapping[str, float] = field(default_factory=dict)
    repeat_base_rate: float | None = None
    side_effect: float = 0.0
    learn_kind_priors: bool = True
    kind_prior_strength: float = 10.0
    max_enumeration: int = 20
    on_large: str = "approximate"

    def __post_init__(self) -> None:
        put = object.__setattr__  # frozen: normalise numbers (numpy scalars) to floats once
        if isinstance(self.base_rate, str) and self.base_rate == "learn":
            put(self, "base_rate", None)
        if self.base_rate is not None:
            put(
                self, "base_rate", check_number("base_rate", self.base_rate, 0.0, 1.0, closed=False)
            )
        put(self, "base_rate_prior", _hyper("base_rate_prior", self.base_rate_prior))
        if self.repeat_base_rate is not None:
            rb = check_number("repeat_base_rate", self.repeat_base_rate, 0.0, 1.0, closed=False)
            put(self, "repeat_base_rate", rb)
        put(self, "copy_weight", check_number("copy_weight", self.copy_weight, 0.0, 1.0))
        put(self, "default_copy_propensity", _propensity("default_copy_propensity",
                                                         self.default_copy_propensity))  # fmt: skip
        put(self, "side_effect", check_number("side_effect", self.side_effect, -20.0, 20.0))
        if not isinstance(self.learn_kind_priors, bool):
            got = self.learn_kind_priors
            raise ValidationError(
                f"config learn_kind_priors: expected true or false but got {got!r}"
            )
        put(self, "learn_kind_priors", bool(self.learn_kind_priors))
        strength = check_number("kind_prior_strength", self.kind_prior_strength, 0.0, 1e12)
        if strength <= 0:
            raise ValidationError(
                f"config kind_prior_strength: expected a number > 0 but got {strength!r}"
            )
        put(self, "kind_prior_strength", strength)
        put(
            self,
            "default_signal_effect",
            check_number("default_signal_effect", self.default_signal_effect, -1e6, 1e6),
        )
        m = self.max_enumeration
        if not (isinstance(m, numbers.Integral) and not isinstance(m, bool) and 1 <= m <= 24):
            raise ValidationError(
                f"config max_enumeration: expected an integer in 1..24 but got {m!r}"
            )
        put(self, "max_enumeration", int(m))
        if self.on_large not in ("approximate", "error"):
            raise ValidationError(
                f"config on_large: expected one of approximate, error but got {self.on_large!r}"
            )
        for name in _MAPPINGS:
            if not isinstance(getattr(self, name), Mapping):
                raise ValidationError(
                    f"config {name}: expected a mapping but got {getattr(self, name)!r}"
                )
        put(
            self,
            "signal_effects",
            {
                str(k): check_number(f"signal_effects[{k!r}]", v, -1e6, 1e6)
                for k, v in self.signal_effects.items()
            },
        )
        put(
            self,
            "kind_priors",
            {str(k): _reliability(f"kind_priors[{k!r}]", v) for k, v in self.kind_priors.items()},
        )
        if self.default_prior:  # empty: the built-in default
            put(self, "default_prior", _reliability("default_prior", self.default_prior))
        for name in ("copy_propensity", "source_copy_propensity"):
            values = getattr(self, name)
            put(self, name, {str(k): _propensity(f"{name}[{k!r}]", v) for k, v in values.items()})
        put(
            self,
            "source_priors",
            {str(k): _source_prior(k, v) for k, v in self.source_priors.items()},
        )
        put(self, "held_priors", {str(k): _source_prior(k, v) for k, v in self.held_priors.items()})

    @classmethod
    def from_case(
        cls, case: Case | None, overrides: Mapping[str, Any] | None = None, **more: Any
    ) -> Config:
        """The case's own settings with ``overrides`` deep-merged in.

        Mapping-valued settings merge key by key (a kind in ``kind_priors`` merges field by
        field); ``None`` values are ignored. Unknown keys are an error naming the valid ones.

        Examples
        --------
        >>> from belief.data.types import Case, Claim
        >>> case = Case((Claim("c"),), config={"kind_priors": {
        ...     "wire": {"sensitivity": 0.9}, "blog": {"sensitivity": 0.5}}})
        >>> cfg = Config.from_case(case, kind_priors={"blog": {"specificity": 0.7}})
        >>> cfg.kind_priors == {"wire": {"sensitivity": 0.9},
        ...                     "blog": {"sensitivity": 0.5, "specificity": 0.7}}
        True
        """
        base = dict(case.config) if case is not None else {}
        return cls(**merge_settings(base, {**dict(overrides or {}), **more}))

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` deep-merged in (as :meth:`from_case`)."""
        return type(self)(**merge_settings(self.to_dict(), changes))

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain mapping (``source_priors`` kept as :class:`SourcePrior`)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def merge_settings(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``overrides`` into ``base`` (two levels: settings, then kinds/sources)."""
    allowed = {f.name for f in fields(Config)}
    if not isinstance(overrides, Mapping):
        raise ValidationError(f"config: expected a mapping of settings but got {overrides!r}")
    unknown = sorted(str(k) for k in set(base) | set(overrides) if k not in allowed)
    if unknown:
        raise ValidationError(
            f"config: unknown setting(s) {', '.join(unknown)}; "
            f"expected any of {', '.join(sorted(allowed))}"
        )
    out = dict(base)
    for key, value in overrides.items():
        if value is None:
            continue
        old = out.get(key)
        if key in _MAPPINGS and isinstance(old, Mapping) and isinstance(value, Mapping):
            merged = dict(old)
            for k, v in value.items():
                if (
                    key == "kind_priors"
                    and isinstance(merged.get(k), Mapping)
                    and isinstance(v, Mapping)
                ):
                    merged[k] = {**merged[k], **v}
                else:
                    merged[k] = v
            out[key] = merged
        else:
            out[key] = value
    return out


def as_config(config: Config | Mapping[str, Any] | None, case: Case | None = None) -> Config:
    """A :class:`Config` from a Config (used as is), a mapping of overrides, or ``None``.

    A mapping is deep-merged into the case's own settings, ``None`` gives the case's settings.

    Examples
    --------
    >>> as_config({"base_rate": 0.2}).base_rate
    0.2
    """
    if isinstance(config, Config):
        return config
    if config is None or isinstance(config, Mapping):
        return Config.from_case(case, config)
    raise ValidationError(
        f"config: expected a belief.Config or a mapping of settings but got {type(config).__name__}"
    )
