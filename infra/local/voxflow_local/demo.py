"""The main job: the whole service on this machine, from publish to playable audio.

Starts the local stack (moto server, template.yaml deployed, the real handlers
with the real voice), publishes a few phrases and one long text as an app
would, prints each result's URL and writes its audio, shows a repeated phrase
coming back from the cache; then the same service through the HTTP API, as an app
that calls Amazon Polly (boto3) or OpenAI (the official openai client) would, with
only the endpoint changed; and stops the stack.
"""

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import openai

from voxflow.audio import decode
from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import Outcome, StackTarget, VoxflowClient
from voxflow.config import variables
from voxflow.events import SynthesisCompleted
from voxflow_local.stack import LocalStack

PHRASES = [
    ("welcome", "Welcome to voxflow. This audio came through an event pipeline.", "mp3"),
    ("order", "Your order number 42 shipped at 8:00 and cost $49.95.", "ogg"),
    ("meeting", "The meeting moved to March 3rd, 2026, in room 12.", "wav"),
]


def _report(name: str, outcome: Outcome, elapsed: float, out_dir: Path) -> None:
    result = outcome.terminal
    if not isinstance(result, SynthesisCompleted):
        print(f"{name:9} FAILED {result}")
        return
    path = out_dir / f"{name}.{result.format.value}"
    with urllib.request.urlopen(result.url, timeout=60) as response:
        path.write_bytes(response.read())
    print(
        f"{name:9} {result.cache:4}  {elapsed:6.2f} s  {result.duration_s:6.2f} s of audio  "
        f"{len(outcome.chunks):2d} chunk events  -> {path}"
    )
    print(f"          {result.url[:110]}...")


def _report_api(name: str, cache: str, audio: bytes, elapsed: float, path: Path) -> None:
    path.write_bytes(audio)
    pcm, rate = decode(audio)
    print(
        f"{name:9} {cache:4}  {elapsed:6.2f} s  {len(pcm) / rate:6.2f} s of audio  "
        f"{len(audio):7d} bytes  -> {path}"
    )


def _new_api_key(stack: LocalStack, tenant: str) -> str:
    """A key made as an operator makes one: `voxflow keys create` (the key is its last line)."""
    created = subprocess.run(
        [sys.executable, "-m", "voxflow", "keys", "create", "--tenant", tenant],
        env={**os.environ, variables.LOCAL_STATE.name: str(stack.state_file)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return created.stdout.splitlines()[-1]


def _through_the_api(stack: LocalStack, out_dir: Path) -> None:
    """Polly's and OpenAI's own clients, pointed at the local API by URL."""
    print(f"\nthe HTTP API at {stack.api_url} (x-voxflow-cache says hit or miss):")
    # The local stack checks SigV4 against its documented dummy credentials.
    polly = boto3.client(
        "polly",
        endpoint_url=stack.api_url,
        region_name=stack.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    _, welcome, _ = PHRASES[0]
    for name, text in (("polly", welcome), ("polly2", "Polly's client, voxflow's voice.")):
        began = time.monotonic()
        answer = polly.synthesize_speech(Text=text, VoiceId="joe", OutputFormat="mp3")
        audio = answer["AudioStream"].read()
        cache = answer["ResponseMetadata"]["HTTPHeaders"].get("x-voxflow-cache", "?")
        _report_api(name, cache, audio, time.monotonic() - began, out_dir / f"{name}.mp3")
    client = openai.OpenAI(
        api_key=_new_api_key(stack, "demo"), base_url=f"{stack.api_url}/v1", max_retries=0
    )
    for name in ("openai", "openai2"):  # the second: a cache hit
        began = time.monotonic()
        speech = client.audio.speech.create(
            model="tts-1", voice="alloy", input="OpenAI's client, voxflow's voice."
        )
        cache = speech.response.headers.get("x-voxflow-cache", "?")
        _report_api(name, cache, speech.content, time.monotonic() - began, out_dir / f"{name}.mp3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m voxflow_local.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("out"), help="where audio files go")
    parser.add_argument(
        "--long-text", type=Path, default=Path("benchmarks/corpus/long.txt"), help="a long text"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    print("starting the local stack (moto server + template.yaml + handlers)...", flush=True)
    started = time.monotonic()
    logs = Path("build/local-logs")
    logs.mkdir(parents=True, exist_ok=True)
    with LocalStack(retry_visibility_s=2, log_dir=logs) as stack:
        print(f"up in {time.monotonic() - started:.1f} s at {stack.url} (logs in {logs})\n")
        clients = AwsClients(AwsSettings.local(stack.url, stack.region))
        with VoxflowClient(clients, StackTarget.from_resources(stack.stack.resources)) as client:
            jobs = [*PHRASES, ("long", args.long_text.read_text(encoding="utf-8"), "mp3")]
            jobs.append(("welcome2", PHRASES[0][1], PHRASES[0][2]))  # the repeat: a cache hit
            for name, text, audio_format in jobs:
                began = time.monotonic()
                outcome = client.synthesize(text, format=audio_format, timeout_s=900)
                _report(name, outcome, time.monotonic() - began, args.out)
        _through_the_api(stack, args.out)
    print("\nlocal stack stopped; audio files are in", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
