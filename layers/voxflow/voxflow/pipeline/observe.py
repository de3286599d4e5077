"""Metrics without a hard dependency: handlers adapt powertools Metrics to Meter."""

from typing import Protocol


class Meter(Protocol):
    def count(self, name: str, value: float = 1) -> None: ...

    def seconds(self, name: str, value: float) -> None: ...

    def ratio(self, name: str, value: float) -> None: ...


class NullMeter:
    def count(self, name: str, value: float = 1) -> None:
        pass

    def seconds(self, name: str, value: float) -> None:
        pass

    def ratio(self, name: str, value: float) -> None:
        pass
