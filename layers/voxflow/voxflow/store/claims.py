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
from voxflow.store.batch_read import KEYS_PER_CALL

__all__ = ["DEFAULT_LEASE_S", "ChunkClaims", "held_elsewhere"]

# Long enough for a claimed task to wait out a failover's lanes and its retries; a maker
# that never reports is taken over after it.
DEFAULT_LEASE_S = 600
# A claim that went between a failed claim and the waiter's write: try again, then make it.
_ATTEMPTS = 3
_KEYS_PER_TRANSACTION = 100
# Claims decided one by one (a transaction cancelled by a claim taken or released
# meanwhile) go out side by side.
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

    def claim_many(self, tasks: list[ChunkTask], held: dict[str, str]) -> list[bool]:
        """``claim`` for each of ``tasks`` (one job's), given the live claims on them
        (``held``, read moments ago): the free chunks taken and the held ones waited on,
        each in one transaction per hundred keys. A transaction a claim taken or released
        since the read cancels is decided task by task (``claim``'s loop)."""
        free = [task for task in tasks if not held_elsewhere(task, held)]
        busy = [task for task in tasks if held_elsewhere(task, held)]
        decided: dict[int, bool] = {}
        for by_key in _by_key(free):
            if self._together(by_key, self._take_update):
                decided.update((id(task), True) for same in by_key for task in same)
        for by_key in _by_key(busy):
            if self._together(by_key, self._wait_update):
                decided.update((id(task), False) for same in by_key for task in same)
        rest = [task for task in tasks if id(task) not in decided]
        decided.update(zip(map(id, rest), _CALLS.map(self.claim, rest), strict=True))
        return [decided[id(task)] for task in tasks]

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
        """Ends ``maker``'s claim on the chunk; the tasks that waited on it. No tasks when
        the claim is not ``maker``'s (it lapsed and was taken over: the new maker reports them)."""
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

    def held(self, keys: list[str]) -> dict[str, str]:
        """The makers of the live claims among ``keys``, in one call per hundred keys (a
        key the batch read leaves unprocessed is left out: the writes decide it)."""
        now = self._clock()
        unique = list(dict.fromkeys(keys))
        makers: dict[str, str] = {}
        for start in range(0, len(unique), KEYS_PER_CALL):
            response = self._dynamodb.batch_get_item(
                RequestItems={
                    self.table: {
                        "Keys": [
                            {"chunk_key": {"S": key}}
                            for key in unique[start : start + KEYS_PER_CALL]
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
        return self._conditional(self._take_update([task]))

    def _wait(self, task: ChunkTask) -> bool:
        return self._conditional(self._wait_update([task]))

    def _conditional(self, update: dict[str, Any]) -> bool:
        try:
            self._dynamodb.update_item(**update)
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _together(
        self, by_key: list[list[ChunkTask]], update: Callable[[list[ChunkTask]], Any]
    ) -> bool:
        """One transaction of ``update`` for each chunk's tasks in ``by_key``; False if it
        was cancelled (nothing written)."""
        try:
            self._dynamodb.transact_write_items(
                TransactItems=[{"Update": update(same)} for same in by_key]
            )
        except self._dynamodb.exceptions.TransactionCanceledException:
            return False
        return True

    def _take_update(self, tasks: list[ChunkTask]) -> dict[str, Any]:
        """The job of ``tasks`` (one chunk's) makes it: its claim, new or renewed."""
        now = self._clock()
        return {
            "TableName": self.table,
            "Key": {"chunk_key": {"S": tasks[0].chunk_key}},
            "UpdateExpression": "SET maker = :maker, expires_at = :until",
            "ConditionExpression": (
                "attribute_not_exists(maker) OR maker = :maker OR expires_at < :now"
            ),
            "ExpressionAttributeValues": {
                ":maker": {"S": tasks[0].request_id},
                ":until": {"N": str(int(now + self._lease_s))},
                ":now": {"N": str(int(now))},
            },
        }

    def _wait_update(self, tasks: list[ChunkTask]) -> dict[str, Any]:
        """``tasks`` (of one chunk) wait on its live claim."""
        return {
            "TableName": self.table,
            "Key": {"chunk_key": {"S": tasks[0].chunk_key}},
            "UpdateExpression": "SET waiters = list_append(if_not_exists(waiters, :none), :us)",
            "ConditionExpression": "attribute_exists(maker) AND expires_at >= :now",
            "ExpressionAttributeValues": {
                ":none": {"L": []},
                ":us": {"L": [{"S": task.model_dump_json()} for task in tasks]},
                ":now": {"N": str(int(self._clock()))},
            },
        }


def held_elsewhere(task: ChunkTask, held: dict[str, str]) -> bool:
    """Whether another job than ``task``'s holds the live claim on its chunk (``held``:
    as ``ChunkClaims.held`` read it)."""
    return held.get(task.chunk_key, task.request_id) != task.request_id


def _by_key(tasks: list[ChunkTask]) -> list[list[list[ChunkTask]]]:
    """``tasks`` by chunk key (a key's tasks together), in groups of at most a hundred
    keys: a transaction's limit."""
    same_key: dict[str, list[ChunkTask]] = {}
    for task in tasks:
        same_key.setdefault(task.chunk_key, []).append(task)
    keys = list(same_key.values())
    return [
        keys[start : start + _KEYS_PER_TRANSACTION]
        for start in range(0, len(keys), _KEYS_PER_TRANSACTION)
    ]
