"""Audio for voxflow: joining the voice's int16 chunks, resampling, encoding, decoding.

The formats load without numpy and the codecs: the event contract names them in
functions that carry no engine layer (HealthFunction).
"""

import importlib
from typing import TYPE_CHECKING

# No submodule shares a name with what it exports: importing it would set the package's
# attribute to the module (``encode`` was both once).
from voxflow.audio.formats import OPUS_SAMPLE_RATES, SAMPLE_RATES, AudioFormat

if TYPE_CHECKING:
    from voxflow.audio.codec import (
        MP3_SAMPLE_RATES,
        EncodedAudio,
        decode,
        encode,
        mp3_bitrates,
    )
    from voxflow.audio.pcm import PcmJoiner, float_to_int16, join_pcm, resample

_ENCODE = ("MP3_SAMPLE_RATES", "EncodedAudio", "decode", "encode")
_HEAVY = {
    **dict.fromkeys((*_ENCODE, "mp3_bitrates"), "voxflow.audio.codec"),
    **dict.fromkeys(("PcmJoiner", "float_to_int16", "join_pcm", "resample"), "voxflow.audio.pcm"),
}


def __getattr__(name: str) -> object:
    if name not in _HEAVY:
        raise AttributeError(f"module 'voxflow.audio' has no attribute {name!r}")
    return getattr(importlib.import_module(_HEAVY[name]), name)


__all__ = [
    "MP3_SAMPLE_RATES",
    "OPUS_SAMPLE_RATES",
    "SAMPLE_RATES",
    "AudioFormat",
    "EncodedAudio",
    "PcmJoiner",
    "decode",
    "encode",
    "float_to_int16",
    "join_pcm",
    "mp3_bitrates",
    "resample",
]
