"""The local moto keeps HTTP/1.1 connections open (voxflow_local.keep_alive), and a
kept-open connection carries request after request intact: bodies read whole, header
names as the app wrote them, a chunked upload or a client's close still closed."""

import http.client
import os
import socket
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

from voxflow_local._clients import _client
from voxflow_local.moto_server import MotoServer

pytestmark = pytest.mark.integration  # starts a moto server


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer(None, "us-east-1") as server:
        yield server


def _connection(moto: MotoServer) -> http.client.HTTPConnection:
    address = urlparse(moto.url)
    return http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)


def _local_port(connection: http.client.HTTPConnection) -> int:
    assert connection.sock is not None, "the server closed the connection"
    port: int = connection.sock.getsockname()[1]
    return port


def test_one_connection_carries_several_requests(moto: MotoServer) -> None:
    connection = _connection(moto)
    ports = []
    for _ in range(3):
        connection.request("GET", "/moto-api/data.json")
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        assert response.getheader("Connection") is None
        ports.append(_local_port(connection))
    assert len(set(ports)) == 1
    connection.close()


def test_bodies_and_header_names_survive_a_reused_connection(moto: MotoServer) -> None:
    s3 = _client("s3", moto.url, "us-east-1")
    s3.create_bucket(Bucket="keep-alive-bodies")
    bodies = [os.urandom(size) for size in (0, 1, 220_000, 17)]
    for n, body in enumerate(bodies):
        s3.put_object(
            Bucket="keep-alive-bodies", Key=f"k{n}", Body=body, Metadata={"voxflow-replica-of": "r"}
        )
    for n, body in enumerate(bodies):
        answer = s3.get_object(Bucket="keep-alive-bodies", Key=f"k{n}")
        assert answer["Body"].read() == body
        # S3 sends metadata names as stored; a server that rewrote header names would not.
        assert answer["Metadata"] == {"voxflow-replica-of": "r"}


def test_a_body_the_app_never_reads_does_not_become_the_next_request(moto: MotoServer) -> None:
    connection = _connection(moto)
    connection.request("GET", "/moto-api/data.json", body=b"GET /not-a-request HTTP/1.1\r\n\r\n")
    first = connection.getresponse()
    first.read()
    connection.request("GET", "/moto-api/data.json")
    second = connection.getresponse()
    assert second.status == 200
    assert second.read().startswith(b"{")
    connection.close()


def test_a_chunked_upload_and_a_client_s_close_end_the_connection(moto: MotoServer) -> None:
    for headers, body in (
        ({"Transfer-Encoding": "chunked"}, iter([b"abc"])),
        ({"Connection": "close"}, None),
    ):
        connection = _connection(moto)
        connection.request("GET", "/moto-api/data.json", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        assert response.getheader("Connection") == "close"
        assert connection.sock is None or connection.sock.recv(1, socket.MSG_PEEK) == b""
        connection.close()


def test_an_expect_100_continue_upload_gets_its_continue_before_its_body_is_read(
    moto: MotoServer,
) -> None:
    address = urlparse(moto.url)
    body = b'{"QueueName": "keep-alive-expect"}'
    head = (
        f"POST / HTTP/1.1\r\nHost: {address.netloc}\r\nContent-Length: {len(body)}\r\n"
        "Content-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AmazonSQS.CreateQueue\r\n"
        "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request"
        ", SignedHeaders=host, Signature=0\r\nExpect: 100-continue\r\n\r\n"
    )
    with socket.create_connection((address.hostname, address.port), timeout=10) as raw:
        raw.sendall(head.encode())
        # Without the interim answer the client would hold its body back (botocore: ~1 s).
        assert raw.recv(64).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        raw.sendall(body)
        answer = b""
        while b"keep-alive-expect" not in answer:
            chunk = raw.recv(65536)
            assert chunk, answer
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200")
