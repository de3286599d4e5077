"""The settings tables in README.md and docs/*.md, generated from the declarations.

A table sits between ``<!-- settings: GROUP[, GROUP...] -->`` and ``<!-- /settings -->``;
``python -m voxflow.config docs`` rewrites every such block, and tests/test_settings.py
fails while one is out of date.
"""

import re
from collections.abc import Iterable
from pathlib import Path

from voxflow.config.model import (
    API,
    DEPLOYABLES,
    HEALTH,
    PLAN,
    SWEEPER,
    SYNTHESIZE,
    VARIABLES,
    WORKER,
    Var,
)

COMMAND = "python -m voxflow.config docs"
# The files that may hold blocks, relative to the repository root.
DOC_FILES = ("README.md", "docs/*.md")
GROUPS = {
    "engine": "Engine (the synthesis core: the CLI, the functions and the worker)",
    "pipeline": "The pipeline's resources",
    "regions": "Two regions (docs/regions.md)",
    "controls": "Controls (docs/operations.md)",
    "worker": "The GPU worker (python -m voxflow.worker)",
    "functions": "One function each",
    "cli": "The command line",
    "platform": "Set by the platform, or read by a library",
}
_BLOCK = re.compile(
    r"(?P<open><!-- settings: (?P<groups>[a-z, ]+) -->\n)"
    r"(?P<body>.*?)(?P<close><!-- /settings -->)",
    re.S,
)
# Short names for the readers column; a set of them that covers a group is named once.
_SHORT = {PLAN: "plan", SYNTHESIZE: "synthesize", SWEEPER: "sweeper", HEALTH: "health", API: "api"}
_PIPELINE = frozenset({PLAN, SYNTHESIZE, SWEEPER, API, WORKER})


def readers_text(readers: frozenset[str]) -> str:
    if readers >= frozenset(DEPLOYABLES):
        return "all"
    names: list[str] = []
    rest = set(readers)
    if readers >= _PIPELINE:
        names.append("pipeline")
        rest -= _PIPELINE
    names += [_SHORT.get(name, name) for name in DEPLOYABLES if name in rest]
    return ", ".join(names)


def table(groups: Iterable[str]) -> str:
    wanted = list(groups)
    unknown = set(wanted) - set(GROUPS)
    if unknown:
        raise ValueError(f"no settings group {sorted(unknown)}; groups: {', '.join(GROUPS)}")
    rows = [
        "| variable | default | meaning | read by |",
        "| --- | --- | --- | --- |",
        *(_row(variable) for group in wanted for variable in VARIABLES if variable.group == group),
    ]
    return "\n".join(rows) + "\n"


def _row(variable: "Var[object]") -> str:
    default = variable.default_text
    if variable.shown_default is None and default not in ("required", "none"):
        default = f"`{default}`"
    meaning = variable.meaning.replace("|", "\\|")
    return f"| `{variable.name}` | {default} | {meaning} | {readers_text(variable.readers)} |"


def render(text: str) -> str:
    """``text`` with each settings block regenerated."""

    def block(match: re.Match[str]) -> str:
        groups = [group.strip() for group in match["groups"].split(",") if group.strip()]
        return match["open"] + table(groups) + match["close"]

    return _BLOCK.sub(block, text)


def doc_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for pattern in DOC_FILES:
        found += sorted(root.glob(pattern))
    return found


def stale(root: Path) -> list[Path]:
    """The files whose settings tables are out of date."""
    return [path for path in doc_files(root) if render(text := path.read_text("utf-8")) != text]


def write(root: Path) -> list[Path]:
    """Regenerate every block under ``root``; the files that changed."""
    changed = stale(root)
    for path in changed:
        path.write_text(render(path.read_text("utf-8")), "utf-8")
    return changed


def settings_page() -> str:
    """docs/settings.md's tables: every variable, by group."""
    return "\n".join(
        f"## {title}\n\n<!-- settings: {group} -->\n{table([group])}<!-- /settings -->\n"
        for group, title in GROUPS.items()
    )
