"""``python -m voxflow_local.worker --state-file F --function SynthesizeFunction``: the
product's worker (``python -m voxflow.worker``) with the environment a local stack's
region gives the function, as ECS would give the container its task definition's."""

import argparse
import os
from pathlib import Path

from voxflow.config import variables
from voxflow_local.faults import install_from_env
from voxflow_local.runner import lambda_environment
from voxflow_local.state import read_state


def local_environment(state_file: Path, function_id: str) -> dict[str, str]:
    """The environment a local stack's runner gives ``function_id``, plus where its code is."""
    state = read_state(state_file)
    function = state.stack.function(function_id)
    env = lambda_environment(state.stack, function, os.environ, state.extra_env)
    env[variables.HANDLER_DIR.name] = str(function.code_dir)
    env[variables.HANDLER.name] = function.handler
    # Several workers share a machine locally: one ready file each, beside the state file.
    ready_file = state_file.parent / f"{state_file.stem}-worker-{os.getpid()}.ready"
    env.setdefault(variables.READY_FILE.name, str(ready_file))
    if state.retry_visibility_s is not None:
        env.setdefault(variables.WORKER_RETRY_VISIBILITY_S.name, str(state.retry_visibility_s))
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m voxflow_local.worker")
    parser.add_argument("--state-file", type=Path, required=True, help="the local stack's")
    parser.add_argument("--function", default="SynthesizeFunction", help="the function to run")
    args = parser.parse_args(argv)
    environment = local_environment(args.state_file, args.function)
    # Before the worker's logger and handler: they read their settings at import time.
    os.environ.clear()
    os.environ.update(environment)
    install_from_env()  # load tests' fault injection (VOXFLOW_FAULTS), from outside
    from voxflow.worker.__main__ import main as worker_main

    return worker_main([])


if __name__ == "__main__":
    raise SystemExit(main())
