"""The state file of a running local stack (build/local-stack.json by default).

Written by the stack process, read by its runner processes (their function and
settings) and by ``python -m voxflow_local down`` (whom to stop), and useful to
anyone who wants the endpoint and the resource ids of the running stack.
"""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

from voxflow_local.model import DeployedStack

DEFAULT_STATE_FILE = Path("build/local-stack.json")
# Copies of DeployedStack fields at the top level of the file.
_SUMMARY = ("endpoint_url", "region", "stack_name", "resources", "outputs")


@dataclass(frozen=True)
class ProcessRecord:
    role: str  # "stack" (the owner, stops the rest on SIGTERM), "moto" or "runner"
    pid: int
    # With the pid, tells this process from a later one that reuses its pid.
    create_time: float
    function: str | None = None
    event_source: str | None = None
    worker: int | None = None


@dataclass(frozen=True)
class StackState:
    stack: DeployedStack
    pid: int  # the process that owns the stack and stops it on SIGTERM
    processes: tuple[ProcessRecord, ...] = ()
    extra_env: dict[str, str] = field(default_factory=dict)
    retry_visibility_s: int | None = None

    def to_json(self) -> str:
        data = asdict(self)
        data["stack"] = self.stack.to_dict()
        # At the top too, for readers that want only where the stack is (voxflow publish).
        data.update({name: data["stack"][name] for name in _SUMMARY})
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Self:
        data: dict[str, Any] = json.loads(text)
        for name in _SUMMARY:
            data.pop(name, None)
        return cls(
            **{
                **data,
                "stack": DeployedStack.from_dict(data["stack"]),
                "processes": tuple(ProcessRecord(**p) for p in data["processes"]),
            }
        )


def read_state(path: str | Path) -> StackState:
    return StackState.from_json(Path(path).read_text(encoding="utf-8"))


def write_state(path: Path, state: StackState) -> None:
    # Atomic: a runner starting up never reads half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(state.to_json(), encoding="utf-8")
    os.replace(partial, path)
