"""Which tenant sent a request, and the request held to it (docs/operations.md, "Tenants").

A request's ``tenant`` field is a claim; the sender's identity decides:

1. An SQS sender bound in the tenant table (a direct send by a tenant's principal) is
   that tenant, whatever its body says, an envelope-shaped body too: a bound principal
   cannot pass its message off as another tenant's EventBridge delivery.
2. Otherwise a body that is an EventBridge envelope is the tenant its ``source``
   names: ``voxflow.tenant.<id>``, or ``voxflow.client`` for the default tenant. On AWS
   IAM's ``events:source`` condition (TenantPublisherPolicy) keeps a publisher to its
   own tenant's source; locally nothing does (moto enforces no IAM), and this check
   of the source is what stands in.
3. Anything else, an unbound sender's plain body or an envelope with a source no
   tenant has, is the default tenant: the identity every unauthenticated caller
   already shares, so it reaches no other tenant's quota, audit trail or label.

A request that names another tenant fails ``TENANT_MISMATCH``; one that names none
takes the authenticated tenant.
"""

import json
from dataclasses import dataclass

from voxflow.errors import TenantMismatch
from voxflow.events import (
    DEFAULT_TENANT,
    InvalidRequest,
    ItemRequest,
    ParsedBatch,
    SynthesisRequested,
    detail_type,
    is_envelope,
    parse_request_items,
    request_source,
    source_tenant,
)
from voxflow.tenants import TenantDirectory, principal_of


class TenantMismatchRequest(TenantMismatch, InvalidRequest):
    """One item's TENANT_MISMATCH, addressed like a rejected item so that it is answered."""

    def __init__(self, declared: str, authenticated: str, item: ItemRequest) -> None:
        super().__init__(declared, authenticated)
        self.request_id = item.request_id
        self.tenant = authenticated
        self.metadata = dict(item.metadata)
        self.reply_to = item.reply_to


@dataclass(frozen=True)
class Sender:
    """The tenant a message comes from; ``bound``: authenticated by the tenant table."""

    tenant: str
    bound: bool = False

    def parse(self, body: str, *, default_request_id: str) -> ParsedBatch:
        """parse_request_items, held to this sender: every item is this tenant's, and a
        request naming another tenant is rejected item by item (TENANT_MISMATCH). A body
        that does not parse raises InvalidRequest, labelled with this tenant."""
        try:
            parsed = parse_request_items(body, default_request_id=default_request_id)
        except InvalidRequest as error:
            error.tenant = self.tenant
            raise
        for rejected in parsed.rejected:
            rejected.tenant = self.tenant
        request = parsed.request
        if request is None:
            return parsed
        if "tenant" not in request.model_fields_set or request.tenant == self.tenant:
            own = request.model_copy(update={"tenant": self.tenant})
            return ParsedBatch(own, parsed.rejected, parsed.batch_id)
        mismatched = [
            TenantMismatchRequest(request.tenant, self.tenant, item) for item in request.expand()
        ]
        batch_id = request.request_id if request.is_batch else None
        return ParsedBatch(None, [*parsed.rejected, *mismatched], batch_id)

    def vouched(self, body: str) -> str:
        """The body to send again (standby) so that it authenticates as this sender once
        more, though the service itself sends it: a bound sender's request goes as an
        envelope with its tenant's source. Any other body authenticates the same way
        again as it is."""
        if not self.bound:
            return body
        document = _document(body)
        if not isinstance(document, dict):
            return body  # it does not parse: it fails whoever sends it
        envelope = (
            document
            if is_envelope(document)
            else {"detail-type": detail_type(SynthesisRequested), "detail": document}
        )
        return json.dumps({**envelope, "source": request_source(self.tenant)})


def identify(body: str, sender_id: str | None, directory: TenantDirectory | None) -> Sender:
    """The sender of a requests-queue message: its SQS ``SenderId`` (the record's
    ``attributes.SenderId``) through the tenant table, else its envelope's source."""
    if sender_id and directory is not None:
        tenant = directory.tenant_of(principal_of(sender_id))
        if tenant is not None:
            return Sender(tenant, bound=True)
    document = _document(body)
    if is_envelope(document):
        tenant = source_tenant(document.get("source"))
        if tenant is not None:
            return Sender(tenant)
    return Sender(DEFAULT_TENANT)


def _document(body: str) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None
