"""The local HTTP API server (voxflow_local.http_api) when a client hangs up before its
answer is written: a normal disconnect, not an error, and the server goes on serving."""

import http.client
import json
import logging
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from voxflow.tenants.api_keys import key_id_of
from voxflow_local.http_api import HttpApiServer

BODY = "x" * 65536
ANSWER = {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": BODY}


class HangingUp:
    """A handler that answers a request marked ``hang-up`` only once its client is gone."""

    def __init__(self) -> None:
        self.gone = threading.Event()
        self.answered = threading.Event()

    def __call__(self, event: dict[str, Any]) -> Any:
        if event["rawPath"] == "/hang-up":
            assert self.gone.wait(30)
            self.answered.set()
        return ANSWER


def hang_up_early(url: str, handler: HangingUp) -> None:
    """Sends a request and closes with a reset (SO_LINGER 0) before the answer."""
    host, port = url.removeprefix("http://").split(":")
    client = socket.create_connection((host, int(port)), timeout=30)
    client.sendall(b"GET /hang-up HTTP/1.1\r\nHost: local\r\nContent-Length: 0\r\n\r\n")
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
    handler.gone.set()


def answered(url: str) -> int:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", "/hello")
        response = connection.getresponse()
        assert response.read() == BODY.encode()
        return response.status
    finally:
        connection.close()


@pytest.fixture(params=[False, True], ids=["threaded", "serial"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[HttpApiServer, HangingUp]]:
    handler = HangingUp()
    server = HttpApiServer(handler, serial=request.param)
    if request.param:  # as the local stack's runner serves: on a thread of its own here
        stopping = threading.Event()
        thread = threading.Thread(target=server.serve_until, args=(stopping.is_set, 0.1))
        thread.start()
        yield server, handler
        stopping.set()
        thread.join(30)
    else:
        with server:
            yield server, handler


def test_a_client_that_hangs_up_early_is_no_error_and_the_server_goes_on(
    served: tuple[HttpApiServer, HangingUp],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, handler = served
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        handler.gone.clear()
        handler.answered.clear()
        hang_up_early(server.url, handler)
        assert handler.answered.wait(30)
        assert answered(server.url) == 200  # served after: the hang-up's write is done
    _, stderr = capfd.readouterr()
    assert "Traceback" not in stderr
    assert "Error" not in stderr, stderr
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_each_answer_has_an_access_line_naming_the_principal_never_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="voxflow_local.access")
    key = "vfk_a-secret-the-log-must-not-hold"
    with HttpApiServer(lambda _: ANSWER) as server:
        host, port = server.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("GET", "/v1/models?x=1", headers={"Authorization": f"Bearer {key}"})
        assert connection.getresponse().read() == BODY.encode()
        connection.close()
    (record,) = [r for r in caplog.records if r.name == "voxflow_local.access"]
    line = json.loads(record.getMessage())
    assert line["principal"] == f"apikey:{key_id_of(key)}"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/v1/models", 200)
    assert len(line["requestId"]) == 32
    assert key not in caplog.text
