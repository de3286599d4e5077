"""One OpenAI speech request with stream_format sse over a plain HTTP connection, timed to
its first bytes and to its end. The openai client reads ahead before it hands anything
back, which hides when the first bytes came: the API's streaming test and its benchmark
both time a streamed answer this way."""

import http.client
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Streamed:
    first: bytes  # what the first read returned (up to 64 KiB)
    rest: bytes
    first_s: float  # from sending the request to the first bytes
    total_s: float  # to the last
    transfer_encoding: str | None
    server_timing: str | None  # the API's Server-Timing header: its time to the first piece


def timed_sse(api_url: str, key: str, text: str, timeout_s: float = 120) -> Streamed:
    """POST /v1/audio/speech (pcm, sse) at ``api_url`` with the bearer ``key``."""
    address = urlsplit(api_url)
    if address.hostname is None or address.port is None:
        raise ValueError(f"not a host:port URL: {api_url}")
    body = json.dumps(
        {"model": "tts-1", "voice": "alloy", "input": text,
         "response_format": "pcm", "stream_format": "sse"}
    )  # fmt: skip
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=timeout_s)
    try:
        started = time.perf_counter()
        connection.request(
            "POST",
            "/v1/audio/speech",
            body,
            {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        first = response.read1(65536)
        first_s = time.perf_counter() - started
        rest = response.read()
        total_s = time.perf_counter() - started
    finally:
        connection.close()
    return Streamed(
        first,
        rest,
        first_s,
        total_s,
        response.getheader("transfer-encoding"),
        response.getheader("server-timing"),
    )
