"""Audio for voxflow: joining the voice's int16 chunks, resampling, encoding, decoding."""

from voxflow.audio.encode import (
    MP3_SAMPLE_RATES,
    OPUS_SAMPLE_RATES,
    EncodedAudio,
    decode,
    encode,
    mp3_bitrates,
)
from voxflow.audio.formats import AudioFormat
from voxflow.audio.pcm import PcmJoiner, float_to_int16, join_pcm, resample

__all__ = [
    "MP3_SAMPLE_RATES",
    "OPUS_SAMPLE_RATES",
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
