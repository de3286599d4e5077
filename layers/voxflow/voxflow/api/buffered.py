"""The size a buffered answer can have on AWS.

API Gateway's Lambda proxy integration waits for the function's whole answer, which
Lambda caps at 6 MB (its synchronous response payload, the JSON around the body
included); a bigger one fails the invocation and the caller gets API Gateway's 500 with
no word of why. Bytes travel base64-encoded (4 per 3), so ~4.7 MB of audio is the most a
buffered answer carries. The resolver's routes (what `handler` answers on AWS, and the
local server when it answers buffered) refuse a bigger answer with the protocol's own
error instead, once its size is known: after synthesis, since the audio's length is the
speech's, not the text's. A streamed answer (voxflow.api.streaming) has no such bound.
"""

from voxflow.api.openai import OpenAIError
from voxflow.api.polly import PollyError

LAMBDA_RESPONSE_BYTES = 6 * 1024 * 1024  # Lambda's synchronous response payload
# The JSON around the body (status, headers, isBase64Encoded): a few hundred bytes,
# with room to spare.
_ENVELOPE_BYTES = 16 * 1024
MAX_BODY_BYTES = LAMBDA_RESPONSE_BYTES - _ENVELOPE_BYTES  # the body as the answer carries it
MAX_AUDIO_BYTES = MAX_BODY_BYTES // 4 * 3  # raw audio bytes that fit, base64-encoded


def carried_bytes(body: bytes | str) -> int:
    """The body's size inside the answer: bytes base64-encoded (the resolver encodes
    them), text as UTF-8."""
    if isinstance(body, bytes):
        return 4 * ((len(body) + 2) // 3)
    return len(body.encode("utf-8"))


def oversized(body: bytes | str) -> str | None:
    """Why ``body`` cannot be answered buffered (a message naming the limit); None if
    it can."""
    size = carried_bytes(body)
    if size <= MAX_BODY_BYTES:
        return None
    return (
        f"the answer would be {size:,} bytes as a buffered HTTP API answer carries it, over "
        f"the {MAX_BODY_BYTES:,} that fit in AWS Lambda's 6 MB response (about "
        f"{MAX_AUDIO_BYTES / 1e6:.1f} MB of audio)"
    )


def check_polly(body: bytes | str) -> None:
    """Polly's closest error for it: TextLengthExceededException (400)."""
    if (why := oversized(body)) is not None:
        raise PollyError(
            "TextLengthExceededException",
            f"{why}: send shorter text or a compressed OutputFormat (mp3, ogg_vorbis, "
            "ogg_opus), or start a synthesis task (StartSpeechSynthesisTask), which writes "
            "the audio to S3",
        )


def check_openai(body: bytes | str) -> None:
    """OpenAI's 400 invalid_request_error, on ``input``."""
    if (why := oversized(body)) is not None:
        raise OpenAIError(
            400,
            f"{why}: send shorter input or a compressed response_format (mp3, opus); longer "
            "texts: the task API (Polly's StartSpeechSynthesisTask on this endpoint), which "
            "writes the audio to S3",
            param="input",
            code="response_too_large",
        )
