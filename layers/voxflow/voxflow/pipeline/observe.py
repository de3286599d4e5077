"""Metrics without a hard dependency: handlers adapt powertools Metrics to Meter."""

from typing import Protocol


class Meter(Protocol):
    def count(self, name: str, value: float = 1) -> None: ...

    def seconds(self, name: str, value: float) -> None: ...

    def ratio(self, name: str, value: float) -> None: ...

    def count_by(self, name: str, dimension: str, value: str) -> None:
        """One count of ``name`` with one more dimension (few values: error codes)."""
        ...


class NullMeter:
    def count(self, name: str, value: float = 1) -> None:
        pass

    def seconds(self, name: str, value: float) -> None:
        pass

    def ratio(self, name: str, value: float) -> None:
        pass

    def count_by(self, name: str, dimension: str, value: str) -> None:
        pass
