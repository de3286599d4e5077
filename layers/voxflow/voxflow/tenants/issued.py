"""What the tenant table keeps of a key voxflow issues (bearer API keys, SigV4 keys):
the item ``principal = "<kind's prefix><...>"`` with the key's tenant, the id it is named
by, and when it was created and revoked. Never a secret: a bearer key is kept as its
hash in the principal, a SigV4 secret in Secrets Manager."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    tenant: str
    created_at: str
    revoked_at: str | None = None


def now() -> str:
    return datetime.now(UTC).isoformat()


def put_new(dynamodb: Any, table: str, principal: str, key: IssuedKey) -> None:
    """The new key's item; refused if ``principal`` exists already."""
    dynamodb.put_item(
        TableName=table,
        Item={
            "principal": {"S": principal},
            "tenant": {"S": key.tenant},
            "key_id": {"S": key.key_id},
            "created_at": {"S": key.created_at},
        },
        ConditionExpression="attribute_not_exists(principal)",
    )


def listed(dynamodb: Any, table: str, principal_prefix: str) -> list[IssuedKey]:
    """Every key of one kind, revoked ones included, by tenant and age."""
    found: list[IssuedKey] = []
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="begins_with(principal, :prefix)",
        ExpressionAttributeValues={":prefix": {"S": principal_prefix}},
    ):
        found.extend(key_of(item) for item in page.get("Items", []))
    return sorted(found, key=lambda key: (key.tenant, key.created_at))


def key_of(item: dict[str, Any]) -> IssuedKey:
    return IssuedKey(
        item["key_id"]["S"],
        item["tenant"]["S"],
        item["created_at"]["S"],
        item.get("revoked_at", {}).get("S"),
    )
