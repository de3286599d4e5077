"""voxflow's audio against piper's own PiperVoice, at zero noise."""

import numpy as np
import pytest
from numpy.typing import NDArray
from piper import PiperVoice, SynthesisConfig

from voxflow.config import Config
from voxflow.engine import Engine, SynthesisParams
from voxflow.engine.session import CPU, CUDA, _session_options, provider_options
from voxflow.errors import SettingsError, VoiceLoadError
from voxflow.settings import EngineSettings
from voxflow.voices import VoiceRegistry

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Neural voices sound natural when the text is clean.",
    "Is this the right way to the station?",
    "What a wonderful surprise!",
    "Speech synthesis turns written words into sound, one sentence at a time.",
]
SILENT = SynthesisParams(noise_scale=0.0, noise_w=0.0, sentence_pause_s=0.0)


@pytest.fixture(scope="module")
def piper_voice(registry: VoiceRegistry) -> PiperVoice:
    voice = registry.get("joe")
    return PiperVoice.load(voice.model_path, voice.config_path)


def piper_audio(piper_voice: PiperVoice, text: str) -> list[NDArray[np.int16]]:
    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    return [chunk.audio_int16_array for chunk in piper_voice.synthesize(text, config)]


def correlation(a: NDArray[np.int16], b: NDArray[np.int16]) -> float:
    return float(np.corrcoef(a.astype(np.float64), b.astype(np.float64))[0, 1])


def test_every_sentence_matches_piper(engine: Engine, piper_voice: PiperVoice) -> None:
    ours = list(engine.synthesize(SENTENCES, "joe", SILENT))
    theirs = piper_audio(piper_voice, " ".join(SENTENCES))

    assert [chunk.index for chunk in ours] == list(range(len(SENTENCES)))
    assert len(theirs) == len(SENTENCES)
    for chunk, reference in zip(ours, theirs, strict=True):
        assert chunk.sample_rate == 22050
        assert len(chunk.pcm) == len(reference), chunk.text
        assert correlation(chunk.pcm, reference) >= 0.999, chunk.text
        # Far from silence: peak-normalized speech, about a second or more per sentence.
        assert chunk.duration_s > 1.0
        assert np.abs(chunk.pcm).max() > 30_000


def test_synthesize_text_normalizes_and_chunks(engine: Engine, piper_voice: PiperVoice) -> None:
    chunks = list(engine.synthesize_text("  Hello   there.\tIt costs $5.  ", "joe", SILENT))

    assert [chunk.text for chunk in chunks] == ["Hello there.", "It costs five dollars."]
    reference = piper_audio(piper_voice, "Hello there. It costs five dollars.")
    for chunk, expected in zip(chunks, reference, strict=True):
        assert len(chunk.pcm) == len(expected)
        assert correlation(chunk.pcm, expected) >= 0.999


def test_zero_noise_is_deterministic(engine: Engine) -> None:
    first = next(engine.synthesize(["Deterministic audio."], "joe", SILENT)).pcm
    second = next(engine.synthesize(["Deterministic audio."], "joe", SILENT)).pcm
    assert np.array_equal(first, second)


def test_rate_changes_duration(engine: Engine) -> None:
    text = ["A sentence spoken at two different rates."]
    normal = next(engine.synthesize(text, "joe", SILENT)).duration_s
    slow = next(
        engine.synthesize(
            text, "joe", SynthesisParams(length_scale=2.0, noise_scale=0.0, noise_w=0.0)
        )
    ).duration_s
    # Durations are ceil(w * length_scale) per phoneme: twice the scale is a bit under 2x.
    assert 1.6 < slow / normal < 2.2


@pytest.mark.parametrize("batch_size", [2, 4])
def test_batched_inference_trims_each_item(
    registry: VoiceRegistry, engine: Engine, batch_size: int
) -> None:
    batched = Engine(registry, EngineSettings(batch_size=batch_size, fast_start=False))
    assert batched.model("joe").has_durations

    single = list(engine.synthesize(SENTENCES, "joe", SILENT))
    together = list(batched.synthesize(SENTENCES, "joe", SILENT))

    assert [chunk.index for chunk in together] == [chunk.index for chunk in single]
    for one, many in zip(single, together, strict=True):
        assert len(many.pcm) == len(one.pcm), one.text
        assert correlation(many.pcm, one.pcm) >= 0.999, one.text
        # The padded tail of a batch item is not silence: trimming must remove it.
        tail = many.pcm[-256:].astype(np.int32)
        assert np.sqrt(np.mean(tail**2)) < 0.05 * 32767


def test_provider_is_reported(engine: Engine) -> None:
    assert engine.provider("joe") == "CPUExecutionProvider"


def test_fast_start_upgrades_to_the_same_audio(registry: VoiceRegistry) -> None:
    fresh = Engine(registry, EngineSettings())
    before = [chunk.pcm for chunk in fresh.synthesize(SENTENCES[:2], "joe", SILENT)]
    assert fresh.model("joe").upgraded  # the second sentence needed the full session
    after = [chunk.pcm for chunk in fresh.synthesize(SENTENCES[:2], "joe", SILENT)]
    for first, second in zip(before, after, strict=True):
        assert len(first) == len(second)
        assert correlation(first, second) >= 0.999


def test_one_inference_starts_no_upgrade(registry: VoiceRegistry) -> None:
    fresh = Engine(registry, EngineSettings())
    first = next(fresh.synthesize(["Only one sentence."], "joe", SILENT))
    assert not fresh.model("joe").upgraded
    fresh.warm_up("joe")
    assert fresh.model("joe").upgraded
    again = next(fresh.synthesize(["Only one sentence."], "joe", SILENT))
    assert correlation(first.pcm, again.pcm) >= 0.999


def test_without_spinning_the_audio_is_the_same(registry: VoiceRegistry, engine: Engine) -> None:
    settings = EngineSettings.of(
        Config.load({"VOXFLOW_ALLOW_SPINNING": "0", "VOXFLOW_FAST_START": "0"})
    )
    assert not settings.allow_spinning
    options = _session_options(settings, parallel=False)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    quiet = Engine(registry, settings)
    for text in SENTENCES[:2]:
        expected = [c.pcm for c in engine.synthesize([text], "joe", SILENT)]
        got = [c.pcm for c in quiet.synthesize([text], "joe", SILENT)]
        assert [len(g) for g in got] == [len(e) for e in expected]
        for first, second in zip(expected, got, strict=True):
            assert correlation(first, second) >= 0.999


def test_cuda_gets_the_configured_convolution_search() -> None:
    """onnxruntime's own CUDA default (EXHAUSTIVE) searches again for every new sentence
    length; the setting reaches the CUDA provider and no other."""
    settings = EngineSettings.of(Config.load({}))
    assert settings.cuda_conv_algo_search == "DEFAULT"
    assert provider_options([CUDA, CPU], settings) == [{"cudnn_conv_algo_search": "DEFAULT"}, {}]
    chosen = EngineSettings.of(Config.load({"VOXFLOW_CUDA_CONV_ALGO_SEARCH": "HEURISTIC"}))
    assert provider_options([CUDA, CPU], chosen)[0] == {"cudnn_conv_algo_search": "HEURISTIC"}
    assert provider_options([CPU], chosen) == [{}]
    with pytest.raises(SettingsError, match="VOXFLOW_CUDA_CONV_ALGO_SEARCH"):
        EngineSettings.of(Config.load({"VOXFLOW_CUDA_CONV_ALGO_SEARCH": "fastest"}))


def test_a_forced_cuda_session_that_lands_on_the_cpu_is_a_failed_load(
    registry: VoiceRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """onnxruntime lists CUDA (a GPU build) but cannot load it: it warns and runs on the
    CPU. With ``device=cuda`` that must fail the load, not give a slow worker."""
    import onnxruntime as ort

    # This CPU build cannot load CUDA: listing it stands in for a GPU build whose CUDA
    # provider's libraries are missing.
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA, CPU])
    forced = Engine(registry, EngineSettings.of(Config.load({"VOXFLOW_DEVICE": "cuda"})))
    with pytest.raises(VoiceLoadError, match="CUDA provider did not load"):
        forced.warm_up("joe")
    auto = Engine(registry, EngineSettings.of(Config.load({"VOXFLOW_DEVICE": "auto"})))
    auto.warm_up("joe")  # auto takes the CPU as it falls back
    assert auto.provider("joe") == CPU
