"""The failover drill on the local two-region stack (``voxflow drill``)."""

from voxflow_local.drill.report import DrillReport, FailbackResult
from voxflow_local.drill.run import DrillSettings, run_drill

__all__ = ["DrillReport", "DrillSettings", "FailbackResult", "run_drill"]
