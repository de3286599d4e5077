"""The voice registry: the built-in voice, voices by path and by file, errors."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from voxflow.errors import UnknownVoice, VoiceLoadError
from voxflow.voices import VoiceRegistry, model_version


def test_builtin_joe(registry: VoiceRegistry) -> None:
    joe = registry.get("joe")
    assert joe.sample_rate == 22050
    assert joe.config.espeak_voice == "en-us"
    assert joe.model_path.name == "en_US-joe-medium.onnx"


def test_model_version_is_the_sha256_of_the_onnx_file(registry: VoiceRegistry) -> None:
    joe = registry.get("joe")
    assert joe.model_version == hashlib.sha256(joe.model_path.read_bytes()).hexdigest()


def test_model_version_is_remembered_on_disk(tmp_path: Path) -> None:
    model = tmp_path / "tiny.onnx"
    model.write_bytes(b"not really a model")
    first = model_version(model, tmp_path / "cache")
    assert (tmp_path / "cache" / "model-versions.json").is_file()
    assert model_version(model, tmp_path / "cache") == first
    model.write_bytes(b"a different model!")  # new size: the cache entry no longer applies
    assert model_version(model, tmp_path / "cache") != first


def test_unknown_voice_is_a_typed_error(registry: VoiceRegistry) -> None:
    with pytest.raises(UnknownVoice, match="unknown voice 'nobody'") as caught:
        registry.get("nobody")
    assert caught.value.code == "UNKNOWN_VOICE"


def test_voice_added_by_path_and_by_file(registry: VoiceRegistry, tmp_path: Path) -> None:
    joe = registry.get("joe")
    copy = tmp_path / "voices" / "copy.onnx"
    copy.parent.mkdir()
    shutil.copy(joe.model_path, copy)
    shutil.copy(joe.config_path, tmp_path / "voices" / "copy.onnx.json")

    by_path = VoiceRegistry()
    added = by_path.add("copy", copy)
    assert added.config_path.name == "copy.onnx.json"
    assert added.model_version == joe.model_version

    voices_file = tmp_path / "voices.json"
    voices_file.write_text(json.dumps({"joe-copy": {"model": "voices/copy.onnx"}}))
    by_file = VoiceRegistry.default(voices_file)
    assert [voice.voice_id for voice in by_file] == ["joe", "joe-copy"]
    assert by_file.get("joe-copy").sample_rate == 22050


@pytest.mark.parametrize(
    "content",
    ['{"x": {}}', "[1, 2]", "not json", '{"x": {"model": "missing.onnx"}}'],
)
def test_bad_voices_file(tmp_path: Path, content: str) -> None:
    voices_file = tmp_path / "voices.json"
    voices_file.write_text(content)
    with pytest.raises(VoiceLoadError):
        VoiceRegistry.default(voices_file)


def test_bad_voice_config_is_a_load_error(tmp_path: Path) -> None:
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"x")
    (tmp_path / "broken.onnx.json").write_text("{}")
    voice = VoiceRegistry().add("broken", model)
    with pytest.raises(VoiceLoadError):
        _ = voice.config
