"""voxflow.audio: formats, joining chunks, resampling, and every codec's round trip."""

import dataclasses
import io
import math

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray

from voxflow.audio import (
    MP3_SAMPLE_RATES,
    AudioFormat,
    EncodedAudio,
    PcmJoiner,
    decode,
    encode,
    float_to_int16,
    join_pcm,
    mp3_bitrates,
    resample,
)
from voxflow.errors import InvalidParameter, UnsupportedFormat

RATE = 22050


def speech_like(seconds: float, rate: int = RATE) -> NDArray[np.int16]:
    """Voiced harmonics on a gliding pitch, in syllable-rate bursts, with a little noise."""
    t = np.arange(round(seconds * rate)) / rate
    pitch = 120 + 50 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voiced = sum(np.sin(h * phase) / h for h in range(1, 25))
    syllables = np.sin(2 * np.pi * 3.5 * t) ** 2
    noise = np.random.default_rng(7).standard_normal(t.size) * 0.05
    signal: NDArray[np.float64] = voiced * syllables + noise
    scaled: NDArray[np.float64] = signal * (20000 / float(np.abs(signal).max()))
    return np.rint(scaled).astype(np.int16)


def tone(freq: float, rate: int, count: int, amplitude: float = 16000) -> NDArray[np.int16]:
    return np.rint(amplitude * np.sin(2 * np.pi * freq * np.arange(count) / rate)).astype(np.int16)


def lag_of(reference: NDArray[np.int16], signal: NDArray[np.int16]) -> int:
    """How many samples ``signal`` runs behind ``reference`` (cross-correlation peak)."""
    size = reference.size + signal.size
    spectrum = np.fft.rfft(signal.astype(np.float64), size) * np.conj(
        np.fft.rfft(reference.astype(np.float64), size)
    )
    peak = int(np.argmax(np.fft.irfft(spectrum, size)))
    return peak - size if peak > size // 2 else peak


def rms(pcm: NDArray[np.int16]) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))


# --- formats -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("wav", AudioFormat.WAV),
        ("FLAC", AudioFormat.FLAC),
        (" Ogg ", AudioFormat.OGG),
        (".mp3", AudioFormat.MP3),
        ("OPUS", AudioFormat.OPUS),
        (AudioFormat.MP3, AudioFormat.MP3),
    ],
)
def test_parse_ignores_case_space_and_dot(text: str, expected: AudioFormat) -> None:
    assert AudioFormat.parse(text) is expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [("out.MP3", AudioFormat.MP3), ("dir.d/speech.opus", AudioFormat.OPUS), ("a.b.Wav", "wav")],
)
def test_from_path_reads_the_suffix(path: str, expected: AudioFormat) -> None:
    assert AudioFormat.from_path(path) is AudioFormat(expected)


@pytest.mark.parametrize("text", ["aiff", "", "mp4", "vorbis"])
def test_parse_rejects_unknown_formats_listing_the_supported_ones(text: str) -> None:
    with pytest.raises(UnsupportedFormat, match="wav, flac, ogg, mp3, opus") as caught:
        AudioFormat.parse(text)
    assert caught.value.code == "UNSUPPORTED_FORMAT"


def test_parse_rejects_a_non_string() -> None:
    with pytest.raises(UnsupportedFormat):
        AudioFormat.parse(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["out", "out.xyz", "archive.tar.gz"])
def test_from_path_rejects_missing_or_unknown_suffixes(path: str) -> None:
    with pytest.raises(UnsupportedFormat, match="supported formats"):
        AudioFormat.from_path(path)


@pytest.mark.parametrize(
    ("audio_format", "content_type", "extension", "lossy"),
    [
        (AudioFormat.WAV, "audio/wav", ".wav", False),
        (AudioFormat.FLAC, "audio/flac", ".flac", False),
        (AudioFormat.OGG, "audio/ogg", ".ogg", True),
        (AudioFormat.MP3, "audio/mpeg", ".mp3", True),
        (AudioFormat.OPUS, "audio/ogg; codecs=opus", ".opus", True),
        (AudioFormat.PCM, "audio/pcm", ".pcm", False),
        (AudioFormat.MULAW, "audio/mulaw", ".ulaw", True),
        (AudioFormat.ALAW, "audio/alaw", ".alaw", True),
    ],
)
def test_format_facts(
    audio_format: AudioFormat, content_type: str, extension: str, lossy: bool
) -> None:
    assert audio_format.content_type == content_type
    assert audio_format.extension == extension
    assert audio_format.lossy is lossy


# --- float_to_int16 ------------------------------------------------------------------------


def test_float_to_int16_scales_clips_and_truncates_like_piper() -> None:
    audio = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0], dtype=np.float32)
    pcm = float_to_int16(audio)
    assert pcm.dtype == np.int16
    assert pcm.tolist() == [-32767, -32767, -16383, 0, 16383, 32767, 32767]


# --- join_pcm and PcmJoiner ----------------------------------------------------------------


def reference_join(
    chunks: list[NDArray[np.int16]], rate: int, pause_s: float, fade_ms: float
) -> NDArray[np.int16]:
    """The join written the obvious, non-streaming way, to check the streaming one against."""
    fade, pause = round(fade_ms * rate / 1000), round(pause_s * rate)
    kept = [chunk.astype(np.float64) for chunk in chunks if chunk.size]
    parts: list[NDArray[np.float64]] = []
    for index, chunk in enumerate(kept):
        length = min(fade, chunk.size // 4)
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(length) + 0.5) / length)
        if index > 0:
            chunk[:length] *= ramp
            parts.append(np.zeros(pause))
        if index < len(kept) - 1:
            chunk[chunk.size - length :] *= ramp[::-1]
        parts.append(chunk)
    return np.rint(np.concatenate([np.zeros(0), *parts])).astype(np.int16)


def test_join_inserts_pauses_only_between_chunks() -> None:
    chunks = [speech_like(0.3), speech_like(0.2), speech_like(0.25)]
    joined = join_pcm(chunks, RATE, pause_s=0.25)
    assert joined.dtype == np.int16
    assert joined.size == sum(chunk.size for chunk in chunks) + 2 * round(0.25 * RATE)


def test_join_without_fades_is_a_plain_concatenation() -> None:
    chunks = [speech_like(0.3), speech_like(0.2)[::-1].copy(), speech_like(0.1)]
    pause = np.zeros(round(0.1 * RATE), dtype=np.int16)
    expected = np.concatenate([chunks[0], pause, chunks[1], pause, chunks[2]])
    assert np.array_equal(join_pcm(chunks, RATE, pause_s=0.1, fade_ms=0), expected)
    assert np.array_equal(join_pcm(chunks, RATE, fade_ms=0), np.concatenate(chunks))


def test_join_of_nothing_is_empty_int16() -> None:
    for chunks in ([], [np.zeros(0, dtype=np.int16)]):
        joined = join_pcm(chunks, RATE, pause_s=0.5)
        assert joined.dtype == np.int16
        assert joined.size == 0


def test_empty_chunks_add_no_pause() -> None:
    chunk = speech_like(0.1)
    empty = np.zeros(0, dtype=np.int16)
    assert np.array_equal(
        join_pcm([empty, chunk, empty, chunk, empty], RATE, pause_s=0.1),
        join_pcm([chunk, chunk], RATE, pause_s=0.1),
    )


def test_fades_leave_the_outer_ends_untouched() -> None:
    first, middle, last = tone(100, RATE, 4000), tone(150, RATE, 3000), tone(200, RATE, 5000)
    fade = round(5 * RATE / 1000)
    joined = join_pcm([first, middle, last], RATE, pause_s=0.05, fade_ms=5)
    assert np.array_equal(joined[: first.size - fade], first[:-fade])
    assert np.array_equal(joined[-(last.size - fade) :], last[fade:])
    assert np.array_equal(join_pcm([first], RATE, pause_s=1.0, fade_ms=20), first)


def test_fades_remove_the_jump_at_a_join() -> None:
    # A 100 Hz cosine cut where it peaks, against one starting at its negative peak.
    rising = np.rint(30000 * np.cos(2 * np.pi * 100 * np.arange(2205) / RATE)).astype(np.int16)
    first, second = rising[::-1].copy(), -rising
    window = slice(first.size - 200, first.size + 200)

    def biggest_step(joined: NDArray[np.int16]) -> int:
        return int(np.abs(np.diff(joined[window].astype(np.int32))).max())

    hard = biggest_step(join_pcm([first, second], RATE, fade_ms=0))
    soft = biggest_step(join_pcm([first, second], RATE, fade_ms=5))
    assert hard > 59000
    assert soft < 1000  # the cosine's own steepest step is about 850


def test_fade_is_capped_at_a_quarter_of_each_chunk() -> None:
    flat = np.full(8, 1000, dtype=np.int16)
    joined = join_pcm([flat, flat], RATE, fade_ms=5)  # 5 ms would be 110 samples
    assert np.array_equal(joined[:6], flat[:6])
    assert np.all(joined[6:10] < 1000)
    assert np.array_equal(joined[10:], flat[:6])


def test_joiner_holds_back_the_end_of_each_chunk_until_it_knows_what_follows() -> None:
    joiner = PcmJoiner(RATE, pause_s=0.01, fade_ms=5)
    fade, pause = round(5 * RATE / 1000), round(0.01 * RATE)
    chunk = speech_like(0.1)
    assert np.array_equal(joiner.feed(chunk), chunk[:-fade])
    assert joiner.feed(np.zeros(0, dtype=np.int16)).size == 0
    assert joiner.feed(chunk).size == fade + pause + chunk.size - fade
    assert np.array_equal(joiner.finish(), chunk[-fade:])
    assert joiner.finish().size == 0
    # After finish a new stream starts: no pause and no fade before its first chunk.
    assert np.array_equal(joiner.feed(chunk), chunk[:-fade])


chunk_lists = st.lists(
    arrays(np.int16, st.integers(0, 400), elements=st.integers(-32768, 32767)), max_size=6
)


@settings(max_examples=100, deadline=None)
@given(
    chunks=chunk_lists,
    rate=st.sampled_from([8000, 16000, 22050, 48000]),
    pause_s=st.floats(0, 0.01),
    fade_ms=st.one_of(st.just(0.0), st.floats(0, 10)),
)
def test_streaming_join_equals_join_pcm(
    chunks: list[NDArray[np.int16]], rate: int, pause_s: float, fade_ms: float
) -> None:
    joiner = PcmJoiner(rate, pause_s, fade_ms)
    streamed = np.concatenate([*(joiner.feed(chunk) for chunk in chunks), joiner.finish()])
    joined = join_pcm(chunks, rate, pause_s, fade_ms)
    assert streamed.dtype == joined.dtype == np.int16
    assert np.array_equal(streamed, joined)
    assert np.array_equal(joined, reference_join(chunks, rate, pause_s, fade_ms))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pause_s": -0.1},
        {"fade_ms": -1.0},
        {"pause_s": math.nan},
        {"fade_ms": math.inf},
        {"sample_rate": 0},
        {"sample_rate": 22050.0},
    ],
)
def test_join_rejects_bad_parameters(kwargs: dict[str, float]) -> None:
    arguments: dict[str, float] = {"sample_rate": RATE, **kwargs}
    with pytest.raises(InvalidParameter) as caught:
        join_pcm([speech_like(0.1)], **arguments)  # type: ignore[arg-type]
    assert caught.value.code == "INVALID_PARAMETER"


@pytest.mark.parametrize(
    "chunk", [np.zeros(10, dtype=np.float32), np.zeros((10, 1), dtype=np.int16), [1, 2, 3]]
)
def test_joiner_rejects_chunks_that_are_not_mono_int16(chunk: object) -> None:
    with pytest.raises(InvalidParameter, match="1-D int16"):
        PcmJoiner(RATE).feed(chunk)  # type: ignore[arg-type]


# --- resample ------------------------------------------------------------------------------

RATE_PAIRS = [(22050, 48000), (22050, 24000), (48000, 22050), (24000, 16000), (22050, 22051)]


@pytest.mark.parametrize(("src", "dst"), RATE_PAIRS)
def test_resample_keeps_a_tones_frequency_and_the_duration(src: int, dst: int) -> None:
    pcm = tone(440, src, 3 * src)
    out = resample(pcm, src, dst)
    assert out.dtype == np.int16
    assert out.size == round(pcm.size * dst / src)
    spectrum = np.abs(np.fft.rfft(out.astype(np.float64)))
    assert np.argmax(spectrum) * dst / out.size == pytest.approx(440, abs=0.5)


@pytest.mark.parametrize(("src", "dst"), RATE_PAIRS)
@pytest.mark.parametrize("freq", [440.0, 3000.0, 7000.0])
def test_resample_matches_the_tone_sampled_at_the_new_rate(src: int, dst: int, freq: float) -> None:
    # Six seconds span many processing blocks, so this also checks the seams between them.
    out = resample(tone(freq, src, 6 * src), src, dst).astype(np.float64)
    exact = 16000 * np.sin(2 * np.pi * freq * np.arange(out.size) / dst)
    inner = slice(dst // 20, -dst // 20)  # away from where the tone starts and stops
    assert np.abs(out[inner] - exact[inner]).max() <= 3


def test_downsampling_removes_what_the_new_rate_cannot_hold() -> None:
    out = resample(tone(15000, 48000, 48000), 48000, 22050)
    assert np.abs(out[1000:-1000]).max() <= 2  # a 15 kHz tone would alias to 7050 Hz


@settings(max_examples=100, deadline=None)
@given(count=st.integers(0, 3000), rates=st.sampled_from([*RATE_PAIRS, (8000, 48000)]))
def test_resample_length_is_the_rounded_ratio(count: int, rates: tuple[int, int]) -> None:
    src, dst = rates
    pcm = np.full(count, 1000, dtype=np.int16)
    assert resample(pcm, src, dst).size == round(count * dst / src)


def leaked_db(out: NDArray[np.int16], src: int, dst: int, tone_in: NDArray[np.int16]) -> float:
    """What should not be there, in dB of the tone. Upsampling: the share of the output's
    power above the source's Nyquist frequency (images). Downsampling: all of the output
    (the tone was out of band, so anything left is its alias), against the input tone."""
    middle = out[dst // 4 : dst // 4 + dst].astype(np.float64)
    if dst < src:
        leaked = np.mean(middle**2) / np.mean(tone_in.astype(np.float64) ** 2)
    else:
        k = np.arange(middle.size) / middle.size  # Blackman-Harris: sidelobes at -92 dB
        window = 0.35875 - 0.48829 * np.cos(2 * np.pi * k) + 0.14128 * np.cos(4 * np.pi * k)
        window -= 0.01168 * np.cos(6 * np.pi * k)
        power = np.abs(np.fft.rfft(middle * window)) ** 2
        freqs = np.fft.rfftfreq(middle.size, 1 / dst)
        leaked = power[freqs > src / 2 + 20].sum() / power.sum()
    return float(10 * np.log10(max(float(leaked), 1e-30)))


@pytest.mark.parametrize(
    ("src", "dst", "freq", "floor_db"),
    [
        # Measured: -94.5 (soxr -90.1), -93.6 (-90.1), -74.3 (-56.6) in the roll-off,
        # -102.3 (-98.7), nothing at all (-86.4) for the alias.
        (22050, 48000, 4000.0, -90),
        (22050, 48000, 9900.0, -90),
        (22050, 48000, 10800.0, -70),
        (22050, 24000, 9900.0, -98),
        (48000, 22050, 11580.0, -100),
    ],
)
def test_resample_leaks_no_more_than_soxr(src: int, dst: int, freq: float, floor_db: float) -> None:
    """The hand-written resampler against soxr (HQ): its images (upsampling, as for Opus)
    and aliases (downsampling) are no stronger, in the passband, in the roll-off above
    0.9 of Nyquist and beyond it (benchmarks/resample.py has the figures and the speed)."""
    soxr = pytest.importorskip("soxr")
    pcm = tone(freq, src, 2 * src)
    ours = leaked_db(resample(pcm, src, dst), src, dst, pcm)
    theirs = leaked_db(soxr.resample(pcm, src, dst), src, dst, pcm)
    assert ours <= floor_db
    assert ours <= theirs


def test_resample_to_the_same_rate_is_a_copy() -> None:
    pcm = speech_like(0.1)
    out = resample(pcm, RATE, RATE)
    assert np.array_equal(out, pcm)
    assert out is not pcm


@pytest.mark.parametrize(("src", "dst"), [(0, 48000), (22050, -1)])
def test_resample_rejects_bad_rates(src: int, dst: int) -> None:
    with pytest.raises(InvalidParameter):
        resample(speech_like(0.1), src, dst)


# --- encode and decode ---------------------------------------------------------------------


@pytest.fixture(scope="module", params=[0.5, 6.0], ids=["short", "long"])
def clip(request: pytest.FixtureRequest) -> NDArray[np.int16]:
    seconds: float = request.param
    return speech_like(seconds)


@pytest.mark.parametrize("audio_format", list(AudioFormat))
def test_every_format_decodes_back_to_the_same_duration(
    clip: NDArray[np.int16], audio_format: AudioFormat
) -> None:
    encoded = encode(clip, RATE, audio_format)
    expected_rate = audio_format.output_rate(None, RATE)
    assert encoded.format is audio_format
    assert encoded.content_type == audio_format.media_type(expected_rate)
    assert encoded.duration_s == clip.size / RATE
    assert encoded.sample_rate == expected_rate

    decoded, rate = decode(encoded.data, audio_format, expected_rate)
    assert rate == expected_rate
    assert decoded.dtype == np.int16
    assert decoded.size / rate == pytest.approx(encoded.duration_s, rel=0.01)


@pytest.mark.parametrize("audio_format", [AudioFormat.WAV, AudioFormat.FLAC])
def test_lossless_formats_round_trip_exactly(
    clip: NDArray[np.int16], audio_format: AudioFormat
) -> None:
    decoded, rate = decode(encode(clip, RATE, audio_format).data)
    assert rate == RATE
    assert np.array_equal(decoded, clip)


@pytest.mark.parametrize(
    ("audio_format", "output_rate"),
    [
        (AudioFormat.OGG, 48000),
        (AudioFormat.MP3, 48000),
        (AudioFormat.OPUS, 24000),
        (AudioFormat.OPUS, 48000),
    ],
)
def test_lossy_formats_stay_close_to_the_source(
    clip: NDArray[np.int16], audio_format: AudioFormat, output_rate: int
) -> None:
    encoded = encode(clip, RATE, audio_format, output_rate=output_rate)
    decoded, rate = decode(encoded.data)
    source = resample(clip, RATE, rate)
    lag = lag_of(source, decoded)
    assert abs(lag) <= rate // 1000  # codec delay is compensated, not just hidden in length
    if lag >= 0:
        aligned, reference = decoded[lag:], source[: source.size - lag]
    else:
        aligned, reference = decoded[: decoded.size + lag], source[-lag:]
    count = min(aligned.size, reference.size)
    correlation = np.corrcoef(aligned[:count], reference[:count])[0, 1]
    assert correlation > 0.9
    assert rms(decoded) == pytest.approx(rms(source), rel=0.1)


def test_opus_at_24_khz() -> None:
    pcm = speech_like(0.5)
    encoded = encode(pcm, RATE, "opus", output_rate=24000)
    decoded, rate = decode(encoded.data)
    assert encoded.sample_rate == rate == 24000
    assert decoded.size == round(pcm.size * 24000 / RATE)


@pytest.mark.parametrize("output_rate", [12000, 22050, 44100])
def test_opus_takes_only_its_own_rates(output_rate: int) -> None:
    with pytest.raises(InvalidParameter, match=f"opus cannot be delivered at {output_rate} Hz"):
        encode(speech_like(0.1), RATE, AudioFormat.OPUS, output_rate=output_rate)


def test_options_for_other_formats_are_ignored() -> None:
    pcm = speech_like(0.1)
    plain = encode(pcm, RATE, AudioFormat.WAV)
    assert encode(pcm, RATE, AudioFormat.WAV, mp3_bitrate_kbps=7) == plain


def test_mp3_needs_an_mpeg_sample_rate() -> None:
    pcm = speech_like(0.1, rate=20000)
    assert decode(encode(pcm, 20000, AudioFormat.WAV).data)[1] == 20000
    with pytest.raises(InvalidParameter, match="MP3 cannot store 20000 Hz"):
        encode(pcm, 20000, AudioFormat.MP3)


def test_mp3_bitrates_are_those_with_room_for_the_gapless_tag() -> None:
    assert mp3_bitrates(22050) == (56, 64, 80, 96, 112, 128, 144, 160)
    assert mp3_bitrates(48000) == (64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
    assert mp3_bitrates(8000) == (24, 32, 40, 48, 56, 64)
    with pytest.raises(InvalidParameter, match="mp3_bitrate_kbps must be one of"):
        encode(speech_like(0.1), RATE, AudioFormat.MP3, mp3_bitrate_kbps=48)


@pytest.mark.parametrize("rate", MP3_SAMPLE_RATES)
def test_every_constant_mp3_bitrate_keeps_the_exact_length(rate: int) -> None:
    pcm = speech_like(0.5, rate=rate)
    for kbps in mp3_bitrates(rate):
        decoded, decoded_rate = decode(encode(pcm, rate, "mp3", mp3_bitrate_kbps=kbps).data)
        assert (decoded_rate, decoded.size) == (rate, pcm.size), f"{kbps} kbps"


@pytest.mark.parametrize(("rate", "kbps"), [(22050, 64), (22050, 160), (44100, 128), (8000, 24)])
def test_constant_mp3_bitrate_is_the_one_asked_for(rate: int, kbps: int) -> None:
    pcm = speech_like(6.0, rate=rate)
    encoded = encode(pcm, rate, AudioFormat.MP3, mp3_bitrate_kbps=kbps)
    assert len(encoded.data) * 8 / encoded.duration_s / 1000 == pytest.approx(kbps, rel=0.05)


def test_encode_accepts_a_format_name() -> None:
    assert encode(speech_like(0.1), RATE, "MP3").format is AudioFormat.MP3
    with pytest.raises(UnsupportedFormat):
        encode(speech_like(0.1), RATE, "aiff")


@pytest.mark.parametrize(
    "pcm",
    [np.zeros(0, dtype=np.int16), np.zeros(10, dtype=np.float32), np.zeros((5, 2), np.int16)],
)
def test_encode_rejects_empty_or_non_mono_int16_audio(pcm: NDArray[np.int16]) -> None:
    with pytest.raises(InvalidParameter):
        encode(pcm, RATE, AudioFormat.WAV)


def test_encoded_audio_is_immutable() -> None:
    encoded = encode(speech_like(0.1), RATE, AudioFormat.WAV)
    assert isinstance(encoded, EncodedAudio)
    with pytest.raises(dataclasses.FrozenInstanceError):
        encoded.sample_rate = 1  # type: ignore[misc]


@pytest.mark.parametrize("data", [b"", b"not audio", b"RIFF\x00\x00\x00\x00WAVEfmt "])
def test_decode_rejects_what_is_not_audio(data: bytes) -> None:
    with pytest.raises(UnsupportedFormat, match="cannot decode audio") as caught:
        decode(data)
    assert caught.value.code == "UNSUPPORTED_FORMAT"


def test_decode_mixes_stereo_down_to_mono() -> None:
    left, right = speech_like(0.2), tone(300, RATE, round(0.2 * RATE))
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([left, right], axis=1), RATE, format="WAV", subtype="PCM_16")
    decoded, rate = decode(buffer.getvalue())
    expected = np.rint((left.astype(np.float64) + right) / 2).astype(np.int16)
    assert rate == RATE
    assert np.array_equal(decoded, expected)


def test_long_audio_encodes_in_every_format() -> None:
    """Two minutes in one call: libsndfile's Vorbis encoder crashed the process (SIGSEGV)
    on writes of more than about a minute, so a long text in ogg killed its worker."""
    rate = 22050
    pcm = (np.sin(np.arange(rate * 120) * 0.05) * 8000).astype(np.int16)
    for audio_format in AudioFormat:
        encoded = encode(pcm, rate, audio_format)
        decoded, decoded_rate = decode(encoded.data, audio_format, encoded.sample_rate)
        assert abs(decoded.size / decoded_rate - 120.0) < 0.05, audio_format
