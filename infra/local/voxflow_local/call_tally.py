"""What a moto server's time went on, by operation: calls and the CPU each took.

The local stack's two regions each run on one moto interpreter, and in a drill the
secondary's moto is the busiest process on the machine (issue 17): every call of
the service waits behind the ones before it. ``CallTally`` wraps moto's WSGI app and
counts, per operation (``AmazonSQS.ReceiveMessage``, ``DynamoDB_20120810.UpdateItem``,
``S3 PUT``, ...), the calls and the thread CPU seconds spent answering them (the
request's own thread, so other threads' work and the GIL's waits are not counted).
``GET /_voxflow/calls`` serves the tally as JSON; with ``VOXFLOW_MOTO_CALLS_FILE`` set,
moto_app also writes it there every few seconds and on exit (the drill's log folder).
Only the local stack's moto serves it; nothing of voxflow calls it on AWS.
"""

import io
import json
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from voxflow_local.json_path import Environ, StartResponse, WsgiApp

PATH = "/_voxflow/calls"
_FORM = "application/x-www-form-urlencoded"
CALLS_FILE_ENV = "VOXFLOW_MOTO_CALLS_FILE"


def operation(environ: Environ) -> str:
    """The AWS operation a request asks for: the JSON protocols' target header, the query
    protocol's Action (in the query string, or in a form body as botocore sends it:
    CloudWatch's PutMetricData), else the HTTP method (S3, and moto's own paths)."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target)
    action = parse_qs(str(environ.get("QUERY_STRING", ""))).get("Action")
    if action:
        return action[0]
    action = parse_qs(_form_body(environ)).get("Action")
    if action:
        return action[0]
    path = str(environ.get("PATH_INFO", ""))
    if path.startswith("/_"):
        return f"{environ.get('REQUEST_METHOD', '?')} {path}"
    return f"S3 {environ.get('REQUEST_METHOD', '?')}"


def _form_body(environ: Environ) -> str:
    """A form-encoded request's body, read and put back for the app to read again."""
    if not str(environ.get("CONTENT_TYPE", "")).startswith(_FORM):
        return ""
    length = str(environ.get("CONTENT_LENGTH") or "")
    if not length.isdigit():
        return ""
    body: bytes = environ["wsgi.input"].read(int(length))
    environ["wsgi.input"] = io.BytesIO(body)
    return body.decode("utf-8", "replace")


class CallTally:
    """WSGI middleware: each operation's calls and CPU seconds; serves them at PATH."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._calls: dict[str, list[float]] = {}  # operation → [calls, cpu s]
        self.started = time.time()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == PATH:
            body = json.dumps(self.snapshot()).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        name = operation(environ)
        cpu = time.thread_time()
        # The body is read here, so the whole answer is the one thread's work.
        body_parts = list(self.app(environ, start_response))
        spent = time.thread_time() - cpu
        with self._lock:
            tally = self._calls.setdefault(name, [0, 0.0])
            tally[0] += 1
            tally[1] += spent
        return body_parts

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            calls = {name: [int(n), round(cpu, 3)] for name, (n, cpu) in self._calls.items()}
        return {"since": self.started, "at": time.time(), "calls": calls}

    def write_every(self, path: Path, period_s: float = 5.0) -> None:
        """Write the snapshot to ``path`` every ``period_s`` on a daemon thread."""

        def run() -> None:
            while True:
                time.sleep(period_s)
                self.write(path)

        threading.Thread(target=run, name="call-tally", daemon=True).start()

    def write(self, path: Path) -> None:
        partial = path.with_suffix(".part")
        partial.write_text(json.dumps(self.snapshot()), encoding="utf-8")
        partial.replace(path)
