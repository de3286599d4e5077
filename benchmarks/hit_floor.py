"""The floor of a hit on the event path: the calls any hit must make, in the fewest rounds.

Under the rules a hit keeps (exactly one terminal event per request, however many
deliveries of it run at once; quota charged once; the audit record written; a stale
request still guarded), plan's calls cannot be fewer than three rounds:
1. the cache index and the tenant's quota item, in one consistent BatchGetItem of both
   tables: the event names the cached audio, so the index is read before anything is
   written;
2. one TransactWriteItems: the job created terminal on condition that none exists (the
   one-winner guard), the quota item saved on condition of its version, the audit
   record: nothing may be sent before this wins;
3. the result event to the service's bus (PutEvents) || the reply (SendMessage).
These are made here with plain boto3 clients straight to the local stack's moto server
(its own tables and bus), no product code between: what 15 ms of service time is up
against on this machine's moto. The items are copies of a real hit's (its job, its
audit record, its tenant's quota item: the same attributes and sizes) under new ids;
the reply queue is this floor's own (deleted after); the bus event's detail type is
one no rule routes.
"""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config

from voxflow_local.stack import LocalStack

ROUNDS = "index and quota read, transaction (job, quota, audit), bus || reply"
ROUND_NAMES = (
    "BatchGetItem (index, quota item)",
    "TransactWriteItems (job, quota item, audit record)",
    "PutEvents (bus) || SendMessage (reply)",
)
Item = dict[str, Any]


class HitFloor:
    def __init__(self, stack: LocalStack, request_id: str) -> None:
        """``request_id``: a hit's, whose job, audit record and quota item are copied."""
        dummy = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        config = Config(max_pool_connections=4, retries={"max_attempts": 1})
        at = {"endpoint_url": stack.url, "region_name": stack.region, "config": config}
        self._dynamodb = boto3.client("dynamodb", **at, **dummy)
        self._events = boto3.client("events", **at, **dummy)
        self._sqs = boto3.client("sqs", **at, **dummy)
        resources = stack.stack.resources
        self._cache, self._jobs = resources["CacheTable"], resources["JobsTable"]
        self._quotas, self._audit = resources["QuotasTable"], resources["AuditTable"]
        self._bus = resources["EventBus"].rsplit("/", 1)[-1]
        self._job = self._item(self._jobs, "request_id", request_id)
        self._record = self._item(self._audit, "request_id", request_id)
        self._quota = self._item(self._quotas, "tenant", self._job["tenant"]["S"])
        self._key, self._event = self._job["key"]["S"], self._job["result_json"]["S"]
        self._tenant = f"floor-{uuid.uuid4().hex[:8]}"
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="hit-floor")
        self._replies = ""
        self._count = 0

    def _item(self, table: str, name: str, value: str) -> Item:
        found: Item = self._dynamodb.get_item(
            TableName=table, Key={name: {"S": value}}, ConsistentRead=True
        )["Item"]
        return found

    def __enter__(self) -> "HitFloor":
        name = f"voxflow-floor-hit-{uuid.uuid4().hex[:8]}"
        self._replies = self._sqs.create_queue(QueueName=name)["QueueUrl"]
        self._dynamodb.put_item(
            TableName=self._quotas, Item={**self._quota, "tenant": {"S": self._tenant}}
        )
        return self

    def __exit__(self, *_: object) -> None:
        self._sqs.delete_queue(QueueUrl=self._replies)
        self._pool.shutdown()

    def hit_s(self) -> tuple[float, float, float]:
        """One hit's calls: each round's seconds (ROUND_NAMES)."""
        self._count += 1
        request_id = f"{self._tenant}-{self._count}"
        started = time.perf_counter()
        # Round 1: the index (the request's key and one more, as a hit reads its
        # chunk's too) and the quota item, in one call.
        keys = [{"key": {"S": self._key}}, {"key": {"S": f"{self._key}-chunk"}}]
        tenant = [{"tenant": {"S": self._tenant}}]
        read = self._dynamodb.batch_get_item(
            RequestItems={
                self._cache: {"Keys": keys, "ConsistentRead": True},
                self._quotas: {"Keys": tenant, "ConsistentRead": True},
            }
        )
        quota_item: Item = read["Responses"][self._quotas][0]
        read = time.perf_counter()
        # Round 2: the one conditional write.
        self._dynamodb.transact_write_items(TransactItems=self._transaction(request_id, quota_item))
        written = time.perf_counter()
        # Round 3: the bus || the reply.
        reply = self._pool.submit(
            self._sqs.send_message, QueueUrl=self._replies, MessageBody=self._event
        )
        self._events.put_events(
            Entries=[
                {
                    "Source": "voxflow",
                    "DetailType": "FloorCompleted",
                    "Detail": self._event,
                    "EventBusName": self._bus,
                }
            ]
        )
        reply.result()
        return read - started, written - read, time.perf_counter() - written

    def _transaction(self, request_id: str, quota: Item) -> list[dict[str, Any]]:
        job = {**self._job, "request_id": {"S": request_id}, "tenant": {"S": self._tenant}}
        job.pop("terminal_sent", None)
        record = {**self._record, "request_id": {"S": request_id}}
        version = quota["version"]["N"]
        # The whole quota item put on condition of the version read, as pynamodb's save.
        charged = {**quota, "version": {"N": str(int(version) + 1)}}
        return [
            {
                "Put": {
                    "TableName": self._jobs,
                    "Item": job,
                    "ConditionExpression": "attribute_not_exists(request_id)",
                }
            },
            {
                "Put": {
                    "TableName": self._quotas,
                    "Item": charged,
                    "ConditionExpression": "#v = :v",
                    "ExpressionAttributeNames": {"#v": "version"},
                    "ExpressionAttributeValues": {":v": {"N": version}},
                }
            },
            {"Put": {"TableName": self._audit, "Item": record}},
        ]
