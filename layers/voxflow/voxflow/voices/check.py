"""What ``voxflow voices add`` checks before anything is uploaded: the config parses,
the model has a Piper VITS model's inputs and outputs, loads, and speaks."""

import json
from pathlib import Path
from typing import Any

import onnxruntime as ort

from voxflow.errors import VoiceLoadError
from voxflow.voices.catalog import CatalogEntry
from voxflow.voices.config import load_voice_config
from voxflow.voices.loader import file_sha256

PIPER_INPUTS = frozenset({"input", "input_lengths", "scales"})
SPEAKER_INPUT = "sid"
PIPER_OUTPUT = "output"
TEST_SENTENCE = "One, two, three."


def check_voice(voice_id: str, model: Path, config: Path) -> CatalogEntry:
    """The catalog entry the files make; VoiceLoadError (one line) when they are not a
    voice voxflow can speak with."""
    for path in (model, config):
        if not path.is_file():
            raise VoiceLoadError(f"file not found: {path}")
    parsed = load_voice_config(config)
    raw: dict[str, Any] = json.loads(config.read_text(encoding="utf-8"))
    _check_model_signature(model, multi_speaker=parsed.num_speakers > 1)
    _check_speaks(voice_id, model, config)
    language = raw.get("language") if isinstance(raw.get("language"), dict) else {}
    assert isinstance(language, dict)
    return CatalogEntry(
        voice_id=voice_id,
        language_code=str(language.get("code") or parsed.espeak_voice),
        language_name=str(language.get("name_english") or ""),
        espeak_voice=parsed.espeak_voice,
        sample_rate=parsed.sample_rate,
        quality=str(raw.get("audio", {}).get("quality") or ""),
        model_sha256=file_sha256(model),
        model_size=model.stat().st_size,
        config_sha256=file_sha256(config),
        length_scale=float(parsed.length_scale),
        noise_scale=float(parsed.noise_scale),
        noise_w=float(parsed.noise_w_scale),
        speakers={str(name): int(sid) for name, sid in parsed.speaker_id_map.items()},
    )


def _check_model_signature(model: Path, *, multi_speaker: bool) -> None:
    # Only the signature is read here: no graph optimization and no memory plan (the
    # sequential session's plan alone takes about 2 s for a 63 MB voice).
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    try:
        session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own untyped errors
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise VoiceLoadError(f"{model.name} is not a loadable ONNX model: {first_line}") from None
    inputs = {tensor.name for tensor in session.get_inputs()}
    outputs = [tensor.name for tensor in session.get_outputs()]
    expected = PIPER_INPUTS | ({SPEAKER_INPUT} if multi_speaker else set())
    if inputs != expected or not outputs or outputs[0] != PIPER_OUTPUT:
        raise VoiceLoadError(
            f"{model.name} is not a Piper VITS model: inputs {sorted(inputs)}, outputs "
            f"{outputs}; expected inputs {sorted(expected)} and output {PIPER_OUTPUT!r}"
        )


def _check_speaks(voice_id: str, model: Path, config: Path) -> None:
    # Imported here: the engine is what this check exercises, in a registry of its own.
    from voxflow.engine.synthesizer import Engine
    from voxflow.settings import EngineSettings
    from voxflow.voices.registry import VoiceRegistry

    registry = VoiceRegistry()
    registry.add(voice_id, model, config)
    # fast_start: one sentence runs on the quickly built session, as a first request does.
    engine = Engine(registry, EngineSettings())
    try:
        samples = sum(len(chunk.pcm) for chunk in engine.synthesize([TEST_SENTENCE], voice_id))
    except Exception as error:  # inference failures are onnxruntime's untyped errors
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        raise VoiceLoadError(f"{model.name} does not speak: {message}") from None
    if samples == 0:
        raise VoiceLoadError(f"{model.name} made no audio for a test sentence")
