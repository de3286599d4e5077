"""The tenant table: which tenant each IAM principal sends direct SQS requests as.

SQS gives each message the sender's ``SenderId``: an IAM user's unique id
(``AIDA...``), or for a role ``<role id>:<session name>`` (``AROA...:...``). A binding
names the principal part, so every session of a bound role is its tenant. One item
per principal: ``principal`` (hash key), ``tenant``, ``bound_at``. In two regions it is
a global table, like the jobs: IAM ids are account-wide, and a binding holds in both.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import TypeAdapter, ValidationError

from voxflow.errors import InvalidParameter
from voxflow.events.models import Tenant

_TENANT: TypeAdapter[str] = TypeAdapter(Tenant)
# IAM unique ids are letters and digits; an account id (the root user) is digits.
_PRINCIPAL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_MAX_PRINCIPAL_CHARS = 128


def principal_of(sender_id: str) -> str:
    """The principal an SQS SenderId names: a role session counts as its role."""
    return sender_id.split(":", 1)[0]


class TenantDirectory(Protocol):
    def tenant_of(self, principal: str) -> str | None:
        """The tenant bound to ``principal``; None when it has no binding."""
        ...


@dataclass(frozen=True)
class Binding:
    principal: str
    tenant: str
    bound_at: str  # ISO 8601, UTC


class TenantTable:
    """The DynamoDB table behind the directory (``${AWS::StackName}-tenants``)."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self.table = table

    def tenant_of(self, principal: str) -> str | None:
        # Consistent: a binding (or its removal) holds from the next read on; plan reads
        # through a short cache (voxflow.tenants.cached).
        item = self._dynamodb.get_item(
            TableName=self.table,
            Key={"principal": {"S": principal}},
            ConsistentRead=True,
            ProjectionExpression="tenant",
        ).get("Item")
        return str(item["tenant"]["S"]) if item else None

    def bind(self, principal: str, tenant: str) -> Binding:
        binding = Binding(
            _checked_principal(principal), checked_tenant(tenant), datetime.now(UTC).isoformat()
        )
        self._dynamodb.put_item(
            TableName=self.table,
            Item={
                "principal": {"S": binding.principal},
                "tenant": {"S": binding.tenant},
                "bound_at": {"S": binding.bound_at},
            },
        )
        return binding

    def unbind(self, principal: str) -> Binding | None:
        """Removes the binding; returns it, or None if there was none."""
        old = self._dynamodb.delete_item(
            TableName=self.table,
            Key={"principal": {"S": _checked_principal(principal)}},
            ReturnValues="ALL_OLD",
        ).get("Attributes")
        return _binding(old) if old else None

    def bindings(self) -> list[Binding]:
        found: list[Binding] = []
        for page in self._dynamodb.get_paginator("scan").paginate(TableName=self.table):
            # API keys share the table (voxflow.tenants.api_keys): not bindings.
            found.extend(
                _binding(item)
                for item in page.get("Items", [])
                if ":" not in item["principal"]["S"]
            )
        return sorted(found, key=lambda binding: (binding.tenant, binding.principal))


def create_tenants_table(dynamodb: Any, name: str) -> None:
    """The table's keys as template.yaml declares them, for tests without a stack."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "principal", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "principal", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _binding(item: dict[str, Any]) -> Binding:
    return Binding(
        principal=item["principal"]["S"],
        tenant=item["tenant"]["S"],
        bound_at=item.get("bound_at", {}).get("S", ""),
    )


def _checked_principal(principal: str) -> str:
    if ":" in principal:
        raise InvalidParameter(
            f"bind the principal's unique id without a session name: {principal_of(principal)!r} "
            "(every session of a role is bound with it)"
        )
    if not principal or len(principal) > _MAX_PRINCIPAL_CHARS or set(principal) - _PRINCIPAL_CHARS:
        raise InvalidParameter(
            "a principal is an IAM unique id (AIDA... for a user, AROA... for a role; "
            "aws iam get-role --query Role.RoleId), letters and digits only"
        )
    return principal


def checked_tenant(tenant: str) -> str:
    try:
        return _TENANT.validate_python(tenant)
    except ValidationError:
        raise InvalidParameter(
            "a tenant is 1 to 64 letters, digits and _ . : - (the requests' tenant field)"
        ) from None
