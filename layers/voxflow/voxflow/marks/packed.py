"""A marks plan packed small enough to ride on a job item for a 100,000-character text.

``MarksPlan.to_json`` spells every word as {"start", "end", "value"} and every sentence
with its text: 8-10 bytes a character, 0.8-1 MB for a request at the 100,000-character
limit, where DynamoDB's item limit is 400 KB. Every word's and sentence's value is the
original text's bytes between its offsets, so the packed form keeps the original once
and the offsets as differences (word to word they are small), then compresses it: 80 KB
of base64 for 100,000 characters of these docs, 115 KB of random Latin words, 258 KB of
random CJK (which voxflow.pipeline.marks refuses, over its 250 KB).
"""

import base64
import json
import zlib
from itertools import accumulate, pairwise

from voxflow.marks.plan import MarksPlan, Origin, SsmlMark

PREFIX = "z1:"  # the packed form; a plan's JSON starts with "{"


def pack(plan: MarksPlan, original: str) -> str:
    data = original.encode("utf-8")
    for origin in (*plan.words, *plan.sentences):
        if data[origin.start : origin.end].decode("utf-8") != origin.value:
            raise ValueError("a word or sentence is not the original's bytes")
    document = {
        "text": original,
        "words": _deltas(plan.words),
        "sentences": _deltas(plan.sentences),
        "chunk_words": [_steps(chunk) for chunk in plan.chunk_words],
        "chunk_sentence": plan.chunk_sentence,
        "ssml": [
            [m.origin.start, m.origin.end, m.origin.value, m.word, m.chunk, m.piece]
            for m in plan.ssml
        ],
    }
    raw = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return PREFIX + base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


def unpack(packed: str) -> MarksPlan:
    if not packed.startswith(PREFIX):
        return MarksPlan.from_json(packed)  # a job planned before plans were packed
    document = json.loads(zlib.decompress(base64.b64decode(packed[len(PREFIX) :])))
    data = document["text"].encode("utf-8")
    return MarksPlan(
        words=_origins(document["words"], data),
        sentences=_origins(document["sentences"], data),
        chunk_words=tuple(tuple(accumulate(steps)) for steps in document["chunk_words"]),
        chunk_sentence=tuple(document["chunk_sentence"]),
        ssml=tuple(
            SsmlMark(Origin(start, end, name), word, chunk, piece)
            for start, end, name, word, chunk, piece in document["ssml"]
        ),
    )


def _deltas(origins: tuple[Origin, ...]) -> list[int]:
    """Per origin: its start less the last one's end, and its length."""
    flat, last = [], 0
    for origin in origins:
        flat += [origin.start - last, origin.end - origin.start]
        last = origin.end
    return flat


def _origins(flat: list[int], data: bytes) -> tuple[Origin, ...]:
    origins, last = [], 0
    for gap, length in zip(flat[::2], flat[1::2], strict=True):
        start = last + gap
        last = start + length
        origins.append(Origin(start, last, data[start:last].decode("utf-8")))
    return tuple(origins)


def _steps(indexes: tuple[int, ...]) -> list[int]:
    """The differences of a chunk's word indexes (mostly 1), its first as it is."""
    return [*indexes[:1], *(b - a for a, b in pairwise(indexes))]
