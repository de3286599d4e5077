"""Telephony and web delivery: the raw formats (pcm, G.711 mulaw and alaw), Polly's
format names, and every offered sample rate through the real resampler."""

import numpy as np
import pytest
from numpy.typing import NDArray

from voxflow.audio import SAMPLE_RATES, AudioFormat, decode, encode
from voxflow.errors import InvalidParameter, UnsupportedFormat

VOICE_RATE = 22050


def speech_like(seconds: float, rate: int) -> NDArray[np.int16]:
    """Voiced harmonics on a gliding pitch, in syllable-rate bursts, up to about 3 kHz."""
    t = np.arange(round(seconds * rate)) / rate
    pitch = 120 + 50 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voiced = sum(np.sin(h * phase) / h for h in range(1, 18))
    syllables = 0.2 + np.sin(2 * np.pi * 3.5 * t) ** 2
    signal: NDArray[np.float64] = voiced * syllables
    return np.rint(signal * (20000 / float(np.abs(signal).max()))).astype(np.int16)


def chord(rate: int, seconds: float = 1.0) -> NDArray[np.int16]:
    """Fixed tones across the telephone band, the same function of time at any rate."""
    t = np.arange(round(seconds * rate)) / rate
    signal = sum(np.sin(2 * np.pi * f * t + f) for f in (210.0, 730.0, 1490.0, 3070.0))
    return np.rint(5000 * signal).astype(np.int16)


def sweep(f_start: float, f_stop: float, rate: int, seconds: float = 2.0) -> NDArray[np.int16]:
    """A linear chirp from ``f_start`` to ``f_stop`` Hz at amplitude 16000, faded in and
    out over 50 ms: an abrupt start splatters into every band, the passband included,
    which no resampler may remove (soxr leaves it too: -43 dB at 16 -> 8 kHz)."""
    t = np.arange(round(seconds * rate)) / rate
    phase = 2 * np.pi * (f_start * t + (f_stop - f_start) * t * t / (2 * seconds))
    fade = round(0.05 * rate)
    gain = np.ones(t.size)
    gain[:fade] = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
    gain[-fade:] = gain[:fade][::-1]
    return np.rint(16000 * gain * np.sin(phase)).astype(np.int16)


def power(pcm: NDArray[np.int16] | NDArray[np.float64]) -> float:
    return float(np.mean(np.asarray(pcm, dtype=np.float64) ** 2))


def snr_db(reference: NDArray[np.int16], decoded: NDArray[np.int16]) -> float:
    error = reference.astype(np.float64) - decoded.astype(np.float64)
    return 10 * float(np.log10(power(reference) / power(error)))


# --- G.711 decoded from the recommendation, independently of libsndfile ---------------------


def mulaw_to_linear(data: bytes) -> NDArray[np.int16]:
    """ITU-T G.711 µ-law expansion (Table 2a), on the 16-bit scale libsndfile uses."""
    code = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    exponent, mantissa = (code >> 4) & 0x07, code & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


def alaw_to_linear(data: bytes) -> NDArray[np.int16]:
    """ITU-T G.711 A-law expansion (Table 1a): even bits inverted, sign bit set = positive."""
    code = np.frombuffer(data, dtype=np.uint8).astype(np.int32) ^ 0x55
    exponent, mantissa = (code >> 4) & 0x07, code & 0x0F
    segment = np.where(exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108))
    magnitude = np.where(exponent == 0, segment, segment << np.maximum(exponent - 1, 0))
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


G711 = {AudioFormat.MULAW: mulaw_to_linear, AudioFormat.ALAW: alaw_to_linear}


# --- names, suffixes, content types -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ogg_vorbis", AudioFormat.OGG),
        ("OGG_OPUS", AudioFormat.OPUS),
        ("pcm", AudioFormat.PCM),
        ("mulaw", AudioFormat.MULAW),
        ("ulaw", AudioFormat.MULAW),
        ("alaw", AudioFormat.ALAW),
    ],
)
def test_polly_names_and_raw_names_parse(name: str, expected: AudioFormat) -> None:
    assert AudioFormat.parse(name) is expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("call.ulaw", AudioFormat.MULAW),
        ("call.mulaw", AudioFormat.MULAW),
        ("call.alaw", AudioFormat.ALAW),
        ("out.pcm", AudioFormat.PCM),
        ("out.RAW", AudioFormat.PCM),
    ],
)
def test_raw_suffixes_name_their_format(path: str, expected: AudioFormat) -> None:
    assert AudioFormat.from_path(path) is expected


def test_json_is_refused_as_speech_marks_not_audio() -> None:
    with pytest.raises(UnsupportedFormat, match="speech marks") as caught:
        AudioFormat.parse("json")
    assert caught.value.code == "UNSUPPORTED_FORMAT"


def test_raw_formats_name_their_encoding_and_rate_in_the_content_type() -> None:
    assert encode(speech_like(0.1, 16000), 16000, "pcm").content_type == (
        "audio/pcm;rate=16000;channels=1"
    )
    assert encode(speech_like(0.1, 8000), 8000, "mulaw").content_type == "audio/mulaw"
    assert encode(speech_like(0.1, 8000), 8000, "alaw").content_type == "audio/alaw"


# --- which rates each format takes --------------------------------------------------------------

ALLOWED = {
    AudioFormat.OPUS: {8000, 16000, 24000, 48000},
    AudioFormat.MULAW: {8000},
    AudioFormat.ALAW: {8000},
}


@pytest.mark.parametrize("audio_format", list(AudioFormat))
@pytest.mark.parametrize("rate", SAMPLE_RATES)
def test_each_format_takes_its_rates_and_refuses_the_others(
    audio_format: AudioFormat, rate: int
) -> None:
    if rate in ALLOWED.get(audio_format, set(SAMPLE_RATES)):
        assert audio_format.output_rate(rate, VOICE_RATE) == rate
        return
    with pytest.raises(InvalidParameter, match=f"{audio_format.value} cannot be delivered at"):
        audio_format.output_rate(rate, VOICE_RATE)
    with pytest.raises(InvalidParameter) as caught:
        encode(speech_like(0.1, VOICE_RATE), VOICE_RATE, audio_format, output_rate=rate)
    assert caught.value.code == "INVALID_PARAMETER"


@pytest.mark.parametrize(
    ("audio_format", "default"),
    [
        (AudioFormat.WAV, VOICE_RATE),
        (AudioFormat.MP3, VOICE_RATE),
        (AudioFormat.PCM, VOICE_RATE),
        (AudioFormat.OPUS, 48000),
        (AudioFormat.MULAW, 8000),
        (AudioFormat.ALAW, 8000),
    ],
)
def test_without_a_rate_each_format_keeps_its_default(
    audio_format: AudioFormat, default: int
) -> None:
    assert encode(speech_like(0.2, VOICE_RATE), VOICE_RATE, audio_format).sample_rate == default


@pytest.mark.parametrize("audio_format", list(AudioFormat))
def test_every_format_and_rate_keeps_the_duration_within_one_sample(
    audio_format: AudioFormat,
) -> None:
    source = speech_like(0.75, VOICE_RATE)
    for rate in sorted(ALLOWED.get(audio_format, set(SAMPLE_RATES))):
        encoded = encode(source, VOICE_RATE, audio_format, output_rate=rate)
        decoded, decoded_rate = decode(encoded.data, audio_format, rate)
        assert (encoded.sample_rate, decoded_rate) == (rate, rate)
        # The rounded ratio: never more than half a sample from the source's duration.
        assert abs(decoded.size / rate - source.size / VOICE_RATE) <= 0.5 / rate, rate
        assert decoded.size == round(source.size * rate / VOICE_RATE), rate


# --- what the raw formats hold ------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 16000, VOICE_RATE])
def test_pcm_is_the_samples_themselves_little_endian(rate: int) -> None:
    source = speech_like(0.3, rate)
    encoded = encode(source, rate, AudioFormat.PCM)
    assert encoded.data == source.astype("<i2").tobytes()
    assert np.array_equal(decode(encoded.data, AudioFormat.PCM, rate)[0], source)


@pytest.mark.parametrize("audio_format", [AudioFormat.MULAW, AudioFormat.ALAW])
def test_g711_decodes_back_close_to_the_source(audio_format: AudioFormat) -> None:
    source = speech_like(1.0, 8000)
    encoded = encode(source, 8000, audio_format)
    assert len(encoded.data) == source.size  # one byte a sample, no header
    ours = G711[audio_format](encoded.data)
    # libsndfile's decoder is the reference our table is checked against.
    assert np.array_equal(ours, decode(encoded.data, audio_format)[0])
    # G.711 keeps about 38 dB SNR on speech at a good level (companding: ~6 dB per bit).
    assert snr_db(source, ours) > 30


@pytest.mark.parametrize(
    ("audio_format", "samples", "codes"),
    [
        # G.711's tables: silence, the largest magnitudes, and one value in a middle segment.
        (AudioFormat.MULAW, [0, 32124, -32124, 1000, -1000], [0xFF, 0x80, 0x00, 0xCE, 0x4E]),
        (AudioFormat.ALAW, [0, 32256, -32256, 1000, -1000], [0xD5, 0xAA, 0x2A, 0xFA, 0x7A]),
    ],
)
def test_g711_codes_are_the_recommendations(
    audio_format: AudioFormat, samples: list[int], codes: list[int]
) -> None:
    pcm = np.array(samples, dtype=np.int16)
    assert list(encode(pcm, 8000, audio_format).data) == codes


def test_g711_at_the_voice_rate_is_resampled_to_8_khz() -> None:
    source = speech_like(1.0, VOICE_RATE)
    encoded = encode(source, VOICE_RATE, AudioFormat.MULAW)
    assert encoded.sample_rate == 8000
    assert len(encoded.data) == round(source.size * 8000 / VOICE_RATE)
    source, reference = chord(VOICE_RATE), chord(8000)  # all of it in the 8 kHz band
    encoded = encode(source, VOICE_RATE, AudioFormat.MULAW)
    assert snr_db(reference[400:-400], mulaw_to_linear(encoded.data)[400:-400]) > 30


# --- the resampler does not alias ---------------------------------------------------------------

DOWNSAMPLING = [(src, dst) for src in SAMPLE_RATES for dst in SAMPLE_RATES if dst < src]


@pytest.mark.parametrize(("src", "dst"), DOWNSAMPLING)
def test_a_sweep_above_the_new_nyquist_leaves_nothing(src: int, dst: int) -> None:
    """Everything from the target's Nyquist frequency up to the source's, swept through
    the delivery path (encode to pcm), must be gone: what is left would be its alias.
    A sweep below 0.85 of the new Nyquist passes, so a resampler that only output
    silence would fail."""
    above = sweep(dst / 2, src / 2, src)
    delivered = encode(above, src, AudioFormat.PCM, output_rate=dst)
    out = decode(delivered.data, AudioFormat.PCM, dst)[0]
    leaked_db = 10 * np.log10(max(power(out), 1e-12) / power(above))
    # Measured -94 to -104 dB (soxr HQ: -86); linear interpolation (np.interp) leaves -5 to 0 dB.
    assert leaked_db < -80, f"{src}->{dst}: {leaked_db:.1f} dB"

    below = sweep(100, 0.85 * dst / 2, src)
    kept = encode(below, src, AudioFormat.PCM, output_rate=dst)
    kept_db = 10 * np.log10(power(decode(kept.data, AudioFormat.PCM, dst)[0]) / power(below))
    assert abs(kept_db) < 0.1
