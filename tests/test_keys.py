"""Cache keys: stable across machines, sensitive to every field."""

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxflow.engine import ResolvedParams
from voxflow.errors import InvalidParameter
from voxflow.keys import KeyInput, canonical_json, chunk_key, request_key

PARAMS = ResolvedParams(length_scale=1.0, noise_scale=0.667, noise_w=0.8, sentence_pause_s=0.2)
BASE = KeyInput("Hello world.", "joe", "ab" * 32, PARAMS, 22050)

# Computed once by hand from the documented canonical form: if this changes,
# every cached object in every region is orphaned, so it must be deliberate.
EXPECTED_CANONICAL_CHUNK = (
    '{"kind":"chunk","model":"' + "ab" * 32 + '","params":{"length_scale":1.0,'
    '"noise_scale":0.667,"noise_w":0.8},"sample_rate":22050,"text":"Hello world.",'
    '"v":1,"voice":"joe"}'
)


def test_canonical_form_is_the_documented_one() -> None:
    assert canonical_json(BASE.document("chunk")).decode() == EXPECTED_CANONICAL_CHUNK


def test_known_digest_is_stable() -> None:
    import hashlib

    assert chunk_key(BASE) == hashlib.sha256(EXPECTED_CANONICAL_CHUNK.encode()).hexdigest()


def test_request_and_chunk_keys_differ() -> None:
    assert request_key(BASE, "wav") != chunk_key(BASE)
    assert request_key(BASE, "wav") != request_key(BASE, "mp3")
    assert request_key(BASE, "MP3") == request_key(BASE, "mp3")


@pytest.mark.parametrize(
    "change",
    [
        {"text": "Hello world!"},
        {"voice_id": "amy"},
        {"model_version": "cd" * 32},
        {"sample_rate": 24000},
        {"params": dataclasses.replace(PARAMS, length_scale=1.1)},
        {"params": dataclasses.replace(PARAMS, noise_scale=0.0)},
        {"params": dataclasses.replace(PARAMS, noise_w=0.5)},
    ],
)
def test_every_field_changes_both_keys(change: dict[str, object]) -> None:
    changed = dataclasses.replace(BASE, **change)  # type: ignore[arg-type]
    assert chunk_key(changed) != chunk_key(BASE)
    assert request_key(changed, "wav") != request_key(BASE, "wav")


def test_pause_shapes_requests_not_chunks() -> None:
    paused = dataclasses.replace(BASE, params=dataclasses.replace(PARAMS, sentence_pause_s=1.0))
    assert chunk_key(paused) == chunk_key(BASE)
    assert request_key(paused, "wav") != request_key(BASE, "wav")


def test_equal_numbers_give_equal_keys() -> None:
    noisy = dataclasses.replace(BASE, params=dataclasses.replace(PARAMS, length_scale=1.0000000001))
    assert chunk_key(noisy) == chunk_key(BASE)


def test_non_finite_numbers_are_rejected() -> None:
    bad = dataclasses.replace(BASE, params=dataclasses.replace(PARAMS, noise_w=float("nan")))
    with pytest.raises(InvalidParameter):
        chunk_key(bad)


@settings(max_examples=200, deadline=None)
@given(text=st.text(min_size=1, max_size=200), other=st.text(min_size=1, max_size=200))
def test_text_is_hashed_exactly(text: str, other: str) -> None:
    a = dataclasses.replace(BASE, text=text)
    b = dataclasses.replace(BASE, text=other)
    assert (chunk_key(a) == chunk_key(b)) == (text == other)
    # The canonical JSON is valid JSON that round-trips the text.
    assert json.loads(canonical_json(a.document("chunk")))["text"] == text


def test_a_tenant_salts_both_keys() -> None:
    """VOXFLOW_CACHE_ISOLATION=tenant: a key per tenant; unsalted, the documented form."""
    alpha = dataclasses.replace(BASE, tenant="alpha")
    beta = dataclasses.replace(BASE, tenant="beta")
    assert json.loads(canonical_json(alpha.document("chunk")))["tenant"] == "alpha"
    assert "tenant" not in BASE.document("request")
    for one, other in ((alpha, beta), (alpha, BASE)):
        assert chunk_key(one) != chunk_key(other)
        assert request_key(one, "wav") != request_key(other, "wav")
    assert chunk_key(alpha) == chunk_key(dataclasses.replace(BASE, tenant="alpha"))
