"""The Lambda handler the worker runs, and its warm-up.

The worker imports functions/synthesize/app.py itself (VOXFLOW_HANDLER_DIR and
VOXFLOW_HANDLER), so GPU containers and Lambda run the same code. Importing it
loads the voice; warm-up then synthesizes a fixed phrase on the handler's own
engine, so the first real chunk pays for nothing but itself.
"""

import importlib
import sys
import time
from dataclasses import dataclass
from types import ModuleType

from voxflow.pipeline.context import Pipeline
from voxflow.voices import BUILTIN_VOICE_ID
from voxflow.worker.loop import Handler
from voxflow.worker.settings import WorkerSettings, WorkerSettingsError

WARM_UP_PHRASE = "The worker is warming up."


@dataclass(frozen=True)
class LoadedHandler:
    handler: Handler
    pipeline: Pipeline
    import_s: float


@dataclass(frozen=True)
class WarmUp:
    provider: str  # onnxruntime's: CUDAExecutionProvider or CPUExecutionProvider
    synthesis_s: float
    samples: int


def load_handler(settings: WorkerSettings) -> LoadedHandler:
    """Import the handler module as Lambda would: its directory first on sys.path."""
    started = time.perf_counter()
    handler_dir = str(settings.handler_dir)
    if handler_dir not in sys.path:
        sys.path.insert(0, handler_dir)
    module = importlib.import_module(settings.handler_module)
    handler = getattr(module, settings.handler_attribute, None)
    if not callable(handler):
        raise WorkerSettingsError(f"{settings.handler} in {handler_dir} is not a function")
    return LoadedHandler(handler, _pipeline_of(module, settings), time.perf_counter() - started)


def _pipeline_of(module: ModuleType, settings: WorkerSettings) -> Pipeline:
    # The handler's own Pipeline: warming a second engine would warm nothing it uses.
    pipeline = getattr(module, "pipeline", None)
    if not isinstance(pipeline, Pipeline):
        raise WorkerSettingsError(
            f"{settings.handler_module} has no voxflow Pipeline named 'pipeline' to warm up"
        )
    return pipeline


def warm_up(pipeline: Pipeline, voice_id: str = BUILTIN_VOICE_ID) -> WarmUp:
    started = time.perf_counter()
    chunks = pipeline.engine.synthesize_text(WARM_UP_PHRASE, voice_id)
    samples = sum(len(chunk.pcm) for chunk in chunks)
    elapsed = time.perf_counter() - started
    return WarmUp(pipeline.engine.provider(voice_id), elapsed, samples)
