"""A one-line progress bar on stderr, drawn only when stderr is a terminal."""

import sys
import time
from typing import TextIO

_WIDTH = 30


class ProgressBar:
    def __init__(self, total: int, label: str, stream: TextIO = sys.stderr) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream
        self.done = 0
        self.started = time.perf_counter()
        self.enabled = stream.isatty()

    def advance(self, amount: int) -> None:
        self.done = min(self.total, self.done + amount)
        if self.enabled:
            filled = _WIDTH * self.done // self.total
            elapsed = time.perf_counter() - self.started
            bar = "#" * filled + "-" * (_WIDTH - filled)
            percent = 100 * self.done // self.total
            self.stream.write(f"\r{self.label} [{bar}] {percent:3d}% {elapsed:5.1f}s")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
