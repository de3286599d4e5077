"""The engine of ``voxflow synth``, its voice's session started before anything else.

Imported ahead of voxflow.cli.synth, which brings the text, marks and synthesis
modules: their imports then run while onnxruntime builds the session on another
thread (voxflow.engine.preload).
"""

from dataclasses import dataclass

from voxflow.config import Config
from voxflow.engine.preload import VoiceModelLoad
from voxflow.errors import VoxflowError
from voxflow.settings import EngineSettings
from voxflow.voices import VoiceRegistry


@dataclass(frozen=True)
class EngineStart:
    settings: EngineSettings
    registry: VoiceRegistry
    load: VoiceModelLoad | None  # None: the voice is not known (reported at synthesis)


def start_engine(voice_id: str) -> EngineStart:
    settings = EngineSettings.of(Config.load())
    registry = VoiceRegistry.default(settings.voices_file, settings.cache_dir)
    try:
        voice = registry.get(voice_id)
    except VoxflowError:
        return EngineStart(settings, registry, None)
    return EngineStart(settings, registry, VoiceModelLoad(voice, settings))
