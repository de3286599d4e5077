"""What SSML asks of the audio after the model: volume, dynamic range compression,
and the tone that bleeps an expletive. Inputs are peak-normalized float audio."""

import numpy as np
from numpy.typing import NDArray

from voxflow.text.document import SILENT_DB, Prosody

_DRC_THRESHOLD_DB = -24.0
_DRC_RATIO = 4.0
_DRC_WINDOW_S = 0.01
_BLEEP_HZ = 1000.0
_BLEEP_LEVEL = 0.5  # -6 dBFS
_BLEEP_FADE_S = 0.005


def apply_prosody(
    audio: NDArray[np.float32], prosody: Prosody, sample_rate: int
) -> NDArray[np.float32]:
    if prosody.volume_db <= SILENT_DB:
        return np.zeros_like(audio)
    if prosody.drc:
        audio = compress(audio, sample_rate)
    gain = float(10.0 ** (prosody.volume_db / 20.0))
    if gain > 1.0:
        # The speech already peaks at full scale: louder is a soft saturation that
        # raises the quieter parts and keeps the peaks at 1, not clipping.
        return np.asarray(np.tanh(audio * gain) / np.tanh(gain), dtype=np.float32)
    return (audio * np.float32(gain)).astype(np.float32)


def compress(audio: NDArray[np.float32], sample_rate: int) -> NDArray[np.float32]:
    """A feed-forward compressor on a 10 ms RMS envelope (-24 dBFS, 4:1), with make-up
    gain back to the input's peak: loud and quiet syllables move closer together."""
    if audio.size == 0:
        return audio
    window = max(1, int(sample_rate * _DRC_WINDOW_S))
    power = np.convolve(audio.astype(np.float64) ** 2, np.ones(window) / window, mode="same")
    level_db = 10.0 * np.log10(power + 1e-12)
    over_db = np.maximum(level_db - _DRC_THRESHOLD_DB, 0.0)
    compressed = audio * 10.0 ** (-over_db * (1.0 - 1.0 / _DRC_RATIO) / 20.0)
    peak_in, peak_out = float(np.max(np.abs(audio))), float(np.max(np.abs(compressed)))
    if peak_out <= 0.0:
        return audio
    return (compressed * (peak_in / peak_out)).astype(np.float32)


def bleep(seconds: float, sample_rate: int) -> NDArray[np.float32]:
    count = round(seconds * sample_rate)
    time = np.arange(count, dtype=np.float64) / sample_rate
    tone = _BLEEP_LEVEL * np.sin(2.0 * np.pi * _BLEEP_HZ * time)
    fade = min(count // 2, int(_BLEEP_FADE_S * sample_rate))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        tone[:fade] *= ramp
        tone[count - fade :] *= ramp[::-1]
    return tone.astype(np.float32)
