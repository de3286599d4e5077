"""A voice's session built on a thread while a cold process does the rest of its start.

onnxruntime releases the GIL while it builds a session (about a quarter of a second
of the joe voice's cold start, from its optimized form): a process that starts the
build first imports its text, marks and synthesis modules, normalizes and phonemizes
in the meantime, on the other core. ``voxflow synth`` does (voxflow.cli.engine_start);
the Engine is handed the load and waits for it at the voice's first use.
benchmarks/NOTES.md ("Cold start") has the figures.
"""

import threading
import time

from voxflow.engine.optimized import model_files
from voxflow.engine.session import VoiceModel, load_model
from voxflow.settings import EngineSettings
from voxflow.voices import Voice


def load_voice_model(voice: Voice, settings: EngineSettings) -> VoiceModel:
    """The voice's session, from its optimized form when one lies beside the model."""
    model, optimized = model_files(voice.model_path, lambda: voice.model_version)
    return load_model(model, settings, optimized)


class VoiceModelLoad:
    """``load_voice_model`` of one voice, running on its own thread from construction."""

    def __init__(self, voice: Voice, settings: EngineSettings) -> None:
        self.voice_id = voice.voice_id
        self.seconds = 0.0  # the load's own duration, once done
        self._model: VoiceModel | None = None
        self._error: Exception | None = None
        # Not a daemon: a process that exits meanwhile (bad input found) waits for the
        # build instead of finalizing the interpreter under onnxruntime's running code.
        self._thread = threading.Thread(
            target=self._run, args=(voice, settings), name=f"voice-load-{voice.voice_id}"
        )
        self._thread.start()

    def _run(self, voice: Voice, settings: EngineSettings) -> None:
        started = time.perf_counter()
        try:
            self._model = load_voice_model(voice, settings)
        except Exception as error:  # raised again, as it was, by result()
            self._error = error
        self.seconds = time.perf_counter() - started

    def result(self) -> VoiceModel:
        """The session, once built; the load's own error when it failed."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._model is not None
        return self._model
