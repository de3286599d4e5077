"""Which deployment a client talks to: its bus and jobs table, found from the stack."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voxflow.errors import SettingsError

DEFAULT_STACK = "voxflow"


@dataclass(frozen=True)
class StackTarget:
    bus_name: str
    jobs_table: str

    @classmethod
    def from_stack(cls, cloudformation: Any, stack_name: str = DEFAULT_STACK) -> "StackTarget":
        """Read the names from the stack's resources: the same on AWS and the local stack."""
        try:
            resources = cloudformation.describe_stack_resources(StackName=stack_name)
        except Exception as error:  # botocore raises per-service error classes
            raise SettingsError(f"cannot read stack {stack_name!r}: {error}") from error
        return cls.from_resources(
            {
                item["LogicalResourceId"]: item["PhysicalResourceId"]
                for item in resources["StackResources"]
                if item.get("PhysicalResourceId")
            },
            stack_name,
        )

    @classmethod
    def from_resources(
        cls, physical: Mapping[str, str], stack_name: str = DEFAULT_STACK
    ) -> "StackTarget":
        """From logical id → physical id, as the stack or the local stack's state file has it."""
        try:
            bus = physical["EventBus"].rsplit("/", 1)[-1]  # a name, or an ARN ending in it
            return cls(bus_name=bus, jobs_table=physical["JobsTable"])
        except KeyError as error:
            raise SettingsError(f"stack {stack_name!r} has no {error.args[0]} resource") from None
