"""Tenants are authenticated, not declared: the decision (voxflow.pipeline.tenancy) with an
in-memory directory, and the tenant table (voxflow.tenants) on moto server over HTTP."""

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from voxflow.aws import AwsClients, AwsSettings
from voxflow.errors import InvalidParameter, TenantMismatch
from voxflow.events import (
    InvalidRequest,
    SynthesisRequested,
    request_source,
    source_tenant,
    to_event_entry,
)
from voxflow.pipeline.tenancy import Sender, identify
from voxflow.tenants import TenantTable, create_tenants_table
from voxflow.tenants.cached import CachedDirectory
from voxflow_local.moto_server import MotoServer

ROLE = "AROAEXAMPLEROLEID0001"  # a role's unique id; its sessions send as ROLE:<session>
REPLIES = "https://sqs.us-east-1.amazonaws.com/123456789012/voxflow-replies-x"


class Bindings(dict[str, str]):
    """The directory protocol over a dict: principal -> tenant."""

    def tenant_of(self, principal: str) -> str | None:
        return self.get(principal)


def envelope(detail: dict[str, Any], source: str) -> str:
    return json.dumps(
        {"id": "e-1", "source": source, "detail-type": "SynthesisRequested", "detail": detail}
    )


# ---- who sent it ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "tenant"),
    [
        ("voxflow.tenant.acme", "acme"),
        ("voxflow.tenant.a.b:c", "a.b:c"),
        ("voxflow.client", "default"),
        # Sources the rule does not route (or no tenant can have): the default tenant.
        ("voxflow", "default"),
        ("voxflow.tenant.", "default"),
        ("voxflow.tenant.bad id", "default"),
        ("voxflow.tenants.acme", "default"),
    ],
)
def test_an_event_is_the_tenant_its_source_names(source: str, tenant: str) -> None:
    body = envelope({"text": "Hi."}, source)
    assert identify(body, "AIDAEVENTBRIDGE", Bindings()) == Sender(tenant)
    assert identify(body, None, None) == Sender(tenant)


def test_a_bound_sender_is_its_tenant_whatever_the_body_says() -> None:
    bindings = Bindings({ROLE: "acme"})
    # Every session of the bound role; a plain body or one posing as another's event.
    for body in (json.dumps({"text": "Hi."}), envelope({"text": "Hi."}, "voxflow.tenant.b")):
        assert identify(body, f"{ROLE}:app-session", bindings) == Sender("acme", bound=True)
        assert identify(body, ROLE, bindings) == Sender("acme", bound=True)


def test_an_unbound_direct_sender_is_the_default_tenant() -> None:
    body = json.dumps({"text": "Hi.", "tenant": "acme"})
    assert identify(body, "AIDAOTHER", Bindings({ROLE: "acme"})) == Sender("default")
    assert identify(body, None, None) == Sender("default")
    assert identify("not json {", ROLE, None) == Sender("default")


# ---- the request held to its sender -------------------------------------------------


def test_a_request_without_a_tenant_takes_the_senders() -> None:
    parsed = Sender("acme").parse(json.dumps({"text": "Hi."}), default_request_id="sqs-1")
    assert parsed.request is not None
    assert [item.tenant for item in parsed.request.expand()] == ["acme"]
    assert parsed.rejected == []


def test_a_request_naming_its_own_tenant_is_planned() -> None:
    body = envelope({"request_id": "r1", "text": "Hi.", "tenant": "acme"}, "voxflow.tenant.acme")
    parsed = identify(body, None, None).parse(body, default_request_id="sqs-1")
    assert parsed.request is not None
    assert parsed.request.tenant == "acme"
    assert parsed.rejected == []


def test_a_request_naming_another_tenant_fails_tenant_mismatch_at_its_reply_target() -> None:
    detail = {
        "request_id": "r1",
        "tenant": "b",
        "text": "Hi.",
        "metadata": {"order": 7},
        "reply_to": {"queue_url": REPLIES},
    }
    parsed = Sender("a").parse(envelope(detail, "voxflow.tenant.a"), default_request_id="x")
    assert parsed.request is None
    (rejected,) = parsed.rejected
    assert isinstance(rejected, TenantMismatch)
    assert isinstance(rejected, InvalidRequest)
    assert rejected.code == "TENANT_MISMATCH"
    # Answered as the tenant that sent it, where it asked, with its own id.
    assert (rejected.request_id, rejected.tenant, rejected.metadata) == ("r1", "a", {"order": 7})
    assert rejected.reply_to is not None
    assert rejected.reply_to.queue_url == REPLIES
    assert (rejected.declared, rejected.authenticated) == ("b", "a")
    assert parsed.batch_id is None
    # Declaring the default tenant is a declaration too.
    default = Sender("a").parse(
        json.dumps({"tenant": "default", "text": "Hi."}), default_request_id="x"
    )
    assert [error.code for error in default.rejected] == ["TENANT_MISMATCH"]


def test_a_mismatched_batch_fails_every_item_by_its_result_id() -> None:
    body = json.dumps(
        {
            "request_id": "b1",
            "tenant": "b",
            "items": [{"text": "One."}, {"text": "Two.", "item_id": "two"}, {"text": 5}],
        }
    )
    parsed = Sender("a").parse(body, default_request_id="x")
    assert parsed.request is None
    codes = {str(error.request_id): error.code for error in parsed.rejected}
    assert codes == {
        "b1:2": "INVALID_REQUEST",
        "b1:0": "TENANT_MISMATCH",
        "b1:two": "TENANT_MISMATCH",
    }
    assert {error.tenant for error in parsed.rejected} == {"a"}
    assert parsed.batch_id == "b1"


def test_a_body_that_does_not_parse_is_labelled_with_its_sender() -> None:
    with pytest.raises(InvalidRequest) as raised:
        Sender("a").parse(json.dumps({"tenant": "b", "text": ""}), default_request_id="x")
    assert raised.value.code == "INVALID_REQUEST"
    assert raised.value.tenant == "a"


# ---- sent again by the service (standby) ---------------------------------------------


def test_a_bound_senders_request_sent_again_by_the_service_stays_its_tenants() -> None:
    bindings = Bindings({ROLE: "acme"})
    plain = json.dumps({"request_id": "r1", "text": "Hi."})
    posing = envelope({"request_id": "r2", "text": "Hi."}, "voxflow.tenant.b")
    for body in (plain, posing):
        sender = identify(body, f"{ROLE}:s", bindings)
        again = sender.vouched(body)
        # The service's own role is not bound: the envelope's source decides.
        assert identify(again, "AROASERVICEROLE:plan", bindings) == Sender("acme")
        parsed = Sender("acme").parse(again, default_request_id="x")
        original = Sender("acme").parse(body, default_request_id="x")
        assert parsed.request == original.request
    # Unbound senders' bodies authenticate the same way again as they are.
    event = envelope({"text": "Hi."}, "voxflow.tenant.b")
    assert Sender("b").vouched(event) == event


# ---- sources ------------------------------------------------------------------------


def test_request_sources_name_their_tenant() -> None:
    for tenant in ("default", "acme", "a.b:c-d_e"):
        assert source_tenant(request_source(tenant)) == tenant
    assert request_source("default") == "voxflow.client"
    entry = to_event_entry(SynthesisRequested(text="Hi.", tenant="acme"), "bus")
    assert entry["Source"] == "voxflow.tenant.acme"
    assert to_event_entry(SynthesisRequested(text="Hi."), "bus")["Source"] == "voxflow.client"


# ---- the tenant table ---------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_clients() -> Iterator[AwsClients]:
    with MotoServer() as moto:
        yield AwsClients(AwsSettings.local(moto.url))


def test_tenant_table_binds_lists_and_unbinds(moto_clients: AwsClients) -> None:
    name = f"tenants-{uuid.uuid4().hex[:8]}"
    create_tenants_table(moto_clients.dynamodb, name)
    table = TenantTable(moto_clients.dynamodb, name)
    assert table.tenant_of(ROLE) is None
    table.bind(ROLE, "acme")
    table.bind("AIDAUSER0001", "globex")
    table.bind("AIDAUSER0002", "acme")
    assert table.tenant_of(ROLE) == "acme"
    assert [(b.principal, b.tenant) for b in table.bindings()] == [
        ("AIDAUSER0002", "acme"),
        (ROLE, "acme"),
        ("AIDAUSER0001", "globex"),
    ]
    table.bind(ROLE, "globex")  # binding again moves the principal
    assert table.tenant_of(ROLE) == "globex"
    removed = table.unbind(ROLE)
    assert removed is not None
    assert removed.tenant == "globex"
    assert table.unbind(ROLE) is None
    assert table.tenant_of(ROLE) is None
    # The decision reads it as the directory.
    table.bind("AIDAUSER0003", "initech")
    assert identify("{}", "AIDAUSER0003", table) == Sender("initech", bound=True)


@pytest.mark.parametrize(
    ("principal", "tenant"),
    [(f"{ROLE}:session", "acme"), ("", "acme"), ("arn:aws:iam::1:role/x", "acme"), (ROLE, "a b")],
)
def test_tenant_table_refuses_what_no_sender_id_or_tenant_can_be(
    principal: str, tenant: str
) -> None:
    with pytest.raises(InvalidParameter):
        TenantTable(object(), "unused").bind(principal, tenant)


def test_the_cached_directory_sees_a_binding_change_within_its_ttl_and_not_before() -> None:
    bindings, now = Bindings({ROLE: "acme"}), [0.0]
    cached = CachedDirectory(bindings, ttl_s=5.0, clock=lambda: now[0])
    assert cached.tenant_of(ROLE) == "acme"
    assert cached.tenant_of("AIDAUNBOUND") is None
    bindings[ROLE] = "globex"
    bindings["AIDAUNBOUND"] = "initech"
    now[0] = 4.9  # within the ttl: the answers read at 0
    assert (cached.tenant_of(ROLE), cached.tenant_of("AIDAUNBOUND")) == ("acme", None)
    now[0] = 5.0
    assert (cached.tenant_of(ROLE), cached.tenant_of("AIDAUNBOUND")) == ("globex", "initech")
    uncached = CachedDirectory(bindings, ttl_s=0.0, clock=lambda: now[0])
    assert uncached.tenant_of(ROLE) == "globex"
    del bindings[ROLE]
    assert uncached.tenant_of(ROLE) is None
