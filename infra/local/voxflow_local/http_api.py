"""An HTTP server that hands each request to a Lambda handler as API Gateway's HTTP API
does: a payload 2.0 event built from the real request, the handler's answer (status,
headers, cookies, a base64 body) written back. The local stack serves the API function
with it (``api: http://127.0.0.1:PORT``); tests serve a handler in-process."""

import base64
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl

from voxflow.api.buffered import LAMBDA_RESPONSE_BYTES
from voxflow.api.principal import principal_of
from voxflow.console.site import (
    CORS_ALLOW_HEADERS,
    CORS_ALLOW_METHODS,
    CORS_EXPOSE_HEADERS,
    CORS_MAX_AGE_S,
)
from voxflow_local import ports

Invoke = Callable[[dict[str, Any]], Any]
# A streamed answer (status, headers, body pieces: voxflow.api.streaming's
# StreamedResponse), or None to answer through ``invoke``.
Stream = Callable[[dict[str, Any]], Any]
# One JSON line per answer, as the template's API Gateway access log has them, with the
# principal the function's own access line carries on AWS (voxflow.api.principal).
access_log = logging.getLogger("voxflow_local.access")

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


@dataclass(frozen=True)
class Cors:
    """An HTTP API's CorsConfiguration as API Gateway applies it: a preflight from an
    allowed origin is answered by the gateway itself (the function never sees it), and
    every answer to that origin carries its Allow-Origin and Expose-Headers. Requests
    from any other origin get no CORS header, so the browser refuses the page the answer.
    The defaults are the console's (template.yaml's SpeechApi, voxflow.console.site)."""

    origins: tuple[str, ...]
    allow_headers: tuple[str, ...] = CORS_ALLOW_HEADERS
    allow_methods: tuple[str, ...] = CORS_ALLOW_METHODS
    expose_headers: tuple[str, ...] = CORS_EXPOSE_HEADERS
    max_age_s: int = CORS_MAX_AGE_S

    def answer_headers(self, origin: str | None) -> dict[str, str]:
        if origin is None or origin not in self.origins:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Expose-Headers": ",".join(self.expose_headers),
            "Vary": "Origin",
        }

    def preflight_headers(self, origin: str | None, method: str | None) -> dict[str, str]:
        if origin is None or origin not in self.origins or method not in self.allow_methods:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ",".join(self.allow_methods),
            "Access-Control-Allow-Headers": ",".join(self.allow_headers),
            "Access-Control-Max-Age": str(self.max_age_s),
            "Vary": "Origin",
        }


def payload_v2_event(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
) -> dict[str, Any]:
    path, _, query = target.partition("?")
    joined: dict[str, str] = {}
    for name, value in headers:
        lowered = name.lower()
        # API Gateway joins repeated headers with commas; cookies travel apart.
        joined[lowered] = f"{joined[lowered]},{value}" if lowered in joined else value
    cookies = [c.strip() for c in joined.pop("cookie", "").split(";") if c.strip()]
    parameters: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": joined,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": joined.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }
    if cookies:
        event["cookies"] = cookies
    if parameters:
        event["queryStringParameters"] = parameters
    return event


class HttpApiServer:
    """Serves ``invoke`` (a handler taking an event) on 127.0.0.1:``port`` (0: any).

    ``serial``: one request at a time, on the thread that calls ``serve_until``, as one
    Lambda execution environment takes them (and the runner's timeout alarm needs)."""

    def __init__(
        self,
        invoke: Invoke,
        port: int = 0,
        *,
        serial: bool = False,
        stream: Stream | None = None,
        cors: Cors | None = None,
        inherited_fd: int | None = None,
    ) -> None:
        """``stream``: answers the routes it knows with a chunked body as it is made;
        ``cors``: the API's CorsConfiguration (none: no CORS header, as on AWS);
        ``inherited_fd``: a socket the parent bound to ``port`` (voxflow_local.ports)."""
        self._invoke = invoke
        self._stream = stream
        self._cors = cors
        self._serial = serial
        server_class = HTTPServer if serial else ThreadingHTTPServer
        self._server = server_class(
            ("127.0.0.1", port), self._handler_class(), bind_and_activate=inherited_fd is None
        )
        if inherited_fd is not None:
            self._server.socket.close()
            self._server.socket = ports.listen_on(inherited_fd)
            self._server.server_address = self._server.socket.getsockname()
        if isinstance(self._server, ThreadingHTTPServer):
            self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def serve_until(self, stop: Callable[[], bool], poll_s: float = 0.5) -> None:
        """Serve on this thread until ``stop()`` is true (checked between requests)."""
        self._server.timeout = poll_s
        while not stop():
            self._server.handle_request()
        self._server.server_close()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        invoke = self._invoke
        stream = self._stream
        cors = self._cors
        # Serial: a kept-alive connection would hold the one server thread and keep every
        # other client (and a stop request) waiting; each answer closes its connection.
        keep_alive = not self._serial

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 60  # an idle connection is dropped, as API Gateway drops it
            _cors_headers: dict[str, str]  # set by each request, to its origin
            _started = 0.0  # when the request was read (perf_counter)
            _request_id = ""  # its event's, as $context.requestId on AWS

            def _serve(self) -> None:
                self._started = time.perf_counter()
                self._request_id = ""
                origin = self.headers.get("Origin")
                self._cors_headers = cors.answer_headers(origin) if cors else {}
                requested = self.headers.get("Access-Control-Request-Method")
                if cors is not None and self.command == "OPTIONS" and requested:
                    self._cors_headers = cors.preflight_headers(origin, requested)
                    self._reply(204, {}, b"")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    self._reply(
                        413,
                        {"content-type": "application/json"},
                        b'{"message":"Request Entity Too Large"}',
                    )
                    return
                body = self.rfile.read(length) if length else b""
                event = payload_v2_event(
                    self.command,
                    self.path,
                    list(self.headers.items()),
                    body,
                    self.client_address[0],
                )
                self._request_id = event["requestContext"]["requestId"]
                if stream is not None:
                    handed = time.perf_counter()
                    try:
                        streamed = stream(event)
                    except Exception:  # as a failed invocation is answered
                        self._reply(
                            500,
                            {"content-type": "application/json"},
                            b'{"message":"Internal Server Error"}',
                        )
                        return
                    if streamed is not None:
                        self._reply_chunked(streamed, handed)
                        return
                try:
                    result = invoke(event)
                    # Lambda fails an answer over its synchronous payload limit; API
                    # Gateway then answers its 500, as below (voxflow.api.buffered).
                    if len(json.dumps(result)) > LAMBDA_RESPONSE_BYTES:
                        raise ValueError("Response payload size exceeded maximum allowed")
                except Exception:  # API Gateway answers a failed invocation so
                    self._reply(
                        500,
                        {"content-type": "application/json"},
                        b'{"message":"Internal Server Error"}',
                    )
                    return
                self._reply(*_response(result))

            def _reply(
                self,
                status: int,
                headers: dict[str, str],
                body: bytes,
                cookies: list[str] | None = None,
            ) -> None:
                self.send_response(status)
                for name, value in {**headers, **self._cors_headers}.items():
                    if name.lower() not in ("content-length", "connection"):
                        self.send_header(name, value)
                for cookie in cookies or []:
                    self.send_header("Set-Cookie", cookie)
                self.send_header("Content-Length", str(len(body)))
                if not keep_alive:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                try:
                    self.end_headers()
                    self.wfile.write(body)
                except ConnectionError:  # the client hung up first: nothing left to answer
                    self.close_connection = True

            def _reply_chunked(self, streamed: Any, handed: float) -> None:
                """Transfer-Encoding: chunked, one HTTP chunk per piece as it is made.
                A failure after the first byte can only cut the body short: the
                status is sent (as on AWS, where a streamed answer's status is too).
                The headers wait for the first piece: a client that reads only them
                (boto3 before the AudioStream is read) sees the answer under way. They
                carry the answer's timings to its first piece as Server-Timing (no text
                in them), ``handler`` being the whole of it from the event handed over."""
                pieces: Iterator[bytes] = iter(streamed.body)
                try:
                    first = next(pieces, b"")
                except Exception:  # nothing sent yet: a failed invocation's answer
                    self._reply(
                        500,
                        {"content-type": "application/json"},
                        b'{"message":"Internal Server Error"}',
                    )
                    return
                timings = {**streamed.timings_ms, "handler": (time.perf_counter() - handed) * 1000}
                # An answer made whole (speech marks) carries its own Server-Timing
                # (lookup, synthesize, store, total): these go after it, not instead.
                own = [v for k, v in streamed.headers.items() if k.lower() == "server-timing"]
                headers = {
                    **{k: v for k, v in streamed.headers.items() if k.lower() != "server-timing"},
                    "Server-Timing": ", ".join(
                        own + [f"{k};dur={v:.1f}" for k, v in timings.items()]
                    ),
                }
                self.send_response(streamed.status)
                for name, value in {**headers, **self._cors_headers}.items():
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.close_connection = True
                try:
                    self.end_headers()
                    for piece in itertools.chain([first], pieces):
                        if piece:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                            self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                except Exception:  # cut short: the client sees no final chunk
                    return

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve  # noqa: N815
            do_OPTIONS = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass  # log_request's access line instead; never bodies (they hold the text)

            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:  # noqa: ARG002
                line = {
                    "requestId": self._request_id,
                    "method": self.command,
                    "path": self.path.partition("?")[0],
                    "status": int(code) if str(code).isdigit() else code,
                    "latencyMs": round((time.perf_counter() - self._started) * 1000, 1),
                    "principal": principal_of(dict(self.headers.items())),
                }
                access_log.info(json.dumps(line))

        return Handler


def _response(result: Any) -> tuple[int, dict[str, str], bytes, list[str]]:
    """A payload 2.0 answer: a dict with statusCode, or any JSON value as a 200."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return 200, {"content-type": "application/json"}, json.dumps(result).encode(), []
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[str(name)] = ",".join(str(v) for v in values)
    return int(result["statusCode"]), headers, body, list(result.get("cookies") or [])
