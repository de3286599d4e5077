"""One settings model: every environment variable voxflow reads, declared once.

``Config.load(deployable=...)`` reads and checks a deployable's variables at cold start,
raising one SettingsError that names each bad one; the typed views (EngineSettings,
ServiceSettings, RegionConfig, ...) are built from it with their ``of`` classmethods.
``python -m voxflow.config docs`` regenerates the settings tables in README.md and docs/.
"""

import voxflow.config.variables  # noqa: F401 (declaring them fills VARIABLES)
from voxflow.config.model import (
    API,
    CLI,
    DEPLOYABLES,
    FUNCTIONS,
    HEALTH,
    PLAN,
    SWEEPER,
    SYNTHESIZE,
    VARIABLES,
    WORKER,
    Config,
    Var,
)

__all__ = [
    "API",
    "CLI",
    "DEPLOYABLES",
    "FUNCTIONS",
    "HEALTH",
    "PLAN",
    "SWEEPER",
    "SYNTHESIZE",
    "VARIABLES",
    "WORKER",
    "Config",
    "Var",
]
