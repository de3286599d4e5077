"""int16 mono PCM to and from the delivered formats, in memory, with libsndfile.

Every format decodes back to the input's exact sample count (at the output rate, the
rounded ratio): libsndfile writes LAME's
gapless tag into MP3s and Opus's pre-skip and end trim into Ogg, which hide the codecs'
encoder delay and padding. One case defeats that (a constant MP3 bitrate whose frames
are too small to hold the tag), so those bitrates are refused.
"""

import io
from dataclasses import dataclass

import numpy as np
import soundfile as sf
from numpy.typing import NDArray

from voxflow.audio.formats import AudioFormat
from voxflow.audio.pcm import require_mono_int16, require_rate, resample
from voxflow.errors import InvalidParameter, UnsupportedFormat

MP3_SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

_MPEG1_KBPS = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MPEG2_KBPS = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
# LAME's tag takes 156 bytes after the frame header and side info: 21 bytes more in a mono
# MPEG-1 frame, 13 in MPEG-2 and 2.5.
_LAME_TAG_BYTES = 156

_WRITE_BLOCK_FRAMES = 16_384

_SOUNDFILE_TYPES: dict[AudioFormat, tuple[str, str]] = {
    AudioFormat.WAV: ("WAV", "PCM_16"),
    AudioFormat.FLAC: ("FLAC", "PCM_16"),
    AudioFormat.OGG: ("OGG", "VORBIS"),
    AudioFormat.MP3: ("MP3", "MPEG_LAYER_III"),
    AudioFormat.OPUS: ("OGG", "OPUS"),
    # Headerless: libsndfile's RAW container writes the samples and nothing else.
    AudioFormat.PCM: ("RAW", "PCM_16"),
    AudioFormat.MULAW: ("RAW", "ULAW"),
    AudioFormat.ALAW: ("RAW", "ALAW"),
}


@dataclass(frozen=True, slots=True)
class EncodedAudio:
    """An encoded file; ``sample_rate`` is the stream's, ``duration_s`` the input's."""

    data: bytes
    format: AudioFormat
    sample_rate: int
    duration_s: float
    content_type: str


def encode(
    pcm: NDArray[np.int16],
    sample_rate: int,
    fmt: AudioFormat | str,
    *,
    output_rate: int | None = None,
    mp3_bitrate_kbps: int | None = None,
) -> EncodedAudio:
    """``pcm`` (at ``sample_rate``) encoded as ``fmt`` at ``output_rate``.

    ``output_rate`` must be one of the format's ``sample_rates``; None takes its
    default (``AudioFormat.output_rate``): 48000 for Opus, 8000 for G.711, the input's
    rate for the rest. MP3 needs a rate MPEG defines; it is VBR unless
    ``mp3_bitrate_kbps`` asks for a constant bitrate (see ``mp3_bitrates``), an option
    the other formats ignore. PCM is little-endian whatever the machine.
    """
    audio_format = AudioFormat.parse(fmt)
    samples = require_mono_int16(pcm)
    rate = require_rate(sample_rate)
    if samples.size == 0:
        # FLAC, MP3 and Opus files without samples cannot be opened again.
        raise InvalidParameter("cannot encode empty audio")
    duration_s = samples.size / rate
    target = audio_format.output_rate(output_rate, rate)
    if target != rate:
        samples, rate = resample(samples, rate, target), target
    compression_level: float | None = None
    bitrate_mode: str | None = None
    if audio_format is AudioFormat.MP3:
        _require_mp3_rate(rate)
        if mp3_bitrate_kbps is not None:
            compression_level = _mp3_compression_level(rate, mp3_bitrate_kbps)
            bitrate_mode = "CONSTANT"
    container, subtype = _SOUNDFILE_TYPES[audio_format]
    buffer = io.BytesIO()
    with sf.SoundFile(
        buffer,
        "w",
        rate,
        1,
        subtype=subtype,
        format=container,
        endian="LITTLE" if audio_format.headerless else "FILE",
        compression_level=compression_level,
        bitrate_mode=bitrate_mode,
    ) as output:
        # In blocks: libsndfile's Vorbis encoder overflows its stack (SIGSEGV) when one
        # write holds more than about a minute of audio.
        for start in range(0, samples.size, _WRITE_BLOCK_FRAMES):
            output.write(np.ascontiguousarray(samples[start : start + _WRITE_BLOCK_FRAMES]))
    return EncodedAudio(
        buffer.getvalue(), audio_format, rate, duration_s, audio_format.media_type(rate)
    )


def decode(
    data: bytes, raw: AudioFormat | None = None, raw_rate: int | None = None
) -> tuple[NDArray[np.int16], int]:
    """The int16 mono samples and sample rate of an encoded file (any channels mixed down).

    Headerless audio says neither its encoding nor its rate: ``raw`` and ``raw_rate``
    do (``raw_rate`` None: the format's default rate).
    """
    if raw is not None and raw.headerless:
        rate = raw.output_rate(None, 0) if raw_rate is None else require_rate(raw_rate)
        if rate == 0:
            raise InvalidParameter(f"decoding {raw.value} needs its sample rate")
    try:
        if raw is not None and raw.headerless:
            _, subtype = _SOUNDFILE_TYPES[raw]
            frames, rate = sf.read(
                io.BytesIO(data),
                dtype="int16",
                always_2d=True,
                samplerate=rate,
                channels=1,
                format="RAW",
                subtype=subtype,
                endian="LITTLE",
            )
        else:
            frames, rate = sf.read(io.BytesIO(data), dtype="int16", always_2d=True)
    except sf.LibsndfileError as err:
        raise UnsupportedFormat(f"cannot decode audio: {err.error_string}") from err
    channels: NDArray[np.int16] = frames
    if channels.shape[1] == 1:
        return np.ascontiguousarray(channels[:, 0]), int(rate)
    return np.rint(channels.mean(axis=1)).astype(np.int16), int(rate)


def mp3_bitrates(sample_rate: int) -> tuple[int, ...]:
    """The constant MP3 bitrates (kbps) that stay gapless at ``sample_rate``."""
    _require_mp3_rate(sample_rate)
    mpeg1 = sample_rate >= 32000
    frame_scale = 144_000 if mpeg1 else 72_000
    tag_bytes = _LAME_TAG_BYTES + (21 if mpeg1 else 13)
    # Without room for the tag in one frame LAME leaves it out, and decoders then play the
    # encoder's delay and padding: tens of milliseconds, most of a short clip's 1 % budget.
    return tuple(
        kbps
        for kbps in _mp3_bitrate_table(sample_rate)
        if frame_scale * kbps // sample_rate >= tag_bytes
    )


def _require_mp3_rate(sample_rate: int) -> None:
    if sample_rate not in MP3_SAMPLE_RATES:
        raise InvalidParameter(
            f"MP3 cannot store {sample_rate} Hz; resample to one of {MP3_SAMPLE_RATES}"
        )


def _mp3_bitrate_table(sample_rate: int) -> tuple[int, ...]:
    if sample_rate >= 32000:
        return _MPEG1_KBPS
    if sample_rate >= 16000:
        return _MPEG2_KBPS
    return tuple(kbps for kbps in _MPEG2_KBPS if kbps <= 64)  # MPEG-2.5


def _mp3_compression_level(sample_rate: int, kbps: int) -> float:
    allowed = mp3_bitrates(sample_rate)
    if kbps not in allowed:
        raise InvalidParameter(
            f"mp3_bitrate_kbps must be one of {allowed} at {sample_rate} Hz, got {kbps!r}"
        )
    table = _mp3_bitrate_table(sample_rate)
    lowest, highest = table[0], table[-1]
    # libsndfile asks LAME for highest - level * (highest - lowest) kbps, which LAME rounds
    # to the nearest standard bitrate.
    return (highest - kbps) / (highest - lowest)
