"""Old import path, kept working: run reports now live in :mod:`cntgraph.studies.report`."""

from cntgraph.studies.report import ReportData, report_data, write_report

__all__ = ["ReportData", "report_data", "write_report"]
