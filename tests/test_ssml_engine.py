"""SSML through the real voice, measured on the audio: breaks, rates, phonemes, volume,
compression and bleeps. Zero noise, so the same ids give the same samples."""

import numpy as np
import pytest
from numpy.typing import NDArray
from piper import PiperVoice, SynthesisConfig

from voxflow.engine import Engine, SynthesisParams
from voxflow.engine.phonemizer import phonemize
from voxflow.text.chunk_document import chunk_document
from voxflow.text.ssml import parse_ssml
from voxflow.voices import VoiceRegistry

QUIET = SynthesisParams(noise_scale=0.0, noise_w=0.0, sentence_pause_s=0.2)
RATE = 22050
HOP = 256  # one frame of the voice's audio
SILENCE = 64  # |sample| at or below this is silence (about -54 dBFS)


def audio(engine: Engine, ssml: str) -> NDArray[np.int16]:
    chunks = chunk_document(parse_ssml(ssml), max_chars=100_000)
    parts = list(engine.synthesize(chunks, "joe", QUIET))
    pause = np.zeros(round(QUIET.sentence_pause_s * RATE), dtype=np.int16)
    joined: list[NDArray[np.int16]] = []
    for index, part in enumerate(parts):
        joined.extend([pause, part.pcm] if index else [part.pcm])
    return np.concatenate(joined)


def longest_silence_s(pcm: NDArray[np.int16]) -> float:
    quiet = np.abs(pcm.astype(np.int32)) <= SILENCE
    best = run = 0
    for sample in quiet:
        run = run + 1 if sample else 0
        best = max(best, run)
    return best / RATE


def speech_s(pcm: NDArray[np.int16]) -> float:
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > SILENCE)
    return (loud[-1] - loud[0] + 1) / RATE if loud.size else 0.0


@pytest.mark.parametrize("where", ["mid-sentence", "between sentences"])
def test_a_500ms_break_adds_half_a_second_of_silence_at_the_break(
    engine: Engine, where: str
) -> None:
    if where == "mid-sentence":
        template = "<speak>The quick brown fox <break time='{}'/> jumps over the dog.</speak>"
    else:
        template = "<speak>The quick brown fox jumps. <break time='{}'/> Over the dog.</speak>"
    # The control breaks the sentence at the same place (a 1 ms break), so both have
    # the same speech on either side; only the break's length differs.
    control = audio(engine, template.format("1ms"))
    with_break = audio(engine, template.format("500ms"))
    added = longest_silence_s(with_break) - longest_silence_s(control)
    print(f"break 500ms {where}: the silence at the break grew by {added * 1000:.1f} ms")
    assert abs(added - 0.499) <= HOP / RATE
    assert abs((len(with_break) - len(control)) / RATE - 0.499) <= 1 / RATE


def test_rate_50_percent_roughly_doubles_a_sentence(engine: Engine) -> None:
    sentence = "Speech synthesis turns written words into sound."
    normal = speech_s(audio(engine, f"<speak>{sentence}</speak>"))
    slow = speech_s(audio(engine, f"<speak><prosody rate='50%'>{sentence}</prosody></speak>"))
    fast = speech_s(audio(engine, f"<speak><prosody rate='200%'>{sentence}</prosody></speak>"))
    print(f"rate: normal {normal:.3f} s, 50% {slow:.3f} s, 200% {fast:.3f} s")
    # Phoneme lengths are ceil(w * length_scale): a bit under exact multiples.
    assert 1.7 < slow / normal < 2.2
    assert 0.4 < fast / normal < 0.65


def test_phonemes_sound_as_the_same_phonemes_given_directly(
    engine: Engine, registry: VoiceRegistry
) -> None:
    voice = registry.get("joe")
    (espeak,) = phonemize("tomato", voice.config)
    ipa = "".join(espeak)
    from_ssml = audio(engine, f"<speak><phoneme alphabet='ipa' ph='{ipa}'>x</phoneme></speak>")
    from_text = audio(engine, "<speak>tomato</speak>")
    assert np.array_equal(from_ssml, from_text)
    piper = PiperVoice.load(voice.model_path, voice.config_path)
    raw = piper.phoneme_ids_to_audio(
        piper.phonemes_to_ids(espeak), SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    )
    reference = np.asarray(raw, dtype=np.float64)
    assert len(reference) == len(from_ssml)
    assert np.corrcoef(reference, from_ssml.astype(np.float64))[0, 1] > 0.999


def test_x_sampa_is_the_same_sound_as_its_ipa(engine: Engine) -> None:
    ipa = audio(engine, "<speak><phoneme ph='pɪˈkɑːn'>pecan</phoneme></speak>")
    xsampa = audio(
        engine, "<speak><phoneme alphabet='x-sampa' ph='pI\"kA:n'>pecan</phoneme></speak>"
    )
    assert np.array_equal(ipa, xsampa)
    assert speech_s(ipa) > 0.3


def test_silent_volume_is_silence_and_soft_is_quieter(engine: Engine) -> None:
    text = "Nobody should hear this."
    silent = audio(engine, f"<speak><prosody volume='silent'>{text}</prosody></speak>")
    normal = audio(engine, f"<speak>{text}</speak>")
    soft = audio(engine, f"<speak><prosody volume='-6dB'>{text}</prosody></speak>")
    assert len(silent) == len(normal)
    assert not silent.any()
    ratio = np.abs(soft).max() / np.abs(normal).max()
    assert abs(20 * np.log10(ratio) + 6.0) < 0.1


def test_drc_raises_the_quiet_parts(engine: Engine) -> None:
    text = "A whisper, then a shout!"
    plain = audio(engine, f"<speak>{text}</speak>").astype(np.float64)
    drc = audio(engine, f'<speak><amazon:effect name="drc">{text}</amazon:effect></speak>')
    compressed = drc.astype(np.float64)

    def crest(x: NDArray[np.float64]) -> float:
        return float(np.abs(x).max() / np.sqrt(np.mean(x**2)))

    print(f"crest factor: plain {crest(plain):.2f}, drc {crest(compressed):.2f}")
    assert len(drc) == len(plain)
    assert crest(compressed) < 0.9 * crest(plain)


def test_an_expletive_is_bleeped_with_a_tone(engine: Engine) -> None:
    pcm = audio(engine, "<speak><say-as interpret-as='expletive'>darn</say-as></speak>")
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    peak_hz = np.argmax(spectrum) * RATE / len(pcm)
    assert abs(peak_hz - 1000) < 5
    assert abs(len(pcm) / RATE - 0.32) < 0.01
