"""Polly's synthesis tasks as the API started them: the ``${AWS::StackName}-tasks`` table.

One item per task: ``task_id`` (hash key; the request id of the task's job), ``tenant``
and ``created`` (the ``tenant-created`` index: a tenant's tasks, newest first), and
``task`` (the SynthesisTask fields fixed at the start, JSON). The status is not kept
here: it is the job's (voxflow.store.jobs), read when a task is shown, so the one
record the pipeline writes is the one the API reads. Items expire with ``expires_at``
(Polly keeps a task 72 hours).
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

TENANT_INDEX = "tenant-created"
TASK_TTL = timedelta(hours=72)


@dataclass(frozen=True)
class StoredTask:
    task_id: str
    tenant: str
    created: datetime
    fields: dict[str, Any]  # SynthesisTask's fields fixed at the start


@dataclass(frozen=True)
class TaskPage:
    tasks: list[StoredTask]
    # The key to continue after (DynamoDB's ExclusiveStartKey); None: the last page.
    last_key: dict[str, Any] | None


class TaskTable:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self.table = table

    def put(self, task: StoredTask) -> None:
        self._dynamodb.put_item(
            TableName=self.table,
            Item={
                "task_id": {"S": task.task_id},
                "tenant": {"S": task.tenant},
                "created": {"S": task.created.isoformat()},
                "task": {"S": json.dumps(task.fields)},
                "expires_at": {"N": str(int((task.created + TASK_TTL).timestamp()))},
            },
            ConditionExpression="attribute_not_exists(task_id)",
        )

    def delete(self, task_id: str) -> None:
        self._dynamodb.delete_item(TableName=self.table, Key={"task_id": {"S": task_id}})

    def get(self, task_id: str) -> StoredTask | None:
        item = self._dynamodb.get_item(
            TableName=self.table, Key={"task_id": {"S": task_id}}, ConsistentRead=True
        ).get("Item")
        return _stored(item) if item else None

    def page(self, tenant: str, limit: int, start: dict[str, Any] | None) -> TaskPage:
        """Up to ``limit`` of a tenant's tasks, newest first, after ``start``."""
        response = self._dynamodb.query(
            TableName=self.table,
            IndexName=TENANT_INDEX,
            KeyConditionExpression="tenant = :tenant",
            ExpressionAttributeValues={":tenant": {"S": tenant}},
            ScanIndexForward=False,
            Limit=limit,
            **({"ExclusiveStartKey": start} if start else {}),
        )
        return TaskPage(
            [_stored(item) for item in response.get("Items", [])],
            response.get("LastEvaluatedKey"),
        )


def index_key(task: StoredTask) -> dict[str, Any]:
    """The index key of ``task``: where a listing continues after it."""
    return {
        "task_id": {"S": task.task_id},
        "tenant": {"S": task.tenant},
        "created": {"S": task.created.isoformat()},
    }


def create_tasks_table(dynamodb: Any, name: str) -> None:
    """The table's keys and index as template.yaml declares them, for tests without a stack."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "task_id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "task_id", "AttributeType": "S"},
            {"AttributeName": "tenant", "AttributeType": "S"},
            {"AttributeName": "created", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": TENANT_INDEX,
                "KeySchema": [
                    {"AttributeName": "tenant", "KeyType": "HASH"},
                    {"AttributeName": "created", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def now() -> datetime:
    return datetime.now(UTC)


def _stored(item: dict[str, Any]) -> StoredTask:
    return StoredTask(
        task_id=item["task_id"]["S"],
        tenant=item["tenant"]["S"],
        created=datetime.fromisoformat(item["created"]["S"]),
        fields=json.loads(item["task"]["S"]),
    )
