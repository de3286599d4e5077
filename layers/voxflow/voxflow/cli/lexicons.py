"""``voxflow lexicons put|get|list|delete``: the stored pronunciation lexicons of a stack.

The stack is found as ``voxflow tenants`` finds it: the local stack's state file by
default, the CloudFormation stack with ``--aws`` or ``--endpoint-url``. A lexicon is
stored per region (``--region``); in two regions the table is global, so a put in one
reaches the other within about a second (docs/lexicons.md).
"""

import argparse
import sys
from pathlib import Path
from typing import Any

from voxflow.errors import VoxflowError

EXIT_NOT_FOUND = 1


def add_lexicons_commands(commands: Any, add_target_arguments: Any) -> None:
    lexicons = commands.add_parser("lexicons", help="store pronunciation lexicons (W3C PLS)")
    actions = lexicons.add_subparsers(dest="lexicons_command", required=True)
    put = actions.add_parser("put", help="store (or replace) a lexicon under a name")
    put.add_argument("name", help="1 to 20 letters and digits")
    put.add_argument("file", type=Path, help="the PLS document (.pls or .xml)")
    get = actions.add_parser("get", help="print a stored lexicon's document")
    get.add_argument("name")
    listing = actions.add_parser("list", help="every lexicon: name, sha256, characters, updated")
    delete = actions.add_parser("delete", help="remove a lexicon")
    delete.add_argument("name")
    for parser in (put, get, listing, delete):
        add_target_arguments(parser)


def read_lexicon_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise VoxflowError(f"cannot read {path}: {error}") from error


def run_lexicons(args: argparse.Namespace) -> int:
    # Imported here: the parser is built for `synth` too, which must not load boto3.
    from voxflow.aws import AwsClients
    from voxflow.cli.ops import global_table, stack_resources
    from voxflow.lexicons.store import LexiconTable

    command = args.lexicons_command
    content = read_lexicon_file(args.file) if command == "put" else ""
    aws, resources = stack_resources(args)
    name = global_table(args, resources, "LexiconsTable")
    table = LexiconTable(AwsClients(aws).dynamodb, name)
    if command == "put":
        stored = table.put(args.name, content)
        print(f"{stored.name}\t{stored.sha256}\t{len(stored.content)} characters")
        return 0
    if command == "get":
        found = table.get(args.name)
        if found is None:
            print(f"{args.name}\tnot found", file=sys.stderr)
            return EXIT_NOT_FOUND
        sys.stdout.write(found.content)
        return 0
    if command == "delete":
        removed = table.delete(args.name)
        if removed is None:
            print(f"{args.name}\tnot found", file=sys.stderr)
            return EXIT_NOT_FOUND
        print(f"{removed.name}\tdeleted (was {removed.sha256})")
        return 0
    for stored in table.list():
        print(f"{stored.name}\t{stored.sha256}\t{len(stored.content)}\t{stored.updated_at}")
    return 0
