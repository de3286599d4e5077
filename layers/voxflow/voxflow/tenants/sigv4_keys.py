"""SigV4 credentials for Polly's routes, issued by voxflow (docs/api.md, "Polly's routes
on AWS").

An unmodified Polly client signs for the service ``polly``, which API Gateway's IAM
authorizer refuses (it takes ``execute-api`` only), so the function checks those
signatures itself, and an HMAC is checked only by whoever holds the secret: it must be
recoverable, unlike a bearer key's hash. Each secret is therefore a Secrets Manager secret
``<prefix><access key id>`` (encrypted at rest, readable only by the API's role, with a
replica in the other region), and the tenant table holds the key's tenant and dates as
the item ``principal = "sigv4:<access key id>"``, read on every call: a revoked key is
refused from the next call on, in both regions.
"""

import contextlib
import logging
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from voxflow.errors import InvalidParameter
from voxflow.tenants.issued import IssuedKey, key_of, listed, now, put_new
from voxflow.tenants.table import checked_tenant

# AWS's shape: 20 upper-case letters and digits, 40-character secrets.
ACCESS_KEY_PREFIX = "VFXA"
_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_KEY_CHARS = 16
PRINCIPAL_PREFIX = "sigv4:"

logger = logging.getLogger(__name__)


SigV4Key = IssuedKey  # key_id: the access key id


@dataclass(frozen=True)
class SigV4Grant:
    """A presented access key id that may sign: its secret and its tenant."""

    secret: str
    tenant: str


class SigV4Keys:
    def __init__(self, dynamodb: Any, secretsmanager: Any, table: str, secret_prefix: str) -> None:
        """``secret_prefix``: the secrets' name prefix (``<stack>/api-sigv4/``)."""
        self._dynamodb = dynamodb
        self._secretsmanager = secretsmanager
        self.table = table
        self.secret_prefix = secret_prefix
        # A secret never changes (a new secret is a new key): kept for the process's
        # life, so a warm function reads Secrets Manager once per key.
        self._secrets: dict[str, str] = {}
        self._lock = threading.Lock()

    def create(self, tenant: str, replica_regions: Sequence[str] = ()) -> tuple[str, SigV4Key]:
        """A new access key id and secret (shown once) and its record."""
        access_key_id = ACCESS_KEY_PREFIX + "".join(
            secrets.choice(_KEY_ALPHABET) for _ in range(_KEY_CHARS)
        )
        secret = secrets.token_urlsafe(30)  # 40 characters
        record = SigV4Key(access_key_id, checked_tenant(tenant), now())
        replicas = [{"Region": region} for region in replica_regions]
        self._secretsmanager.create_secret(
            Name=self.secret_prefix + access_key_id,
            Description=f"voxflow SigV4 secret of {access_key_id} (tenant {record.tenant})",
            SecretString=secret,
            **({"AddReplicaRegions": replicas} if replicas else {}),
        )
        put_new(self._dynamodb, self.table, PRINCIPAL_PREFIX + access_key_id, record)
        return secret, record

    def grant(self, access_key_id: str) -> SigV4Grant | None:
        """The secret and tenant of a key that may sign now; None: unknown or revoked."""
        if not access_key_id.startswith(ACCESS_KEY_PREFIX):
            return None
        item = self._dynamodb.get_item(
            TableName=self.table,
            Key={"principal": {"S": PRINCIPAL_PREFIX + access_key_id}},
            ConsistentRead=True,
        ).get("Item")
        if item is None or "revoked_at" in item:
            return None
        with self._lock:
            secret = self._secrets.get(access_key_id)
        if secret is None:
            try:
                secret = str(
                    self._secretsmanager.get_secret_value(
                        SecretId=self.secret_prefix + access_key_id
                    )["SecretString"]
                )
            except self._secretsmanager.exceptions.ResourceNotFoundException:
                # Made without a replica here (keys create --replica-region): unusable
                # in this region, as an unknown key is.
                logger.warning("SigV4 key %s has no secret in this region", access_key_id)
                return None
            with self._lock:
                self._secrets[access_key_id] = secret
        return SigV4Grant(secret, str(item["tenant"]["S"]))

    def records(self) -> list[SigV4Key]:
        return listed(self._dynamodb, self.table, PRINCIPAL_PREFIX)

    def revoke(self, access_key_id: str) -> SigV4Key | None:
        """Revokes the key (its item stays, marked) and deletes its secret; None if there
        is no such key."""
        if not access_key_id.startswith(ACCESS_KEY_PREFIX):
            raise InvalidParameter(f"a SigV4 access key id starts with {ACCESS_KEY_PREFIX}")
        try:
            item = self._dynamodb.update_item(
                TableName=self.table,
                Key={"principal": {"S": PRINCIPAL_PREFIX + access_key_id}},
                UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :at)",
                ConditionExpression="attribute_exists(principal)",
                ExpressionAttributeValues={":at": {"S": now()}},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return None
        # Revoked before: its secret is gone already.
        with contextlib.suppress(self._secretsmanager.exceptions.ResourceNotFoundException):
            self._secretsmanager.delete_secret(
                SecretId=self.secret_prefix + access_key_id, ForceDeleteWithoutRecovery=True
            )
        return key_of(item)
