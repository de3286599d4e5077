"""onnxruntime sessions: providers chosen at run time, threads from settings.

Cold start. onnxruntime 1.31 spends about 1.8 s planning memory for a
sequential session of the joe voice, and about 0.4 s building a parallel one,
which skips that plan but then synthesizes at half the speed and holds far
more memory. With ``fast_start`` a voice starts on a parallel session, so the
first audio comes out quickly, and the sequential session is built when a
second inference shows there is more work, replacing the first.
benchmarks/engine.py measures both.

On CPU a voice loads from its optimized form when one was written beside it
(voxflow.engine.optimized): graph optimizations already applied and durations
exposed, so the session is built with optimizations disabled. Absent, or failing
to load, the plain model loads as before.
"""

import contextlib
import ctypes
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import onnxruntime as ort

from voxflow.engine.durations_output import NotPatchable, with_durations_output
from voxflow.errors import VoiceLoadError
from voxflow.settings import EngineSettings

_LOGGER = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


SessionBuilder = Callable[[bool], ort.InferenceSession]  # argument: parallel execution


class VoiceModel:
    """A voice's inference session. Thread-safe: onnxruntime's run is."""

    def __init__(
        self,
        build: SessionBuilder,
        *,
        parallel: bool,
        fast_start: bool,
        optimized: Callable[[], bool] = lambda: False,
    ) -> None:
        self._build = build
        self._session: ort.InferenceSession | None = build(parallel or fast_start)
        self._optimized = optimized
        self._upgrade_pending = fast_start
        self._upgrade_lock = threading.Lock()
        self._served_first = False
        self.provider: str = self._session.get_providers()[0]
        # Whether the model returns per-phoneme durations (needed to trim batch items).
        self.has_durations = len(self._session.get_outputs()) > 1

    def run(self, inputs: Mapping[str, Any]) -> list[Any]:
        # The fast-start session serves exactly one inference: a one-sentence
        # request never pays for the upgrade, a longer one pays once, up front.
        if self._served_first:
            self.ensure_upgraded()
        session = self._session
        if session is None:  # another thread is upgrading right now
            with self._upgrade_lock:
                session = self._session
        assert session is not None  # set again before the upgrade lock is released
        outputs: list[Any] = session.run(None, dict(inputs))
        self._served_first = True
        return outputs

    @property
    def optimized(self) -> bool:
        """Whether the session runs the ahead-of-time optimized model."""
        return self._optimized()

    @property
    def upgraded(self) -> bool:
        return not self._upgrade_pending

    def ensure_upgraded(self) -> None:
        if not self._upgrade_pending:
            return
        with self._upgrade_lock:
            if not self._upgrade_pending:
                return
            # Drop the fast session first: holding both would raise peak memory by its
            # size. A call still running on it keeps its own reference until it returns.
            self._session = None
            _release_freed_memory()
            try:
                self._session = self._build(False)
            except VoiceLoadError:
                # The same file just loaded in parallel mode: keep to that mode for good.
                _LOGGER.exception("sequential session failed to build; staying in parallel mode")
                self._session = self._build(True)
            self._upgrade_pending = False


def _release_freed_memory() -> None:
    # glibc keeps freed heap pages mapped; hand them back before the next peak.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def choose_providers(settings: EngineSettings) -> list[str]:
    available = ort.get_available_providers()
    if settings.device == "cpu":
        return [CPU]
    if CUDA in available:
        return [CUDA, CPU]
    if settings.device == "cuda":
        raise VoiceLoadError(f"device=cuda but onnxruntime offers only {available}")
    return [CPU]


def provider_options(providers: list[str], settings: EngineSettings) -> list[dict[str, str]]:
    """One options mapping per provider. onnxruntime's CUDA default searches every cuDNN
    algorithm for each new input shape, and every sentence has another length: a worker
    meeting new text spends more time searching than synthesizing (benchmarks/gpu.py)."""
    return [
        {"cudnn_conv_algo_search": settings.cuda_conv_algo_search} if name == CUDA else {}
        for name in providers
    ]


def _session_options(
    settings: EngineSettings, parallel: bool, *, optimized: bool = False
) -> ort.SessionOptions:
    options = ort.SessionOptions()
    if optimized:
        # Done when the file was written: running the passes again finds nothing to do
        # and costs about 0.2 s.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = settings.intra_op_threads
    options.inter_op_num_threads = settings.inter_op_threads
    if not settings.allow_spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    # Every sentence has another length: cached memory patterns only hold memory.
    options.enable_mem_pattern = False
    if parallel:
        # The parallel executor plans no buffer reuse: with the arena its peak
        # memory stays held for the life of the session.
        options.enable_cpu_mem_arena = False
    options.execution_mode = (
        ort.ExecutionMode.ORT_PARALLEL if parallel else ort.ExecutionMode.ORT_SEQUENTIAL
    )
    return options


def _model_with_durations(model_path: Path) -> bytes | None:
    """The model with its duration tensor exposed as a second output.

    Batched inference pads every item to the longest; the durations tell how
    many samples of each item are real, and where each phoneme lies (speech
    marks). Patched on the wire format (voxflow.engine.durations_output): the
    Lambda engine layer carries no onnx package.
    """
    try:
        return with_durations_output(model_path.read_bytes())
    except NotPatchable as error:
        _LOGGER.warning(
            "no durations output (%s): no speech marks, and batched inference falls back "
            "to batch size 1",
            error,
        )
        return None
    except OSError as error:
        raise VoiceLoadError(f"cannot read {model_path}: {error}") from error


def load_model(
    model_path: Path, settings: EngineSettings, optimized_path: Path | None = None
) -> VoiceModel:
    """The voice's session; ``optimized_path``: its optimized form, used on CPU when
    the file exists (voxflow.engine.optimized)."""
    providers = choose_providers(settings)
    # The CUDA provider runs one stream: parallel execution only adds overhead there.
    on_cpu = CUDA not in providers
    parallel = settings.execution_mode == "parallel" and on_cpu
    fast_start = settings.fast_start and on_cpu and not parallel
    # The optimized graph holds the CPU provider's fused operators: CPU only.
    optimized = _existing(optimized_path) if on_cpu else None
    plain: list[str | bytes] = []  # read on first need, kept for the upgrade's build

    def plain_source() -> str | bytes:
        if not plain:
            source: str | bytes = str(model_path)
            if settings.batch_size > 1 or settings.alignment:
                source = _model_with_durations(model_path) or source
            plain.append(source)
        return plain[0]

    def build(parallel: bool) -> ort.InferenceSession:
        nonlocal optimized
        if optimized is not None:
            try:
                return ort.InferenceSession(
                    str(optimized),
                    _session_options(settings, parallel, optimized=True),
                    providers=providers,
                    provider_options=provider_options(providers, settings),
                )
            except Exception as error:  # onnxruntime raises its own untyped errors
                _LOGGER.warning(
                    "optimized model failed to load; loading the plain one",
                    extra={"model": str(optimized), "error": str(error)},
                )
                optimized = None
        try:
            return ort.InferenceSession(
                plain_source(),
                _session_options(settings, parallel),
                providers=providers,
                provider_options=provider_options(providers, settings),
            )
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise VoiceLoadError(f"cannot load {model_path}: {error}") from error

    model = VoiceModel(
        build, parallel=parallel, fast_start=fast_start, optimized=lambda: optimized is not None
    )
    if settings.device == "cuda" and model.provider != CUDA:
        # onnxruntime lists the providers it was built with, and falls back to the CPU
        # with a warning when the CUDA one cannot load (a library missing from the image,
        # the driver's too old): forced onto the GPU, that is a failed start, not a slow worker.
        raise VoiceLoadError(
            f"device=cuda but {model_path.name} runs on {model.provider}: "
            "onnxruntime's CUDA provider did not load"
        )
    _LOGGER.info(
        "voice model loaded",
        extra={
            "model": str(model_path),
            "provider": model.provider,
            "fast_start": fast_start,
            "optimized": model.optimized,
        },
    )
    return model


def _existing(path: Path | None) -> Path | None:
    return path if path is not None and path.is_file() else None
