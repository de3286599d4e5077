"""``voxflow top``: the stack's live numbers, redrawn every few seconds (voxflow.ops.top)."""

import argparse
import sys
import time
from typing import Any

CLEAR = "\x1b[H\x1b[2J"


def add_top_command(commands: Any, add_target_arguments: Any) -> None:
    top = commands.add_parser(
        "top", help="queue depths, dead letters, recent requests and health, live"
    )
    top.add_argument("--once", action="store_true", help="print one frame and exit")
    top.add_argument("--interval", type=float, default=3.0, help="seconds between frames (3)")
    top.add_argument("--recent", type=int, default=10, help="newest jobs to list (10)")
    add_target_arguments(top)


def run_top(args: argparse.Namespace) -> int:
    from voxflow.aws import AwsClients
    from voxflow.cli.ops import stack_resources
    from voxflow.ops.top import render, take_frame

    aws, resources = stack_resources(args)
    clients = AwsClients(aws)
    while True:
        frame = take_frame(args.stack, aws.region, resources, clients, recent=args.recent)
        if not args.once and sys.stdout.isatty():
            sys.stdout.write(CLEAR)
        print(render(frame), flush=True)
        if args.once:
            return 0
        time.sleep(max(0.5, args.interval))
