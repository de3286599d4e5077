"""Publish synthesis requests and wait for their terminal events (sync and async)."""

from voxflow.client.async_client import AsyncVoxflowClient
from voxflow.client.messages import Outcome
from voxflow.client.regional import GlobalTarget, GlobalVoxflowClient, Published, RegionalStack
from voxflow.client.sync_client import VoxflowClient
from voxflow.client.target import StackTarget

__all__ = [
    "AsyncVoxflowClient",
    "GlobalTarget",
    "GlobalVoxflowClient",
    "Outcome",
    "Published",
    "RegionalStack",
    "StackTarget",
    "VoxflowClient",
]
