"""``voxflow publish`` and ``voxflow status``: the client from the command line.

They target the local stack by default (its endpoint from the state file that
``python -m voxflow_local up`` writes) and AWS when given ``--aws`` (region and
profile from the usual AWS settings or the flags).
"""

import argparse
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import StackTarget, VoxflowClient
from voxflow.client.endpoint import checked_endpoint_id
from voxflow.config import Config
from voxflow.config import variables as env
from voxflow.errors import SettingsError, VoxflowError

EXIT_FAILED = 1


def local_state() -> Path:
    """The local stack's state file (VOXFLOW_LOCAL_STATE)."""
    return Config.load()[env.LOCAL_STATE]


def _aws_settings(args: argparse.Namespace) -> AwsSettings:
    base = AwsSettings.of(Config.load())
    endpoint = args.endpoint_url
    region = args.region or base.region
    if not args.aws and endpoint is None:
        path = local_state()
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise SettingsError(
                f"no local stack state at {path} ({error}); start it with "
                "'python -m voxflow_local up', or pass --aws or --endpoint-url"
            ) from None
        return AwsSettings.local(state["endpoint_url"], args.region or state.get("region", region))
    return AwsSettings(region=region, endpoint_url=endpoint, profile=args.profile or base.profile)


def _client(args: argparse.Namespace) -> VoxflowClient:
    endpoint_id = getattr(args, "endpoint_id", None)  # publish's flag; status has none
    if endpoint_id is not None and not (args.aws or args.endpoint_url):
        raise SettingsError(
            "--endpoint-id names a global endpoint on AWS: add --aws (the local stack has "
            "none; its two-region client routes like one, docs/regions.md)"
        )
    checked_endpoint_id(endpoint_id)  # before the stack is read: a missing extra says so first
    clients = AwsClients(_aws_settings(args))
    if args.aws or args.endpoint_url:
        return VoxflowClient(
            clients,
            StackTarget.from_stack(clients.cloudformation, args.stack),
            endpoint_id=endpoint_id,
        )
    # The local stack deploys some resources beside moto's CloudFormation: its state file
    # has every physical id.
    state = json.loads(local_state().read_text(encoding="utf-8"))
    return VoxflowClient(clients, StackTarget.from_resources(state["resources"], args.stack))


def run_publish(args: argparse.Namespace, text: str) -> int:
    fields: dict[str, Any] = {"text": text, "voice": args.voice, "format": args.format}
    if args.sample_rate is not None:
        fields["sample_rate"] = args.sample_rate
    if args.ssml:
        fields["text_type"] = "ssml"
    if args.speaker is not None:
        fields["speaker"] = args.speaker
    if args.request_id:
        fields["request_id"] = args.request_id
    with _client(args) as client:
        request_id = client.publish(**fields)
        if not args.wait:
            print(request_id)
            return 0
        outcome = client.wait([request_id], args.timeout)[request_id]
    completed = outcome.completed
    if completed is None:
        failed = outcome.terminal
        code, message = getattr(failed, "code", "?"), getattr(failed, "message", "")
        print(f"{request_id}\tfailed\t{code}\t{message}")
        return EXIT_FAILED
    print(f"{request_id}\t{completed.cache}\t{completed.duration_s:.2f} s\t{completed.url}")
    if args.save:
        with urllib.request.urlopen(completed.url, timeout=60) as response:
            args.save.write_bytes(response.read())
        print(f"saved {args.save}", file=sys.stderr)
    return 0


def run_status(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = client.status(args.request_id)
    if job is None:
        raise VoxflowError(f"no request {args.request_id!r}")
    print(json.dumps(job, indent=2, sort_keys=True, default=str))
    return 0
