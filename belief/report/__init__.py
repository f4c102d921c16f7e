"""The analyst's report: building its blocks and rendering them as HTML or Markdown."""

from belief.report.build import build_report, write_report

__all__ = ["build_report", "write_report"]
