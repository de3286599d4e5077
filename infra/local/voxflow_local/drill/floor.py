"""The synthesis floor under the drill's latencies: what no scheduling could beat.

The requests published after the kill need so many seconds of engine work, on a
machine with so many cores, arriving over so many seconds. A work-conserving queue
with N cores and no overhead at all cannot do better than:

- a set of requests that all finish within x of their arrival, with the last of
  them arriving no later than the last arrival a_n, and all of them arriving at or
  after a_j, holds their work W: it cannot end before a_j + W / N, so x ≥ a_j +
  W / N − a_n;
- a request of work w cannot finish within w / N of its arrival (its chunks
  spread over every core at once).

For the p-th percentile (nearest rank r of n, as the drill's ``_percentiles``), up
to n − 1 − r requests may be later than x: from the requests arriving at or after
each a_j they are taken to be the ones with the most work, so W is the work of the
others. The bound ignores what the cores were busy with at the kill (the interrupted
requests), every overhead (moto, plan, storage, events), and assumes perfect scaling
across cores: it is a floor, not an estimate.

Work is engine CPU seconds: the audio seconds of each distinct chunk the secondary
had to make and made (chunks are content-addressed; those whose audio had replicated
before the kill, or arrived by replication after it, are not its work) times the
engine's CPU seconds per audio second, measured in the drill's own process on one
thread (its thread CPU time, which other processes on a shared machine do not
inflate).
"""

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from voxflow.engine import Engine
from voxflow.settings import EngineSettings
from voxflow.voices import VoiceRegistry

PERCENTILES = {"p50": 0.5, "p99": 0.99}


@dataclass(frozen=True)
class EngineRate:
    """The engine on one thread: CPU and wall seconds per second of audio."""

    cpu_s_per_audio_s: float
    wall_s_per_audio_s: float
    audio_s: float


@dataclass
class SynthesisFloor:
    """What the requests published after the kill needed, and the latency floor."""

    requests: int = 0
    cores: int = 0
    arrival_span_s: float = 0.0  # first to last publish after the kill
    audio_s: float = 0.0  # distinct chunks the secondary had to make
    chunks: int = 0
    chunks_without_duration: int = 0  # counted as no work (the floor stays a floor)
    engine_cpu_s_per_audio_s: float = 0.0
    engine_wall_s_per_audio_s: float = 0.0
    work_cpu_s: float = 0.0
    floor_s: dict[str, float] = field(default_factory=dict)  # p50, p99
    measured_over_floor: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        if not self.requests:
            return "synthesis floor: no requests published after the kill"
        ratios = ", ".join(f"{k} {v:.1f}×" for k, v in self.measured_over_floor.items())
        return (
            f"synthesis floor for the {self.requests} requests published after the kill "
            f"(over {self.arrival_span_s:.1f} s): {self.chunks} chunks, {self.audio_s:.0f} s "
            f"of audio, {self.work_cpu_s:.0f} engine CPU s at "
            f"{self.engine_cpu_s_per_audio_s:.3f} s per audio s on one thread; on "
            f"{self.cores} cores publish → terminal cannot beat p50/p99 "
            f"{self.floor_s.get('p50', 0):.1f}/{self.floor_s.get('p99', 0):.1f} s; "
            f"measured/floor {ratios or 'n/a'}"
        )


def measure_engine(text: str, voice_id: str, repeats: int = 2) -> EngineRate:
    """The engine's cost on one thread for ``text`` (best of ``repeats``, warm)."""
    engine = Engine(VoiceRegistry.default(), EngineSettings(intra_op_threads=1, inter_op_threads=1))
    engine.warm_up(voice_id)
    best: EngineRate | None = None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.thread_time()
        audio_s = sum(chunk.duration_s for chunk in engine.synthesize_text(text, voice_id))
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        rate = EngineRate(cpu / audio_s, wall / audio_s, audio_s)
        if best is None or rate.cpu_s_per_audio_s < best.cpu_s_per_audio_s:
            best = rate
    assert best is not None
    return best


def latency_floor(arrivals: Sequence[float], work: Sequence[float], cores: int, q: float) -> float:
    """Lower bound on the ``q`` percentile (nearest rank) of finish − arrival for
    requests arriving at ``arrivals`` with ``work`` CPU seconds each, on ``cores``."""
    n = len(arrivals)
    if n == 0:
        return 0.0
    rank = min(n - 1, round(q * (n - 1)))  # as the drill's _percentiles
    late = n - 1 - rank  # how many may be later than the percentile
    ordered = sorted(zip(arrivals, work, strict=True))
    last = ordered[-1][0]
    best = sorted(w / cores for w in work)[rank]  # r + 1 requests each need w / N
    for j in range(n):
        suffix = sorted(w for _, w in ordered[j:])
        kept = suffix[: max(0, len(suffix) - late)]
        best = max(best, ordered[j][0] + sum(kept) / cores - last)
    return max(0.0, best)


def synthesis_floor(
    requests: dict[str, tuple[float, dict[str, float]]],
    rate: EngineRate,
    cores: int,
    measured: dict[str, float],
) -> SynthesisFloor:
    """``requests``: id → (arrival in s, {chunk key: audio s, nan if unknown}) of the
    chunks it needed made; a chunk shared by several is the work of its first arrival.
    ``measured``: the drill's percentiles (p50, p99) of the same requests."""
    floor = SynthesisFloor(requests=len(requests), cores=cores)
    floor.engine_cpu_s_per_audio_s = round(rate.cpu_s_per_audio_s, 4)
    floor.engine_wall_s_per_audio_s = round(rate.wall_s_per_audio_s, 4)
    if not requests:
        return floor
    seen: set[str] = set()
    arrivals, work = [], []
    for arrival, chunks in sorted(requests.values(), key=lambda r: r[0]):
        audio = 0.0
        for key, seconds in chunks.items():
            if key in seen:
                continue
            seen.add(key)
            floor.chunks += 1
            if math.isnan(seconds):  # no duration known
                floor.chunks_without_duration += 1
                continue
            audio += seconds
        arrivals.append(arrival)
        work.append(audio * rate.cpu_s_per_audio_s)
        floor.audio_s += audio
    floor.arrival_span_s = round(arrivals[-1] - arrivals[0], 2)
    floor.audio_s = round(floor.audio_s, 1)
    floor.work_cpu_s = round(sum(work), 1)
    for name, q in PERCENTILES.items():
        floor.floor_s[name] = round(latency_floor(arrivals, work, cores, q), 2)
        if name in measured and floor.floor_s[name] > 0:
            floor.measured_over_floor[name] = round(measured[name] / floor.floor_s[name], 2)
    return floor
