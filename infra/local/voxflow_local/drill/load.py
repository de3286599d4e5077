"""The drill's load: short phrases, medium passages and ~10 % long texts (≥ 2,000 chars).

Every text is made unique (a numbered opening), so no request is answered from the
cache and every chunk is synthesized by whichever region does the work.
"""

import random
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[4] / "benchmarks" / "corpus"
LONG_MIN_CHARS = 2000
_PHRASES = (
    "The train leaves at nine.",
    "Please hold the door.",
    "Your order has shipped.",
    "It looks like rain today.",
    "The meeting moved to Tuesday.",
    "Thanks for waiting.",
)


def _corpus(name: str, fallback: str) -> str:
    path = CORPUS / name
    return path.read_text(encoding="utf-8").strip() if path.exists() else fallback


def medium_text() -> str:
    """The medium passage: what the drill measures the engine with (its floor)."""
    return _corpus("medium.txt", " ".join(_PHRASES))


def drill_texts(count: int, long_fraction: float = 0.1, seed: int = 0) -> list[str]:
    """``count`` unique texts; about ``long_fraction`` of them long, spread through."""
    rng = random.Random(seed)
    medium = medium_text()
    long = _corpus("long.txt", " ".join([medium] * 4))
    while len(long) < LONG_MIN_CHARS:
        long = f"{long} {medium}"
    longs = round(count * long_fraction)
    # Long ones evenly spaced, so some are in flight when the primary goes down.
    long_at = {int((n + 0.5) * count / longs) for n in range(longs)} if longs else set()
    texts = []
    for index in range(count):
        opening = f"Request {index + 1}."
        if index in long_at:
            texts.append(f"{opening} {long}")
        elif rng.random() < 0.3:
            texts.append(f"{opening} {medium}")
        else:
            texts.append(f"{opening} {rng.choice(_PHRASES)}")
    return texts
