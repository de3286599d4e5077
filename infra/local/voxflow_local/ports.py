"""Ports held from the moment they are chosen until the server that uses them listens.

Picking a free port by binding port 0, closing the socket and passing the number to a
child that binds it seconds later (moto's and the handlers' imports) leaves a window in
which any other process on the machine may take that port: a bind to port 0 (the kernel
picks at random among ~14,000) or a test worker's server. The child then exits with
EADDRINUSE (werkzeug exits 1), as one CI run showed. Here the parent binds the socket
itself and the child inherits it (``pass_fds``) and only listens on it, so the port is
never free in between.
"""

import socket

LOOPBACK = "127.0.0.1"
# http.server's and werkzeug's listen backlog.
LISTEN_BACKLOG = 128


class PortTaken(OSError):
    """The port asked for is bound by another socket."""


def reserve(port: int = 0, host: str = LOOPBACK) -> socket.socket:
    """A socket bound to ``port`` (0: one the kernel picks), not listening yet.

    A port asked for by number gets SO_REUSEADDR, as the servers set it: a server
    started again on its port (a region brought back) is not refused for its old
    connections in TIME_WAIT. A port the kernel picks has no such connections, and
    without the option no other socket can bind it while it waits."""
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if port:
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        held.bind((host, port))
    except OSError as error:
        held.close()
        raise PortTaken(error.errno, f"{host}:{port} is taken: {error.strerror}") from error
    held.set_inheritable(True)
    return held


def port_of(held: socket.socket) -> int:
    port: int = held.getsockname()[1]
    return port


def listen_on(fd: int) -> socket.socket:
    """The child's side: the inherited socket, listening."""
    inherited = socket.socket(fileno=fd)
    inherited.listen(LISTEN_BACKLOG)
    return inherited
