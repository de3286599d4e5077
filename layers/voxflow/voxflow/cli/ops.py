"""``voxflow redrive`` and ``voxflow sweep``: operations on a deployed stack.

Names come from the stack as ``publish`` finds them: the local stack's state file
by default, the CloudFormation stack with ``--aws`` or ``--endpoint-url``.
"""

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from voxflow.errors import SettingsError
from voxflow.ops.redrive import ROUTES

if TYPE_CHECKING:
    from voxflow.aws import AwsSettings

EXIT_LEFT_BEHIND = 1


def stack_resources(args: argparse.Namespace) -> "tuple[AwsSettings, dict[str, str]]":
    """The stack's AWS settings and its logical → physical resource ids."""
    # Imported here: the parser is built for `synth` too, which must not load boto3.
    from voxflow.aws import AwsClients
    from voxflow.cli.remote import _aws_settings, local_state

    aws = _aws_settings(args)
    if not (args.aws or args.endpoint_url):
        state = json.loads(local_state().read_text(encoding="utf-8"))
        return aws, dict(state["resources"])
    cloudformation = AwsClients(aws).cloudformation
    try:
        listed = cloudformation.describe_stack_resources(StackName=args.stack)
    except Exception as error:  # botocore raises per-service error classes
        raise SettingsError(f"cannot read stack {args.stack!r}: {error}") from error
    return aws, {
        item["LogicalResourceId"]: item["PhysicalResourceId"]
        for item in listed["StackResources"]
        if item.get("PhysicalResourceId")
    }


def global_table(args: argparse.Namespace, resources: dict[str, str], logical_id: str) -> str:
    """A global table's name: the stack's own, or in a secondary (which creates none of
    its own and uses the primary's replica) the name the template gives it."""
    suffix = logical_id.removesuffix("Table").lower()
    return resources.get(logical_id, f"{args.stack}-{suffix}")


def run_redrive(args: argparse.Namespace) -> int:
    from voxflow.aws import AwsClients
    from voxflow.ops.redrive import redrive

    aws, resources = stack_resources(args)
    clients = AwsClients(aws)
    # `all` skips what an older stack lacks (one chunk lane, no LongChunksDLQ).
    names = (
        [name for name, route in ROUTES.items() if route.dlq in resources]
        if args.queue == "all"
        else [args.queue]
    )
    left = 0
    for name in names:
        count = redrive(
            ROUTES[name],
            resources,
            clients.sqs,
            clients.events,
            max_messages=args.max,
            dry_run=args.dry_run,
        )
        route = ROUTES[name]
        if args.dry_run:
            print(f"{route.dlq}\t{count.waiting} waiting\t(dry run: nothing moved)")
        else:
            print(f"{route.dlq}\t{count.moved} moved to {route.target}\t{count.failed} failed")
        left += count.failed
    return EXIT_LEFT_BEHIND if left else 0


def run_sweep(args: argparse.Namespace) -> int:
    from voxflow.ops.sweeper import pipeline_for, sweeper_for

    aws, resources = stack_resources(args)
    sweeper = sweeper_for(pipeline_for(resources, aws), aws)
    if args.dry_run:
        stuck = [job.request_id for job in sweeper.stuck(args.older_than)]
        print(json.dumps({"pending": stuck}, indent=2))
        return 0
    report = sweeper.sweep(args.older_than)
    json.dump(report.as_dict(), sys.stdout, indent=2)
    print()
    return 0


def add_ops_commands(commands: Any, add_target_arguments: Any) -> None:
    """The two subcommands, for build_parser."""
    redrive_parser = commands.add_parser(
        "redrive", help="move dead letters back to their queue (or bus)"
    )
    redrive_parser.add_argument(
        "queue",
        choices=[*ROUTES, "all"],
        help="requests: RequestsDLQ → RequestsQueue; chunks: ChunksDLQ → ChunksQueue; "
        "long-chunks: LongChunksDLQ → LongChunksQueue; rule: RequestsRuleDLQ → the bus; "
        "all: every route the stack has",
    )
    redrive_parser.add_argument("--max", type=int, help="move at most this many messages")
    redrive_parser.add_argument(
        "--dry-run", action="store_true", help="count what waits, move nothing"
    )
    add_target_arguments(redrive_parser)

    sweep_parser = commands.add_parser("sweep", help="finish, re-queue or fail stuck jobs")
    sweep_parser.add_argument(
        "--older-than",
        type=float,
        default=900.0,
        help="seconds a job must have been pending (default 900)",
    )
    sweep_parser.add_argument(
        "--dry-run", action="store_true", help="list the stuck jobs, change nothing"
    )
    add_target_arguments(sweep_parser)
