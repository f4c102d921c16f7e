"""Explaining a posterior: timelines and contributions, the ACH matrix, what-if tables."""

from belief.explain.ach import ach_matrix
from belief.explain.sensitivity import reliability_prior_table, what_if_table
from belief.explain.timeline import contributions, timeline

__all__ = [
    "ach_matrix",
    "contributions",
    "reliability_prior_table",
    "timeline",
    "what_if_table",
]
