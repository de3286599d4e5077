"""The injector: a botocore ``before-send`` handler that answers some attempts itself.

A handler on ``before-send.<service>`` that returns a response stops botocore from
sending the request; botocore parses the answer as the service's own, so its retry
handler sees a throttle or a 5xx and retries (standard mode) as it would on AWS.
Each attempt counts as one call, retries included.

Counts go to ``<VOXFLOW_FAULTS_DIR>/faults-<pid>.json`` at most once a second and at
exit, so a benchmark can add up every process's, even those it SIGKILLed (they lose
at most their last second).
"""

import atexit
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

FAULTS_ENV = "VOXFLOW_FAULTS"
FAULTS_SEED_ENV = "VOXFLOW_FAULTS_SEED"
FAULTS_DIR_ENV = "VOXFLOW_FAULTS_DIR"

# What each service answers when it sheds load: (HTTP status, error code).
KINDS: dict[str, tuple[tuple[int, str], ...]] = {
    "s3": ((503, "SlowDown"), (500, "InternalError"), (503, "ServiceUnavailable")),
    "dynamodb": (
        (400, "ProvisionedThroughputExceededException"),
        (400, "ThrottlingException"),
        (500, "InternalServerError"),
    ),
}
_FLUSH_EVERY_S = 1.0


def parse_rates(spec: str) -> dict[str, float]:
    """``"s3:0.05,dynamodb:0.05"`` → ``{"s3": 0.05, "dynamodb": 0.05}``."""
    rates: dict[str, float] = {}
    for part in filter(None, (item.strip() for item in spec.split(","))):
        service, _, rate = part.partition(":")
        if service not in KINDS:
            raise ValueError(f"{FAULTS_ENV}: no faults for {service!r}; known: {sorted(KINDS)}")
        value = float(rate)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{FAULTS_ENV}: rate for {service} must be in [0, 1], not {rate}")
        rates[service] = value
    return rates


class _Body:
    """The raw stream AWSResponse reads its content from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _response(service: str, url: str, status: int, code: str) -> AWSResponse:
    message = "injected fault (voxflow_local.faults)"
    if service == "dynamodb":
        body = json.dumps(
            {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}
        ).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0"}
    else:
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>injected</RequestId></Error>"
        ).encode()
        headers = {"Content-Type": "application/xml"}
    headers["Content-Length"] = str(len(body))
    return AWSResponse(url, status, headers, _Body(body))


class FaultInjector:
    def __init__(
        self,
        rates: Mapping[str, float],
        seed: int | str | None = None,
        counts_dir: Path | None = None,
    ) -> None:
        self.rates = dict(rates)
        self.counts_dir = counts_dir
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()  # "s3:SlowDown" → count
        # When each fault was injected (wall clock: the load's chart lines up processes).
        self.injected_at: list[tuple[float, str]] = []
        self._flushed_at = 0.0

    def attach(self, client: Any) -> None:
        """Hooks a botocore client, if its service is one with a fault rate."""
        service = client.meta.service_model.service_name
        if self.rates.get(service):
            client.meta.events.register(
                f"before-send.{service}", partial(self._before_send, service)
            )

    def _before_send(
        self, service: str, request: AWSPreparedRequest, **_: Any
    ) -> AWSResponse | None:
        with self._lock:
            self.calls[service] += 1
            fault = self._random.random() < self.rates[service]
            if fault:
                status, code = self._random.choice(KINDS[service])
                self.injected[service] += 1
                self.kinds[f"{service}:{code}"] += 1
                self.injected_at.append((round(time.time(), 3), f"{service}:{code}"))
            due = time.monotonic() - self._flushed_at >= _FLUSH_EVERY_S
        if due:
            self.flush()
        return _response(service, request.url, status, code) if fault else None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "pid": os.getpid(),
                "rates": self.rates,
                "calls": dict(self.calls),
                "injected": dict(self.injected),
                "kinds": dict(self.kinds),
                "injected_at": list(self.injected_at),
            }

    def flush(self) -> None:
        """Writes this process's counts (atomically: a reader never sees half a file)."""
        self._flushed_at = time.monotonic()
        if self.counts_dir is None:
            return
        self.counts_dir.mkdir(parents=True, exist_ok=True)
        path = self.counts_dir / f"faults-{os.getpid()}.json"
        partial_path = path.with_suffix(f".{threading.get_ident()}.tmp")
        partial_path.write_text(json.dumps(self.snapshot()), encoding="utf-8")
        partial_path.replace(path)


class _Installed:
    """What install() changed in this process, for uninstall()."""

    injector: FaultInjector | None = None
    original_create_client: Any = None
    lock = threading.Lock()


def install(injector: FaultInjector) -> FaultInjector:
    """Every botocore client created from now on in this process gets ``injector``
    (boto3's sessions and pynamodb's own, which both go through Session.create_client).
    Once per process: a second call returns the injector installed first."""
    with _Installed.lock:
        if _Installed.injector is not None:
            return _Installed.injector
        original = botocore.session.Session.create_client

        def create_client(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
            client = original(self, *args, **kwargs)
            injector.attach(client)
            return client

        botocore.session.Session.create_client = create_client
        atexit.register(injector.flush)
        _Installed.injector, _Installed.original_create_client = injector, original
        return injector


def installed() -> FaultInjector | None:
    return _Installed.injector


def uninstall() -> None:
    """Clients built from now on are plain again (for tests; those built stay hooked)."""
    with _Installed.lock:
        if _Installed.injector is None:
            return
        botocore.session.Session.create_client = _Installed.original_create_client
        atexit.unregister(_Installed.injector.flush)
        _Installed.injector = _Installed.original_create_client = None


def install_from_env(environ: Mapping[str, str] = os.environ) -> FaultInjector | None:
    """Installs the injector ``VOXFLOW_FAULTS`` describes; None when it is unset."""
    spec = environ.get(FAULTS_ENV, "")
    if not spec:
        return None
    seed = environ.get(FAULTS_SEED_ENV)
    counts_dir = environ.get(FAULTS_DIR_ENV)
    return install(
        FaultInjector(
            parse_rates(spec),
            # Each process draws its own sequence from the run's seed.
            seed=None if seed is None else f"{seed}:{os.getpid()}",
            counts_dir=Path(counts_dir) if counts_dir else None,
        )
    )


def read_counts(counts_dir: Path) -> dict[str, dict[str, int]]:
    """Every process's counts added up: {"calls": {...}, "injected": {...}, "kinds": {...}}."""
    total: dict[str, Counter[str]] = {"calls": Counter(), "injected": Counter(), "kinds": Counter()}
    for path in sorted(counts_dir.glob("faults-*.json")):
        try:
            counts = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # being replaced right now; the next read has it
        for name, counter in total.items():
            counter.update(counts.get(name, {}))
    return {name: dict(counter) for name, counter in total.items()}


def read_fault_times(counts_dir: Path) -> list[tuple[float, str]]:
    """Every process's injected faults, (wall-clock time, "service:code"), in time order."""
    found: list[tuple[float, str]] = []
    for path in sorted(counts_dir.glob("faults-*.json")):
        try:
            counts = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found.extend((float(at), str(kind)) for at, kind in counts.get("injected_at", []))
    return sorted(found)
