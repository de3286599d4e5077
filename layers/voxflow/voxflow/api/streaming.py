"""Speech answered as it is made: the body of a miss leaves chunk by chunk, so the first
audio arrives after the first sentence, not the whole text (docs/api.md, "Streaming").

``stream_response`` serves the two speech routes (Polly's SynthesizeSpeech, OpenAI's
/v1/audio/speech) from a payload 2.0 event to a status, headers and an iterator of body
pieces: what a server that writes a chunked body needs (the local API server; on AWS,
a response-streaming function URL behind the Lambda Web Adapter). Every other route,
and every refusal, takes the buffered resolver's way; refusals are decided before the
first byte, so they keep their status and error shape.
"""

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from voxflow.api import openai, polly
from voxflow.api.openai import OpenAIError
from voxflow.api.polly import PollyError
from voxflow.api.routes import CACHE_HEADER, Api, polly_error_response, speech_headers
from voxflow.errors import VoxflowError


@dataclass(frozen=True)
class StreamedResponse:
    status: int
    headers: dict[str, str]
    body: Iterator[bytes]
    # Milliseconds on the way to the first piece (auth, then SpeechStream.timings_ms's),
    # complete once that piece is made: a server may send them as Server-Timing.
    timings_ms: dict[str, float] = field(default_factory=dict)


def stream_response(api: Api, event: dict[str, Any]) -> StreamedResponse | None:
    """The streamed answer to ``event``; None: not a streamed route (use the resolver)."""
    method = event["requestContext"]["http"]["method"]
    path = event.get("rawPath", "/")
    if (method, path) == ("POST", "/v1/audio/speech"):
        return _openai(api, event)
    if (method, path) == ("POST", "/v1/speech"):
        return _polly(api, event)
    return None


def flushed_after(
    response: StreamedResponse | None, flush: Callable[[], None]
) -> StreamedResponse | None:
    """``response`` with ``flush`` called once its body is done, or abandoned by a client
    that hung up: what its pieces recorded (a miss's count, its duration) is published
    with it. A buffered call's metrics are flushed by the handler's decorator as it
    returns, before a streamed body has even begun."""
    if response is None:
        return None
    pieces = response.body

    def body() -> Iterator[bytes]:
        try:
            yield from pieces
        finally:
            flush()

    return replace(response, body=body())


def _openai(api: Api, event: dict[str, Any]) -> StreamedResponse:
    started = time.perf_counter()
    try:
        tenant = api.openai_tenant(_headers(event))
        parsed = openai.parse_speech(
            _body(event), tenant, api.speech.pipeline.registry, api.settings.default_voice
        )
        auth_ms = (time.perf_counter() - started) * 1000
        try:
            if parsed.with_marks:  # one JSON document: audio and marks, made whole
                speech = api.speech.speak(parsed.request)
                whole, content_type = openai.speech_response(speech, parsed)
                data = whole.encode("utf-8") if isinstance(whole, str) else whole
                headers = {"Content-Type": content_type, **speech_headers(speech)}
                return StreamedResponse(200, headers, iter([data]))
            # sse asks to stream: per chunk even where the pieces are not the cached
            # object's bytes (mp3, pcm resampled to OpenAI's 24 kHz).
            stream = api.speech.stream(parsed.request, exact=parsed.stream_format != "sse")
        except VoxflowError as error:
            raise openai.error_of(error) from None
    except OpenAIError as error:
        return _whole(error.status, {"Content-Type": "application/json"}, error.document())
    body = (
        openai.sse_events(stream.pieces, parsed) if parsed.stream_format == "sse" else stream.pieces
    )
    headers = {"Content-Type": openai.content_type_of(parsed), CACHE_HEADER: stream.cache}
    stream.timings_ms["auth"] = auth_ms
    return StreamedResponse(200, headers, body, stream.timings_ms)


def _polly(api: Api, event: dict[str, Any]) -> StreamedResponse:
    started = time.perf_counter()
    payload = _body(event)
    try:
        tenant = api.polly_tenant(event, payload)
        synthesis = polly.parse_synthesize(
            payload, tenant, api.contract, api.speech.pipeline.registry
        )
        auth_ms = (time.perf_counter() - started) * 1000
        try:
            stream = api.speech.stream(synthesis.request)
        except VoxflowError as error:
            raise polly.error_of(error) from None
    except PollyError as error:
        status, headers, document = polly_error_response(api, error)
        return _whole(status, headers, document)
    headers = {
        **polly.response_headers(synthesis, stream.spoken_chars),
        CACHE_HEADER: stream.cache,
    }
    stream.timings_ms["auth"] = auth_ms
    return StreamedResponse(200, headers, stream.pieces, stream.timings_ms)


def _whole(status: int, headers: dict[str, str], document: dict[str, Any]) -> StreamedResponse:
    return StreamedResponse(status, headers, iter([json.dumps(document).encode()]))


def _headers(event: dict[str, Any]) -> dict[str, str]:
    return {name.lower(): value for name, value in (event.get("headers") or {}).items()}


def _body(event: dict[str, Any]) -> bytes:
    data = event.get("body") or ""
    return base64.b64decode(data) if event.get("isBase64Encoded") else data.encode("utf-8")
