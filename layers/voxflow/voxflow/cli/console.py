"""``voxflow console publish``: the web console's files (voxflow/console/static) put in
the stack's ConsoleBucket, with the config that names its API (docs/console.md, "As a
static site"). The stack is found as ``keys`` finds it; ``--api-url`` overrides the
API's URL (a custom domain)."""

import argparse
from typing import Any

EXIT_NO_SITE = 1


def add_console_commands(commands: Any, add_target_arguments: Any) -> None:
    console = commands.add_parser("console", help="the web console as a static site")
    actions = console.add_subparsers(dest="console_command", required=True)
    publish = actions.add_parser(
        "publish", help="put the console's files in the stack's ConsoleBucket (ConsoleSite)"
    )
    publish.add_argument("--api-url", help="the API the page calls (default: the stack's)")
    add_target_arguments(publish)


def run_console(args: argparse.Namespace) -> int:
    # Imported here: the parser is built for `synth` too, which must not load boto3.
    from voxflow.aws import AwsClients
    from voxflow.cli.ops import stack_resources
    from voxflow.console.site import publish

    aws, resources = stack_resources(args)
    bucket = resources.get("ConsoleBucket")
    if bucket is None:
        print(
            f"stack {args.stack!r} has no ConsoleBucket: deploy it with "
            "ConsoleSite=cloudfront (docs/console.md)"
        )
        return EXIT_NO_SITE
    api_url = args.api_url or (
        f"https://{resources['SpeechApi']}.execute-api.{aws.region}.amazonaws.com"
    )
    for key in publish(AwsClients(aws).s3, bucket, api_url):
        print(f"s3://{bucket}/{key}")
    print(f"the page calls {api_url}")
    return 0
