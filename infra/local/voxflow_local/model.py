"""What a local deployment produced, as plain data that round-trips through JSON.

The runner processes read their function from this JSON (the state file), so
everything a function needs to run is here, already resolved.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

from voxflow_local.scheduler import schedule_period_s


@dataclass(frozen=True)
class SqsEventSource:
    """One SQS event source mapping, with the queue settings its poller depends on."""

    logical_id: str  # the AWS::Lambda::EventSourceMapping
    queue_logical_id: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    maximum_batching_window_s: int = 0
    function_response_types: tuple[str, ...] = ()
    enabled: bool = True
    visibility_timeout_s: int = 30
    dead_letter_queue_url: str | None = None
    max_receive_count: int | None = None

    @property
    def reports_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.function_response_types

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(**{**data, "function_response_types": tuple(data["function_response_types"])})


@dataclass(frozen=True)
class ScheduleSource:
    """A scheduled rule whose target is the function (SAM's ``Type: Schedule`` event)."""

    logical_id: str  # the AWS::Events::Rule: <function id><event name>
    event_id: str  # the event's name under the function's Events ("Sweep")
    expression: str  # rate(...): the deployer keeps no other kind
    rule_arn: str  # what the scheduled event names in "resources"
    enabled: bool = True  # the rule's State is not DISABLED

    @property
    def period_s(self) -> float:
        return schedule_period_s(self.expression)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(**data)


@dataclass(frozen=True)
class LocalFunction:
    """An AWS::Serverless::Function, as the local runner runs it."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path  # the CodeUri folder: goes first on sys.path, like /var/task
    handler: str  # "app.handler": module path, then attribute
    runtime: str
    timeout_s: int
    memory_mb: int
    environment: dict[str, str] = field(default_factory=dict)
    event_sources: tuple[SqsEventSource, ...] = ()
    schedules: tuple[ScheduleSource, ...] = ()
    # API Gateway invokes it (SAM's HttpApi events): the local stack serves it over HTTP.
    serves_http: bool = False

    @property
    def module(self) -> str:
        return self.handler.rpartition(".")[0]

    @property
    def attribute(self) -> str:
        return self.handler.rpartition(".")[2]

    @property
    def handler_file(self) -> Path:
        return self.code_dir.joinpath(*self.module.split(".")).with_suffix(".py")

    def event_source(self, logical_id: str) -> SqsEventSource:
        for source in self.event_sources:
            if source.logical_id == logical_id:
                return source
        raise KeyError(f"{self.logical_id} has no event source {logical_id}")

    def schedule(self, logical_id: str) -> ScheduleSource:
        for schedule in self.schedules:
            if schedule.logical_id == logical_id:
                return schedule
        raise KeyError(f"{self.logical_id} has no schedule {logical_id}")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "code_dir": str(self.code_dir)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(
            **{
                **data,
                "code_dir": Path(data["code_dir"]),
                "event_sources": tuple(SqsEventSource.from_dict(s) for s in data["event_sources"]),
                # State files written before schedules were run locally have none.
                "schedules": tuple(ScheduleSource.from_dict(s) for s in data.get("schedules", ())),
            }
        )


@dataclass(frozen=True)
class DeployedStack:
    endpoint_url: str
    region: str
    account_id: str
    stack_name: str
    stack_id: str
    resources: dict[str, str]  # logical id → physical id, for what exists in moto
    resource_types: dict[str, str]  # logical id → type, for every translated resource
    outputs: dict[str, str]
    functions: tuple[LocalFunction, ...]
    not_deployed: dict[str, str]  # logical id → why it is not in moto
    warnings: tuple[str, ...]
    template: dict[str, Any]  # the translated template, before any local change

    def function(self, logical_id: str) -> LocalFunction:
        for function in self.functions:
            if function.logical_id == logical_id:
                return function
        raise KeyError(f"no function {logical_id} in stack {self.stack_name}")

    def of_type(self, resource_type: str) -> dict[str, str]:
        """logical id → physical id of the deployed resources of one type."""
        return {
            logical_id: physical_id
            for logical_id, physical_id in self.resources.items()
            if self.resource_types[logical_id] == resource_type
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["functions"] = [function.to_dict() for function in self.functions]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(
            **{
                **data,
                "functions": tuple(LocalFunction.from_dict(f) for f in data["functions"]),
                "warnings": tuple(data["warnings"]),
            }
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls.from_dict(json.loads(text))
