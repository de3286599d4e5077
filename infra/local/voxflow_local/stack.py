"""The whole local stack: moto server, the deployed template, the function runners.

With ``schedules=True`` each enabled scheduled rule of the template (SAM's ``Type:
Schedule`` events) gets a runner process too, which invokes its function every
period as EventBridge would (voxflow_local.scheduler).

Start order is moto, deploy, state file, runners; stop order is the reverse:
runners get SIGTERM and finish the batch they hold (up to their function's
timeout), then moto stops. Every child is reaped, none is left behind. If this
process is killed outright, its runners notice and exit; moto is left, and
``python -m voxflow_local down`` stops it from the state file.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Self

from voxflow.config import variables
from voxflow_local import ports
from voxflow_local._clients import _client
from voxflow_local.console_site import ConsoleSite
from voxflow_local.deploy import DEFAULT_STACK_NAME, DEFAULT_TEMPLATE, deploy_stack
from voxflow_local.lifecycle import Lifecycle
from voxflow_local.model import DeployedStack
from voxflow_local.moto_server import MotoServer, stop_process
from voxflow_local.priority import BACKGROUND_NICENESS, BACKGROUND_QUEUES
from voxflow_local.runner import AS_ON_LAMBDA
from voxflow_local.state import ProcessRecord, StackState, write_state

# On top of the longest function timeout: time to delete a finished batch and exit.
_STOP_SLACK_S = 10.0
# The backlog's runners (takeovers, their chunks) run at a lower CPU priority and take
# a batch only while no new work waits (voxflow_local.priority, docs/failover.md).


@dataclass
class _Runner:
    function: str
    event_source: str  # "" for a worker process: it consumes the function's queue itself
    worker: int
    process: "subprocess.Popen[bytes]"
    log: IO[bytes] | None
    schedule: str = ""  # the scheduled rule it stands in for; "" for the others
    http_port: int = 0  # the port it serves the function's HTTP API on; 0 for the others

    @property
    def role(self) -> str:
        if self.http_port:
            return "api"
        if self.schedule:
            return "schedule"
        return "worker" if not self.event_source else "runner"

    @property
    def source(self) -> str:
        """What invokes the function: its event source or scheduled rule ("" for a worker)."""
        return (
            self.event_source
            or self.schedule
            or (f"http:{self.http_port}" if self.http_port else "")
        )


class LocalStack(Lifecycle):
    def __init__(
        self,
        *,
        port: int | None = None,
        region: str = "us-east-1",
        stack_name: str = DEFAULT_STACK_NAME,
        template_path: Path = DEFAULT_TEMPLATE,
        parameters: Mapping[str, str] | None = None,
        concurrency: int | Mapping[str, int] = 1,
        functions: Iterable[str] | None = None,
        retry_visibility_s: int | None = None,
        extra_env: Mapping[str, str] | None = None,
        state_file: Path | None = None,
        log_dir: Path | None = None,
        region_endpoints: Mapping[str, str] | None = None,
        workers: int = 0,
        worker_function: str = "SynthesizeFunction",
        schedules: bool = False,
        schedule_periods: Mapping[str, float] | None = None,
        api_port: int = 0,
    ) -> None:
        """``concurrency``: runner processes per event source, for all functions or by
        logical id; ``functions``: which functions to run (all by default, none with
        an empty list); ``extra_env`` goes into every function's environment.
        ``region_endpoints``: the other regions' moto servers, for global-table
        replicas. ``workers``: worker processes (``python -m voxflow.worker``) that
        serve ``worker_function``'s queue instead of its runners, as the primary's
        GPU containers do. ``schedules``: run the template's scheduled rules, one
        process each; ``schedule_periods``: seconds between their invocations by rule
        or event logical id ("SweeperFunctionSweep" or "Sweep"), instead of their
        expression's. ``api_port``: where functions that API Gateway invokes are served
        (0: a free port); ``api_url`` says where."""
        self.region = region
        self.api_port = api_port
        self.api_url: str | None = None
        # The console as a static site of its own origin (CloudFront's, on AWS).
        self.console_site: ConsoleSite | None = None
        self.stack_name = stack_name
        self.template_path = template_path
        self.parameters = dict(parameters or {})
        self.concurrency = concurrency
        self.function_ids = None if functions is None else set(functions)
        self.retry_visibility_s = retry_visibility_s
        # Every engine process here shares this machine's cores with moto and the other
        # runners: onnxruntime's spin-waiting threads would take CPU from them
        # (benchmarks/spinning.py: 3 engines on 2 cores make 15 % more audio without it).
        self.extra_env = {variables.ALLOW_SPINNING.name: "0", **(extra_env or {})}
        self.log_dir = log_dir
        self.region_endpoints = dict(region_endpoints or {})
        self.workers = workers
        self.worker_function = worker_function
        self.schedules = schedules
        self.schedule_periods = dict(schedule_periods or {})
        self.moto = MotoServer(
            port, region, log_path=log_dir / "moto.log" if log_dir is not None else None
        )
        # None: a temporary file, made on start. The runners read their function from it.
        self.state_file = state_file
        self._stack: DeployedStack | None = None
        self._runners: list[_Runner] = []

    @property
    def _state_path(self) -> Path:
        if self.state_file is None:
            raise RuntimeError("the local stack is not started")
        return self.state_file

    @property
    def url(self) -> str:
        return self.moto.url

    @property
    def stack(self) -> DeployedStack:
        if self._stack is None:
            raise RuntimeError("the local stack is not started")
        return self._stack

    def client(self, service: str) -> Any:
        return _client(service, self.url, self.region)

    @property
    def runner_pids(self) -> list[int]:
        return [runner.process.pid for runner in self._runners if runner.role == "runner"]

    @property
    def schedule_pids(self) -> list[int]:
        return [runner.process.pid for runner in self._runners if runner.role == "schedule"]

    @property
    def worker_pids(self) -> list[int]:
        return [runner.process.pid for runner in self._runners if runner.role == "worker"]

    @property
    def process_labels(self) -> dict[int, str]:
        """Every process of the stack by pid: "moto", or the function and what invokes
        it ("SynthesizeFunction/SynthesizeFunctionLongChunks#0"); for CPU accounting."""
        labels = {self.moto.pid: "moto"} if self.moto.pid is not None else {}
        for runner in self._runners:
            labels[runner.process.pid] = (
                f"{runner.function}/{runner.source or runner.role}#{runner.worker}"
            )
        return labels

    @property
    def pids(self) -> list[int]:
        moto = [self.moto.pid] if self.moto.pid is not None else []
        return [*moto, *(runner.process.pid for runner in self._runners)]

    def start(self) -> Self:
        if self.state_file is None:
            self.state_file = _temporary_path()
        try:
            self.moto.start()
            # Only when asked: a single region deploys exactly as before.
            peers = {"region_endpoints": self.region_endpoints} if self.region_endpoints else {}
            self._stack = deploy_stack(
                self.url, self.region, self.stack_name, self.template_path, self.parameters, **peers
            )
            self._write_state()
            self.start_functions()
            self.wait_until_serving()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_until_serving(self) -> None:
        """Returns once the HTTP API runners accept connections."""
        for runner in self._runners:
            if runner.http_port:
                _wait_until_serving(runner)

    def start_functions(self) -> None:
        unknown = (self.function_ids or set()) - {f.logical_id for f in self.stack.functions}
        if unknown:
            raise ValueError(f"no such functions in {self.template_path}: {sorted(unknown)}")
        self._check_schedule_periods()
        for function in self.stack.functions:
            if self.function_ids is not None and function.logical_id not in self.function_ids:
                continue
            for schedule in function.schedules if self.schedules else ():
                if schedule.enabled:
                    self._runners.append(
                        self._start_schedule(function.logical_id, schedule.logical_id)
                    )
            if function.serves_http:
                self._runners.append(self._start_http(function.logical_id, self.api_port))
            if self.workers and function.logical_id == self.worker_function:
                for worker in range(self.workers):
                    self._runners.append(self._start_worker(function.logical_id, worker))
                continue
            for source in function.event_sources:
                if not source.enabled:
                    continue
                for worker in range(self._concurrency(function.logical_id)):
                    self._runners.append(
                        self._start_runner(function.logical_id, source.logical_id, worker)
                    )
        self._write_state()

    def _check_schedule_periods(self) -> None:
        known = {
            name
            for function in self.stack.functions
            for schedule in function.schedules
            for name in (schedule.logical_id, schedule.event_id)
        }
        unknown = self.schedule_periods.keys() - known
        if unknown:
            raise ValueError(f"no such schedules in this stack: {sorted(unknown)}")

    def _schedule_period_s(self, function: str, schedule_id: str) -> float | None:
        schedule = self.stack.function(function).schedule(schedule_id)
        period = self.schedule_periods.get(schedule.logical_id)
        return self.schedule_periods.get(schedule.event_id) if period is None else period

    def _concurrency(self, function_id: str) -> int:
        if isinstance(self.concurrency, int):
            return self.concurrency
        return self.concurrency.get(function_id, 1)

    def _start_runner(self, function: str, event_source: str, worker: int) -> _Runner:
        queue = next(
            source.queue_logical_id
            for source in self.stack.function(function).event_sources
            if source.logical_id == event_source
        )
        process, log = self._spawn(
            "voxflow_local.runner",
            function,
            ["--event-source", event_source],
            f"{function}-{event_source}-{worker}",
            {},
            niceness=BACKGROUND_NICENESS if queue in BACKGROUND_QUEUES else 0,
        )
        return _Runner(function, event_source, worker, process, log)

    def _start_http(self, function: str, port: int) -> _Runner:
        # Held here until the runner, seconds of imports later, listens on it.
        with ports.reserve(port) as held:
            port = ports.port_of(held)
            self.api_port = port
            self.api_url = f"http://127.0.0.1:{port}"
            if self.console_site is None:
                self.console_site = ConsoleSite(self.api_url).start()
            arguments = [
                *("--http-port", str(port), "--http-fd", str(held.fileno())),
                *("--cors-origin", self.console_site.origin),
            ]
            process, log = self._runner_process(
                function, arguments, f"{function}-api", pass_fds=(held.fileno(),)
            )
        return _Runner(function, "", 0, process, log, http_port=port)

    def _start_schedule(self, function: str, schedule_id: str) -> _Runner:
        period = self._schedule_period_s(function, schedule_id)
        arguments = ["--schedule", schedule_id]
        if period is not None:
            arguments += ["--period-s", f"{period:g}"]
        process, log = self._runner_process(function, arguments, f"{function}-{schedule_id}")
        return _Runner(function, "", 0, process, log, schedule=schedule_id)

    def _runner_process(
        self, function: str, arguments: list[str], log_name: str, pass_fds: tuple[int, ...] = ()
    ) -> "tuple[subprocess.Popen[bytes], IO[bytes] | None]":
        return self._spawn(
            "voxflow_local.runner", function, arguments, log_name, {}, pass_fds=pass_fds
        )

    def _start_worker(self, function: str, worker: int) -> _Runner:
        # One ready file per worker: they share this machine's /tmp.
        ready_file = Path(tempfile.gettempdir()) / (
            f"voxflow-ready-{self.region}-{os.getpid()}-{worker}"
        )
        process, log = self._spawn(
            "voxflow_local.worker",
            function,
            [],
            f"{function}-worker-{worker}",
            {variables.READY_FILE.name: str(ready_file)},
        )
        return _Runner(function, "", worker, process, log)

    def _spawn(
        self,
        module: str,
        function: str,
        arguments: list[str],
        log_name: str,
        env: dict[str, str],
        *,
        niceness: int = 0,
        pass_fds: tuple[int, ...] = (),
    ) -> "tuple[subprocess.Popen[bytes], IO[bytes] | None]":
        """``python -m module`` for ``function``, its output in the log folder's
        ``log_name``.log. The worker image has no awscrt either (AS_ON_LAMBDA).
        ``niceness``: a lower CPU priority (BACKGROUND_QUEUES)."""
        log: IO[bytes] | None = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log = (self.log_dir / f"{log_name}.log").open("ab")
        command = [
            sys.executable,
            "-m",
            module,
            "--state-file",
            str(self._state_path.resolve()),
            "--function",
            function,
            *arguments,
        ]
        # Own session: a Ctrl-C in the terminal reaches the stack, which stops runners in order.
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env={**os.environ, **AS_ON_LAMBDA, **env},
            start_new_session=True,
            pass_fds=pass_fds,
        )
        if niceness:
            os.setpriority(os.PRIO_PROCESS, process.pid, niceness)
        return process, log

    def kill_functions(self) -> None:
        """SIGKILL every runner, worker and schedule, as a lost region or host would: no
        batch is finished, whatever they held comes back after its visibility timeout."""
        runners, self._runners = self._runners, []
        for runner in runners:
            if runner.process.poll() is None:
                runner.process.kill()
        for runner in runners:
            runner.process.wait()
            if runner.log is not None:
                runner.log.close()
        self._write_state()

    def restart_dead_runners(self) -> list[str]:
        """Starts a fresh runner for each one that exited; says which, for the log."""
        restarted = []
        for index, runner in enumerate(self._runners):
            code = runner.process.poll()
            if code is None:
                continue
            if runner.log is not None:
                runner.log.close()
            if runner.role == "api":
                self._runners[index] = self._start_http(runner.function, runner.http_port)
            elif runner.role == "schedule":
                self._runners[index] = self._start_schedule(runner.function, runner.schedule)
            elif runner.role == "runner":
                self._runners[index] = self._start_runner(
                    runner.function, runner.event_source, runner.worker
                )
            else:
                self._runners[index] = self._start_worker(runner.function, runner.worker)
            restarted.append(f"{runner.function}/{runner.source}#{runner.worker} (exit {code})")
        if restarted:
            self._write_state()
        return restarted

    @property
    def stop_timeout_s(self) -> float:
        """How long a runner may take to finish its batch and exit before it is killed."""
        timeouts = [f.timeout_s for f in self._stack.functions] if self._stack else []
        return _STOP_SLACK_S + max(timeouts, default=0)

    def stop_functions(self) -> None:
        runners, self._runners = self._runners, []
        for runner in runners:  # all at once: they finish their batches in parallel
            if runner.process.poll() is None:
                runner.process.terminate()
        for runner in runners:
            stop_process(runner.process, self.stop_timeout_s)
            if runner.log is not None:
                runner.log.close()

    def stop(self) -> None:
        self.stop_functions()
        if self.console_site is not None:
            self.console_site.stop()
            self.console_site = None
        self.moto.stop()
        if self.state_file is not None:
            self.state_file.unlink(missing_ok=True)

    def _write_state(self) -> None:
        processes = [ProcessRecord("stack", os.getpid(), _create_time(os.getpid()))]
        if self.moto.pid is not None:
            processes.append(ProcessRecord("moto", self.moto.pid, _create_time(self.moto.pid)))
        processes.extend(
            ProcessRecord(
                runner.role,
                runner.process.pid,
                _create_time(runner.process.pid),
                runner.function,
                runner.source or None,
                runner.worker,
            )
            for runner in self._runners
        )
        state = StackState(
            stack=self.stack,
            pid=os.getpid(),
            processes=tuple(processes),
            extra_env=self.extra_env,
            retry_visibility_s=self.retry_visibility_s,
        )
        write_state(self._state_path, state)


API_READY_TIMEOUT_S = 300.0  # the handler's import (settings, clients, the voice) first


def _wait_until_serving(runner: _Runner) -> None:
    """Returns once the runner accepts connections: its server listens only after the
    handler loaded, and ``api_url`` is printed and used as soon as ``start`` returns."""
    deadline = time.monotonic() + API_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if runner.process.poll() is not None:
            raise RuntimeError(
                f"{runner.function}'s API runner exited ({runner.process.returncode}); see its log"
            )
        try:
            socket.create_connection(("127.0.0.1", runner.http_port), timeout=1).close()
        except OSError:
            time.sleep(0.1)
        else:
            return
    raise TimeoutError(f"{runner.function} not serving on port {runner.http_port}")


def _temporary_path() -> Path:
    descriptor, path = tempfile.mkstemp(prefix="voxflow-local-", suffix=".json")
    os.close(descriptor)
    return Path(path)


def _create_time(pid: int) -> float:
    import psutil

    try:
        created: float = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return 0.0
    return created
