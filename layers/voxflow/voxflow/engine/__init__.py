"""The synthesis engine: voice sessions, phonemization and batched inference."""

from voxflow.engine.params import ResolvedParams, SynthesisParams
from voxflow.engine.synthesizer import Engine, SpeechChunk

__all__ = ["Engine", "ResolvedParams", "SpeechChunk", "SynthesisParams"]
