"""onnxruntime sessions: providers chosen at run time, threads from settings."""

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from voxflow.errors import VoiceLoadError
from voxflow.settings import EngineSettings

_LOGGER = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


@dataclass(frozen=True)
class LoadedModel:
    session: ort.InferenceSession
    provider: str
    # Whether the model returns per-phoneme durations (needed to trim batch items).
    has_durations: bool


def choose_providers(settings: EngineSettings) -> list[str]:
    available = ort.get_available_providers()
    if settings.device == "cpu":
        return [CPU]
    if CUDA in available:
        return [CUDA, CPU]
    if settings.device == "cuda":
        raise VoiceLoadError(f"device=cuda but onnxruntime offers only {available}")
    return [CPU]


def _session_options(settings: EngineSettings, providers: list[str]) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = settings.intra_op_threads
    options.inter_op_num_threads = settings.inter_op_threads
    # The CUDA provider runs one stream: parallel execution only adds overhead there.
    parallel = settings.execution_mode == "parallel" and CUDA not in providers
    options.execution_mode = (
        ort.ExecutionMode.ORT_PARALLEL if parallel else ort.ExecutionMode.ORT_SEQUENTIAL
    )
    return options


def _model_with_durations(model_path: Path) -> bytes | None:
    """The model with its duration tensor exposed as a second output.

    Batched inference pads every item to the longest; the durations tell how
    many samples of each item are real. Needs the optional ``onnx`` package.
    """
    try:
        import onnx
        from piper.patch_voice_with_alignment import add_alignment_output
    except ImportError:
        _LOGGER.warning("onnx is not installed: batched inference falls back to batch size 1")
        return None
    model = onnx.load(str(model_path))
    with contextlib.suppress(ValueError):  # already patched on disk
        add_alignment_output(model)
    return bytes(model.SerializeToString())


def load_model(model_path: Path, settings: EngineSettings) -> LoadedModel:
    providers = choose_providers(settings)
    source: str | bytes = str(model_path)
    if settings.batch_size > 1:
        source = _model_with_durations(model_path) or source
    try:
        session = ort.InferenceSession(
            source, _session_options(settings, providers), providers=providers
        )
    except Exception as error:  # onnxruntime raises its own untyped errors
        raise VoiceLoadError(f"cannot load {model_path}: {error}") from error
    provider = session.get_providers()[0]
    has_durations = len(session.get_outputs()) > 1
    _LOGGER.info(
        "voice model loaded",
        extra={"model": str(model_path), "provider": provider, "durations": has_durations},
    )
    return LoadedModel(session, provider, has_durations)
