"""A job's chunk keys as its item stores them: one binary value of 32-byte digests.

A chunk key (voxflow.keys.chunk_key) is a SHA-256 digest in 64 hex characters. As a list
of strings, a 31-chunk job's keys took 2,028 of its item's 2,485 bytes, and every write
of the item is billed by its whole size, one write unit per KB (voxflow.store.job_texts):
as one binary value they take 992. Items written before, with a list of strings, read
as they were.
"""

from typing import Any

from pynamodb.attributes import Attribute
from pynamodb.constants import BINARY, LIST, STRING

DIGEST_BYTES = 32


def pack(keys: list[str]) -> bytes:
    """``keys`` as one value; a key that is not a SHA-256 hex digest is a ValueError."""
    digests = [bytes.fromhex(key) for key in keys]
    if any(len(digest) != DIGEST_BYTES for digest in digests):
        raise ValueError("a chunk key is a SHA-256 digest in hex")
    return b"".join(digests)


def unpack(packed: bytes) -> list[str]:
    if len(packed) % DIGEST_BYTES:
        raise ValueError(f"{len(packed)} bytes are not whole {DIGEST_BYTES}-byte digests")
    return [
        packed[start : start + DIGEST_BYTES].hex() for start in range(0, len(packed), DIGEST_BYTES)
    ]


def chunk_keys_in(value: dict[str, Any]) -> list[str]:
    """The keys in an item's raw ``chunk_keys`` value (DynamoDB JSON), either form."""
    if LIST in value:
        return [str(element[STRING]) for element in value[LIST]]
    return unpack(bytes(value[BINARY]))


class ChunkKeysAttribute(Attribute[list[str]]):
    """Chunk keys, stored packed (``pack``) and read in either form (``chunk_keys_in``)."""

    attr_type = BINARY

    def serialize(self, value: list[str]) -> bytes:
        return pack(value)

    def deserialize(self, value: list[str]) -> list[str]:
        return value  # get_value has unpacked it already

    def get_value(self, value: dict[str, Any]) -> list[str]:
        return chunk_keys_in(value)
