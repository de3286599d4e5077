"""A path of the local moto's own that answers JSON, in front of moto's app.

The local stack's moto serves a few read-only views of its state for the local tools
(voxflow_local.s3_writes, voxflow_local.stream_heads) and takes the replicator's item
copies (voxflow_local.global_tables); nothing of voxflow calls them on AWS. Each is this
middleware with its own ``path`` and ``answer`` (a GET's query) or ``answer_post`` (a
POST's JSON body).
"""

import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]
Query = dict[str, list[str]]


class BadQuery(ValueError):
    """The query lacks what the path needs: a 400 naming what it takes."""


class JsonPath:
    """WSGI middleware: answers ``path`` with ``answer``'s JSON, hands everything else
    to ``app``."""

    path = ""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != self.path:
            return self.app(environ, start_response)
        try:
            if environ.get("REQUEST_METHOD") == "POST":
                payload = self.answer_post(json.loads(_body(environ) or b"null"))
            else:
                payload = self.answer(parse_qs(environ.get("QUERY_STRING", "")))
            status = "200 OK"
        except (BadQuery, json.JSONDecodeError) as error:
            status, payload = "400 Bad Request", {"error": str(error)}
        body = json.dumps(payload).encode()
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    def answer(self, query: Query) -> Any:
        raise NotImplementedError

    def answer_post(self, payload: Any) -> Any:
        del payload
        raise BadQuery(f"{self.path} takes GET")


def _body(environ: Environ) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return bytes(environ["wsgi.input"].read(length)) if length else b""
