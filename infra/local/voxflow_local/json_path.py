"""A path of the local moto's own that answers JSON, in front of moto's app.

The local stack's moto serves a few read-only views of its state for the local tools
(voxflow_local.s3_writes, voxflow_local.stream_heads); nothing of voxflow calls them on
AWS. Each is this middleware with its own ``path`` and ``answer``.
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
            status, payload = "200 OK", self.answer(parse_qs(environ.get("QUERY_STRING", "")))
        except BadQuery as error:
            status, payload = "400 Bad Request", {"error": str(error)}
        body = json.dumps(payload).encode()
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    def answer(self, query: Query) -> Any:
        raise NotImplementedError
