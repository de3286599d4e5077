"""How far each table's stream has got, in one cheap call: the replicator's gate.

On AWS, a global table replicates its own writes. Locally the replicator read the six
tables' streams every 0.1 s, one GetRecords a table, whether or not anything changed: in
a 200-request drill that was the largest share of each moto's CPU (the secondary's:
6,216 calls, 26 of its 98 CPU seconds; the primary's: 20 of 55), taken from every call
the service made (issue 17). ``StreamHeads`` serves
``GET /_voxflow/stream-heads?region=R[&queue=NAME...]`` with each table's next
sequence number (the count of records its stream has had) and each named queue's
visible messages, so the replicator reads only the tables that moved, and its bus tap
only when something is there (its ReceiveMessage every 0.1 s was about half of a
moto's). Under ``busy`` come each named queue's messages waiting or in flight, for the
backlog runners' gate (voxflow_local.priority). Only the local stack's moto serves it
(voxflow_local.moto_app); nothing of voxflow calls it on AWS.
"""

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from voxflow_local.json_path import BadQuery, JsonPath, Query

PATH = "/_voxflow/stream-heads"
DEFAULT_ACCOUNT = "123456789012"  # moto's


def url(endpoint_url: str, region: str, queues: Iterable[str] = ()) -> str:
    """The path's address on the moto at ``endpoint_url``, for ``region`` and ``queues``."""
    query = urlencode({"region": region, "queue": list(queues)}, doseq=True)
    return f"{endpoint_url}{PATH}?{query}"


def heads(region: str, account: str = DEFAULT_ACCOUNT) -> dict[str, int]:
    """Table name → the sequence number its stream's next record will have, for the
    region's tables with a stream (in this process: the moto server's)."""
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[account][region]
    found = {}
    for name, table in list(backend.tables.items()):
        shard = table.stream_shard
        if shard is not None:
            found[name] = int(shard.starting_sequence_number) + len(shard.items)
    return found


def visible_messages(queue_name: str, region: str, account: str = DEFAULT_ACCOUNT) -> int:
    """Messages ``queue_name`` would hand out now (0 for a queue that does not exist)."""
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[account][region].queues.get(queue_name)
    return len(queue.messages) if queue is not None else 0


def busy_messages(queue_name: str, region: str, account: str = DEFAULT_ACCOUNT) -> int:
    """Messages of ``queue_name`` waiting or in flight, not those delayed."""
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[account][region].queues.get(queue_name)
    if queue is None:
        return 0
    return sum(1 for message in list(queue._messages) if not message.delayed)


class StreamHeads(JsonPath):
    """Serves ``PATH``: each table's stream head and the named queues' visible messages."""

    path = PATH

    def answer(self, query: Query) -> dict[str, Any]:
        region = query.get("region", [""])[0]
        if not region:
            raise BadQuery("region=R")
        account = query.get("account", [DEFAULT_ACCOUNT])[0]
        return {
            "tables": heads(region, account),
            "queues": {
                name: visible_messages(name, region, account) for name in query.get("queue", [])
            },
            "busy": {name: busy_messages(name, region, account) for name in query.get("queue", [])},
        }
