"""Cache isolation (VOXFLOW_CACHE_ISOLATION): keys shared by all tenants, or salted per tenant.

Plan and the sweeper in this process on moto server over HTTP; then template.yaml on
moto server with the real handlers and voice, once per mode.
"""

import dataclasses
import json
import urllib.request
from collections.abc import Iterator

import pytest
from plan_harness import plan_harness

from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import StackTarget, VoxflowClient
from voxflow.config import Config
from voxflow.engine.params import ResolvedParams
from voxflow.errors import SettingsError
from voxflow.events import SynthesisCompleted
from voxflow.keys import KeyInput, chunk_key, request_key
from voxflow.ops.sweeper import Sweeper, SweptJob
from voxflow.service_settings import CacheIsolation, ServiceSettings
from voxflow.store import Job
from voxflow.store.models import bind
from voxflow.voices import VoiceRegistry
from voxflow_local.moto_server import MotoServer
from voxflow_local.stack import LocalStack

TEXT = "Tell nobody what we said. It stays between us."
REQUIRED_ENV = {
    "VOXFLOW_BUS_NAME": "bus",
    "VOXFLOW_CHUNKS_QUEUE_URL": "chunks",
    "VOXFLOW_BUCKET": "bucket",
    "VOXFLOW_CACHE_TABLE": "cache",
    "VOXFLOW_JOBS_TABLE": "jobs",
}


def keys(job: Job) -> tuple[str, list[str]]:
    return job.key, list(job.chunk_keys)


def test_the_setting_is_read_and_checked() -> None:
    assert ServiceSettings.of(Config.load(REQUIRED_ENV)).cache_isolation is CacheIsolation.SHARED
    isolated = ServiceSettings.of(
        Config.load({**REQUIRED_ENV, "VOXFLOW_CACHE_ISOLATION": "tenant"})
    )
    assert isolated.cache_isolation is CacheIsolation.TENANT
    with pytest.raises(SettingsError, match="VOXFLOW_CACHE_ISOLATION"):
        ServiceSettings.of(Config.load({**REQUIRED_ENV, "VOXFLOW_CACHE_ISOLATION": "private"}))


def test_shared_keys_are_every_tenants_and_as_before(
    moto: MotoServer, registry: VoiceRegistry
) -> None:
    harness = plan_harness(moto.url, registry, cache_isolation=CacheIsolation.SHARED)
    alpha = harness.plan(TEXT, tenant="alpha", format="wav")
    beta = harness.plan(TEXT, tenant="beta", format="wav")
    assert len(alpha.chunk_keys) == 2
    assert keys(beta) == keys(alpha)
    # The keys plan made before the setting existed: a shared cache stays warm.
    voice = registry.get("joe")
    resolved = ResolvedParams(**json.loads(alpha.params_json))
    made = KeyInput(TEXT, voice.voice_id, voice.model_version, resolved, voice.sample_rate)
    assert alpha.key == request_key(made, "wav")
    first_sentence = dataclasses.replace(made, text="Tell nobody what we said.")
    assert alpha.chunk_keys[0] == chunk_key(first_sentence)


def test_tenant_keys_are_the_tenants_own(moto: MotoServer, registry: VoiceRegistry) -> None:
    harness = plan_harness(moto.url, registry, cache_isolation=CacheIsolation.TENANT)
    alpha = harness.plan(TEXT, tenant="alpha", format="wav")
    beta = harness.plan(TEXT, tenant="beta", format="wav")
    alpha_again = harness.plan(TEXT, tenant="alpha", format="wav")
    assert keys(alpha_again) == keys(alpha)  # a tenant's own repeat still hits
    assert alpha.key != beta.key
    assert set(alpha.chunk_keys).isdisjoint(beta.chunk_keys)
    shared = plan_harness(moto.url, registry).plan(TEXT, tenant="alpha", format="wav")
    assert alpha.key != shared.key
    assert set(alpha.chunk_keys).isdisjoint(shared.chunk_keys)
    # The chunk tasks carry the salted keys the synthesize step stores audio under.
    assert {task.chunk_key for task in harness.outbox.tasks} == {
        *alpha.chunk_keys,
        *beta.chunk_keys,
    }


def test_sweeper_requeues_a_tenant_keyed_job(moto: MotoServer, registry: VoiceRegistry) -> None:
    """The sweeper makes a lost chunk task again only if it gets the job's own key."""
    harness = plan_harness(moto.url, registry, cache_isolation=CacheIsolation.TENANT)
    job = harness.plan(TEXT, tenant="alpha", format="wav")
    planned = list(harness.outbox.tasks)
    harness.outbox.tasks.clear()  # lost on the way
    aws = AwsSettings.local(moto.url)
    jobs = bind(SweptJob, harness.pipeline.settings.jobs_table, aws)
    report = Sweeper(harness.pipeline, jobs).sweep(older_than_s=0)
    assert report.requeued == {job.request_id: [0, 1]}
    assert harness.outbox.tasks == planned


@pytest.fixture(scope="module", params=["shared", "tenant"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalStack, str]]:
    """A stack per mode; shared as the template's default, tenant as its parameter."""
    isolation: str = request.param
    parameters = {"CacheIsolation": isolation} if isolation != "shared" else {}
    with LocalStack(
        functions=["PlanFunction", "SynthesizeFunction"],
        parameters=parameters,
        retry_visibility_s=1,
        log_dir=tmp_path_factory.mktemp(f"isolation-{isolation}"),
    ) as local:
        yield local, isolation


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        data: bytes = response.read()
        return data


@pytest.mark.slow
def test_another_tenants_identical_request(stack: tuple[LocalStack, str]) -> None:
    """shared: a hit on tenant alpha's audio; tenant: a miss that makes the same audio."""
    local, isolation = stack
    clients = AwsClients(AwsSettings.local(local.url, local.region))
    target = StackTarget.from_resources(local.stack.resources)
    silent = {"noise_scale": 0.0, "noise_w": 0.0}  # the same audio whenever it is made
    with VoxflowClient(clients, target) as client:
        first = client.synthesize(TEXT, tenant="alpha", format="wav", params=silent).terminal
        second = client.synthesize(TEXT, tenant="beta", format="wav", params=silent).terminal
        again = client.synthesize(TEXT, tenant="beta", format="wav", params=silent).terminal
    assert isinstance(first, SynthesisCompleted), first
    assert isinstance(second, SynthesisCompleted), second
    assert isinstance(again, SynthesisCompleted), again
    assert first.cache == "miss"
    assert again.cache == "hit"  # beta's own repeat hits in either mode
    if isolation == "tenant":
        assert second.cache == "miss"
        assert second.key != first.key
    else:
        assert second.cache == "hit"
        assert second.key == first.key
    assert download(second.url) == download(first.url)
