"""The synthesis floor under the drill's latencies (voxflow_local.drill.floor): the
arithmetic of a work-conserving queue on N cores, on cases worked out by hand."""

import math

import pytest

from voxflow_local.drill.floor import EngineRate, latency_floor, synthesis_floor


def test_one_request_needs_its_work_spread_over_every_core() -> None:
    assert latency_floor([0.0], [8.0], cores=2, q=0.99) == 4.0


def test_simultaneous_arrivals_the_last_waits_for_all_the_work() -> None:
    # 10 requests of 2 CPU s at once on 2 cores: 20 s of work, the 10th ends at 10 s.
    arrivals, work = [0.0] * 10, [2.0] * 10
    # p99 of 10 is the largest (nearest rank 9 of 0..9): none may be later.
    assert latency_floor(arrivals, work, cores=2, q=0.99) == 10.0
    # p50 (rank round(4.5) = 4): 5 may be later; the 5 that are not need 10 s of work.
    assert latency_floor(arrivals, work, cores=2, q=0.5) == 5.0


def test_arrivals_spread_over_time_take_their_span_off() -> None:
    # 100 s of work arriving over 20 s on 2 cores: the last ends ≥ 50 s after the
    # first arrival, 30 s after the last one.
    arrivals = [float(n) for n in range(21)]
    work = [100.0 / 21] * 21
    assert latency_floor(arrivals, work, cores=2, q=0.99) == pytest.approx(30.0)


def test_the_largest_request_may_be_the_late_one() -> None:
    # p99 of 101 requests: one may be later than the p99, the one with the most work.
    arrivals = [0.0] * 101
    work = [1.0] * 100 + [1000.0]
    assert latency_floor(arrivals, work, cores=1, q=0.99) == 100.0


def test_a_later_suffix_can_bind_harder_than_the_whole() -> None:
    # Light early requests, a burst of work at 10 s: the burst sets the bound.
    arrivals = [0.0, 1.0, 10.0, 10.0]
    work = [0.5, 0.5, 10.0, 10.0]
    assert latency_floor(arrivals, work, cores=2, q=0.99) == 10.0


def test_no_requests_no_floor() -> None:
    assert latency_floor([], [], cores=2, q=0.99) == 0.0


def test_shared_chunks_are_work_once_and_unknown_durations_none() -> None:
    rate = EngineRate(cpu_s_per_audio_s=0.5, wall_s_per_audio_s=0.6, audio_s=10.0)
    requests = {
        "a": (0.0, {"k1": 4.0, "k2": 2.0}),
        "b": (1.0, {"k2": 2.0, "k3": math.nan}),
    }
    floor = synthesis_floor(requests, rate, cores=1, measured={"p50": 6.0, "p99": 6.0})
    assert floor.chunks == 3
    assert floor.chunks_without_duration == 1
    assert floor.audio_s == 6.0
    assert floor.work_cpu_s == 3.0
    # a: 3 CPU s from 0; b: no work of its own. p99 (rank 1 of 0..1): both in time,
    # a alone needs 3 s on one core (the suffix bound, 3 s − the last arrival 1 s, is
    # weaker); p50 (rank round(0.5) = 0): b may be the one in time, with nothing to do.
    assert floor.floor_s["p99"] == 3.0
    assert floor.floor_s["p50"] == 0.0
    assert floor.measured_over_floor["p99"] == 2.0
    assert "measured/floor" in floor.line()
