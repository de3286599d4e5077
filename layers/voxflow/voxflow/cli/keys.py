"""``voxflow keys create|list|revoke``: bearer API keys for the OpenAI-compatible routes,
and with ``--sigv4`` access key pairs for Polly's (docs/api.md). Of bearer keys only the
hashes are stored; ``create`` prints the new key alone on its last line, or the access key
id and then the secret on the last two, the one time they are shown. The stack is found
as ``tenants`` finds it."""

import argparse
from typing import Any

EXIT_NO_SUCH_KEY = 1


def add_keys_commands(commands: Any, add_target_arguments: Any) -> None:
    keys = commands.add_parser("keys", help="API keys for the OpenAI-compatible routes")
    actions = keys.add_subparsers(dest="keys_command", required=True)
    create = actions.add_parser("create", help="a new key for a tenant (printed once)")
    create.add_argument("--tenant", required=True, help="whose quotas the key's calls use")
    create.add_argument(
        "--sigv4",
        action="store_true",
        help="an access key id and secret for Polly's routes (boto3's polly client)",
    )
    create.add_argument(
        "--replica-region",
        action="append",
        default=[],
        help="with --sigv4: the other region of a two-region deployment (its secret's "
        "replica; repeatable)",
    )
    revoke = actions.add_parser(
        "revoke", help="revoke a key by its id or access key id (voxflow keys list)"
    )
    revoke.add_argument("key_id")
    listing = actions.add_parser("list", help="every key: id, tenant, created, revoked")
    for parser in (create, revoke, listing):
        add_target_arguments(parser)


def run_keys(args: argparse.Namespace) -> int:
    # Imported here: the parser is built for `synth` too, which must not load boto3.
    from voxflow.aws import AwsClients
    from voxflow.cli.ops import global_table, stack_resources
    from voxflow.tenants.api_keys import ApiKeys
    from voxflow.tenants.sigv4_keys import ACCESS_KEY_PREFIX, SigV4Keys

    aws, resources = stack_resources(args)
    name = global_table(args, resources, "TenantsTable")
    clients = AwsClients(aws)
    keys = ApiKeys(clients.dynamodb, name)
    # The template's VOXFLOW_API_SIGV4_SECRET_PREFIX.
    sigv4 = SigV4Keys(clients.dynamodb, clients.client("secretsmanager"), name, sigv4_prefix(args))
    if args.keys_command == "create" and args.sigv4:
        secret, made = sigv4.create(args.tenant, args.replica_region)
        print(f"SigV4 key for tenant {made.tenant}; the secret is shown only now:")
        print(made.key_id)
        print(secret)
        return 0
    if args.keys_command == "create":
        key, record = keys.create(args.tenant)
        print(f"key id {record.key_id} for tenant {record.tenant}; it is shown only now:")
        print(key)
        return 0
    if args.keys_command == "revoke":
        revoked = (
            sigv4.revoke(args.key_id)
            if args.key_id.startswith(ACCESS_KEY_PREFIX)
            else keys.revoke(args.key_id)
        )
        if revoked is None:
            print(f"{args.key_id}\tno such key")
            return EXIT_NO_SUCH_KEY
        print(f"{args.key_id}\t{revoked.tenant}\trevoked {revoked.revoked_at}")
        return 0
    for record in keys.records():
        print(
            f"{record.key_id}\t{record.tenant}\t{record.created_at}\t"
            f"{record.revoked_at or '-'}\tbearer"
        )
    for made in sigv4.records():
        print(f"{made.key_id}\t{made.tenant}\t{made.created_at}\t{made.revoked_at or '-'}\tsigv4")
    return 0


def sigv4_prefix(args: argparse.Namespace) -> str:
    """The secrets' name prefix template.yaml gives the stack's API function."""
    return f"{args.stack}/api-sigv4/"
