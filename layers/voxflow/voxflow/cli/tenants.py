"""``voxflow tenants bind|unbind|list``: the tenant table of a deployed stack.

A binding makes a principal's direct SQS sends its tenant's (docs/operations.md,
"Tenants"). The stack is found as ``redrive`` finds it: the local stack's state file by
default, the CloudFormation stack with ``--aws`` or ``--endpoint-url``.
"""

import argparse
from typing import Any

EXIT_NOT_BOUND = 1


def add_tenants_commands(commands: Any, add_target_arguments: Any) -> None:
    tenants = commands.add_parser("tenants", help="bind direct SQS senders to tenants")
    actions = tenants.add_subparsers(dest="tenants_command", required=True)
    bind = actions.add_parser("bind", help="a principal's direct sends are this tenant's")
    bind.add_argument("--tenant", required=True)
    bind.add_argument(
        "--principal",
        required=True,
        help="the IAM unique id SQS reports as SenderId (AROA... for a role, AIDA... for a user)",
    )
    unbind = actions.add_parser("unbind", help="remove a principal's binding")
    unbind.add_argument("--principal", required=True)
    listing = actions.add_parser("list", help="every binding: principal, tenant, bound at")
    for parser in (bind, unbind, listing):
        add_target_arguments(parser)


def run_tenants(args: argparse.Namespace) -> int:
    # Imported here: the parser is built for `synth` too, which must not load boto3.
    from voxflow.aws import AwsClients
    from voxflow.cli.ops import global_table, stack_resources
    from voxflow.tenants import TenantTable

    aws, resources = stack_resources(args)
    name = global_table(args, resources, "TenantsTable")
    table = TenantTable(AwsClients(aws).dynamodb, name)
    if args.tenants_command == "bind":
        binding = table.bind(args.principal, args.tenant)
        print(f"{binding.principal}\t{binding.tenant}\t{binding.bound_at}")
        return 0
    if args.tenants_command == "unbind":
        removed = table.unbind(args.principal)
        if removed is None:
            print(f"{args.principal}\tnot bound")
            return EXIT_NOT_BOUND
        print(f"{removed.principal}\tunbound (was {removed.tenant})")
        return 0
    for binding in table.bindings():
        print(f"{binding.principal}\t{binding.tenant}\t{binding.bound_at}")
    return 0
