"""The one shape every local process owner has: ``start()``, ``stop()``, and a with block."""

from types import TracebackType
from typing import Self


class Lifecycle:
    """Started on entering a with block, stopped on leaving it, whatever happened inside."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
