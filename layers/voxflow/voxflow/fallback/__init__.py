"""Fallback audio: when synthesis is impossible, a pre-rendered 'service busy' clip,
returned as a SynthesisCompleted marked ``degraded``. On with VOXFLOW_FALLBACK_AUDIO=1.
"""

from voxflow.fallback.audio import FallbackAudio, StoredClip
from voxflow.fallback.clip import BUSY_TEXT, CLIP_PATH, CLIP_VOICE, load_clip, render_clip

__all__ = [
    "BUSY_TEXT",
    "CLIP_PATH",
    "CLIP_VOICE",
    "FallbackAudio",
    "StoredClip",
    "load_clip",
    "render_clip",
]
