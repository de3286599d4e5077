"""Bearer API keys for the OpenAI-compatible routes, kept in the tenant table.

A key is shown once, when it is created; the table holds only its sha256, as the item
``principal = "apikey:<sha256>"`` (never an IAM unique id, which has no ':'), with the
tenant whose quotas apply, a short id to name it by, and when it was created and revoked.
"""

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from voxflow.errors import InvalidParameter
from voxflow.tenants.issued import IssuedKey, listed, now, put_new
from voxflow.tenants.table import checked_tenant

KEY_PREFIX = "vfk_"
PRINCIPAL_PREFIX = "apikey:"
_KEY_ID_CHARS = 12


ApiKey = IssuedKey  # key_id: the first 12 hex digits of the key's sha256


@dataclass(frozen=True)
class KeyCheck:
    """A presented key: its tenant, or why it is refused."""

    tenant: str | None
    revoked: bool = False


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id_of(key: str) -> str:
    """The id `voxflow keys list` names ``key`` by (no secret: a prefix of its hash)."""
    return key_hash(key)[:_KEY_ID_CHARS]


class ApiKeys:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self.table = table

    def create(self, tenant: str) -> tuple[str, ApiKey]:
        """A new key (the only time it exists outside the caller) and its record."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        digest = key_hash(key)
        record = ApiKey(key_id_of(key), checked_tenant(tenant), now())
        put_new(self._dynamodb, self.table, PRINCIPAL_PREFIX + digest, record)
        return key, record

    def check(self, key: str) -> KeyCheck:
        item = self._dynamodb.get_item(
            TableName=self.table,
            Key={"principal": {"S": PRINCIPAL_PREFIX + key_hash(key)}},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return KeyCheck(None)
        if "revoked_at" in item:
            return KeyCheck(None, revoked=True)
        return KeyCheck(str(item["tenant"]["S"]))

    def records(self) -> list[ApiKey]:
        return listed(self._dynamodb, self.table, PRINCIPAL_PREFIX)

    def revoke(self, key_id: str) -> ApiKey | None:
        """Revokes the key with this id; None if there is none. The item stays, so a
        revoked key is told apart from an unknown one."""
        for page in self._dynamodb.get_paginator("scan").paginate(
            TableName=self.table,
            FilterExpression="key_id = :id AND begins_with(principal, :prefix)",
            ExpressionAttributeValues={
                ":id": {"S": key_id},
                ":prefix": {"S": PRINCIPAL_PREFIX},
            },
        ):
            for item in page.get("Items", []):
                revoked_at = item.get("revoked_at", {}).get("S") or now()
                self._dynamodb.update_item(
                    TableName=self.table,
                    Key={"principal": item["principal"]},
                    UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :at)",
                    ExpressionAttributeValues={":at": {"S": revoked_at}},
                )
                return ApiKey(
                    item["key_id"]["S"], item["tenant"]["S"], item["created_at"]["S"], revoked_at
                )
        if len(key_id) != _KEY_ID_CHARS:
            raise InvalidParameter(f"a key id is {_KEY_ID_CHARS} hex digits (voxflow keys list)")
        return None
