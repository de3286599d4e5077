"""Content policy (pattern file) and audit records (DynamoDB on moto server over HTTP)."""

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import voxflow.policy
from voxflow.audit import AuditLog, AuditSettings, create_audit_table
from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import StackTarget, VoxflowClient
from voxflow.config import Config
from voxflow.errors import ContentRejected, InvalidInput, SettingsError
from voxflow.events import SynthesisCompleted, SynthesisFailed
from voxflow.policy import PatternPolicy, policy_of
from voxflow.quotas import create_quotas_table
from voxflow_local.moto_server import MotoServer
from voxflow_local.stack import LocalStack

SAMPLE = Path(voxflow.policy.__file__).parent / "sample_blocklist.txt"


@pytest.fixture(scope="module")
def sample() -> PatternPolicy:
    return PatternPolicy.from_file(SAMPLE)


@pytest.mark.parametrize(
    "text",
    [
        "This is a forbidden phrase.",
        "THIS IS A FORBIDDEN PHRASE",
        "ｆｏｒｂｉｄｄｅｎ　ｐｈｒａｓｅ",  # full width: NFKC makes it plain
        "b l o c k l i s t e d",
        "B.L.O.C.K.L.I.S.T.E.D!",
        "Card 4111 1111 1111 1111, thanks.",
        "My number is 078-05-1120.",
    ],
)
def test_sample_policy_rejects(sample: PatternPolicy, text: str) -> None:
    decision = sample.check(text, "t")
    assert not decision.allowed
    assert decision.rule is not None
    assert decision.rule.startswith("sample_blocklist.txt:")


@pytest.mark.parametrize(
    "text",
    [
        "A perfectly ordinary sentence.",
        "Forbidden phrases are only whole matches: phrasebook forbiddenness.",
        "It costs $49.95 at 8:00 on 2024-05-01.",
        "Call 555-0100.",
    ],
)
def test_sample_policy_allows(sample: PatternPolicy, text: str) -> None:
    assert sample.check(text, "t").allowed


def test_rejection_is_final_and_never_echoes_the_text(sample: PatternPolicy) -> None:
    decision = sample.check("please say blocklisted now", "t")
    with pytest.raises(ContentRejected) as caught:
        decision.raise_if_rejected()
    error = caught.value
    assert error.code == "CONTENT_REJECTED"
    assert isinstance(error, InvalidInput)  # final: the pipeline does not retry it
    assert "blocklisted" not in str(error)
    assert decision.rule is not None
    assert decision.rule in str(error)


def test_policy_of(tmp_path: Path) -> None:
    assert policy_of(Config.load({})) is None
    rules = tmp_path / "rules.txt"
    rules.write_text("# comment\n\nre:\\bsecret-\\d+\\b\n")
    policy = policy_of(Config.load({"VOXFLOW_POLICY_FILE": str(rules)}))
    assert policy is not None
    assert len(policy) == 1
    assert policy.check("the code is SECRET-42", "t").rule == "rules.txt:3"
    rules.write_text("re:(unclosed\n")
    with pytest.raises(SettingsError):
        policy_of(Config.load({"VOXFLOW_POLICY_FILE": str(rules)}))
    with pytest.raises(SettingsError):
        policy_of(Config.load({"VOXFLOW_POLICY_FILE": str(tmp_path / "missing.txt")}))


def audit_log(moto: MotoServer, keep_text: bool = False) -> AuditLog:
    aws = AwsSettings.local(moto.url)
    name = f"audit-{uuid.uuid4().hex[:8]}"
    create_audit_table(AwsClients(aws).dynamodb, name)
    return AuditLog.bound(AuditSettings(name, keep_text=keep_text), aws)


def test_audit_record_has_facts_not_text_and_is_idempotent(moto: MotoServer) -> None:
    log = audit_log(moto)
    text = "Audit me, but keep my words private."

    def deliver() -> None:
        log.received("r1", tenant="acme", text=text, voice="joe", format="mp3", batch_id=None)
        log.finished(
            "r1",
            tenant="acme",
            status="completed",
            region="us-east-1",
            timings={"plan_s": 0.01, "total_s": 1.5},
            cache="miss",
        )

    deliver()
    first = log.get("r1")
    assert first is not None
    deliver()  # a redelivery writes the same again
    record = log.get("r1")
    assert record is not None

    assert record.text_sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert record.chars == len(text)
    assert record.text is None
    assert (record.tenant, record.voice, record.format) == ("acme", "joe", "mp3")
    assert (record.status, record.cache, record.region) == ("completed", "miss", "us-east-1")
    assert record.timings is not None
    assert record.timings.as_dict() == {"plan_s": 0.01, "total_s": 1.5}
    assert record.at == first.at  # the first sighting stays
    assert record.finished_at == first.finished_at
    assert record.expires_at is not None
    assert record.expires_at > datetime.now(UTC) + timedelta(days=89)


def test_audit_keeps_text_only_when_configured(moto: MotoServer) -> None:
    log = audit_log(moto, keep_text=True)
    log.received("r1", tenant="t", text="Keep me.", voice="joe", format="wav", batch_id="b")
    record = log.get("r1")
    assert record is not None
    assert record.text == "Keep me."
    assert record.batch_id == "b"


def test_failure_without_intake_and_query_by_tenant_and_time(moto: MotoServer) -> None:
    log = audit_log(moto)
    before = datetime.now(UTC)
    log.finished(
        "bad", tenant="acme", status="failed", region="r", timings={}, code="X", retryable=False
    )
    for index in range(3):
        log.received(
            f"a{index}", tenant="acme", text="hi", voice="joe", format="wav", batch_id=None
        )
        time.sleep(0.01)
    log.received("other", tenant="globex", text="hi", voice="joe", format="wav", batch_id=None)
    after = datetime.now(UTC)

    ids = [record.request_id for record in log.query("acme", before, after)]
    assert ids == ["bad", "a0", "a1", "a2"]  # oldest first, the other tenant left out
    assert [r.request_id for r in log.query("acme", after, after + timedelta(1))] == []
    failed = log.get("bad")
    assert failed is not None
    assert (failed.status, failed.code, failed.retryable) == ("failed", "X", False)
    assert failed.text_sha256 is None


def test_audit_settings_from_env() -> None:
    assert AuditSettings.of(Config.load({})) is None
    settings = AuditSettings.of(
        Config.load({"VOXFLOW_AUDIT_TABLE": "a", "VOXFLOW_AUDIT_TEXT": "1"})
    )
    assert settings == AuditSettings("a", keep_text=True, ttl_days=90)
    with pytest.raises(SettingsError):
        AuditSettings.of(Config.load({"VOXFLOW_AUDIT_TABLE": "a", "VOXFLOW_AUDIT_TEXT": "yes"}))


# End to end: template.yaml on moto server, the real handlers, quotas, policy and audit on.
QUOTAS_TABLE = "voxflow-quotas-e2e"
AUDIT_TABLE = "voxflow-audit-e2e"


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, AuditLog]]:
    folder = tmp_path_factory.mktemp("governed")
    quotas = folder / "quotas.json"
    quotas.write_text(
        json.dumps(
            {
                "tenants": {
                    # One request, then none for a long while.
                    "tiny": {"requests_burst": 1, "requests_per_s": 0.001},
                    # Never more than 10 characters at once.
                    "small": {"chars_burst": 10},
                }
            }
        )
    )
    env = {
        "VOXFLOW_QUOTAS_TABLE": QUOTAS_TABLE,
        "VOXFLOW_QUOTAS_FILE": str(quotas),
        "VOXFLOW_POLICY_FILE": str(SAMPLE),
        "VOXFLOW_AUDIT_TABLE": AUDIT_TABLE,
    }
    with LocalStack(retry_visibility_s=1, extra_env=env, log_dir=folder / "logs") as stack:
        # The functions build their clients lazily: the tables only need to exist in time.
        dynamodb = stack.client("dynamodb")
        create_quotas_table(dynamodb, QUOTAS_TABLE)
        create_audit_table(dynamodb, AUDIT_TABLE)
        aws = AwsSettings.local(stack.url, stack.region)
        yield stack, AuditLog.bound(AuditSettings(AUDIT_TABLE), aws)


@pytest.mark.slow
def test_quota_policy_and_audit_end_to_end(governed: tuple[LocalStack, AuditLog]) -> None:
    stack, audit = governed
    started = datetime.now(UTC)
    clients = AwsClients(AwsSettings.local(stack.url, stack.region))
    target = StackTarget.from_resources(stack.stack.resources)
    with VoxflowClient(clients, target) as client:
        texts = {
            "tiny-1": ("tiny", "Within the quota, maybe."),
            "tiny-2": ("tiny", "Over the quota, maybe."),
            "too_big": ("small", "Longer than ten characters."),
            "rejected": ("acme", "Say the forbidden phrase."),
        }
        ids = {name: client.publish(text, tenant=tenant) for name, (tenant, text) in texts.items()}
        outcomes = client.wait(list(ids.values()), timeout_s=120)
    results = {name: outcomes[request_id].terminal for name, request_id in ids.items()}

    # Tenant tiny has one token: whichever of its requests came first takes it.
    tiny = sorted([results["tiny-1"], results["tiny-2"]], key=lambda event: type(event).__name__)
    completed, throttled = tiny
    assert isinstance(completed, SynthesisCompleted)
    assert completed.degraded is False
    assert isinstance(throttled, SynthesisFailed)
    assert (throttled.code, throttled.retryable) == ("THROTTLED", True)
    too_big = results["too_big"]
    assert isinstance(too_big, SynthesisFailed)
    assert (too_big.code, too_big.retryable) == ("THROTTLED", False)
    rejected = results["rejected"]
    assert isinstance(rejected, SynthesisFailed)
    assert (rejected.code, rejected.retryable) == ("CONTENT_REJECTED", False)
    assert "forbidden" not in rejected.message

    # One audit record per request, with its outcome, hash and length, never its text.
    expected = {
        completed.request_id: ("completed", None, "miss"),
        throttled.request_id: ("failed", "THROTTLED", None),
        ids["too_big"]: ("failed", "THROTTLED", None),
        ids["rejected"]: ("failed", "CONTENT_REJECTED", None),
    }
    for name, request_id in ids.items():
        tenant, text = texts[name]
        record = audit.get(request_id)
        assert record is not None, name
        assert record.tenant == tenant
        assert (record.status, record.code, record.cache) == expected[request_id]
        assert record.text_sha256 == hashlib.sha256(text.encode()).hexdigest()
        assert record.chars == len(text)
        assert record.text is None
        assert record.region == stack.region
        assert record.timings is not None
        assert record.timings.as_dict()["total_s"] >= 0
    window = {r.request_id for r in audit.query("tiny", started, datetime.now(UTC))}
    assert window == {ids["tiny-1"], ids["tiny-2"]}
