"""The main job: the whole service on this machine, from publish to playable audio.

Starts the local stack (moto server, template.yaml deployed, the real handlers
with the real voice), publishes a few phrases and one long text as an app
would, prints each result's URL and writes its audio, shows a repeated phrase
coming back from the cache, and stops the stack.
"""

import argparse
import sys
import time
import urllib.request
from pathlib import Path

from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import Outcome, StackTarget, VoxflowClient
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
    print("\nlocal stack stopped; audio files are in", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
