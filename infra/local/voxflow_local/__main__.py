"""``python -m voxflow_local up`` runs the local stack in the foreground until Ctrl-C
or SIGTERM (``--regions 2``: primary and secondary, docs/regions.md);
``python -m voxflow_local down`` stops the one a state file describes."""

import argparse
import contextlib
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from voxflow.config import variables
from voxflow_local.console_site import ConsoleSite
from voxflow_local.deploy import DEFAULT_STACK_NAME, DEFAULT_TEMPLATE
from voxflow_local.model import DeployedStack
from voxflow_local.state import DEFAULT_STATE_FILE, ProcessRecord, read_state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m voxflow_local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start moto, deploy template.yaml, run the functions")
    up.add_argument("--port", type=int, default=5000, help="moto's port (0: any free)")
    up.add_argument("--api-port", type=int, default=0, help="the HTTP API's port (0: any free)")
    up.add_argument(
        "--regions", type=int, choices=(1, 2), default=1, help="2: primary and secondary"
    )
    up.add_argument("--secondary-port", type=int, default=5001, help="with --regions 2")
    up.add_argument("--workers", type=int, default=1, help="with --regions 2: primary workers")
    up.add_argument("--lag", type=float, default=0.5, help="with --regions 2: replication lag")
    up.add_argument("--region", default="us-east-1")
    up.add_argument("--stack-name", default=DEFAULT_STACK_NAME)
    up.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    up.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
    up.add_argument("--log-dir", type=Path, help="runner and moto logs (default: this terminal)")
    up.add_argument("--concurrency", type=int, default=1, help="runners per event source")
    up.add_argument(
        "--function", action="append", dest="functions", help="run only these (repeatable)"
    )
    up.add_argument("--no-functions", action="store_true", help="deploy only, run no function")
    up.add_argument(
        "--no-schedules",
        action="store_true",
        help="do not run the template's scheduled rules (the sweeper, the canary)",
    )
    up.add_argument(
        "--retry-visibility-s",
        type=int,
        help="make failed messages visible again after this long (default: the queue's)",
    )
    down = commands.add_parser("down", help="stop the stack a state file describes")
    down.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
    down.add_argument("--timeout", type=float, help="seconds before it is killed instead")
    args = parser.parse_args(argv)
    return _up(args) if args.command == "up" else _down(args.state_file, args.timeout)


def _up(args: argparse.Namespace) -> int:
    from voxflow_local.stack import LocalStack

    if args.state_file.exists() and _alive_owner(args.state_file):
        print(f"a local stack is already running ({args.state_file})", file=sys.stderr)
        return 1
    stopping = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request_stop)
    if args.regions == 2:
        return _up_two_regions(args, stopping)
    stack = LocalStack(
        port=args.port,
        region=args.region,
        stack_name=args.stack_name,
        template_path=args.template,
        concurrency=args.concurrency,
        functions=[] if args.no_functions else args.functions,
        retry_visibility_s=args.retry_visibility_s,
        state_file=args.state_file,
        log_dir=args.log_dir,
        schedules=not args.no_schedules,
        api_port=args.api_port,
    )
    with stack:
        _print_summary(stack.stack, args.state_file, stack.api_url, stack.console_site)
        while not stopping.wait(1.0):
            for runner in stack.restart_dead_runners():
                print(f"restarted {runner}", file=sys.stderr, flush=True)
        print("stopping the local stack", file=sys.stderr, flush=True)
    return 0


def _up_two_regions(args: argparse.Namespace, stopping: threading.Event) -> int:
    from voxflow_local.regions import TwoRegionStack, secondary_state_file

    regions = TwoRegionStack(
        primary_port=args.port,
        secondary_port=args.secondary_port,
        stack_name=args.stack_name,
        template_path=args.template,
        workers=args.workers,
        concurrency=args.concurrency,
        lag_s=args.lag,
        retry_visibility_s=args.retry_visibility_s or 1,
        state_file=args.state_file,
        log_dir=args.log_dir,
        schedules=not args.no_schedules,
    )
    with regions:
        for stack, state in (
            (regions.primary, args.state_file),
            (regions.secondary, secondary_state_file(args.state_file)),
        ):
            _print_summary(stack.stack, state, stack.api_url, stack.console_site)
        print(
            f"replicating objects, items and events with {args.lag:g} s lag; "
            f"health alarm {regions.alarm_name} in {regions.primary_region}",
            flush=True,
        )
        while not stopping.wait(1.0):
            for stack in regions.stacks().values():
                for runner in stack.restart_dead_runners():
                    print(f"restarted {runner}", file=sys.stderr, flush=True)
        print("stopping the local stacks", file=sys.stderr, flush=True)
    return 0


def _print_summary(
    stack: DeployedStack,
    state_file: Path,
    api_url: str | None = None,
    site: ConsoleSite | None = None,
) -> None:
    lines = [
        f"local stack {stack.stack_name} on {stack.endpoint_url} ({stack.region})",
        *(
            f"  {lid:28} {stack.resource_types[lid]:28} {pid}"
            for lid, pid in stack.resources.items()
        ),
        *(f"  {f.logical_id:28} runs {f.handler_file}" for f in stack.functions),
        *(
            f"  {f.logical_id:28} on {s.expression} ({s.logical_id})"
            for f in stack.functions
            for s in f.schedules
            if s.enabled
        ),
        *(f"  warning: {warning}" for warning in stack.warnings),
        f"state: {state_file}; stop with Ctrl-C or: python -m voxflow_local down",
        f"export {variables.AWS_ENDPOINT_URL.name}={stack.endpoint_url} AWS_REGION={stack.region}",
        # On a line of its own: scripts read the API's URL from it (docs/api.md).
        *([f"api: {api_url}", f"console: {api_url}/console"] if api_url else []),
        # The same console from an origin of its own, as CloudFront serves it (ConsoleSite).
        *([f"console site: {site.url}/"] if site else []),
    ]
    print("\n".join(lines), flush=True)


def _alive_owner(state_file: Path) -> bool:
    state = read_state(state_file)
    return any(_process(p) is not None for p in state.processes if p.role == "stack")


def _process(record: ProcessRecord) -> Any:
    """The psutil.Process of ``record`` if it still runs, else None."""
    import psutil

    try:
        process = psutil.Process(record.pid)
        # The same pid with another start time is a later process: not ours.
        if abs(process.create_time() - record.create_time) < 0.01 and process.is_running():
            return process
    except psutil.NoSuchProcess:
        pass
    return None


def _wait_gone(processes: list[Any], timeout_s: float) -> list[Any]:
    """The processes still running after ``timeout_s``.

    A zombie counts as gone: it has exited, and only its parent (a shell, say)
    can reap it, so psutil.wait_procs would wait for it in vain.
    """
    import psutil

    deadline = time.monotonic() + timeout_s
    while True:
        running = []
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                if process.status() != psutil.STATUS_ZOMBIE:
                    running.append(process)
        if not running or time.monotonic() >= deadline:
            return running
        time.sleep(0.1)


def _down(state_file: Path, timeout: float | None) -> int:
    from voxflow_local.regions import secondary_state_file

    if not state_file.exists():
        print(f"no local stack: {state_file} does not exist", file=sys.stderr)
        return 1
    code = _down_one(state_file, timeout)
    # Two regions: the owner stopped both; this stops what outlived a killed owner.
    secondary = secondary_state_file(state_file)
    if secondary.exists():
        code = _down_one(secondary, timeout) or code
    return code


def _down_one(state_file: Path, timeout: float | None) -> int:
    import psutil

    state = read_state(state_file)
    if timeout is None:
        timeout = 30.0 + max((f.timeout_s for f in state.stack.functions), default=0)
    # The owner stops its runners and moto in order; whatever outlives it (the owner
    # was killed, say) is stopped here directly.
    owners = [p for p in state.processes if p.role == "stack"]
    rest = [p for p in state.processes if p.role != "stack"]
    for group, wait_s in ((owners, timeout), (rest, 5.0)):
        processes = [process for p in group if (process := _process(p)) is not None]
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.terminate()
        survivors = _wait_gone(processes, wait_s)
        for process in survivors:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        _wait_gone(survivors, 5.0)
    state_file.unlink(missing_ok=True)
    print(f"stopped the local stack {state.stack.stack_name} ({state.stack.endpoint_url})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
