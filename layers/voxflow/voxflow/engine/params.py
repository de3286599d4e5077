"""Synthesis parameters, validated, and resolved against a voice's defaults."""

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from voxflow.errors import InvalidParameter

if TYPE_CHECKING:  # piper (the engine layer) only where a voice is resolved
    from voxflow.voices.config import VoiceConfig

PARAM_LIMITS: dict[str, tuple[float, float]] = {
    "length_scale": (0.25, 4.0),
    "noise_scale": (0.0, 2.0),
    "noise_w": (0.0, 2.0),
    "sentence_pause_s": (0.0, 5.0),
}


@dataclass(frozen=True)
class SynthesisParams:
    """What a request may set. ``None`` takes the voice's own default.

    length_scale is the inverse of speaking rate: 0.5 speaks twice as fast.
    sentence_pause_s is the silence inserted between sentence chunks.
    """

    length_scale: float | None = None
    noise_scale: float | None = None
    noise_w: float | None = None
    sentence_pause_s: float = 0.2
    # A multi-speaker voice's speaker, by name or id; None: the voice's default.
    speaker: str | int | None = None

    def __post_init__(self) -> None:
        for name, (low, high) in PARAM_LIMITS.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidParameter(f"{name} must be a number, not {type(value).__name__}")
            if not math.isfinite(value) or not low <= value <= high:
                raise InvalidParameter(f"{name}={value} is outside {low}..{high}")

    @classmethod
    def from_rate(cls, rate: float, **others: float | None) -> "SynthesisParams":
        """Speaking rate (1.0 normal, 2.0 twice as fast) to length_scale."""
        if not math.isfinite(rate) or rate <= 0:
            raise InvalidParameter(f"rate must be a positive number, not {rate}")
        return cls(length_scale=1.0 / rate, **others)  # type: ignore[arg-type]

    def resolve(self, config: "VoiceConfig") -> "ResolvedParams":
        return ResolvedParams(
            length_scale=_defaulted(self.length_scale, config.length_scale),
            noise_scale=_defaulted(self.noise_scale, config.noise_scale),
            noise_w=_defaulted(self.noise_w, config.noise_w_scale),
            sentence_pause_s=float(self.sentence_pause_s),
            speaker_id=_speaker_id(self.speaker, config),
        )


def _defaulted(value: float | None, default: float) -> float:
    return float(default if value is None else value)


def _speaker_id(speaker: str | int | None, config: "VoiceConfig") -> int | None:
    """The model's sid: None for a one-speaker voice, which has no sid input."""
    if config.num_speakers <= 1:
        if speaker is None:
            return None
        raise InvalidParameter("the voice has one speaker: give no speaker")
    if speaker is None:
        return int(config.default_speaker_id)
    if isinstance(speaker, int) and not isinstance(speaker, bool):
        if 0 <= speaker < config.num_speakers:
            return speaker
    elif isinstance(speaker, str) and speaker in config.speaker_id_map:
        return int(config.speaker_id_map[speaker])
    names = ", ".join(sorted(config.speaker_id_map)[:8]) or "none"
    raise InvalidParameter(
        f"the voice has no speaker {speaker!r} (names: {names}; ids 0..{config.num_speakers - 1})"
    )


@dataclass(frozen=True)
class ResolvedParams:
    """Concrete values: what the model ran with, and what cache keys hash."""

    length_scale: float
    noise_scale: float
    noise_w: float
    sentence_pause_s: float
    # Only multi-speaker voices have one: single-speaker keys stay as they were.
    speaker_id: int | None = None

    def as_dict(self) -> dict[str, float]:
        values = asdict(self)
        if values["speaker_id"] is None:
            del values["speaker_id"]
        return values
