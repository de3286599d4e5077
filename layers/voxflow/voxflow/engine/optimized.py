"""A voice model optimized once, ahead of time, so no cold start redoes it.

Building a session, onnxruntime rewrites the graph (constant folding, node fusions)
before it can run it: about 0.6 s of CPU for the joe voice, at every cold start, and
exposing the durations output (voxflow.engine.durations_output) costs about 0.3 s
more. ``write_optimized`` does both once and saves the result; ``load_model`` loads
that file with graph optimizations disabled. benchmarks/NOTES.md has the figures.

The level saved is ORT_ENABLE_EXTENDED: the highest whose result does not depend on
the CPU it ran on (ORT_ENABLE_ALL adds layout transforms for the build host's vector
width; for Piper voices it saves the very same graph). The file name carries the source
model's sha256 and onnxruntime's version: a model replaced in place, or another
onnxruntime, finds no file of its name and loads the plain model as before.

Lambda's VoiceLayer ships the optimized form alone (layers/Makefile), written by the
EngineLayer's onnxruntime (both the lock's release). Should another onnxruntime ever
meet it, there is no plain model to fall back to: ``model_files`` then gives the form
of the other runtime as the model to load, graph optimizations on, as any ONNX file
(its operators are onnxruntime's own); one that fails is a VoiceLoadError.

Usage: python -m voxflow.engine.optimized MODEL.onnx [MODEL.onnx ...]
"""

import contextlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import onnxruntime as ort

from voxflow.engine.durations_output import NotPatchable, with_durations_output
from voxflow.voices.version import model_version, optimized_forms, optimized_name

_LOGGER = logging.getLogger(__name__)


def optimized_path(model_path: Path, version: str) -> Path:
    """Where the optimized form of ``model_path`` (whose sha256 is ``version``) lies."""
    return model_path.with_name(optimized_name(model_path, version, ort.__version__))


def find_optimized(model_path: Path, version: Callable[[], str]) -> Path | None:
    """The optimized form of ``model_path`` when it was written; ``version`` (the
    model's sha256, a hash of 63 MB when not remembered) is asked only when some
    optimized file lies beside the model."""
    pattern = f"{model_path.stem}.*.ort-{ort.__version__}.onnx"
    if not any(model_path.parent.glob(pattern)):
        return None
    candidate = optimized_path(model_path, version())
    return candidate if candidate.is_file() else None


def model_files(model_path: Path, version: Callable[[], str]) -> tuple[Path, Path | None]:
    """(the model to load, its optimized form for this onnxruntime or None). The model
    is ``model_path``, or where only other runtimes' forms of it lie (a layer that ships
    a form alone, met by another onnxruntime), one of those."""
    optimized = find_optimized(model_path, version)
    if optimized is not None or model_path.exists():
        return model_path, optimized
    foreign = [form for form in optimized_forms(model_path) if form.version == version()]
    if not foreign:
        return model_path, None
    _LOGGER.warning(
        "no optimized model for this onnxruntime and no plain model: loading another's",
        extra={"model": str(foreign[-1].path), "onnxruntime": ort.__version__},
    )
    return foreign[-1].path, None


def write_optimized(model_path: Path) -> Path:
    """Saves ``model_path`` optimized, its durations exposed, beside it; returns the path."""
    target = optimized_path(model_path, model_version(model_path))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(target)
    # The file is written once the graph is optimized; a parallel session skips the
    # sequential memory plan that would follow (seconds, for nothing here).
    options.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    source = model_path.read_bytes()
    # A model without durations is saved as it is, and loads without them, as before.
    with contextlib.suppress(NotPatchable):
        source = with_durations_output(source)
    ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    return target


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    for model in argv:
        print(write_optimized(Path(model)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
