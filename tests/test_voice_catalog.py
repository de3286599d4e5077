"""Catalog voices: the checks `voices add` makes, speakers, on-demand loading (one
download per process, sha256 verified, LRU within a memory budget), disabling and
replacing, and the catalog on moto server with joe's real model under another id.

The multi-speaker model is made here with onnx's helper API (tests/voice_fixtures.py):
a Piper VITS model's inputs and outputs, a few hundred bytes, loaded by the real engine.
"""

import dataclasses
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from plan_harness import plan_harness
from voice_fixtures import (
    SPEAKERS,
    MemoryVoiceFiles,
    entry_for,
    joe_copy,
    multi_speaker_model,
    multi_speaker_voice,
)

from voxflow.aws import AwsClients, AwsSettings
from voxflow.cli.voices import add_voice
from voxflow.config import Config
from voxflow.engine import Engine, SynthesisParams
from voxflow.errors import (
    InvalidParameter,
    UnknownVoice,
    VoiceDisabled,
    VoiceHashMismatch,
    VoiceLoadError,
    VoiceTaken,
)
from voxflow.keys import KeyInput, chunk_key
from voxflow.pipeline.failures import is_final
from voxflow.pipeline.observe import NullMeter
from voxflow.settings import EngineSettings
from voxflow.voices import VoiceRegistry
from voxflow.voices.cached import CachedCatalog
from voxflow.voices.catalog import CatalogEntry, MemoryCatalog, VoicesTable, create_voices_table
from voxflow.voices.check import check_voice
from voxflow.voices.deployment import deployment_registry
from voxflow.voices.loader import SESSION_MEMORY_FACTOR, VoiceLoader
from voxflow.voices.store import VoiceObjects
from voxflow_local.moto_server import MotoServer

TEXT = "Hello there, general."


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return multi_speaker_voice(tmp_path_factory.mktemp("trio"))


class RecordingMeter(NullMeter):
    def __init__(self) -> None:
        self.seconds_of: dict[str, list[float]] = {}

    def seconds(self, name: str, value: float) -> None:
        self.seconds_of.setdefault(name, []).append(value)


def catalog_registry(
    entries: list[CatalogEntry],
    files: MemoryVoiceFiles,
    local: Path,
    budget_bytes: int = 1 << 30,
) -> tuple[VoiceRegistry, VoiceLoader]:
    loader = VoiceLoader(files, local)
    registry = VoiceRegistry().with_catalog(MemoryCatalog(entries), loader, budget_bytes)
    return registry, loader


def published(
    trio: tuple[Path, Path], *voice_ids: str, delay_s: float = 0.0
) -> tuple[list[CatalogEntry], MemoryVoiceFiles]:
    files = MemoryVoiceFiles(delay_s)
    entries = [entry_for(voice_id, *trio) for voice_id in voice_ids]
    for entry in entries:
        files.upload(entry, *trio)
    return entries, files


def pcm(engine: Engine, voice_id: str, params: SynthesisParams | None = None) -> np.ndarray:
    return np.concatenate([chunk.pcm for chunk in engine.synthesize([TEXT], voice_id, params)])


# -- what `voices add` checks ---------------------------------------------------------


def test_check_reads_a_multi_speaker_piper_model_into_its_entry(trio: tuple[Path, Path]) -> None:
    entry = check_voice("trio", *trio)
    assert entry.speakers == SPEAKERS
    assert (entry.language_code, entry.sample_rate, entry.espeak_voice) == ("en_GB", 22050, "en-us")
    assert entry.model_size == trio[0].stat().st_size
    assert entry.model_key == f"voices/trio/{entry.model_sha256}.onnx"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no sid for a multi-speaker config", "not a Piper VITS model"),
        ("another output name", "not a Piper VITS model"),
        ("not ONNX at all", "not a loadable ONNX model"),
        ("config is not JSON", "is invalid"),
        ("config has no num_symbols", "is invalid"),
    ],
)
def test_check_refuses_what_is_not_a_piper_voice_in_one_line(
    tmp_path: Path, trio: tuple[Path, Path], case: str, expected: str
) -> None:
    model, config = trio
    if case == "no sid for a multi-speaker config":
        model = multi_speaker_model(tmp_path / "m.onnx", with_sid=False)
    elif case == "another output name":
        model = multi_speaker_model(tmp_path / "m.onnx", output="audio")
    elif case == "not ONNX at all":
        model = tmp_path / "m.onnx"
        model.write_bytes(b"\x00not a model" * 10)
    elif case == "config is not JSON":
        config = tmp_path / "c.json"
        config.write_text("{not json", encoding="utf-8")
    else:
        parsed = json.loads(config.read_text(encoding="utf-8"))
        del parsed["num_symbols"]
        config = tmp_path / "c.json"
        config.write_text(json.dumps(parsed), encoding="utf-8")
    with pytest.raises(VoiceLoadError) as refused:
        check_voice("bad", model, config)
    assert expected in str(refused.value)
    assert "\n" not in str(refused.value)


# -- speakers ---------------------------------------------------------------------------


def test_speakers_by_name_or_id_have_their_own_audio_and_keys(
    tmp_path: Path, trio: tuple[Path, Path]
) -> None:
    entries, files = published(trio, "trio")
    registry, _ = catalog_registry(entries, files, tmp_path)
    engine = Engine(registry, EngineSettings(fast_start=False))
    voice = registry.resolve("trio")

    bob_by_name = pcm(engine, "trio", SynthesisParams(speaker="bob"))
    bob_by_id = pcm(engine, "trio", SynthesisParams(speaker=1))
    alice = pcm(engine, "trio", SynthesisParams(speaker="alice"))
    default = pcm(engine, "trio")
    assert np.array_equal(bob_by_name, bob_by_id)
    assert not np.array_equal(bob_by_name, alice)
    assert np.array_equal(default, alice)  # default_speaker_id 0

    def key(speaker: str | int | None) -> str:
        resolved = SynthesisParams(speaker=speaker).resolve(voice.config)
        return chunk_key(KeyInput(TEXT, "trio", voice.model_version, resolved, 22050))

    assert key("bob") == key(1) != key("alice") == key(None)
    for unknown in ("dave", 3, -1):
        with pytest.raises(InvalidParameter):
            SynthesisParams(speaker=unknown).resolve(voice.config)


def test_a_one_speaker_voice_takes_no_speaker_and_keeps_its_keys(
    registry: VoiceRegistry,
) -> None:
    joe = registry.get("joe").config
    with pytest.raises(InvalidParameter):
        SynthesisParams(speaker="bob").resolve(joe)
    assert "speaker_id" not in SynthesisParams().resolve(joe).as_dict()


# -- loading on demand -------------------------------------------------------------------


def test_concurrent_first_requests_download_a_voice_once(
    tmp_path: Path, trio: tuple[Path, Path]
) -> None:
    entries, files = published(trio, "trio", delay_s=0.3)
    registry, _ = catalog_registry(entries, files, tmp_path)
    barrier = threading.Barrier(8)
    paths: list[Path] = []

    def first_request() -> None:
        barrier.wait()
        paths.append(registry.get("trio").model_path)

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(paths) == 8
    assert len(set(paths)) == 1
    assert files.downloads.count(entries[0].model_key) == 1
    assert paths[0].read_bytes() == trio[0].read_bytes()


def test_a_pipelines_voice_load_is_the_voiceload_metric(
    tmp_path: Path, trio: tuple[Path, Path], moto: MotoServer
) -> None:
    entries, files = published(trio, "trio", delay_s=0.2)
    registry, _ = catalog_registry(entries, files, tmp_path)
    pipeline = plan_harness(moto.url, registry).pipeline
    meter = RecordingMeter()
    pipeline.meter = meter
    for _ in range(3):
        list(pipeline.engine.synthesize([TEXT], "trio"))
    (loaded,) = meter.seconds_of["VoiceLoad"]  # once: the session is kept
    assert loaded >= 0.2  # the download's delay is part of it


def test_least_recently_used_sessions_are_unloaded_within_the_budget(
    tmp_path: Path, trio: tuple[Path, Path]
) -> None:
    entries, files = published(trio, "one", "two", "three")
    two_voices = 2 * entries[0].model_size * SESSION_MEMORY_FACTOR
    registry, _ = catalog_registry(entries, files, tmp_path, budget_bytes=two_voices)
    engine = Engine(registry, EngineSettings(fast_start=False))
    assert registry.resident is not None

    first = engine.model("one")
    engine.model("two")
    engine.model("one")  # now "two" is the least recently used
    engine.model("three")
    assert [voice in registry.resident for voice in ("one", "two", "three")] == [
        True,
        False,
        True,
    ]
    assert engine.model("one") is first  # kept, not loaded again
    pcm(engine, "two")  # loaded again from the verified file: no second download
    assert files.downloads.count(entries[1].model_key) == 1
    assert "three" not in registry.resident


def test_builtin_voices_are_never_unloaded(tmp_path: Path, trio: tuple[Path, Path]) -> None:
    entries, files = published(trio, "one", "two")
    registry = VoiceRegistry()
    registry.add("local", *trio)
    size = entries[0].model_size * SESSION_MEMORY_FACTOR
    registry.with_catalog(MemoryCatalog(entries), VoiceLoader(files, tmp_path), size)
    engine = Engine(registry, EngineSettings(fast_start=False))
    local = engine.model("local")
    engine.model("one")
    engine.model("two")
    assert registry.resident is not None
    assert "local" in registry.resident
    assert "one" not in registry.resident
    assert engine.model("local") is local


def test_a_model_whose_hash_differs_is_never_used(tmp_path: Path, trio: tuple[Path, Path]) -> None:
    entries, files = published(trio, "trio")
    files.objects[entries[0].model_key] = multi_speaker_model(tmp_path / "other.onnx").read_bytes()
    files.objects[entries[0].model_key] += b"\x00"  # same shape, other bytes
    registry, _ = catalog_registry(entries, files, tmp_path / "local")
    engine = Engine(registry, EngineSettings(fast_start=False))
    for _ in range(2):  # refused each time, never cached as loaded
        with pytest.raises(VoiceHashMismatch) as refused:
            engine.model("trio")
        assert is_final(refused.value)
    assert not (tmp_path / "local" / entries[0].model_key).exists()
    assert files.downloads.count(entries[0].model_key) == 2


# -- disabling, removing, replacing ------------------------------------------------------


def test_disabled_voices_refuse_new_requests_and_finish_work_in_flight(
    tmp_path: Path, trio: tuple[Path, Path]
) -> None:
    entries, files = published(trio, "trio")
    catalog = MemoryCatalog(entries)
    registry = VoiceRegistry().with_catalog(catalog, VoiceLoader(files, tmp_path), 1 << 30)
    version = registry.resolve("trio").model_version
    catalog.set_enabled("trio", False)
    with pytest.raises(VoiceDisabled):
        registry.resolve("trio")
    # A chunk planned before: synthesized with the model it was keyed with.
    assert registry.get("trio", version).model_version == version
    catalog.remove("trio")
    with pytest.raises(UnknownVoice):
        registry.resolve("trio")


def test_a_replaced_model_is_a_new_version_with_new_keys(
    tmp_path: Path, trio: tuple[Path, Path]
) -> None:
    entries, files = published(trio, "trio")
    catalog = MemoryCatalog(entries)
    registry = VoiceRegistry().with_catalog(catalog, VoiceLoader(files, tmp_path), 1 << 30)
    old = registry.resolve("trio")
    old_key = chunk_key(
        KeyInput(TEXT, "trio", old.model_version, SynthesisParams().resolve(old.config), 22050)
    )
    replacement = multi_speaker_model(tmp_path / "v2.onnx")
    replacement.write_bytes(replacement.read_bytes() + b"\x00")
    catalog.remove("trio")
    new_entry = entry_for("trio", replacement, trio[1])
    files.upload(new_entry, replacement, trio[1])
    catalog.register(new_entry)

    new = registry.resolve("trio")
    assert new.model_version == new_entry.model_sha256 != old.model_version
    new_key = chunk_key(
        KeyInput(TEXT, "trio", new.model_version, SynthesisParams().resolve(new.config), 22050)
    )
    assert new_key != old_key
    assert registry.get("trio", new.model_version) is new


# -- the catalog on moto server, with joe's real model under another id -------------------


@pytest.fixture(scope="module")
def moto_clients(moto: MotoServer) -> AwsClients:
    clients = AwsClients(AwsSettings.local(moto.url))
    create_voices_table(clients.dynamodb, "voxflow-voices")
    clients.s3.create_bucket(Bucket="audio")
    return clients


class RefusingTable(VoicesTable):
    def register(self, entry: CatalogEntry) -> CatalogEntry:
        raise RuntimeError(f"throttled ({entry.voice_id})")


def bucket_keys(clients: AwsClients) -> set[str]:
    listed = clients.s3.list_objects_v2(Bucket="audio", Prefix="voices/")
    return {item["Key"] for item in listed.get("Contents", [])}


def test_add_registers_checked_voices_and_leaves_nothing_behind_on_failure(
    tmp_path: Path, trio: tuple[Path, Path], moto_clients: AwsClients
) -> None:
    table = VoicesTable(moto_clients.dynamodb, "voxflow-voices")
    objects = VoiceObjects(moto_clients.s3, "audio")
    added = add_voice(table, objects, "trio", trio[0], None)  # config found beside the model
    assert table.entry("trio") == added
    assert added.added_at
    assert bucket_keys(moto_clients) == {added.model_key, added.config_key}

    with pytest.raises(VoiceTaken):
        add_voice(table, objects, "trio", trio[0], trio[1])
    with pytest.raises(VoiceTaken):
        add_voice(table, objects, "joe", trio[0], trio[1])
    bad_model = multi_speaker_model(tmp_path / "bad.onnx", with_sid=False)
    with pytest.raises(VoiceLoadError):
        add_voice(table, objects, "bad", bad_model, trio[1])
    # Registering fails after the upload: the objects go again.
    with pytest.raises(VoiceLoadError, match="registering failed: throttled"):
        add_voice(RefusingTable(moto_clients.dynamodb, "voxflow-voices"), objects, "orphan", *trio)
    assert bucket_keys(moto_clients) == {added.model_key, added.config_key}
    assert [entry.voice_id for entry in table.entries()] == ["trio"]

    assert table.set_enabled("trio", False) == dataclasses.replace(added, enabled=False)
    removed = table.remove("trio")
    assert removed is not None
    assert table.entry("trio") is None
    objects.delete(removed)
    assert bucket_keys(moto_clients) == set()


def test_joe_under_another_id_with_other_defaults_speaks_and_keys_differently(
    tmp_path: Path, moto: MotoServer, moto_clients: AwsClients, registry: VoiceRegistry
) -> None:
    model, config = joe_copy(
        tmp_path, "joe-slow", inference={"length_scale": 1.5, "noise_scale": 0.0, "noise_w": 0.0}
    )
    table = VoicesTable(moto_clients.dynamodb, "voxflow-voices")
    added = add_voice(table, VoiceObjects(moto_clients.s3, "audio"), "joe-slow", model, config)
    try:
        assert (added.length_scale, added.noise_scale, added.noise_w) == (1.5, 0.0, 0.0)
        assert added.model_sha256 == registry.get("joe").model_version  # the same model
        settings = EngineSettings(voice_dir=tmp_path / "voices", fast_start=False)
        served = deployment_registry(
            settings,
            "voxflow-voices",
            dynamodb=moto_clients.dynamodb,
            s3=moto_clients.s3,
            bucket="audio",
        )
        harness = plan_harness(moto.url, served)
        joe_job = harness.plan(TEXT, voice="joe")
        slow_job = harness.plan(TEXT, voice="joe-slow")
        assert slow_job.key != joe_job.key
        assert set(slow_job.chunk_keys).isdisjoint(joe_job.chunk_keys)
        assert '"length_scale": 1.5' in slow_job.params_json

        engine = Engine(served, settings)
        silent = SynthesisParams(noise_scale=0.0, noise_w=0.0)
        joe_audio = pcm(engine, "joe", silent)
        slow_audio = pcm(engine, "joe-slow")
        # length_scale 1.5 against joe's 1.0: half as long again (phoneme rounding aside).
        assert 1.35 < len(slow_audio) / len(joe_audio) < 1.65
        assert engine.load_seconds["joe-slow"] > 0
    finally:
        table.remove("joe-slow")


# -- the catalog's read cache --------------------------------------------------------------


class CountingCatalog(MemoryCatalog):
    def __init__(self, entries: list[CatalogEntry]) -> None:
        super().__init__(entries)
        self.reads = 0

    def entry(self, voice_id: str) -> CatalogEntry | None:
        self.reads += 1
        return super().entry(voice_id)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_hot_voice_costs_one_read_per_ttl_and_changes_land_within_it(
    tmp_path: Path, trio: tuple[Path, Path]
) -> None:
    entries, files = published(trio, "trio")
    table, clock = CountingCatalog(entries), Clock()
    cached = CachedCatalog(table, 10.0, clock)
    registry = VoiceRegistry().with_catalog(cached, VoiceLoader(files, tmp_path), 1 << 30)
    for _ in range(100):
        assert registry.resolve("trio").voice_id == "trio"
    assert table.reads == 1

    # Disabled elsewhere (another process, the other region): served until the TTL ends.
    table.set_enabled("trio", False)
    clock.now += 9.9
    assert registry.resolve("trio").voice_id == "trio"
    clock.now += 0.2
    with pytest.raises(VoiceDisabled):
        registry.resolve("trio")
    assert table.reads == 2
    # Work already accepted for it still finishes with its model.
    assert registry.get("trio", entries[0].model_sha256).model_version == entries[0].model_sha256

    table.set_enabled("trio", True)
    clock.now += 10.5
    registry.resolve("trio")
    table.remove("trio")
    registry.resolve("trio")
    clock.now += 10.5
    with pytest.raises(UnknownVoice):
        registry.resolve("trio")
    # An unknown id is remembered too: asking again within the TTL reads nothing.
    reads = table.reads
    for _ in range(10):
        with pytest.raises(UnknownVoice):
            registry.resolve("trio")
    assert table.reads == reads
    # Ids no `voices add` could register are never read.
    with pytest.raises(UnknownVoice):
        registry.resolve("no such/voice")
    assert table.reads == reads

    # Changes made through the cache itself are seen at once.
    table.register(entries[0])
    clock.now += 10.5
    registry.resolve("trio")
    cached.set_enabled("trio", False)
    with pytest.raises(VoiceDisabled):
        registry.resolve("trio")


def test_without_a_ttl_every_request_reads_the_table(
    tmp_path: Path, trio: tuple[Path, Path]
) -> None:
    entries, files = published(trio, "trio")
    table = CountingCatalog(entries)
    registry = VoiceRegistry().with_catalog(
        CachedCatalog(table, 0.0), VoiceLoader(files, tmp_path), 1 << 30
    )
    for _ in range(5):
        registry.resolve("trio")
    assert table.reads == 5
    table.set_enabled("trio", False)
    with pytest.raises(VoiceDisabled):
        registry.resolve("trio")


def test_the_deployment_reads_its_catalog_through_the_settings_ttl(
    tmp_path: Path, trio: tuple[Path, Path], moto_clients: AwsClients
) -> None:
    table = VoicesTable(moto_clients.dynamodb, "voxflow-voices")
    add_voice(table, VoiceObjects(moto_clients.s3, "audio"), "trio-ttl", *trio)
    try:
        settings = dataclasses.replace(
            EngineSettings.of(Config.load({"VOXFLOW_VOICE_CATALOG_TTL_S": "3600"})),
            voice_dir=tmp_path,
        )
        served = deployment_registry(
            settings,
            "voxflow-voices",
            dynamodb=moto_clients.dynamodb,
            s3=moto_clients.s3,
            bucket="audio",
        )
        assert served.resolve("trio-ttl").voice_id == "trio-ttl"
        table.set_enabled("trio-ttl", False)
        assert served.resolve("trio-ttl").voice_id == "trio-ttl"  # cached for the hour
        fresh = deployment_registry(
            dataclasses.replace(settings, voice_catalog_ttl_s=0.0),
            "voxflow-voices",
            dynamodb=moto_clients.dynamodb,
            s3=moto_clients.s3,
            bucket="audio",
        )
        with pytest.raises(VoiceDisabled):
            fresh.resolve("trio-ttl")
    finally:
        table.remove("trio-ttl")
