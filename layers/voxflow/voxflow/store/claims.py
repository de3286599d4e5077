"""Chunks being made in this region, and the jobs waiting for them: the
``${AWS::StackName}-chunk-claims`` table (regional, never replicated).

Requests that share sentences and arrive together (a template with a different first
line, one article read by many) would each queue the same chunks: every copy a task
that waits in its lane behind the others and, once received, finds the chunk made and
only reports it. In the failover drill nine long texts queued ~170 such tasks, and the
last text's own first chunk waited 24 s behind them (benchmarks/NOTES.md, session 13).

So plan claims a chunk before it queues its task (``claim``). A job that finds the chunk
claimed by another is registered as a waiter on it, with the task it would have queued,
and queues nothing for it. The maker's synthesize step, once the chunk is stored and
counted, takes the claim away with its waiters (``release``) and reports the chunk to
each of them. A claim whose maker never comes back lapses after ``lease_s``: the next
claim takes it over, waiters and all, and a waiter left behind anyway (both its report
and its re-queue failed) is what the sweeper's lost-chunk rule exists for.

One item per chunk key: ``chunk_key`` (hash key), ``maker`` (request id), ``expires_at``
(epoch seconds: the lease, and the table's TTL attribute) and ``waiters`` (a list of the
waiting tasks' JSON).
"""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from voxflow.events import ChunkTask

__all__ = ["DEFAULT_LEASE_S", "ChunkClaims"]

# Long enough for a claimed task to wait out a failover's lanes and its retries; a maker
# that never reports is taken over after it.
DEFAULT_LEASE_S = 600
# A claim that went between a failed claim and the waiter's write: try again, then make it.
_ATTEMPTS = 3
_KEYS_PER_BATCH_GET = 100
# A long job's claims go out side by side: one by one they held plan ~1.5 s per long
# text under the failover drill's load (benchmarks/NOTES.md, session 13).
_CALLS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="voxflow-claims")


class ChunkClaims:
    def __init__(
        self,
        dynamodb: Any,
        table: str,
        *,
        lease_s: float = DEFAULT_LEASE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dynamodb = dynamodb
        self.table = table
        self._lease_s = lease_s
        self._clock = clock

    def claim_many(self, tasks: list[ChunkTask]) -> list[bool]:
        """``claim`` for each of ``tasks`` (one job's): the live claims read first, in
        one call per hundred keys, then the writes side by side. Each write is
        conditional, so a claim taken or released since the read is still decided
        right (``claim``'s loop)."""
        held = self._makers([task.chunk_key for task in tasks])
        return list(_CALLS.map(lambda task: self._decide(task, held.get(task.chunk_key)), tasks))

    def _decide(self, task: ChunkTask, maker: str | None) -> bool:
        if maker is not None and maker != task.request_id and self._wait(task):
            return False
        return self.claim(task)

    def claim(self, task: ChunkTask) -> bool:
        """True: ``task``'s job makes the chunk (the claim is its own, new or already);
        False: another job's live claim has it, and ``task`` waits on that claim."""
        for _ in range(_ATTEMPTS):
            if self._take(task):
                return True
            if self._wait(task):
                return False
        return True

    def release(self, chunk_key: str, maker: str) -> list[ChunkTask]:
        """Ends ``maker``'s claim on the chunk; the tasks that waited on it. None when the
        claim is not ``maker``'s (it lapsed and was taken over: the new maker reports)."""
        try:
            old = self._dynamodb.delete_item(
                TableName=self.table,
                Key={"chunk_key": {"S": chunk_key}},
                ConditionExpression="maker = :maker",
                ExpressionAttributeValues={":maker": {"S": maker}},
                ReturnValues="ALL_OLD",
            ).get("Attributes", {})
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return []
        return [
            ChunkTask.model_validate_json(waiter["S"])
            for waiter in old.get("waiters", {}).get("L", [])
        ]

    def _makers(self, keys: list[str]) -> dict[str, str]:
        """The makers of the live claims among ``keys`` (a key left unprocessed by the
        batch read is left out: its claim is then decided by the writes alone)."""
        now = self._clock()
        unique = list(dict.fromkeys(keys))
        makers: dict[str, str] = {}
        for start in range(0, len(unique), _KEYS_PER_BATCH_GET):
            response = self._dynamodb.batch_get_item(
                RequestItems={
                    self.table: {
                        "Keys": [
                            {"chunk_key": {"S": key}}
                            for key in unique[start : start + _KEYS_PER_BATCH_GET]
                        ],
                        "ConsistentRead": True,
                        "ProjectionExpression": "chunk_key, maker, expires_at",
                    }
                }
            )
            for item in response.get("Responses", {}).get(self.table, []):
                if float(item["expires_at"]["N"]) >= now:
                    makers[item["chunk_key"]["S"]] = item["maker"]["S"]
        return makers

    def _take(self, task: ChunkTask) -> bool:
        now = self._clock()
        try:
            self._dynamodb.update_item(
                TableName=self.table,
                Key={"chunk_key": {"S": task.chunk_key}},
                UpdateExpression="SET maker = :maker, expires_at = :until",
                ConditionExpression=(
                    "attribute_not_exists(maker) OR maker = :maker OR expires_at < :now"
                ),
                ExpressionAttributeValues={
                    ":maker": {"S": task.request_id},
                    ":until": {"N": str(int(now + self._lease_s))},
                    ":now": {"N": str(int(now))},
                },
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _wait(self, task: ChunkTask) -> bool:
        try:
            self._dynamodb.update_item(
                TableName=self.table,
                Key={"chunk_key": {"S": task.chunk_key}},
                UpdateExpression="SET waiters = list_append(if_not_exists(waiters, :none), :me)",
                ConditionExpression="attribute_exists(maker) AND expires_at >= :now",
                ExpressionAttributeValues={
                    ":none": {"L": []},
                    ":me": {"L": [{"S": task.model_dump_json()}]},
                    ":now": {"N": str(int(self._clock()))},
                },
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True
