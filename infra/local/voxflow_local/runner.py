"""One function's execution environment: ``python -m voxflow_local.runner``.

A process per function (per event source and worker, or per schedule), like
Lambda: the handler
module is imported in a fresh interpreter whose environment is the function's,
resolved by the deployment, with every AWS client pointed at moto. Two functions
whose handlers are both ``app.handler`` can therefore never clash.

With ``--event-source`` it polls that SQS queue (voxflow_local.poller); with
``--schedule`` it is the scheduled rule, invoking the function every period
(voxflow_local.scheduler); with ``--http-port`` it serves the function as API
Gateway's HTTP API would, one request at a time (voxflow_local.http_api).

SIGTERM or SIGINT asks it to stop: a batch or scheduled invocation being handled
is finished (a batch deleted or left for retry) before the process exits. It also
stops when its parent dies, so a killed ``up`` leaves no runner behind.
"""

import argparse
import importlib
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from voxflow.aws.settings import LOCAL_KEY
from voxflow.config import variables
from voxflow_local._clients import _client
from voxflow_local.emf import BackgroundForwarder, EmfForwarder, EmfTee
from voxflow_local.faults import install_from_env
from voxflow_local.http_api import Cors, HttpApiServer
from voxflow_local.model import DeployedStack, LocalFunction
from voxflow_local.poller import SqsPoller
from voxflow_local.priority import (
    BACKGROUND_QUEUES,
    RECHECK_S,
    ForegroundGate,
    foreground_queue_names,
)
from voxflow_local.scheduler import ScheduleLoop
from voxflow_local.state import StackState, read_state

logger = logging.getLogger("voxflow_local.runner")

# Lambda's python3.12 runtime, the layers and the worker image have no awscrt, so botocore
# signs SigV4 in Python there; the dev venv has it (the global-endpoint extra), and
# botocore would sign through the CRT. botocore decides when it is first imported: the
# stack starts each function's process with this already set, and the handler's
# environment keeps it.
AS_ON_LAMBDA = {"BOTO_DISABLE_CRT": "true"}


def lambda_environment(
    stack: DeployedStack,
    function: LocalFunction,
    base: Mapping[str, str],
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The process environment of ``function``: what Lambda would set, aimed at moto."""
    # The developer's own AWS settings (profile, keys, region) must not leak in.
    env = {key: value for key, value in base.items() if not key.startswith("AWS_")}
    env.update(function.environment)
    env.update(
        AWS_LAMBDA_FUNCTION_NAME=function.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(function.memory_mb),
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{function.name}",
        LAMBDA_TASK_ROOT=str(function.code_dir),
    )
    env.setdefault("POWERTOOLS_METRICS_NAMESPACE", "voxflow")
    env.update(overrides or {})
    env.update(
        AWS_ENDPOINT_URL=stack.endpoint_url,
        AWS_ACCESS_KEY_ID=LOCAL_KEY,
        AWS_SECRET_ACCESS_KEY=LOCAL_KEY,
        AWS_REGION=stack.region,
        AWS_DEFAULT_REGION=stack.region,
        # No X-Ray daemon locally: the tracer would only log send failures.
        POWERTOOLS_TRACE_DISABLED="true",
        **AS_ON_LAMBDA,
    )
    env[variables.AWS_ENDPOINT_URL.name] = stack.endpoint_url
    return env


@dataclass
class LocalContext:
    """The Lambda context object, with the attributes handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _TimedOut(BaseException):
    """Raised into the handler at its timeout; BaseException so ``except Exception`` misses it."""


class FunctionTimeoutError(RuntimeError):
    pass


class FunctionRunner:
    """Imports the handler (again after a failed init, like a new Lambda environment)."""

    def __init__(self, function: LocalFunction) -> None:
        self.function = function
        self._handler: Callable[[dict[str, Any], Any], Any] | None = None

    def load(self) -> Callable[[dict[str, Any], Any], Any]:
        if self._handler is None:
            code_dir = str(self.function.code_dir)
            if code_dir not in sys.path:
                sys.path.insert(0, code_dir)
            module = importlib.import_module(self.function.module)
            self._handler = getattr(module, self.function.attribute)
        return self._handler

    def stream_hook(self) -> Callable[[dict[str, Any]], Any] | None:
        """The handler module's ``stream`` (voxflow.api.streaming), if it has one: the
        local stand-in for Lambda response streaming."""
        if self._handler is None:
            return None
        module = sys.modules.get(self.function.module)
        hook = getattr(module, "stream", None)
        return hook if callable(hook) else None

    def invoke(self, event: dict[str, Any]) -> Any:
        handler = self.load()
        context = LocalContext(
            function_name=self.function.name,
            memory_limit_in_mb=self.function.memory_mb,
            invoked_function_arn=self.function.arn,
            timeout_s=self.function.timeout_s,
        )
        previous = signal.signal(signal.SIGALRM, _raise_timeout)
        signal.setitimer(signal.ITIMER_REAL, self.function.timeout_s)
        try:
            return handler(event, context)
        except _TimedOut:
            raise FunctionTimeoutError(
                f"{self.function.logical_id} timed out after {self.function.timeout_s} s"
            ) from None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def _raise_timeout(_signum: int, _frame: FrameType | None) -> None:
    raise _TimedOut


class _StopFlag:
    def __init__(self) -> None:
        self.requested = False
        self.parent = os.getppid()

    def request(self, _signum: int, _frame: FrameType | None) -> None:
        self.requested = True

    def __call__(self) -> bool:
        # Re-parented means the stack process died without stopping us.
        return self.requested or os.getppid() != self.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m voxflow_local.runner")
    parser.add_argument("--state-file", required=True)
    parser.add_argument("--function", required=True, help="logical id of the function")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--event-source", help="logical id of its SQS event source")
    mode.add_argument("--schedule", help="logical id of a scheduled rule that targets it")
    mode.add_argument("--http-port", type=int, help="serve it as API Gateway would, here")
    parser.add_argument(
        "--period-s", type=float, help="with --schedule: seconds between invocations"
    )
    parser.add_argument(
        "--http-fd",
        type=int,
        help="with --http-port: a socket bound to it, inherited (voxflow_local.ports)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        help="with --http-port: an origin the API answers CORS for (the console's site)",
    )
    args = parser.parse_args(argv)

    stop = _StopFlag()
    signal.signal(signal.SIGTERM, stop.request)
    signal.signal(signal.SIGINT, stop.request)
    # Our own lines at INFO, through a handler of our own: they used to reach the log
    # through the handler powertools puts on the "voxflow" logger, whose children they
    # were, and voxflow_local is not. botocore's INFO chatter stays out.
    own = logging.StreamHandler()
    own.setFormatter(logging.Formatter(f"%(asctime)s {args.function}[{os.getpid()}] %(message)s"))
    local_logger = logging.getLogger("voxflow_local")
    local_logger.addHandler(own)
    local_logger.setLevel(logging.INFO)
    local_logger.propagate = False

    state = read_state(args.state_file)
    function = state.stack.function(args.function)
    # Before the handler is imported: modules read their settings at import time.
    environment = lambda_environment(state.stack, function, os.environ, state.extra_env)
    if args.http_port is not None:
        # The documented dummy credentials, which the function accepts besides the keys
        # `voxflow keys create --sigv4` issues (docs/api.md).
        environment[variables.API_SIGV4_CREDENTIALS.name] = f"{LOCAL_KEY}:{LOCAL_KEY}"
    os.environ.clear()
    os.environ.update(environment)
    # Load tests' fault injection (VOXFLOW_FAULTS) attaches to every botocore client the
    # handler builds, from outside: the product knows nothing of it.
    install_from_env()

    # The functions' EMF lines become metrics in moto's CloudWatch, as CloudWatch Logs
    # makes them on AWS (voxflow_local.emf).
    cloudwatch = _client("cloudwatch", state.stack.endpoint_url, state.stack.region)
    metrics = BackgroundForwarder(EmfForwarder(cloudwatch))
    sys.stdout = EmfTee(sys.stdout, metrics)
    runner = FunctionRunner(function)
    try:
        runner.load()
    except Exception:  # Lambda reports an init error on every invocation; so do we
        logger.exception("init failed; every invocation will fail until the import works")
    if args.http_port is not None:
        logger.info("serving http://127.0.0.1:%d", args.http_port)
        cors = Cors(tuple(args.cors_origin)) if args.cors_origin else None
        HttpApiServer(
            runner.invoke,
            args.http_port,
            serial=True,
            stream=runner.stream_hook(),
            cors=cors,
            inherited_fd=args.http_fd,
        ).serve_until(stop)
    elif args.schedule is not None:
        _run_schedule(state, runner, args.schedule, args.period_s, stop)
    else:
        _poll(state, runner, args.event_source, stop)
    metrics.close()
    logger.info("stopped")
    return 0


def _poll(state: StackState, runner: FunctionRunner, event_source: str, stop: _StopFlag) -> None:
    source = runner.function.event_source(event_source)
    sqs = _client("sqs", state.stack.endpoint_url, state.stack.region)
    gate = None
    if source.queue_logical_id in BACKGROUND_QUEUES:
        foreground = foreground_queue_names(state.stack.functions)
        gate = ForegroundGate(state.stack.endpoint_url, state.stack.region, foreground)
    poller = SqsPoller(
        source,
        runner.invoke,
        sqs,
        state.stack.region,
        retry_visibility_s=state.retry_visibility_s,
        settle_behind=True,
        defer=gate.busy if gate is not None else None,
        defer_recheck_s=RECHECK_S,
    )
    logger.info("polling %s (%s)", source.queue_logical_id, source.queue_url)
    poller.run(stop)


def _run_schedule(
    state: StackState,
    runner: FunctionRunner,
    schedule_id: str,
    period_s: float | None,
    stop: _StopFlag,
) -> None:
    schedule = runner.function.schedule(schedule_id)
    loop = ScheduleLoop(
        runner.invoke,
        schedule.rule_arn,
        state.stack.account_id,
        state.stack.region,
        schedule.period_s if period_s is None else period_s,
    )
    logger.info(
        "scheduled by %s: %s, every %g s", schedule.logical_id, schedule.expression, loop.period_s
    )
    loop.run(stop)


if __name__ == "__main__":
    sys.exit(main())
