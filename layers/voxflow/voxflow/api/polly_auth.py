"""Who signed a Polly call: the signature checked in the function (voxflow.api.sigv4)
against the settings' credentials (the local stack's dummy pair) or a key `voxflow keys
create --sigv4` issued (voxflow.tenants.sigv4_keys), and the tenant it speaks for.
On AWS too: API Gateway's IAM authorizer refuses polly-scoped signatures (docs/api.md)."""

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from voxflow.api.polly import PollyError
from voxflow.api.sigv4 import SignatureRejected, SigV4Verifier
from voxflow.aws import AwsClients
from voxflow.events import DEFAULT_TENANT
from voxflow.tenants import TenantDirectory
from voxflow.tenants.sigv4_keys import SigV4Grant, SigV4Keys
from voxflow.ttl_cache import TtlCache


def signed_tenant(
    event: dict[str, Any],
    body: bytes,
    credentials: Mapping[str, str],
    sigv4_keys: SigV4Keys | None,
    tenants: TenantDirectory | None,
    *,
    known: TtlCache,
) -> str:
    """The tenant of a payload 2.0 ``event`` whose signature holds; PollyError if not.
    An issued key's tenant is its own; a settings key's is its binding in ``tenants``.
    ``known``: issued keys and bindings read within its time (revoked keys are not
    kept: they read as unknown)."""
    grants: dict[str, SigV4Grant] = {}

    def secret_of(access_key_id: str) -> str | None:
        if access_key_id in credentials:
            return credentials[access_key_id]
        try:
            grant = (
                known.get(
                    ("sigv4", access_key_id),
                    lambda: sigv4_keys.grant(access_key_id),
                    keep=lambda found: found is not None,
                )
                if sigv4_keys
                else None
            )
        except (BotoCoreError, ClientError):
            raise PollyError(
                "ServiceFailureException", "the keys cannot be read now; retry"
            ) from None
        if grant is not None:
            grants[access_key_id] = grant
        return grant.secret if grant else None

    try:
        principal = SigV4Verifier(secret_of).verify(
            event["requestContext"]["http"]["method"],
            event.get("rawPath", "/"),
            event.get("rawQueryString", ""),
            event.get("headers") or {},
            body,
        )
    except SignatureRejected as error:
        raise PollyError(error.code, str(error)) from None
    if principal in grants:
        return grants[principal].tenant
    bound = (
        known.get(("binding", principal), lambda: tenants.tenant_of(principal))
        if tenants is not None
        else None
    )
    return bound or DEFAULT_TENANT


def sigv4_keys_of(clients: AwsClients, tenants_table: str, secret_prefix: str) -> SigV4Keys | None:
    """The issued keys the function checks; None where the deployment has none."""
    if not (tenants_table and secret_prefix):
        return None
    return SigV4Keys(
        clients.dynamodb, clients.client("secretsmanager"), tenants_table, secret_prefix
    )
