"""The bounded in-process chunk cache used by assembly."""

import numpy as np

from voxflow.pipeline.recent import RecentChunks


def pcm(samples: int, value: int = 1) -> np.ndarray:
    return np.full(samples, value, dtype=np.int16)


def test_keeps_within_budget_oldest_out_first() -> None:
    recent = RecentChunks(budget_bytes=3 * 200)
    for name in "abcd":
        recent.put(name, pcm(100))  # 200 bytes each
    assert recent.get("a") is None
    assert all(recent.get(name) is not None for name in "bcd")


def test_a_reput_refreshes_and_oversized_is_skipped() -> None:
    recent = RecentChunks(budget_bytes=400)
    recent.put("a", pcm(100))
    recent.put("b", pcm(100))
    recent.put("a", pcm(100))  # "a" is now the newest
    recent.put("c", pcm(100))
    assert recent.get("b") is None
    assert recent.get("a") is not None
    recent.put("huge", pcm(1000))
    assert recent.get("huge") is None
    assert recent.get("c") is not None
