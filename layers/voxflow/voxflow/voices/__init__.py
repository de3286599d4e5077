"""Voices by id: the built-in joe voice and any Piper voice added by path."""

from voxflow.voices.config import VoiceConfig, load_voice_config
from voxflow.voices.registry import (
    BUILTIN_VOICE_ID,
    ListedVoice,
    Voice,
    VoiceRegistry,
    language_tag,
)
from voxflow.voices.version import model_version

__all__ = [
    "BUILTIN_VOICE_ID",
    "ListedVoice",
    "Voice",
    "VoiceConfig",
    "VoiceRegistry",
    "language_tag",
    "load_voice_config",
    "model_version",
]
