"""HTTP API benchmark: the local stack's API against the engine alone, in one run.

Prints a table; asserts nothing. The API function is served by the local stack's runner
(one request at a time, as one Lambda execution environment takes them), over moto
server; the engine baseline runs in this process with the same voice. For a 23-character
phrase and a ~1,000-character text:
- hit p50/p99 through boto3's polly client (SigV4) and the openai client (bearer key),
  against the engine's time for the same text (target: p99 <= 0.2x for the phrase);
- miss overhead: the cache index entry is deleted before each request, so each is the
  same synthesis (Polly pcm at the voice's rate: no resampling, no encoder), against the
  engine alone (target <= 1.10x);
- where a hit's time goes: the same index read and object read from here straight to
  moto (what any hit must pay), and an unauthenticated request the function refuses at
  once (the local server's HTTP layer, the event and the resolver, nothing else);
- a phrase hit step by step, and the floor any hit must pay under the issue's rules
  (benchmarks/api_steps.py), as ratios of the engine;
- requests per second on phrase hits with 8 concurrent clients;
- streamed misses of a 3,000-character text: time to the first byte against the
  whole answer and the engine's own first chunk (Polly pcm at the voice's rate, OpenAI
  pcm with stream_format sse), and where the first byte's time went, from the API's
  Server-Timing header (auth and parsing, the cache key, the lookup round, admission
  in all, the engine's first chunk, begun when the lookup says miss and so overlapping
  the rest of admission, what was still waited for it, the first piece's encoding, the
  handler in all; the rest is the HTTP server, the client and its signing).

Usage: python benchmarks/api.py [--hits 200] [--misses 3] [--concurrent-s 10]
[--logs build/api-logs] (the API function's logs go there, the table alone to stdout)
"""

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import openai
from api_steps import MISS_FLOOR, hit_steps
from botocore.config import Config
from botocore.exceptions import ClientError
from pipeline import PHRASE, engine_seconds, percentile, text_of

from voxflow.aws import AwsClients, AwsSettings
from voxflow.config import variables
from voxflow.engine import Engine, SynthesisParams
from voxflow.settings import EngineSettings
from voxflow.text import normalize_text, split_into_chunks
from voxflow.voices import VoiceRegistry
from voxflow_local.deploy import DEFAULT_TEMPLATE
from voxflow_local.sse import timed_sse
from voxflow_local.stack import LocalStack


def polly_client(stack: LocalStack) -> Any:
    return boto3.client(
        "polly",
        endpoint_url=stack.api_url,
        region_name=stack.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, max_pool_connections=1),
    )


def polly_speak(client: Any, text: str, output_format: str = "mp3") -> str:
    extra = {"SampleRate": "22050"} if output_format == "pcm" else {}
    answer = client.synthesize_speech(Text=text, VoiceId="joe", OutputFormat=output_format, **extra)
    answer["AudioStream"].read()
    return str(answer["ResponseMetadata"]["HTTPHeaders"]["x-voxflow-cache"])


def timed(call: Callable[[], object], repeats: int) -> list[float]:
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        runs.append(time.perf_counter() - started)
    return runs


def new_key(stack: LocalStack) -> str:
    created = subprocess.run(
        [sys.executable, "-m", "voxflow", "keys", "create", "--tenant", "bench"],
        env={**os.environ, variables.LOCAL_STATE.name: str(stack.state_file)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return created.stdout.splitlines()[-1]


def refused(url: str) -> None:
    try:
        urllib.request.urlopen(f"{url}/v1/models", timeout=30).read()
    except urllib.error.HTTPError as error:
        if error.code != 401:
            raise
    else:
        raise AssertionError("an unauthenticated request was answered")


# A streamed miss: first byte s, whole answer s, the API's Server-Timing (ms by name).
StreamRun = tuple[float, float, dict[str, float]]
# Server-Timing's names, in the order they pass on the way to the first byte.
FIRST_BYTE_PHASES = {
    "auth": "auth+parse",
    "key": "key",
    "lookup": "lookup round",
    "admit": "admission in all",
    "engine_first": "engine 1st chunk",
    "waited_first": "still waited for it",
    "encode_first": "encode",
    "handler": "handler in all",
}


def server_timing(header: str | None) -> dict[str, float]:
    """``auth;dur=1.2, key;dur=0.3`` as {"auth": 1.2, "key": 0.3}."""
    timings = {}
    for metric in (header or "").split(","):
        name, _, duration = metric.strip().partition(";dur=")
        if name and duration:
            timings[name] = float(duration)
    return timings


def row(name: str, values: list[float], baseline: float | None = None) -> str:
    p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
    ratio = f"{p99 / baseline:10.2f}" if baseline else ""
    return f"{name:50} {p50 * 1000:8.1f} {p99 * 1000:8.1f} {ratio}"


class Bench:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.clients = AwsClients(AwsSettings.local(stack.url, stack.region))
        self.table = stack.stack.resources["CacheTable"]
        self.bucket = stack.stack.resources["AudioBucket"]
        self.polly = polly_client(stack)
        self.speaker = openai.OpenAI(
            api_key=new_key(stack), base_url=f"{stack.api_url}/v1", max_retries=0
        )

    def index_keys(self) -> set[str]:
        items = self.clients.dynamodb.scan(
            TableName=self.table,
            ProjectionExpression="#k",
            ExpressionAttributeNames={"#k": "key"},
        )["Items"]
        return {item["key"]["S"] for item in items}

    def key_made_by(self, call: Callable[[], object]) -> str:
        before = self.index_keys()
        call()
        (key,) = self.index_keys() - before
        return key

    def misses(self, text: str, repeats: int) -> list[float]:
        """The same synthesis each time: its index entry is deleted before each."""
        key = self.key_made_by(lambda: polly_speak(self.polly, text, "pcm"))
        runs = []
        for _ in range(repeats):
            self.clients.dynamodb.delete_item(TableName=self.table, Key={"key": {"S": key}})
            started = time.perf_counter()
            assert polly_speak(self.polly, text, "pcm") == "miss"
            runs.append(time.perf_counter() - started)
        return runs

    def hits(self, label: str, text: str, repeats: int) -> dict[str, list[float]]:
        key = self.key_made_by(lambda: polly_speak(self.polly, text))
        assert polly_speak(self.polly, text) == "hit"

        def openai_hit() -> None:
            speech = self.speaker.audio.speech.create(model="tts-1", voice="alloy", input=text)
            assert speech.response.headers["x-voxflow-cache"] == "hit"
            speech.read()

        self.speaker.audio.speech.create(model="tts-1", voice="alloy", input=text).read()
        item = self.clients.dynamodb.get_item(TableName=self.table, Key={"key": {"S": key}})
        s3_key = item["Item"]["s3_key"]["S"]

        def floor() -> None:
            self.clients.dynamodb.get_item(TableName=self.table, Key={"key": {"S": key}})
            self.clients.s3.get_object(Bucket=self.bucket, Key=s3_key)["Body"].read()

        return {
            f"polly hit, {label}": timed(lambda: polly_speak(self.polly, text), repeats),
            f"openai hit, {label}": timed(openai_hit, repeats),
            f"  index + object read straight from moto, {label}": timed(floor, repeats),
        }

    def streamed(self, text: str, repeats: int) -> dict[str, list[StreamRun]]:
        """Misses streamed: (first byte s, whole answer s, Server-Timing ms) each time, the
        index entry deleted before each. Polly pcm at the voice's rate (boto3 returns at the first
        piece: the headers wait for it) and OpenAI pcm with stream_format sse."""
        url = self.stack.api_url
        assert url is not None
        key = self.speaker.api_key

        def polly_stream() -> StreamRun:
            started = time.perf_counter()
            answer = self.polly.synthesize_speech(
                Text=text, VoiceId="joe", OutputFormat="pcm", SampleRate="22050"
            )
            first = time.perf_counter() - started
            answer["AudioStream"].read()
            timing = answer["ResponseMetadata"]["HTTPHeaders"].get("server-timing")
            return first, time.perf_counter() - started, server_timing(timing)

        def openai_sse() -> StreamRun:
            streamed = timed_sse(url, key, text, timeout_s=600)
            return streamed.first_s, streamed.total_s, server_timing(streamed.server_timing)

        results: dict[str, list[StreamRun]] = {}
        for name, call in (("polly pcm 22050 Hz", polly_stream), ("openai pcm, sse", openai_sse)):
            made = self.key_made_by(call)
            runs = []
            for _ in range(repeats):
                self.clients.dynamodb.delete_item(TableName=self.table, Key={"key": {"S": made}})
                runs.append(call())
            results[name] = runs
        return results

    def concurrent_rate(self, clients: int, seconds: float) -> float:
        """Phrase hits per second, ``clients`` Polly clients each on its own connection."""
        done = threading.Event()
        counts = [0] * clients

        def client_loop(index: int) -> None:
            own = polly_client(self.stack)
            while not done.is_set():
                polly_speak(own, PHRASE)
                counts[index] += 1

        with ThreadPoolExecutor(clients) as pool:
            futures = [pool.submit(client_loop, i) for i in range(clients)]
            time.sleep(seconds)
            done.set()
            for future in futures:
                future.result()
        return sum(counts) / seconds


def first_byte_path(runs: list[StreamRun]) -> str:
    """Medians in ms of the Server-Timing phases, and of what the handler does not see."""
    phases = {
        label: statistics.median(run[2].get(name, float("nan")) for run in runs)
        for name, label in FIRST_BYTE_PHASES.items()
    }
    outside = statistics.median(run[0] * 1000 - run[2].get("handler", float("nan")) for run in runs)
    shown = ", ".join(f"{label} {ms:.0f}" for label, ms in phases.items())
    # Against the first chunk the API's engine made in the same request, at the same
    # moment: the ratio a loaded machine disturbs least.
    own = statistics.median(
        run[0] * 1000 / run[2].get("engine_first", float("nan")) for run in runs
    )
    return (
        f"first byte's path, ms: {shown}; outside the handler {outside:.0f}; first byte "
        f"{own:.2f}x the API's own engine 1st chunk"
    )


def engine_first_chunk_seconds(engine: Engine, text: str, params: SynthesisParams) -> float:
    """The engine alone, until its first chunk of ``text`` is out (median of 3)."""
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        next(iter(engine.synthesize_text(text, "joe", params)))
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


@contextlib.contextmanager
def loaded_machine_template(timeout_s: int) -> Iterator[Path]:
    """template.yaml, or a copy beside it (its CodeUri paths are relative) whose
    ApiFunction has ``timeout_s``."""
    if not timeout_s:
        yield DEFAULT_TEMPLATE
        return
    text = DEFAULT_TEMPLATE.read_text(encoding="utf-8")
    start = text.index("\n  ApiFunction:")
    at = text.index("Timeout: 29", start)
    copy = DEFAULT_TEMPLATE.with_name(".bench-api-template.yaml")
    copy.write_text(f"{text[:at]}Timeout: {timeout_s}{text[at + len('Timeout: 29') :]}")
    try:
        yield copy
    finally:
        copy.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hits", type=int, default=200)
    parser.add_argument("--misses", type=int, default=3)
    parser.add_argument("--concurrent-s", type=float, default=10.0)
    parser.add_argument(
        "--api-timeout-s",
        type=int,
        default=0,
        help="run the API function with this timeout instead of the template's 29 s "
        "(a loaded machine takes longer than that for a 1,000-character miss)",
    )
    parser.add_argument("--logs", type=Path, default=Path("build/api-logs"))
    parser.add_argument(
        "--hits-only",
        action="store_true",
        help="the hit table alone (no misses, concurrency or streaming): minutes less",
    )
    args = parser.parse_args()

    engine = Engine(VoiceRegistry.default(), EngineSettings())
    engine.warm_up("joe")
    text_1k = text_of(1000)
    default = SynthesisParams()
    with (
        loaded_machine_template(args.api_timeout_s) as template,
        LocalStack(
            functions=["ApiFunction"],
            template_path=template,
            log_dir=args.logs / time.strftime("%Y%m%d-%H%M%S"),
            # The tenants' quotas must not be what is measured: hits come faster than the
            # template's defaults refill (10 requests and 1,000 characters a second).
            parameters={
                "QuotaRequestsPerSecond": "1000",
                "QuotaRequestsBurst": "1000",
                "QuotaCharsPerSecond": "1000000",
            },
        ) as stack,
    ):
        assert stack.api_url is not None
        bench = Bench(stack)
        hits = {**bench.hits("phrase", PHRASE, args.hits), **bench.hits("1k", text_1k, args.hits)}
        url = stack.api_url
        hits["  refused at once (HTTP layer + resolver)"] = timed(lambda: refused(url), args.hits)
        steps = hit_steps(stack, PHRASE, args.hits, timed)
        engine_phrase = engine_seconds(engine, PHRASE, default, repeats=5)
        rate = 0.0 if args.hits_only else bench.concurrent_rate(8, args.concurrent_s)
        misses: dict[str, tuple[list[float], float]] = {}
        for label, text in () if args.hits_only else (("phrase", PHRASE), ("1k", text_1k)):
            try:
                miss_s = bench.misses(text, args.misses)
            except ClientError as error:  # on a loaded machine: past the function's timeout
                print(f"miss, {label}: {error}")
                continue
            misses[label] = (miss_s, engine_seconds(engine, text, default))
        # The figure: a ~3,000-character request (Polly's SynthesizeSpeech limit),
        # opening as the corpus text does (a 100-character sentence), and the same with a
        # 19-character opening, where admission's fixed cost weighs most.
        streamed_texts = [text_of(2980), "Streamed this time. " + text_of(2960)]
        streamed = [
            (text, {} if args.hits_only else bench.streamed(text, args.misses))
            for text in streamed_texts
        ]

    print(
        f"engine alone: phrase ({len(PHRASE)} chars) {engine_phrase * 1000:.1f} ms; "
        "load on this machine shows in every figure"
    )
    print(f"hits ({args.hits} each; target: phrase p99 <= 0.2x the engine's time)")
    print(f"{'':50} {'p50 ms':>8} {'p99 ms':>8} p99/engine")
    for name, values in hits.items():
        baseline = engine_phrase if "phrase" in name else None
        print(row(name, values, baseline if name.startswith(("polly", "openai")) else None))
    print(f"a phrase hit's steps, the function's own code in this process ({args.hits} each)")
    for name, values in steps.items():
        print(row(f"  {name}", values, engine_phrase))
    for label, (miss_s, engine_s) in misses.items():
        miss = statistics.median(miss_s)
        print(
            f"miss, {label}, Polly pcm: {miss:.2f} s (median of {len(miss_s)}); engine alone "
            f"{engine_s:.2f} s; ratio {miss / engine_s:.2f} (target <= 1.10)"
        )
        if label == "phrase" and MISS_FLOOR in steps:
            calls_s = statistics.median(steps[MISS_FLOOR]) / 1000
            print(
                f"  its floor: the engine and the calls any miss makes ({MISS_FLOOR[12:]}, "
                f"p50 {calls_s * 1000:.1f} ms), no HTTP: {(engine_s + calls_s) / engine_s:.2f}x"
            )
    if not args.hits_only:
        for text, runs in streamed:
            print_streamed(engine, text, runs, args)
        print(
            f"phrase hits, 8 concurrent Polly clients for {args.concurrent_s:.0f} s: "
            f"{rate:.1f} requests/s (one API runner: one request at a time)"
        )


def print_streamed(
    engine: Engine,
    streamed_text: str,
    streamed: dict[str, list[StreamRun]],
    args: argparse.Namespace,
) -> None:
    default = SynthesisParams()
    first_chunk = engine_first_chunk_seconds(engine, streamed_text, default)
    whole = engine_seconds(engine, streamed_text, default)
    opening = len(split_into_chunks(normalize_text(streamed_text))[0])
    print(
        f"streamed misses, {len(streamed_text)} chars, a {opening}-character first sentence "
        f"(median of {args.misses}); engine alone: first chunk {first_chunk:.2f} s, "
        f"whole {whole:.2f} s (target: first byte <= 1.5x the first chunk)"
    )
    for name, runs in streamed.items():
        first = statistics.median(run[0] for run in runs)
        total = statistics.median(run[1] for run in runs)
        print(
            f"  {name:24} first byte {first:.2f} s ({first / first_chunk:.2f}x the engine's "
            f"first chunk), whole answer {total:.2f} s ({first / total:.2f} of it)"
        )
        print(f"    {first_byte_path(runs)}")


if __name__ == "__main__":
    main()
