"""The synthesis engine: voice sessions, phonemization and batched inference.

The parameters load without the engine's libraries: the event contract validates them
in functions that carry no engine (HealthFunction has the VoxflowLayer only).
"""

import importlib
from typing import TYPE_CHECKING

from voxflow.engine.params import ResolvedParams, SynthesisParams

if TYPE_CHECKING:
    from voxflow.engine.synthesizer import Engine, SpeechChunk

_HEAVY = {"Engine": "voxflow.engine.synthesizer", "SpeechChunk": "voxflow.engine.synthesizer"}


def __getattr__(name: str) -> object:
    if name not in _HEAVY:
        raise AttributeError(f"module 'voxflow.engine' has no attribute {name!r}")
    return getattr(importlib.import_module(_HEAVY[name]), name)


__all__ = ["Engine", "ResolvedParams", "SpeechChunk", "SynthesisParams"]
