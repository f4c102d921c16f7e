"""The exceptions and warnings that belief raises.

All errors derive from :class:`BeliefError`, so ``except belief.BeliefError`` catches every
problem the library reports on purpose.
"""

from __future__ import annotations


class BeliefError(Exception):
    """Base class of every error belief raises on purpose."""


class ValidationError(BeliefError, ValueError):
    """Input data are invalid: the message names the file, row, column and the valid values."""


class NotFittedError(BeliefError, RuntimeError):
    """A fitted attribute was read before ``fit`` was called."""


class ModelMismatchError(BeliefError):
    """A saved model or priors file does not match the configuration or version expected."""


class EnumerationLimitError(BeliefError):
    """A component of claims is too large for exact enumeration and no fallback is allowed."""


class BeliefWarning(UserWarning):
    """Base class of the warnings belief emits (approximations, unknown sources, diagnostics)."""


class ValidationWarning(BeliefWarning):
    """Input is usable but suspicious (e.g. a report names a source missing from sources.csv)."""


class ApproximationWarning(BeliefWarning):
    """An exact computation was replaced by a documented approximation."""


class ConvergenceWarning(BeliefWarning):
    """Sampling diagnostics (R-hat, ESS, divergences) failed their thresholds."""
