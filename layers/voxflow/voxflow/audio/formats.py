"""The audio formats voxflow can deliver, and what clients need to know about each."""

import os
from enum import StrEnum
from pathlib import PurePath

from voxflow.errors import InvalidParameter, UnsupportedFormat

# The rates a request may ask for (Polly's, up to 48 kHz); each format allows some.
SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
# Opus codes only 8, 12, 16, 24 and 48 kHz (RFC 6716 §2); the others would need a
# second resampling inside every player.
OPUS_SAMPLE_RATES = (8000, 16000, 24000, 48000)
# G.711 is defined at 8 kHz only (ITU-T G.711 §1; RFC 3551 §4.5.14 gives PCMU and PCMA
# an 8000 Hz clock), and it is the rate Polly, Amazon Connect and Twilio send and take.
G711_SAMPLE_RATE = 8000
# Polly's OutputFormat=json asks for speech marks, not audio: parse refuses it with this
# explanation; the CLI intercepts the name (--format json --marks ...), and requests ask
# for marks with speech_marks beside an audio format.
SPEECH_MARKS_FORMAT = "json"


class AudioFormat(StrEnum):
    """An output format; its value is the name clients send."""

    WAV = "wav"
    FLAC = "flac"
    OGG = "ogg"  # Ogg Vorbis
    MP3 = "mp3"
    OPUS = "opus"  # Ogg Opus
    PCM = "pcm"  # headerless signed 16-bit little-endian mono, as Polly's pcm
    MULAW = "mulaw"  # headerless G.711 µ-law, one byte a sample
    ALAW = "alaw"  # headerless G.711 A-law, one byte a sample

    @property
    def content_type(self) -> str:
        """The media type without parameters; ``media_type`` adds the rate raw audio needs."""
        return _CONTENT_TYPES[self]

    def media_type(self, sample_rate: int) -> str:
        """The Content-Type of this format's audio at ``sample_rate``: headerless PCM says
        its rate, as nothing in the bytes does."""
        if self is AudioFormat.PCM:
            return f"{_CONTENT_TYPES[self]};rate={sample_rate};channels=1"
        return _CONTENT_TYPES[self]

    @property
    def extension(self) -> str:
        return _EXTENSIONS.get(self, f".{self.value}")

    @property
    def lossy(self) -> bool:
        return self not in (AudioFormat.WAV, AudioFormat.FLAC, AudioFormat.PCM)

    @property
    def headerless(self) -> bool:
        """Raw samples: a reader must be told the encoding and rate."""
        return self in (AudioFormat.PCM, AudioFormat.MULAW, AudioFormat.ALAW)

    @property
    def sample_rates(self) -> tuple[int, ...]:
        """The rates a request may ask for in this format."""
        if self is AudioFormat.OPUS:
            return OPUS_SAMPLE_RATES
        if self in (AudioFormat.MULAW, AudioFormat.ALAW):
            return (G711_SAMPLE_RATE,)
        return SAMPLE_RATES

    def output_rate(self, requested: int | None, source_rate: int) -> int:
        """The rate audio at ``source_rate`` is delivered at when ``requested`` is asked
        for (None: this format's default, which is what requests without a rate got
        before they could ask, so their cache keys stay the same)."""
        if requested is None:
            if self is AudioFormat.OPUS:
                return max(OPUS_SAMPLE_RATES)
            if self in (AudioFormat.MULAW, AudioFormat.ALAW):
                return G711_SAMPLE_RATE
            return source_rate
        if isinstance(requested, bool) or not isinstance(requested, int):
            raise InvalidParameter(f"sample_rate must be an integer, got {requested!r}")
        # The default is always allowed: a job stores the rate it resolved, even a voice's
        # own rate that no request could name.
        if requested not in self.sample_rates and requested != self.output_rate(None, source_rate):
            allowed = ", ".join(str(rate) for rate in self.sample_rates)
            raise InvalidParameter(
                f"{self.value} cannot be delivered at {requested} Hz; its rates: {allowed}"
            )
        return requested

    @classmethod
    def parse(cls, value: str) -> "AudioFormat":
        """The format named by ``value``, ignoring case, whitespace and a leading dot;
        Polly's names (ogg_vorbis, ogg_opus) and common raw suffixes are aliases."""
        # Requests arrive as JSON, so guard against a number or null in the field.
        if not isinstance(value, str):
            raise UnsupportedFormat(f"audio format must be a string, got {value!r}; {_SUPPORTED}")
        name = value.strip().lower().removeprefix(".")
        if name == SPEECH_MARKS_FORMAT:
            raise UnsupportedFormat(
                "format 'json' is Polly's speech marks, not audio: ask for them with "
                f"speech_marks (the CLI's --marks); {_SUPPORTED}"
            )
        try:
            return _ALIASES.get(name) or cls(name)
        except ValueError:
            raise UnsupportedFormat(f"unsupported audio format {value!r}; {_SUPPORTED}") from None

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> "AudioFormat":
        """The format a file name's suffix asks for, as in ``out.MP3`` or ``out.ulaw``."""
        suffix = PurePath(path).suffix
        if not suffix:
            raise UnsupportedFormat(f"{os.fspath(path)!r} has no file extension; {_SUPPORTED}")
        return cls.parse(suffix)


# RFC 5334 registers audio/ogg; RFC 7845 asks that Opus be told apart by its codecs
# parameter. The raw formats take Polly's content types (SynthesizeSpeech's ContentType:
# audio/pcm for signed 16-bit little-endian mono, audio/mulaw, audio/alaw) rather than
# the registered audio/L16 (RFC 2586: big-endian, the wrong byte order for these bytes),
# audio/PCMU and audio/PCMA (RFC 4856: RTP payloads), so clients written for Polly read
# them unchanged.
_CONTENT_TYPES: dict[AudioFormat, str] = {
    AudioFormat.WAV: "audio/wav",
    AudioFormat.FLAC: "audio/flac",
    AudioFormat.OGG: "audio/ogg",
    AudioFormat.MP3: "audio/mpeg",
    AudioFormat.OPUS: "audio/ogg; codecs=opus",
    AudioFormat.PCM: "audio/pcm",
    AudioFormat.MULAW: "audio/mulaw",
    AudioFormat.ALAW: "audio/alaw",
}

# The suffixes sox and most telephony tools give these raw files.
_EXTENSIONS: dict[AudioFormat, str] = {AudioFormat.MULAW: ".ulaw"}

# Polly's OutputFormat names for the same formats; the event contract's schema lists them.
POLLY_ALIASES: dict[str, AudioFormat] = {
    "ogg_vorbis": AudioFormat.OGG,
    "ogg_opus": AudioFormat.OPUS,
}
_ALIASES: dict[str, AudioFormat] = {
    **POLLY_ALIASES,
    "ulaw": AudioFormat.MULAW,
    "raw": AudioFormat.PCM,
}

_SUPPORTED = "supported formats: " + ", ".join(member.value for member in AudioFormat)
