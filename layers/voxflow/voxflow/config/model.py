"""What a declared variable is, and the environment read through the declarations.

Standard library only: the synthesis core (EngineSettings) reads its settings here too,
and it must not need pydantic or boto3.
"""

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from voxflow.errors import SettingsError

# The deployables, by template logical id where they are functions.
PLAN = "PlanFunction"
SYNTHESIZE = "SynthesizeFunction"
SWEEPER = "SweeperFunction"
HEALTH = "HealthFunction"
API = "ApiFunction"  # the HTTP API (docs/api.md)
WORKER = "worker"  # the ECS task (WorkerTaskDefinition), python -m voxflow.worker
CLI = "cli"  # the voxflow command
FUNCTIONS = frozenset({PLAN, SYNTHESIZE, SWEEPER, HEALTH, API})
DEPLOYABLES = (*sorted(FUNCTIONS), WORKER, CLI)


@dataclass(frozen=True)
class Var[T]:
    """One environment variable: its name, how it is parsed, its default, what it means and
    who reads it. ``external``: set by the platform or read by a library (Lambda, powertools),
    declared so the template check and the docs know it."""

    name: str
    kind: Callable[[str], T]
    default: T
    meaning: str
    readers: frozenset[str]
    group: str
    required: bool = False
    shown_default: str | None = None  # for the docs, where the default is computed
    external: bool = False

    def parse(self, raw: str | None) -> T:
        """The value of ``raw`` (None or blank: unset); SettingsError names the variable."""
        if raw is None or not raw.strip():
            if self.required:
                raise SettingsError(f"missing environment variable: {self.name}")
            return self.default
        try:
            return self.kind(raw.strip())
        except ValueError as error:
            raise SettingsError(f"{self.name}={raw!r}: {error}") from None

    @property
    def default_text(self) -> str:
        if self.required:
            return "required"
        if self.shown_default is not None:
            return self.shown_default
        return describe(self.default)


def describe(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, frozenset):
        return ",".join(sorted(value)) or "none"
    return str(value)


class Config:
    """The environment as the declarations read it: each variable parsed once, here."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = dict(environ)
        self._values: dict[str, object] = {}

    @classmethod
    def load(
        cls, environ: Mapping[str, str] | None = None, deployable: str | None = None
    ) -> "Config":
        """``deployable``: check every variable it reads now (a cold start), and raise one
        SettingsError naming each bad or missing one; without it, each on first use."""
        config = cls(os.environ if environ is None else environ)
        if deployable is not None:
            config.check(variable for variable in VARIABLES if deployable in variable.readers)
        return config

    def check(self, variables: Iterable["Var[Any]"]) -> None:
        problems = []
        for variable in variables:
            try:
                self[variable]
            except SettingsError as error:
                problems.append(str(error))
        if problems:
            raise SettingsError("; ".join(problems))

    def __getitem__[T](self, variable: Var[T]) -> T:
        if variable.name not in self._values:
            self._values[variable.name] = variable.parse(self._environ.get(variable.name))
        return cast(T, self._values[variable.name])

    def is_set(self, variable: "Var[Any]") -> bool:
        return bool(self._environ.get(variable.name, "").strip())


VARIABLES: list[Var[Any]] = []


def declare[T](  # noqa: PLR0917 (the declarations read as a table)
    name: str,
    kind: Callable[[str], T],
    default: T,
    meaning: str,
    readers: Iterable[str],
    group: str,
    *,
    required: bool = False,
    shown_default: str | None = None,
    external: bool = False,
) -> Var[T]:
    if any(variable.name == name for variable in VARIABLES):
        raise ValueError(f"{name} is declared twice")
    variable = Var(
        name,
        kind,
        default,
        meaning,
        frozenset(readers),
        group,
        required,
        shown_default,
        external,
    )
    VARIABLES.append(variable)
    return variable


# Parsers: each raises ValueError with what was expected; Var.parse adds the name.


def text(raw: str) -> str:
    return raw


def integer(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError("is not an integer") from None


def number(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError("is not a number") from None


def flag(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def bit(raw: str) -> bool:
    if raw not in ("0", "1"):
        raise ValueError("must be 0 or 1")
    return raw == "1"


def path(raw: str) -> Path:
    return Path(raw)


def names(raw: str) -> frozenset[str]:
    return frozenset(name.strip() for name in raw.split(",") if name.strip())


def one_of[E](choices: Callable[[str], E], allowed: Iterable[str]) -> Callable[[str], E]:
    allowed = tuple(allowed)

    def parse(raw: str) -> E:
        if raw not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return choices(raw)

    return parse
