"""Typed errors of the voxflow core.

Every error a caller can cause carries a stable ``code``: the event pipeline
copies it into ``SynthesisFailed`` and the CLI prints it, so clients can branch
on the code rather than on message text.
"""


class VoxflowError(Exception):
    """Base of every error voxflow raises on purpose."""

    code = "INTERNAL"


class InvalidInput(VoxflowError, ValueError):
    """The request itself is wrong; retrying it cannot help."""

    code = "INVALID_INPUT"


class EmptyText(InvalidInput):
    code = "EMPTY_TEXT"


class TextTooLong(InvalidInput):
    code = "TEXT_TOO_LONG"

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"text has {length} characters; the limit is {limit}")
        self.length = length
        self.limit = limit


class UnknownVoice(InvalidInput, LookupError):
    code = "UNKNOWN_VOICE"


class VoiceDisabled(InvalidInput):
    """The voice is in the catalog but an operator has disabled it."""

    code = "VOICE_DISABLED"


class VoiceTaken(InvalidInput):
    """``voices add`` with an id the catalog (or a built-in voice) already has."""

    code = "VOICE_EXISTS"


class UnsupportedFormat(InvalidInput):
    code = "UNSUPPORTED_FORMAT"


class InvalidParameter(InvalidInput):
    code = "INVALID_PARAMETER"


class InvalidSsml(InvalidInput):
    """The SSML is malformed, hostile or outside what voxflow supports.

    The message names the place (line, column, tag) and the rule, never the text.
    """

    code = "INVALID_SSML"

    def __init__(self, reason: str, line: int, column: int, tag: str | None = None) -> None:
        where = f"line {line}, column {column}" + (f", in <{tag}>" if tag else "")
        super().__init__(f"invalid SSML at {where}: {reason}")
        self.reason = reason
        self.line = line
        self.column = column
        self.tag = tag


class SettingsError(VoxflowError, ValueError):
    """A deployment setting is invalid: fixed by configuration, not by retrying."""

    code = "BAD_SETTINGS"


class VoiceLoadError(VoxflowError):
    """A registered voice's files are missing or unreadable."""

    code = "VOICE_LOAD_FAILED"


class VoiceHashMismatch(VoiceLoadError):
    """A downloaded voice model is not the one its catalog entry names: never used."""

    code = "VOICE_HASH_MISMATCH"


class SynthesisError(VoxflowError):
    """The engine failed on input that passed validation."""

    code = "SYNTHESIS_FAILED"


class ContentRejected(InvalidInput):
    """The text breaks the deployment's content policy; the message never quotes it."""

    code = "CONTENT_REJECTED"

    def __init__(self, rule: str) -> None:
        super().__init__(f"text rejected by the content policy (rule {rule})")
        self.rule = rule


class Throttled(VoxflowError):
    """The tenant is over its quota: the same request may succeed later."""

    code = "THROTTLED"

    def __init__(self, tenant: str, retry_after_s: float | None) -> None:
        later = (
            f"; retry after {retry_after_s:.1f} s"
            if retry_after_s is not None
            else "; the request is larger than the tenant's burst allows"
        )
        super().__init__(f"tenant {tenant!r} is over its quota{later}")
        self.tenant = tenant
        # None: never, at the current limits (the request exceeds a bucket's capacity).
        self.retry_after_s = retry_after_s


class TenantMismatch(InvalidInput):
    """The request names a tenant other than the one its sender is authenticated as
    (the event's source, or the SQS sender's binding: voxflow.pipeline.tenancy)."""

    code = "TENANT_MISMATCH"

    def __init__(self, declared: str, authenticated: str) -> None:
        super().__init__(
            f"the request names tenant {declared!r}, but its sender is tenant {authenticated!r}"
        )
        self.declared = declared
        self.authenticated = authenticated


class InvalidLexicon(InvalidInput):
    """A pronunciation lexicon is not a PLS 1.0 document voxflow can apply (the message
    names the element and where it is, never a lexicon's words)."""

    code = "INVALID_LEXICON"


class LexiconNotFound(InvalidInput, LookupError):
    """A request names a lexicon that is not stored in this region."""

    code = "LEXICON_NOT_FOUND"

    def __init__(self, name: str) -> None:
        super().__init__(f"no lexicon named {name!r} is stored here")
        self.name = name
