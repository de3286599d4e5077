"""A voice added to a running local stack with `voxflow voices add` is spoken through the
event path (plan and synthesize downloading it from the stack's bucket); disabled, it
fails VOICE_DISABLED once the functions' catalog cache (VOXFLOW_VOICE_CATALOG_TTL_S) has
lapsed; unknown ids fail UNKNOWN_VOICE."""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import StartStack
from stack_cli import voxflow_cli
from voice_fixtures import joe_copy

from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import StackTarget, VoxflowClient
from voxflow.events import SynthesisCompleted, SynthesisFailed
from voxflow_local.stack import LocalStack

pytestmark = pytest.mark.slow
TTL_S = 2  # the functions' catalog cache: a change is seen within it


@pytest.fixture(scope="module")
def stack(local_stack: StartStack, tmp_path_factory: pytest.TempPathFactory) -> LocalStack:
    # Its own download folder: the first request for the voice is a cold load.
    voice_dir = tmp_path_factory.mktemp("voice-dir")
    return local_stack(
        retry_visibility_s=1,
        functions=["PlanFunction", "SynthesizeFunction"],
        extra_env={"VOXFLOW_VOICE_DIR": str(voice_dir), "VOXFLOW_VOICE_CATALOG_TTL_S": str(TTL_S)},
    )


@pytest.fixture(scope="module")
def client(stack: LocalStack) -> Iterator[VoxflowClient]:
    clients = AwsClients(AwsSettings.local(stack.url, stack.region))
    with VoxflowClient(clients, StackTarget.from_resources(stack.stack.resources)) as voxflow:
        yield voxflow


def request(client: VoxflowClient, voice: str) -> tuple[object, float]:
    """The request's terminal event and the seconds from publish to it."""
    started = time.perf_counter()
    request_id = client.publish(
        text="The new voice speaks.", voice=voice, request_id=uuid.uuid4().hex
    )
    outcome = client.wait([request_id], 240)[request_id]
    return outcome.terminal, time.perf_counter() - started


def test_a_voice_added_with_the_cli_is_spoken_then_disabled(
    stack: LocalStack, client: VoxflowClient, tmp_path: Path
) -> None:
    model, config = joe_copy(tmp_path, "joe-quick", inference={"length_scale": 0.8})
    started = time.perf_counter()
    added = voxflow_cli(
        stack, "voices", "add", str(model), "--config", str(config), "--id", "joe-quick"
    )
    add_s = time.perf_counter() - started
    assert added.returncode == 0, added.stderr
    listed = voxflow_cli(stack, "voices")
    assert listed.returncode == 0, listed.stderr
    ids = [line.split("\t")[0] for line in listed.stdout.splitlines()]
    assert ids == ["joe", "joe-quick"]
    taken = voxflow_cli(stack, "voices", "add", str(model), "--id", "joe-quick")
    assert (taken.returncode, taken.stderr.count("\n")) == (2, 1)
    assert "[VOICE_EXISTS]" in taken.stderr

    joe, joe_s = request(client, "joe")
    assert isinstance(joe, SynthesisCompleted), joe
    quick, quick_s = request(client, "joe-quick")
    assert isinstance(quick, SynthesisCompleted), quick
    assert quick.duration_s < joe.duration_s  # length_scale 0.8, its config's default
    again, again_s = request(client, "joe-quick")
    assert isinstance(again, SynthesisCompleted)
    print(  # the figures for the closing note (pytest -s)
        f"\nvoices add {add_s:.1f} s; first request: joe {joe_s:.1f} s, "
        f"joe-quick (cold catalog load) {quick_s:.1f} s, joe-quick again {again_s:.1f} s"
    )

    assert voxflow_cli(stack, "voices", "disable", "joe-quick").returncode == 0
    time.sleep(TTL_S)
    disabled, _ = request(client, "joe-quick")
    assert isinstance(disabled, SynthesisFailed)
    assert disabled.code == "VOICE_DISABLED"
    unknown, _ = request(client, "no-such-voice")
    assert isinstance(unknown, SynthesisFailed)
    assert unknown.code == "UNKNOWN_VOICE"
    assert voxflow_cli(stack, "voices", "remove", "joe-quick").returncode == 0
    time.sleep(TTL_S)
    removed, _ = request(client, "joe-quick")
    assert isinstance(removed, SynthesisFailed)
    assert removed.code == "UNKNOWN_VOICE"
