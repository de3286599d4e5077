"""Tenants are authenticated, not declared, end to end: template.yaml in moto server, the
real plan handler, plain boto3 as a publishing app would use it.

Locally the event's source stands in for IAM (moto enforces none), and every SQS
message carries moto's one SenderId, so binding it binds every sender of this stack:
that test comes last.
"""

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from bus_tap import tapped
from conftest import StartStack

from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import StackTarget, VoxflowClient
from voxflow.events import SynthesisCompleted
from voxflow_local.stack import LocalStack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(local_stack: StartStack) -> LocalStack:
    # The binding test sends right after binding: no cached lookup may outlive it.
    return local_stack(
        retry_visibility_s=1,
        functions=["PlanFunction", "SynthesizeFunction"],
        extra_env={"VOXFLOW_TENANT_CACHE_TTL_S": "0"},
    )


def terminal(stack: LocalStack, bus_tap: str, request_id: str) -> dict[str, Any]:
    """The request's one terminal event (a few seconds more show no second one)."""
    events = tapped(stack, bus_tap, request_id, wait_s=60, until_terminal=True)
    events += tapped(stack, bus_tap, request_id, wait_s=3)
    ends = [e for e in events if e["detail-type"] in ("SynthesisCompleted", "SynthesisFailed")]
    assert len(ends) == 1, ends
    return ends[0]


def publish(stack: LocalStack, source: str, **detail: Any) -> str:
    request_id = f"t-{uuid.uuid4().hex[:8]}"
    entry = {
        "Source": source,
        "DetailType": "SynthesisRequested",
        "EventBusName": stack.stack.resources["EventBus"].rsplit("/", 1)[-1],
        "Detail": json.dumps({"request_id": request_id, "text": "Hi.", **detail}),
    }
    assert stack.client("events").put_events(Entries=[entry])["FailedEntryCount"] == 0
    return request_id


def test_an_event_naming_another_tenant_fails_tenant_mismatch(
    stack: LocalStack, bus_tap: str
) -> None:
    request_id = publish(stack, "voxflow.tenant.a", tenant="b")
    event = terminal(stack, bus_tap, request_id)
    assert event["detail-type"] == "SynthesisFailed"
    assert (event["detail"]["code"], event["detail"]["tenant"]) == ("TENANT_MISMATCH", "a")


def test_an_event_is_the_tenant_its_source_names(stack: LocalStack, bus_tap: str) -> None:
    # One at a time: the tap drops other requests' events while it waits.
    for declared in ({"tenant": "a"}, {}):
        event = terminal(stack, bus_tap, publish(stack, "voxflow.tenant.a", **declared))
        assert event["detail-type"] == "SynthesisCompleted", event["detail"]
        assert event["detail"]["tenant"] == "a"
    # The client publishes a tenant's request with that tenant's source.
    clients = AwsClients(AwsSettings.local(stack.url, stack.region))
    with VoxflowClient(clients, StackTarget.from_resources(stack.stack.resources)) as client:
        outcome = client.synthesize("Hi.", tenant="acme", timeout_s=60)
    assert isinstance(outcome.terminal, SynthesisCompleted)
    assert outcome.terminal.tenant == "acme"


def moto_sender_id(stack: LocalStack) -> str:
    """The SenderId moto gives this test's credentials' messages (one for everyone)."""
    sqs = stack.client("sqs")
    url = sqs.create_queue(QueueName=f"probe-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    (message,) = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["SenderId"])[
        "Messages"
    ]
    return str(message["Attributes"]["SenderId"])


def send_direct(stack: LocalStack, **detail: Any) -> str:
    request_id = f"d-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"request_id": request_id, "text": "Hi.", **detail})
    stack.client("sqs").send_message(
        QueueUrl=stack.stack.resources["RequestsQueue"], MessageBody=body
    )
    return request_id


def tenants_cli(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VOXFLOW_LOCAL_STATE": str(stack.state_file)}
    return subprocess.run(
        [sys.executable, "-m", "voxflow", "tenants", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_bound_senders_direct_send_naming_another_tenant_fails_tenant_mismatch(
    stack: LocalStack, bus_tap: str
) -> None:
    principal = moto_sender_id(stack)
    bound = tenants_cli(stack, "bind", "--tenant", "a", "--principal", principal)
    assert bound.returncode == 0, bound.stderr
    try:
        listed = tenants_cli(stack, "list")
        assert listed.stdout.split("\t")[:2] == [principal, "a"]
        mismatch = terminal(stack, bus_tap, send_direct(stack, tenant="b"))
        assert mismatch["detail-type"] == "SynthesisFailed"
        assert (mismatch["detail"]["code"], mismatch["detail"]["tenant"]) == (
            "TENANT_MISMATCH",
            "a",
        )
        # Unbound, a direct sender is the default tenant: "a" passes only through the binding.
        own = terminal(stack, bus_tap, send_direct(stack, tenant="a"))
        assert own["detail-type"] == "SynthesisCompleted", own["detail"]
        assert own["detail"]["tenant"] == "a"
    finally:
        unbound = tenants_cli(stack, "unbind", "--principal", principal)
    assert unbound.returncode == 0, unbound.stderr
    assert tenants_cli(stack, "list").stdout == ""
