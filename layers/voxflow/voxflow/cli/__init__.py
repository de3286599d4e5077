"""The ``voxflow`` command line."""

from voxflow.cli.main import main

__all__ = ["main"]
