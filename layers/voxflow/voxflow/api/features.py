"""The seam for speech marks and lexicons on the API, until the core's are wired here.

Until then, every request that needs one is refused with a 400 that names the
feature. SSML is the core's (voxflow.text.ssml), through the event contract's text_type.
Replace ``UNSUPPORTED`` with the core's implementation when it lands.
"""

from typing import Protocol

from voxflow.errors import InvalidInput


class FeatureNotSupported(InvalidInput):
    code = "FEATURE_NOT_SUPPORTED"

    def __init__(self, feature: str) -> None:
        super().__init__(f"{feature} is not supported by this deployment yet")
        self.feature = feature


class SpeechFeatures(Protocol):
    def lexicon_exists(self, name: str) -> bool: ...

    def speech_marks(self, text: str, voice: str, mark_types: list[str]) -> bytes:
        """Polly's JSON lines of marks for ``text``."""
        ...


class Unsupported:
    def lexicon_exists(self, name: str) -> bool:  # noqa: ARG002
        return False  # no lexicon store yet: every named lexicon is not found

    def speech_marks(self, text: str, voice: str, mark_types: list[str]) -> bytes:  # noqa: ARG002
        raise FeatureNotSupported("speech marks (OutputFormat json)")


UNSUPPORTED: SpeechFeatures = Unsupported()
