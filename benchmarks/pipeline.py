"""Pipeline benchmark: the local stack end to end against the engine alone.

Prints figures; asserts nothing. On the local stack (moto server, the real
handlers in runner processes, the real voice):
- cache-miss end-to-end time vs the engine alone, same 1,000-character text;
- cache-hit latency p50 and p99 over N requests vs the engine's time for the phrase;
- the transport floor: the same round trip through bus, queue and reply queue with no
  work at all (benchmarks/transport_floor.py), the least any hit can take here;
- time to the first ChunkSynthesized of a ~3,000-character text vs the engine's
  time for its first sentence.

Usage: python benchmarks/pipeline.py [--hits 200] [--misses 3]
"""

import argparse
import statistics
import time
from pathlib import Path

from transport_floor import TransportFloor

from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import StackTarget, VoxflowClient
from voxflow.engine import Engine, SynthesisParams
from voxflow.events import SynthesisCompleted
from voxflow.settings import EngineSettings
from voxflow.text import normalize_text, split_into_chunks
from voxflow.voices import VoiceRegistry
from voxflow_local.stack import LocalStack

CORPUS = Path(__file__).parent / "corpus"
PHRASE = "Your order has shipped."


def text_of(chars: int) -> str:
    """Whole sentences of the long corpus text, up to ``chars`` characters."""
    sentences = split_into_chunks(normalize_text((CORPUS / "long.txt").read_text()))
    text = ""
    for sentence in sentences:
        if len(text) + len(sentence) + 1 > chars:
            break
        text = f"{text} {sentence}".strip()
    return text


def engine_seconds(engine: Engine, text: str, params: SynthesisParams, repeats: int = 3) -> float:
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _chunk in engine.synthesize_text(text, "joe", params):
            pass
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def ms(values: list[float], fraction: float) -> str:
    return f"{percentile(values, fraction) * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hits", type=int, default=200)
    parser.add_argument("--misses", type=int, default=3)
    args = parser.parse_args()

    engine = Engine(VoiceRegistry.default(), EngineSettings())
    engine.warm_up("joe")
    text_1k, text_3k = text_of(1000), text_of(3000)
    default = SynthesisParams()

    with LocalStack(retry_visibility_s=1) as stack:
        clients = AwsClients(AwsSettings.local(stack.url, stack.region))
        with VoxflowClient(clients, StackTarget.from_resources(stack.stack.resources)) as client:
            client.synthesize("Warm up the runners.", timeout_s=120)

            # Cache misses: a noise scale differing in the 6th decimal is a new key, same work.
            miss_s = []
            for run in range(args.misses):
                params = {"noise_scale": 0.667 + (run + 1) * 1e-6}
                started = time.monotonic()
                outcome = client.synthesize(text_1k, format="wav", params=params, timeout_s=600)
                assert isinstance(outcome.terminal, SynthesisCompleted), outcome.terminal
                miss_s.append(time.monotonic() - started)
            engine_1k = engine_seconds(engine, text_1k, default)

            client.synthesize(PHRASE, format="mp3", timeout_s=120)
            hit_s, hit_plan_s = [], []
            for _ in range(args.hits):
                started = time.monotonic()
                outcome = client.synthesize(PHRASE, format="mp3", timeout_s=60)
                assert isinstance(outcome.terminal, SynthesisCompleted)
                assert outcome.terminal.cache == "hit"
                hit_s.append(time.monotonic() - started)
                hit_plan_s.append(outcome.terminal.timings["plan_s"])
            engine_phrase = engine_seconds(engine, PHRASE, default, repeats=5)
            with TransportFloor(clients) as floor:
                floor.round_trip_s()
                floor_s = [floor.round_trip_s() for _ in range(args.hits)]

            started = time.monotonic()
            outcome = client.synthesize(text_3k, format="mp3", timeout_s=900)
            first_chunk_s = outcome.chunk_arrivals[0] - started
            first_sentence = split_into_chunks(normalize_text(text_3k))[0]
            engine_first = engine_seconds(engine, first_sentence, default)

    miss = statistics.median(miss_s)
    p50, p99 = percentile(hit_s, 0.5), percentile(hit_s, 0.99)
    print(f"cache miss, {len(text_1k)} chars: end to end {miss:.2f} s (median of {len(miss_s)})")
    print(f"  engine alone {engine_1k:.2f} s; ratio {miss / engine_1k:.2f} (target <= 1.15)")
    print(f"cache hit, {args.hits} requests of {PHRASE!r}:")
    print(f"  p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    print(f"  engine for the phrase {engine_phrase * 1000:.0f} ms")
    print(f"  p99 ratio {p99 / engine_phrase:.2f} (target <= 0.3)")
    print(f"  plan's work before the reply (job, quota, audit, lookup): p50 {ms(hit_plan_s, 0.5)}")
    print(
        f"  transport floor, {len(floor_s)} round trips with no work: p50 {ms(floor_s, 0.5)}, "
        f"p99 {ms(floor_s, 0.99)}; p99 ratio {percentile(floor_s, 0.99) / engine_phrase:.2f}"
    )
    print(f"first ChunkSynthesized of {len(text_3k)} chars: {first_chunk_s:.2f} s")
    print(f"  engine for its first sentence {engine_first:.2f} s")
    print(f"  ratio {first_chunk_s / engine_first:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
