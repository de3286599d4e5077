"""moto server as a separate process on 127.0.0.1: one process is one region.

The process runs in its own session so that a Ctrl-C in the terminal reaches only
the local stack, which then stops its functions before moto (they may still be
deleting messages). Stopping is SIGTERM, then SIGKILL after a timeout, and always
reaps the child, so no zombie or orphan is left behind.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Self

from voxflow_local import ports
from voxflow_local.call_tally import CALLS_FILE_ENV
from voxflow_local.lifecycle import Lifecycle

DEFAULT_HOST = "127.0.0.1"


class MotoServerError(RuntimeError):
    pass


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port nobody listens on right now (the kernel picks it for port 0).

    Free only now: for a port that must stay free until a server binds it, hold it
    (``voxflow_local.ports.reserve``); a port that nobody should answer on (a refused
    endpoint in a test) may be probed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def answers_http(url: str, timeout_s: float = 0.5) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=timeout_s):
            return True
    except urllib.error.HTTPError:
        return True  # an error status is still an answer
    except (urllib.error.URLError, OSError):
        return False


# moto stands in for AWS's own servers, which never share a function's vCPUs. Here every
# runner shares this machine's cores with it, and every call of every function waits
# behind what moto has to do: it runs above them, where the user may raise a priority
# (root, CAP_SYS_NICE; elsewhere it stays at the default). In the 200-request drill,
# new requests' wait for plan went from 36 to 19 s (p50) with it (benchmarks/NOTES.md).
MOTO_NICENESS = -10


class MotoServer(Lifecycle):
    """moto's server from this interpreter's environment, for one region.

    It runs ``python -m voxflow_local.moto_app``: ``python -m moto.server``'s app,
    except that presigned S3 URLs are checked (signature and expiry) as S3 does, and
    unsigned S3 requests are refused as a private bucket on AWS refuses them.
    """

    def __init__(
        self,
        port: int | None = None,
        region: str = "us-east-1",
        *,
        host: str = DEFAULT_HOST,
        log_path: Path | None = None,
        start_timeout_s: float = 30.0,
        stop_timeout_s: float = 5.0,
    ) -> None:
        self.host = host
        # A port the kernel picks is held from here on (voxflow_local.ports): moto takes
        # seconds to import, and another process could bind a port merely probed.
        self._held: socket.socket | None = None
        if not port:  # None or 0: one the kernel picks
            self._held = ports.reserve(0, host)
            port = ports.port_of(self._held)
        self.port = port
        self.region = region
        self.log_path = log_path
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        if self.running:
            return self
        if answers_http(self.url):
            raise MotoServerError(f"something already answers on {self.url}")
        env = dict(os.environ)
        # moto builds some URLs from MOTO_PORT; an inherited value would point elsewhere.
        env["MOTO_PORT"] = str(self.port)
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
            # Its calls and their CPU by operation, beside its log (voxflow_local.call_tally).
            env[CALLS_FILE_ENV] = str(self.log_path.with_name("moto-calls.json"))
        output: IO[bytes] | int = self._log if self._log is not None else subprocess.DEVNULL
        held, self._held = self._held, None
        try:
            if held is None:  # a port given by number, or this server started again
                held = ports.reserve(self.port, self.host)
        except ports.PortTaken as error:
            self.stop()
            raise MotoServerError(str(error)) from error
        with held:
            self._process = subprocess.Popen(
                # moto's server app behind S3's request checks (voxflow_local.moto_app),
                # listening on the socket bound here.
                [
                    *(sys.executable, "-m", "voxflow_local.moto_app"),
                    *("-H", self.host, "-p", str(self.port), "--fd", str(held.fileno())),
                ],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                env=env,
                start_new_session=True,
                pass_fds=(held.fileno(),),
            )
        # Before it starts serving: its request threads inherit the main thread's priority.
        with contextlib.suppress(PermissionError):
            os.setpriority(os.PRIO_PROCESS, self._process.pid, MOTO_NICENESS)
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                code = None if self._process is None else self._process.returncode
                self.stop()
                raise MotoServerError(f"moto server on port {self.port} exited with {code}")
            if answers_http(self.url):
                return
            time.sleep(0.05)
        self.stop()
        raise MotoServerError(f"moto server on {self.url} did not answer in time")

    def stop(self) -> None:
        held, self._held = self._held, None
        if held is not None:  # never started
            held.close()
        process, self._process = self._process, None
        if process is not None:
            stop_process(process, self.stop_timeout_s)
        if self._log is not None:
            self._log.close()
            self._log = None


def stop_process(process: "subprocess.Popen[bytes]", timeout_s: float) -> int:
    """SIGTERM, then SIGKILL if it outlives ``timeout_s``; reaps it either way."""
    if process.poll() is None:
        try:
            process.send_signal(signal.SIGTERM)
            return process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()
