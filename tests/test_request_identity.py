"""Request identity against careless and hostile apps, on the local stack with plain boto3.

Each case was reproduced on commit 8b0bc77 (issue 11): a tenant's request hijacked by
another's reuse of its id, reused ids dropped without an answer, two terminal events for
one request sent many times at once, ids of requests without one that the publisher could
not know, and a too-long text answered as INVALID_REQUEST.
"""

import json
import threading
import time
import urllib.request
import uuid
from typing import Any

import pytest
from conftest import StartStack

from voxflow.audio import decode
from voxflow.events import request_source
from voxflow_local.stack import LocalStack

pytestmark = pytest.mark.slow
TERMINAL = ("SynthesisCompleted", "SynthesisFailed")
SILENT = {"noise_scale": 0.0, "noise_w": 0.0}
LONG_TEXT = " ".join(
    f"Sentence number {word} of the owner's long request is spoken slowly and in full."
    for word in ("one", "two", "three", "four", "five", "six", "seven", "eight")
)


@pytest.fixture(scope="module")
def stack(local_stack: StartStack) -> LocalStack:
    return local_stack(retry_visibility_s=1)


class Inbox:
    """A reply queue of one app: every envelope it received, by request id."""

    def __init__(self, stack: LocalStack, name: str) -> None:
        self._sqs = stack.client("sqs")
        self.url: str = self._sqs.create_queue(QueueName=f"voxflow-replies-{name}")["QueueUrl"]
        self.seen: list[dict[str, Any]] = []

    def drain(self, wait_s: float, until: int | None = None) -> list[dict[str, Any]]:
        """Receive for ``wait_s`` seconds (or until ``until`` terminal events arrived)."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            messages = self._sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            for message in messages:
                self.seen.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
            if until is not None and len(self.terminal()) >= until:
                break
        return self.seen

    def terminal(self, request_id: str | None = None) -> list[dict[str, Any]]:
        return [
            event
            for event in self.seen
            if event["detail-type"] in TERMINAL
            and (request_id is None or event["detail"]["request_id"] == request_id)
        ]


def send(stack: LocalStack, body: dict[str, Any] | str) -> str:
    """Send a request straight to the stack's RequestsQueue; the SQS message id. A
    request naming a tenant goes as the rule delivers that tenant's event (its source
    authenticates the tenant; a plain direct send would be the default tenant's)."""
    if isinstance(body, dict) and "tenant" in body:
        body = {
            "id": str(uuid.uuid4()),
            "source": request_source(body["tenant"]),
            "detail-type": "SynthesisRequested",
            "detail": body,
        }
    text = body if isinstance(body, str) else json.dumps(body)
    queue = stack.stack.resources["RequestsQueue"]
    return str(stack.client("sqs").send_message(QueueUrl=queue, MessageBody=text)["MessageId"])


def request(request_id: str, tenant: str, text: str, inbox: Inbox, **fields: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "tenant": tenant,
        "text": text,
        "format": "wav",
        "params": SILENT,
        "reply_to": {"queue_url": inbox.url},
        **fields,
    }


def audio_seconds(url: str) -> float:
    with urllib.request.urlopen(url, timeout=30) as response:
        pcm, rate = decode(response.read())
    return len(pcm) / rate


def test_another_tenant_reusing_an_id_gets_a_conflict_and_never_touches_the_owner(
    stack: LocalStack,
) -> None:
    """8b0bc77: A's reply queue received B's cached audio as A's SynthesisCompleted."""
    owner, intruder = Inbox(stack, "owner-a"), Inbox(stack, "intruder-b")
    cached = "A phrase the intruder has cached."
    warm = f"warm-{uuid.uuid4().hex[:8]}"
    send(stack, request(warm, "b", cached, intruder))
    intruder.drain(60, until=1)
    assert intruder.terminal(warm)

    shared = f"shared-{uuid.uuid4().hex[:8]}"
    send(stack, request(shared, "a", LONG_TEXT, owner))
    time.sleep(0.3)
    send(stack, request(shared, "b", cached, intruder))
    send(stack, request(shared, "b", cached, intruder, voice="no-such-voice"))

    owner.drain(180, until=1)
    intruder.drain(30, until=3)
    (owners,) = owner.terminal(shared)
    assert owners["detail-type"] == "SynthesisCompleted"
    assert owners["detail"]["tenant"] == "a"
    assert owners["detail"]["cache"] == "miss"
    # The owner's own long text, not the intruder's phrase (about 1.5 s).
    assert audio_seconds(owners["detail"]["url"]) > 20
    chunks = [e for e in owner.seen if e["detail-type"] == "ChunkSynthesized"]
    assert sorted(e["detail"]["index"] for e in chunks) == list(range(len(chunks)))

    answers = intruder.terminal(shared)
    assert len(answers) == 2, answers
    for answer in answers:
        assert answer["detail-type"] == "SynthesisFailed"
        assert answer["detail"]["code"] == "REQUEST_ID_CONFLICT"
        assert answer["detail"]["tenant"] == "b"
        assert "cached" not in answer["detail"]["message"]  # no text in messages


def test_reused_ids_are_answered_never_dropped(stack: LocalStack) -> None:
    """8b0bc77: an id reused after completion, or while pending with other content, got
    no terminal event anywhere."""
    inbox = Inbox(stack, "reuser")
    pending_id, done_id = (f"{name}-{uuid.uuid4().hex[:8]}" for name in ("pending", "done"))
    send(stack, request(done_id, "a", "First words under this id.", inbox))
    inbox.drain(60, until=1)
    assert inbox.terminal(done_id)

    send(stack, request(pending_id, "a", LONG_TEXT, inbox))
    time.sleep(0.3)
    send(stack, request(pending_id, "a", "Other words, same id.", inbox))
    send(stack, request(done_id, "a", "Other words after completion.", inbox))
    inbox.drain(180, until=4)

    for request_id in (pending_id, done_id):
        codes = sorted(
            event["detail"].get("code", "completed") for event in inbox.terminal(request_id)
        )
        assert codes == ["REQUEST_ID_CONFLICT", "completed"], (request_id, codes)


def test_a_duplicate_with_another_reply_target_gets_the_result_there_once(
    stack: LocalStack,
) -> None:
    first, second = Inbox(stack, "first-target"), Inbox(stack, "second-target")
    request_id = f"dup-{uuid.uuid4().hex[:8]}"
    text = "Asked for twice, answered in both places."
    send(stack, request(request_id, "a", text, first))
    time.sleep(0.2)  # the duplicate arrives while the job is pending
    send(stack, request(request_id, "a", text, second))
    first.drain(60, until=1)
    second.drain(30, until=1)
    # After completion: a third target gets the stored result; the first, nothing more.
    third = Inbox(stack, "third-target")
    send(stack, request(request_id, "a", text, third))
    send(stack, request(request_id, "a", text, first))
    third.drain(30, until=1)
    first.drain(5)

    results = [inbox.terminal(request_id) for inbox in (first, second, third)]
    assert [len(found) for found in results] == [1, 1, 1], results
    assert {found[0]["detail"]["url"].split("?")[0] for found in results} == {
        results[0][0]["detail"]["url"].split("?")[0]
    }


@pytest.mark.parametrize("trial", range(4))
def test_copies_sent_at_once_end_in_one_terminal_event(stack: LocalStack, trial: int) -> None:
    """8b0bc77: two SynthesisCompleted for 10-12 copies sent at once, 4 trials in 6."""
    inbox = Inbox(stack, f"copies-{trial}")
    request_id = f"copies-{trial}-{uuid.uuid4().hex[:8]}"
    body = request(request_id, "a", f"Trial {trial}: twelve copies. One answer is expected.", inbox)
    senders = [threading.Thread(target=send, args=(stack, body)) for _ in range(12)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    inbox.drain(60, until=1)
    inbox.drain(8)  # anything late
    assert [e["detail-type"] for e in inbox.terminal(request_id)] == ["SynthesisCompleted"]


def test_an_event_without_request_id_is_answered_under_its_event_id(stack: LocalStack) -> None:
    """8b0bc77: the id was sqs-<message id of the rule's delivery>, which the publisher
    cannot know."""
    inbox = Inbox(stack, "event-ids")
    detail = {"text": "Named by my event.", "format": "wav", "reply_to": {"queue_url": inbox.url}}
    entry = {
        "Source": "voxflow.client",
        "DetailType": "SynthesisRequested",
        "EventBusName": stack.stack.resources["EventBus"].rsplit("/", 1)[-1],
        "Detail": json.dumps(detail),
    }
    response = stack.client("events").put_events(Entries=[entry])
    event_id = response["Entries"][0]["EventId"]
    inbox.drain(60, until=1)
    (answer,) = inbox.terminal()
    assert answer["detail"]["request_id"] == f"evt-{event_id}"


def test_one_envelope_delivered_twice_makes_one_job(stack: LocalStack) -> None:
    inbox = Inbox(stack, "envelope-twice")
    envelope = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "source": "voxflow.client",
        "detail-type": "SynthesisRequested",
        "detail": {
            "text": "Delivered twice.",
            "format": "wav",
            "reply_to": {"queue_url": inbox.url},
        },
    }
    send(stack, envelope)
    send(stack, envelope)
    inbox.drain(60, until=1)
    inbox.drain(5)
    assert [e["detail"]["request_id"] for e in inbox.terminal()] == [f"evt-{envelope['id']}"]


def test_a_text_over_the_wire_limit_is_text_too_long(stack: LocalStack) -> None:
    """8b0bc77: 100,001 characters were INVALID_REQUEST, so TEXT_TOO_LONG was unreachable."""
    inbox = Inbox(stack, "too-long")
    request_id = f"long-{uuid.uuid4().hex[:8]}"
    send(stack, request(request_id, "a", "a" * 100_001, inbox))
    inbox.drain(60, until=1)
    (answer,) = inbox.terminal(request_id)
    assert answer["detail"]["code"] == "TEXT_TOO_LONG"
    assert "aaaa" not in answer["detail"]["message"]
