"""The ahead-of-time optimized voice model: used when it lies beside the model, the
same audio as the plain model, and the plain model whenever it is absent, stale or broken.
Shipped alone (Lambda's VoiceLayer), it names the voice's version, and another
onnxruntime loads it as a plain model.

Tolerance: one int16 step. Both sessions run the same fused graph (ORT_ENABLE_EXTENDED
saved, against onnxruntime's default ORT_ENABLE_ALL at load, which adds only layout
transforms that leave Piper voices' graphs unchanged: on the machines measured the two
are bit-identical). A CPU whose layout transforms did apply to the plain session would
sum in another order, a last-bit float difference that rounding to int16 can move by
one step; anything more is a different graph.
"""

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from voxflow.engine import Engine, SpeechChunk, SynthesisParams
from voxflow.engine.optimized import find_optimized, optimized_path, write_optimized
from voxflow.errors import VoiceLoadError
from voxflow.settings import EngineSettings
from voxflow.voices import VoiceRegistry
from voxflow.voices.version import model_version

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Is this the right way to the station?",
    "Speech synthesis turns written words into sound, one sentence at a time.",
]
SILENT = SynthesisParams(noise_scale=0.0, noise_w=0.0, sentence_pause_s=0.0)
MODEL = "en_US-joe-medium.onnx"


def voice_folder(folder: Path, joe: VoiceRegistry) -> Path:
    """The joe voice's files, linked into ``folder``; returns the model's path there."""
    folder.mkdir()
    voice = joe.get("joe")
    (folder / MODEL).symlink_to(voice.model_path)
    (folder / f"{MODEL}.json").symlink_to(voice.config_path)
    return folder / MODEL


def engine_of(model: Path) -> Engine:
    registry = VoiceRegistry()
    registry.add("joe", model)
    return Engine(registry, EngineSettings(cache_dir=model.parent))


def speak(engine: Engine) -> list[SpeechChunk]:
    return list(engine.synthesize(SENTENCES, "joe", SILENT))


@pytest.fixture(scope="module")
def joe() -> VoiceRegistry:
    return VoiceRegistry.default()


@pytest.fixture(scope="module")
def plain_model(tmp_path_factory: pytest.TempPathFactory, joe: VoiceRegistry) -> Path:
    return voice_folder(tmp_path_factory.mktemp("plain") / "voice", joe)


@pytest.fixture(scope="module")
def optimized_model(tmp_path_factory: pytest.TempPathFactory, joe: VoiceRegistry) -> Path:
    model = voice_folder(tmp_path_factory.mktemp("optimized") / "voice", joe)
    write_optimized(model)
    return model


@pytest.fixture(scope="module")
def plain_audio(plain_model: Path) -> list[SpeechChunk]:
    engine = engine_of(plain_model)
    chunks = speak(engine)
    assert not engine.model("joe").optimized
    return chunks


def assert_same_audio(ours: list[SpeechChunk], plain: list[SpeechChunk]) -> None:
    assert len(ours) == len(plain) == len(SENTENCES)
    for chunk, reference in zip(ours, plain, strict=True):
        assert len(chunk.pcm) == len(reference.pcm), chunk.text
        step = np.abs(chunk.pcm.astype(np.int32) - reference.pcm.astype(np.int32)).max()
        assert step <= 1, chunk.text
        assert np.abs(chunk.pcm).max() > 30_000  # speech, not silence
        assert chunk.alignment is not None
        assert chunk.alignment == reference.alignment, chunk.text


def test_the_optimized_model_is_written_under_its_sources_version(optimized_model: Path) -> None:
    written = optimized_path(optimized_model, model_version(optimized_model))

    assert written.is_file()
    assert ort.__version__ in written.name
    assert find_optimized(optimized_model, lambda: model_version(optimized_model)) == written


def test_the_optimized_session_gives_the_plain_sessions_audio(
    optimized_model: Path, plain_audio: list[SpeechChunk]
) -> None:
    engine = engine_of(optimized_model)
    ours = speak(engine)
    model = engine.model("joe")

    # The first inference ran on the fast-start session, the others on the sequential
    # one, built from the optimized file too.
    assert model.upgraded
    assert model.optimized
    assert model.has_durations  # exposed when the file was written
    assert_same_audio(ours, plain_audio)


def test_a_broken_optimized_file_falls_back_to_the_plain_model(
    tmp_path: Path, joe: VoiceRegistry, plain_audio: list[SpeechChunk]
) -> None:
    model = voice_folder(tmp_path / "voice", joe)
    optimized_path(model, model_version(model)).write_bytes(b"not a model")
    engine = engine_of(model)

    ours = speak(engine)

    assert not engine.model("joe").optimized
    assert_same_audio(ours, plain_audio)


def test_an_optimized_file_of_another_model_or_runtime_is_not_used(tmp_path: Path) -> None:
    model = tmp_path / "voice.onnx"
    model.write_bytes(b"the model")
    asked: list[str] = []

    def version() -> str:
        asked.append("version")
        return model_version(model)

    assert find_optimized(model, version) is None
    assert asked == []  # nothing beside the model: the model is not hashed
    optimized_path(model, "0" * 64).write_bytes(b"another model's")
    old_runtime = model.with_name(f"voice.{model_version(model)}.ort-0.0.0.onnx")
    old_runtime.write_bytes(b"old runtime")
    assert find_optimized(model, version) is None
    assert asked == ["version"]


def shipped_alone(folder: Path, optimized_model: Path, runtime: str) -> Path:
    """A voice folder as the VoiceLayer holds it: config and one optimized form written
    by onnxruntime ``runtime``, no plain model; returns where the model would lie."""
    version = model_version(optimized_model)
    folder.mkdir()
    written = optimized_path(optimized_model, version)
    (folder / f"{MODEL}.json").symlink_to(optimized_model.with_name(f"{MODEL}.json"))
    (folder / f"en_US-joe-medium.{version}.ort-{runtime}.onnx").symlink_to(written)
    return folder / MODEL


def test_a_model_shipped_as_its_optimized_form_alone_is_known_by_its_name(
    tmp_path: Path, optimized_model: Path, plain_audio: list[SpeechChunk]
) -> None:
    model = shipped_alone(tmp_path / "layer", optimized_model, ort.__version__)
    engine = engine_of(model)
    voice = engine.registry.get("joe")

    ours = speak(engine)

    assert not model.exists()
    assert voice.model_version == model_version(optimized_model)  # the plain model's sha256
    assert voice.model_size == optimized_path(optimized_model, voice.model_version).stat().st_size
    assert engine.model("joe").optimized
    assert_same_audio(ours, plain_audio)


def test_another_runtimes_form_alone_loads_as_the_model(
    tmp_path: Path, optimized_model: Path, plain_audio: list[SpeechChunk]
) -> None:
    """The runtime that wrote the layer's form is not this one: no form of this
    runtime's name, no plain model; the other's form is an ONNX model still."""
    model = shipped_alone(tmp_path / "layer", optimized_model, "0.0.0")
    engine = engine_of(model)

    ours = speak(engine)

    assert engine.registry.get("joe").model_version == model_version(optimized_model)
    assert not engine.model("joe").optimized  # loaded with graph optimizations on
    assert engine.model("joe").has_durations
    assert_same_audio(ours, plain_audio)


def test_another_runtimes_form_that_fails_to_load_is_a_voice_load_error(tmp_path: Path) -> None:
    folder = tmp_path / "layer"
    folder.mkdir()
    (folder / f"{MODEL}.json").symlink_to(VoiceRegistry.default().get("joe").config_path)
    (folder / f"en_US-joe-medium.{'0' * 64}.ort-0.0.0.onnx").write_bytes(b"not a model")
    engine = engine_of(folder / MODEL)

    with pytest.raises(VoiceLoadError):
        speak(engine)
