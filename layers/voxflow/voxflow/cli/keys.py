"""``voxflow keys create|list|revoke``: bearer API keys for the OpenAI-compatible routes
(docs/api.md). Only the keys' hashes are stored; ``create`` prints the new key alone on
its last line, the one time it is shown. The stack is found as ``tenants`` finds it."""

import argparse
from typing import Any

EXIT_NO_SUCH_KEY = 1


def add_keys_commands(commands: Any, add_target_arguments: Any) -> None:
    keys = commands.add_parser("keys", help="API keys for the OpenAI-compatible routes")
    actions = keys.add_subparsers(dest="keys_command", required=True)
    create = actions.add_parser("create", help="a new key for a tenant (printed once)")
    create.add_argument("--tenant", required=True, help="whose quotas the key's calls use")
    revoke = actions.add_parser("revoke", help="revoke a key by its id (voxflow keys list)")
    revoke.add_argument("key_id")
    listing = actions.add_parser("list", help="every key: id, tenant, created, revoked")
    for parser in (create, revoke, listing):
        add_target_arguments(parser)


def run_keys(args: argparse.Namespace) -> int:
    # Imported here: the parser is built for `synth` too, which must not load boto3.
    from voxflow.aws import AwsClients
    from voxflow.cli.ops import global_table, stack_resources
    from voxflow.tenants.api_keys import ApiKeys

    aws, resources = stack_resources(args)
    name = global_table(args, resources, "TenantsTable")
    keys = ApiKeys(AwsClients(aws).dynamodb, name)
    if args.keys_command == "create":
        key, record = keys.create(args.tenant)
        print(f"key id {record.key_id} for tenant {record.tenant}; it is shown only now:")
        print(key)
        return 0
    if args.keys_command == "revoke":
        revoked = keys.revoke(args.key_id)
        if revoked is None:
            print(f"{args.key_id}\tno such key")
            return EXIT_NO_SUCH_KEY
        print(f"{revoked.key_id}\t{revoked.tenant}\trevoked {revoked.revoked_at}")
        return 0
    for record in keys.records():
        print(f"{record.key_id}\t{record.tenant}\t{record.created_at}\t{record.revoked_at or '-'}")
    return 0
