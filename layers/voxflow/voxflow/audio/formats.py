"""The audio formats voxflow can deliver, and what clients need to know about each."""

import os
from enum import StrEnum
from pathlib import PurePath

from voxflow.errors import UnsupportedFormat


class AudioFormat(StrEnum):
    """An output format; its value is the name clients send and the file suffix."""

    WAV = "wav"
    FLAC = "flac"
    OGG = "ogg"  # Ogg Vorbis
    MP3 = "mp3"
    OPUS = "opus"  # Ogg Opus

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self]

    @property
    def extension(self) -> str:
        return f".{self.value}"

    @property
    def lossy(self) -> bool:
        return self not in (AudioFormat.WAV, AudioFormat.FLAC)

    @classmethod
    def parse(cls, value: str) -> "AudioFormat":
        """The format named by ``value``, ignoring case, whitespace and a leading dot."""
        # Requests arrive as JSON, so guard against a number or null in the field.
        if not isinstance(value, str):
            raise UnsupportedFormat(f"audio format must be a string, got {value!r}; {_SUPPORTED}")
        try:
            return cls(value.strip().lower().removeprefix("."))
        except ValueError:
            raise UnsupportedFormat(f"unsupported audio format {value!r}; {_SUPPORTED}") from None

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> "AudioFormat":
        """The format a file name's suffix asks for, as in ``out.MP3``."""
        suffix = PurePath(path).suffix
        if not suffix:
            raise UnsupportedFormat(f"{os.fspath(path)!r} has no file extension; {_SUPPORTED}")
        return cls.parse(suffix)


# RFC 5334 registers audio/ogg; RFC 7845 asks that Opus be told apart by its codecs parameter.
_CONTENT_TYPES: dict[AudioFormat, str] = {
    AudioFormat.WAV: "audio/wav",
    AudioFormat.FLAC: "audio/flac",
    AudioFormat.OGG: "audio/ogg",
    AudioFormat.MP3: "audio/mpeg",
    AudioFormat.OPUS: "audio/ogg; codecs=opus",
}

_SUPPORTED = "supported formats: " + ", ".join(member.value for member in AudioFormat)
