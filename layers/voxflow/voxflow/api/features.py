"""The seam for SSML, speech marks and lexicons, which the core does not have yet.

Until it does, every request that needs one is refused with a 400 that names the
feature (never InvalidSsmlException for valid SSML: the SSML is not what is wrong).
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
    def ssml_text(self, ssml: str) -> str:
        """The text an SSML document speaks; raises InvalidSsml-type errors."""
        ...

    def lexicon_exists(self, name: str) -> bool: ...

    def speech_marks(self, text: str, voice: str, mark_types: list[str]) -> bytes:
        """Polly's JSON lines of marks for ``text``."""
        ...


class Unsupported:
    def ssml_text(self, ssml: str) -> str:  # noqa: ARG002
        raise FeatureNotSupported("TextType ssml")

    def lexicon_exists(self, name: str) -> bool:  # noqa: ARG002
        return False  # no lexicon store yet: every named lexicon is not found

    def speech_marks(self, text: str, voice: str, mark_types: list[str]) -> bytes:  # noqa: ARG002
        raise FeatureNotSupported("speech marks (OutputFormat json)")


UNSUPPORTED: SpeechFeatures = Unsupported()
