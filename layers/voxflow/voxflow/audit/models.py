"""The audit table: one item per request, keyed by request id, queryable by tenant and time.

The key schema here is the template's (see docs/operations.md): hash key ``request_id``;
global secondary index ``tenant-at`` (hash ``tenant``, range ``at``, all attributes);
TTL attribute ``expires_at``. ``at`` is when the request was first seen, an ISO-8601
UTC string, so a range of times is a range of keys.
"""

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

TENANT_INDEX = "tenant-at"


class TenantTimeIndex(GlobalSecondaryIndex["AuditRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = TENANT_INDEX
        projection = AllProjection()

    tenant = UnicodeAttribute(hash_key=True)
    at = UTCDateTimeAttribute(range_key=True)


class AuditRecord(Model):
    """What happened to one request. Never its raw text, unless VOXFLOW_AUDIT_TEXT=1."""

    class Meta:
        table_name = "unbound"

    request_id = UnicodeAttribute(hash_key=True)
    tenant = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    by_tenant = TenantTimeIndex()
    # Written when plan first sees the request:
    text_sha256 = UnicodeAttribute(null=True)
    chars = NumberAttribute(null=True)
    voice = UnicodeAttribute(null=True)
    format = UnicodeAttribute(null=True)
    batch_id = UnicodeAttribute(null=True)
    text = UnicodeAttribute(null=True)
    # Written with the terminal event:
    status = UnicodeAttribute(null=True)  # completed, degraded or failed
    code = UnicodeAttribute(null=True)  # the SynthesisFailed code
    retryable = BooleanAttribute(null=True)
    cache = UnicodeAttribute(null=True)  # hit or miss
    region = UnicodeAttribute(null=True)
    # Stage name → seconds.
    timings: MapAttribute[str, float] = MapAttribute(null=True)  # type: ignore[no-untyped-call]
    finished_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


def create_audit_table(dynamodb: Any, name: str) -> None:
    """The table as template.yaml declares it, for stacks that lack it (tests, local)."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "request_id", "AttributeType": "S"},
            {"AttributeName": "tenant", "AttributeType": "S"},
            {"AttributeName": "at", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": TENANT_INDEX,
                "KeySchema": [
                    {"AttributeName": "tenant", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
