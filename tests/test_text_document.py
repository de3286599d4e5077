"""The speech document's chunk encoding: plain chunks unchanged, structure in the key."""

import pytest

from voxflow.errors import InvalidParameter
from voxflow.keys import KeyInput, chunk_key
from voxflow.text.clean import clean_text
from voxflow.text.document import (
    CHUNK_MARKER,
    DEFAULT_PROSODY,
    Break,
    Piece,
    Prosody,
    Source,
    SpeechDocument,
    Text,
    decode_chunk,
    encode_chunk,
    is_structured,
)


def test_plain_default_text_is_its_own_chunk_string() -> None:
    assert encode_chunk([Piece("text", "Hello there.")]) == "Hello there."
    assert decode_chunk("Hello there.") == (Piece("text", "Hello there."),)
    assert not is_structured("Hello there.")


def test_structured_chunks_round_trip() -> None:
    pieces = (
        Piece("text", "Slow words", Prosody(rate=0.5, volume_db=-6.0)),
        Piece("break", seconds=0.5),
        Piece("phonemes", "pɪˈkɑːn", Prosody(drc=True)),
    )
    encoded = encode_chunk(pieces)
    assert is_structured(encoded)
    assert decode_chunk(encoded) == pieces


def test_prosody_changes_the_chunk_key_and_plain_text_keeps_it() -> None:
    from voxflow.engine.params import ResolvedParams

    params = ResolvedParams(length_scale=1.0, noise_scale=0.667, noise_w=0.8, sentence_pause_s=0.2)

    def key(chunk: str) -> str:
        return chunk_key(KeyInput(chunk, "joe", "m" * 64, params, 22050))

    plain = encode_chunk([Piece("text", "Hello there.")])
    slow = encode_chunk([Piece("text", "Hello there.", Prosody(rate=0.5))])
    assert key(plain) == key("Hello there.")
    assert key(slow) != key(plain)


def test_user_text_cannot_forge_a_structured_chunk() -> None:
    assert not clean_text(CHUNK_MARKER + '[{"k":"break","s":9}]').startswith(CHUNK_MARKER)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Prosody(rate=3.0),
        lambda: Prosody(rate=0.1),
        lambda: Prosody(volume_db=12.0),
        lambda: Prosody(rate=float("nan")),
        lambda: Break(11.0, Source(0, 1)),
        lambda: Piece("video"),
    ],
)
def test_out_of_range_structure_is_a_typed_error(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidParameter):
        make()


def test_malformed_structured_chunk_is_a_typed_error() -> None:
    with pytest.raises(InvalidParameter):
        decode_chunk(CHUNK_MARKER + "{not json")


def test_plain_document_is_one_verbatim_text_segment() -> None:
    document = SpeechDocument.plain("Hi.")
    assert document.segments == (Text("Hi.", Source(0, 3), DEFAULT_PROSODY),)
