"""Ports held from the moment they are chosen (voxflow_local.ports): a moto server's and
the local HTTP API's. One CI run lost a region's moto to another process that bound the
port between the probe that picked it and moto's own bind, seconds of imports later.
"""

import errno
import socket
import urllib.request

import pytest

from voxflow_local import ports
from voxflow_local.http_api import HttpApiServer
from voxflow_local.moto_server import MotoServer, MotoServerError, answers_http


def bind_fails(port: int) -> bool:
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            other.bind((ports.LOOPBACK, port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            return True
        return False


def test_a_reserved_port_cannot_be_bound_by_another_socket_until_it_is_closed() -> None:
    held = ports.reserve()
    port = ports.port_of(held)
    assert bind_fails(port)
    held.close()
    assert not bind_fails(port)


def test_a_port_asked_for_by_number_that_is_taken_is_a_typed_error() -> None:
    with ports.reserve() as held, pytest.raises(ports.PortTaken):
        ports.reserve(ports.port_of(held))


def test_a_moto_servers_port_is_held_from_construction_through_its_start_and_restart() -> None:
    moto = MotoServer(region="us-east-1")
    try:
        # Before start, nobody answers, and nobody else can take the port.
        assert not answers_http(moto.url)
        assert bind_fails(moto.port)
        moto.start()
        assert answers_http(moto.url)
        moto.stop()
        assert not answers_http(moto.url)
        # Started again on the port it had: the parent binds it anew for the child.
        moto.start()
        assert answers_http(moto.url)
    finally:
        moto.stop()
    assert not bind_fails(moto.port)


def test_a_moto_server_on_a_port_someone_holds_fails_with_the_reason() -> None:
    with ports.reserve() as held:
        moto = MotoServer(ports.port_of(held), "us-east-1")
        with pytest.raises(MotoServerError, match="is taken"):
            moto.start()
        assert not moto.running


def test_the_http_api_serves_on_an_inherited_socket() -> None:
    held = ports.reserve()
    port = ports.port_of(held)
    server = HttpApiServer(
        lambda event: {"statusCode": 200, "body": event["rawPath"]},
        port,
        inherited_fd=held.detach(),
    )
    with server:
        assert server.url == f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{server.url}/v1/ping", timeout=10) as response:
            assert (response.status, response.read()) == (200, b"/v1/ping")
