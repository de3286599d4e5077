"""The pre-rendered 'service busy' clip: made once with the real engine, shipped as a WAV.

``python -m voxflow.fallback`` renders it again (after a voice or text change) into
this package, from where the layer build copies it like any other file.
"""

from pathlib import Path

import numpy as np

from voxflow.audio import AudioFormat, decode, encode
from voxflow.engine import Engine

BUSY_TEXT = "The service is busy. Please try again shortly."
CLIP_VOICE = "joe"
CLIP_PATH = Path(__file__).resolve().parent / "busy_joe.wav"


def render_clip(engine: Engine, voice: str = CLIP_VOICE) -> bytes:
    """The busy message as a WAV file at the voice's own rate."""
    chunks = list(engine.synthesize_text(BUSY_TEXT, voice))
    pcm = np.concatenate([chunk.pcm for chunk in chunks])
    return encode(pcm, chunks[0].sample_rate, AudioFormat.WAV).data


def load_clip(path: Path = CLIP_PATH) -> tuple[np.ndarray, int]:
    """The shipped clip's int16 samples and sample rate."""
    return decode(path.read_bytes())
