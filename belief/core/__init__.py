"""The numeric core: the one compiler (a case to arrays, every modelling rule in one place),
group marginals (at most one true claim per group), ICD 203 words, and special functions.

May import numpy, scipy, :mod:`belief.data` and :mod:`belief.priors`.
"""

from belief.core.compiler import Evidence, compile_arrays, compile_case
from belief.core.copies import resolve_copies

__all__ = ["Evidence", "compile_arrays", "compile_case", "resolve_copies"]
