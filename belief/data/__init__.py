"""The case model and its I/O: claims, sources, reports, signals; validation at the boundary;
YAML/JSON/CSV/DataFrame reading and atomic writing; chunked report reading into integer codes.

May import numpy, scipy, pandas and pyyaml, and :mod:`belief.exceptions`; nothing else of belief.
"""

from belief.data.io import (
    case_from_frames,
    case_from_records,
    case_to_frames,
    case_to_records,
    read_case,
    read_tables,
    write_case,
    write_tables,
)
from belief.data.types import Case, Claim, Report, Signal, Source

__all__ = [
    "Case",
    "Claim",
    "Report",
    "Signal",
    "Source",
    "case_from_frames",
    "case_from_records",
    "case_to_frames",
    "case_to_records",
    "read_case",
    "read_tables",
    "write_case",
    "write_tables",
]
