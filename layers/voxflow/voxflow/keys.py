"""Cache keys: sha256 over a canonical JSON of everything that shapes the sound.

Canonical form (documented in docs/keys.md, version 1):
- a JSON object with keys sorted, no whitespace (separators ``,`` and ``:``),
  UTF-8, non-ASCII characters written as themselves;
- ``"v": 1`` (the key schema version), ``"kind"`` (``"chunk"`` or ``"request"``),
  ``"text"`` (normalized text), ``"voice"``, ``"model"`` (sha256 of the ONNX file),
  ``"params"`` (resolved synthesis parameters; a chunk key leaves out
  ``sentence_pause_s``, which only shapes the joins), ``"sample_rate"`` (of the
  audio the key names), and for a request ``"format"`` and, when it names lexicons,
  ``"lexicons"`` (their content hashes in the request's order);
- every float written with Python's shortest round-trip repr after rounding to
  6 decimal places, so 1, 1.0 and 1.0000001 give the same key.

The digest is lowercase hex sha256 of those bytes.
"""

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from voxflow.engine.params import ResolvedParams
from voxflow.errors import InvalidParameter

KEY_SCHEMA_VERSION = 1
_FLOAT_DIGITS = 6


def _canonical_number(value: float) -> float:
    if not math.isfinite(value):
        raise InvalidParameter(f"a cache key cannot hold {value}")
    rounded = round(float(value), _FLOAT_DIGITS)
    return 0.0 if rounded == 0 else rounded  # -0.0 and 0.0 are one key


def _canonical_params(params: ResolvedParams | Mapping[str, float]) -> dict[str, float]:
    raw = params.as_dict() if isinstance(params, ResolvedParams) else dict(params)
    return {name: _canonical_number(value) for name, value in raw.items()}


def canonical_json(document: Mapping[str, object]) -> bytes:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


@dataclass(frozen=True)
class KeyInput:
    """Everything that shapes a chunk's sound."""

    text: str
    voice_id: str
    model_version: str
    params: ResolvedParams
    sample_rate: int
    # Salts the key so that only this tenant's requests find its audio; None: shared.
    tenant: str | None = None

    def document(self, kind: str) -> dict[str, object]:
        params = _canonical_params(self.params)
        if kind == "chunk":
            # The pause lies between chunks: it shapes a request's audio, not a chunk's.
            params.pop("sentence_pause_s", None)
        document: dict[str, object] = {
            "v": KEY_SCHEMA_VERSION,
            "kind": kind,
            "text": self.text,
            "voice": self.voice_id,
            "model": self.model_version,
            "params": params,
            "sample_rate": int(self.sample_rate),
        }
        if self.tenant is not None:
            document["tenant"] = self.tenant
        return document


def chunk_key(key_input: KeyInput) -> str:
    return hashlib.sha256(canonical_json(key_input.document("chunk"))).hexdigest()


def request_key(key_input: KeyInput, audio_format: str, lexicon_hashes: Sequence[str] = ()) -> str:
    """``lexicon_hashes``: the sha256 of each lexicon the request names, in its order
    (docs/keys.md): absent when it names none, so those keys stay as they were."""
    document = key_input.document("request")
    document["format"] = str(audio_format).lower()
    if lexicon_hashes:
        document["lexicons"] = list(lexicon_hashes)
    return hashlib.sha256(canonical_json(document)).hexdigest()


def marks_key(request: str, original_text: str, types: Sequence[str]) -> str:
    """A request's speech marks: its request key, the text as the user sent it and the
    mark types. The marks' offsets point into that text, which the request key (over the
    normalized text) does not tell apart: "$5" and "five dollars" share audio, not marks."""
    document = {
        "v": KEY_SCHEMA_VERSION,
        "kind": "marks",
        "request": request,
        "original": original_text,
        "types": list(types),
    }
    return hashlib.sha256(canonical_json(document)).hexdigest()
