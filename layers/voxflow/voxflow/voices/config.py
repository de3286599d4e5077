"""A Piper voice's JSON config (``model.onnx.json``)."""

import json
from pathlib import Path

from piper.config import PhonemeType, PiperConfig

from voxflow.errors import VoiceLoadError

# piper's own dataclass already parses every field Piper voices use; voxflow
# reuses it so a voice that works with piper works here unchanged.
VoiceConfig = PiperConfig


def load_voice_config(path: Path) -> VoiceConfig:
    try:
        with path.open(encoding="utf-8") as config_file:
            raw = json.load(config_file)
        config = PiperConfig.from_dict(raw)
    except FileNotFoundError as error:
        raise VoiceLoadError(f"voice config not found: {path}") from error
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise VoiceLoadError(f"voice config {path} is invalid: {error}") from error
    if config.phoneme_type != PhonemeType.ESPEAK:
        raise VoiceLoadError(
            f"voice config {path}: phoneme type {config.phoneme_type.value!r} is not supported "
            "(voxflow speaks espeak-phonemized voices)"
        )
    return config
