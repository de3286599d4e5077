"""int16 mono PCM: conversion from the model's floats, joining chunks, resampling."""

import math
from collections.abc import Iterable
from numbers import Real
from typing import Any

import numpy as np
from numpy.typing import NDArray

from voxflow.errors import InvalidParameter

# Below this fraction of the shared Nyquist frequency the resampler passes audio untouched;
# above it a raised-cosine roll-off reaches zero at Nyquist. The gentle slope keeps the
# filter's impulse response short, and speech holds little energy that high.
_ROLLOFF_START = 0.9
# Input samples of context on each side of a resampling block. The roll-off's impulse
# response has decayed far below one LSB this far out, so blocks join seamlessly.
_MARGIN = 1024
_BLOCK = 8 * _MARGIN


def float_to_int16(audio: NDArray[np.floating[Any]]) -> NDArray[np.int16]:
    """The model's float audio in [-1, 1] as int16, exactly as piper converts it."""
    scaled: NDArray[np.floating[Any]] = np.clip(audio * 32767.0, -32767.0, 32767.0)
    return scaled.astype(np.int16)


def require_mono_int16(pcm: object, name: str = "pcm") -> NDArray[np.int16]:
    """``pcm`` itself, once checked to be a 1-D int16 array."""
    if not isinstance(pcm, np.ndarray) or pcm.dtype != np.int16 or pcm.ndim != 1:
        shape = f"{pcm.dtype} array of shape {pcm.shape}" if isinstance(pcm, np.ndarray) else pcm
        raise InvalidParameter(f"{name} must be a 1-D int16 array, got {shape!r}")
    return pcm


def require_rate(rate: int, name: str = "sample_rate") -> int:
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer) or rate <= 0:
        raise InvalidParameter(f"{name} must be a positive integer, got {rate!r}")
    return int(rate)


def _require_duration(value: float, name: str) -> float:
    if not isinstance(value, Real) or not math.isfinite(value) or value < 0:
        raise InvalidParameter(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def _fade_in_gain(length: int) -> NDArray[np.float64]:
    # Sampled at bin centres, so it never quite reaches 0 or 1 and its mirror image is the
    # matching fade-out.
    return 0.5 - 0.5 * np.cos(np.pi * (np.arange(length) + 0.5) / length)


def _apply_gain(pcm: NDArray[np.int16], gain: NDArray[np.float64]) -> NDArray[np.int16]:
    return np.rint(pcm * gain).astype(np.int16)


class PcmJoiner:
    """Joins int16 chunks as they arrive, with pauses and click-free joins between them.

    A chunk's last ``fade_ms`` can only be faded once the next chunk shows that a join
    follows, so ``feed`` holds it back; ``finish`` releases it untouched. Concatenating
    every return value gives exactly ``join_pcm`` of the same chunks. Empty chunks are
    skipped: they add no pause. After ``finish`` the joiner is ready for a new stream.
    """

    def __init__(self, sample_rate: int, pause_s: float = 0.0, fade_ms: float = 5.0) -> None:
        rate = require_rate(sample_rate)
        self._pause = pause_samples(pause_s, rate)
        self._fade = round(_require_duration(fade_ms, "fade_ms") * rate / 1000)
        self._held: NDArray[np.int16] | None = None

    def feed(self, chunk: NDArray[np.int16]) -> NDArray[np.int16]:
        """The samples that are final once ``chunk`` is known (possibly none)."""
        samples = require_mono_int16(chunk, "chunk")
        if samples.size == 0:
            return np.zeros(0, dtype=np.int16)
        # A quarter of the chunk at most, so a short chunk keeps an unfaded middle.
        fade = min(self._fade, samples.size // 4)
        parts: list[NDArray[np.int16]] = []
        if self._held is not None:
            parts.append(_apply_gain(self._held, _fade_in_gain(self._held.size)[::-1]))
            parts.append(np.zeros(self._pause, dtype=np.int16))
            head = _apply_gain(samples[:fade], _fade_in_gain(fade))
            samples = np.concatenate([head, samples[fade:]])
        cut = samples.size - fade
        parts.append(samples[:cut])
        # A copy, so that a caller reusing its buffer cannot change what is held.
        self._held = samples[cut:].copy()
        return np.concatenate(parts)

    def finish(self) -> NDArray[np.int16]:
        """The held-back end of the last chunk, unfaded: the stream ends here."""
        held, self._held = self._held, None
        return np.zeros(0, dtype=np.int16) if held is None else held


def pause_samples(pause_s: float, sample_rate: int) -> int:
    """The silence between two joined chunks, in samples."""
    return round(_require_duration(pause_s, "pause_s") * require_rate(sample_rate))


def join_offsets(lengths: Iterable[int], sample_rate: int, pause_s: float = 0.0) -> list[int]:
    """Where each chunk of ``lengths`` samples starts in ``join_pcm``'s output.

    Fading changes no length, and an empty chunk adds no pause (it starts where the
    next one does). Speech marks place their times with this.
    """
    pause = pause_samples(pause_s, sample_rate)
    offsets: list[int] = []
    position = 0
    started = False
    for length in lengths:
        if length > 0 and started:
            position += pause
        offsets.append(position)
        if length > 0:
            position += length
            started = True
    return offsets


def join_pcm(
    chunks: Iterable[NDArray[np.int16]],
    sample_rate: int,
    pause_s: float = 0.0,
    fade_ms: float = 5.0,
) -> NDArray[np.int16]:
    """``chunks`` joined by ``pause_s`` of silence, faded at each join (see PcmJoiner).

    With ``fade_ms=0`` this is a plain concatenation with the pauses in between.
    """
    joiner = PcmJoiner(sample_rate, pause_s, fade_ms)
    parts = [joiner.feed(chunk) for chunk in chunks]
    parts.append(joiner.finish())
    return np.concatenate(parts)


def resample(pcm: NDArray[np.int16], src_rate: int, dst_rate: int) -> NDArray[np.int16]:
    """``pcm`` at ``dst_rate``, band-limited, ``round(len * dst / src)`` samples long.

    Works in the frequency domain on overlapping blocks (numpy only, O(n log n)): each
    block's spectrum is cut or zero-extended to the new rate, with a raised-cosine
    roll-off below the lower Nyquist frequency so that downsampling does not alias.
    """
    samples = require_mono_int16(pcm)
    src = require_rate(src_rate, "src_rate")
    dst = require_rate(dst_rate, "dst_rate")
    if src == dst:
        return samples.copy()
    n_out = round(samples.size * dst / src)
    if n_out == 0:
        return np.zeros(0, dtype=np.int16)
    common = math.gcd(src, dst)
    up, down = dst // common, src // common
    # Block starts and margins are whole multiples of `down` input samples, so every
    # block's first output sample lands exactly on the output grid.
    margin = down * math.ceil(_MARGIN / down)
    block = down * min(math.ceil(_BLOCK / down), math.ceil(samples.size / down))
    n_blocks = math.ceil(samples.size / block)
    span, span_out = block + 2 * margin, (block + 2 * margin) * up // down
    block_out, margin_out = block * up // down, margin * up // down

    gain = _spectral_gain(span, span_out, src, dst)
    padded = np.zeros(n_blocks * block + 2 * margin)
    padded[margin : margin + samples.size] = samples
    out = np.empty(n_blocks * block_out)
    for index in range(n_blocks):
        spectrum = np.fft.rfft(padded[index * block : index * block + span])
        resampled = np.fft.irfft(spectrum[: gain.size] * gain, span_out)
        out[index * block_out : (index + 1) * block_out] = resampled[
            margin_out : margin_out + block_out
        ]
    return np.clip(np.rint(out[:n_out]), -32768, 32767).astype(np.int16)


def _spectral_gain(span: int, span_out: int, src: int, dst: int) -> NDArray[np.float64]:
    """Per-bin gain of a ``span``-sample block's spectrum on its way to ``span_out`` samples."""
    bins = min(span // 2 + 1, span_out // 2 + 1)
    freqs = np.arange(bins) * (src / span)
    nyquist = min(src, dst) / 2
    start = _ROLLOFF_START * nyquist
    position: NDArray[np.float64] = np.clip((nyquist - freqs) / (nyquist - start), 0.0, 1.0)
    # irfft's 1/n normalisation is by the output length; the input's was by its own.
    return (0.5 - 0.5 * np.cos(np.pi * position)) * (span_out / span)
