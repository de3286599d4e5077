"""The cache index: which keys have audio, where, and how often they were hit."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import NotRequired, TypedDict, Unpack

from pynamodb.exceptions import DoesNotExist

from voxflow.store.batch_read import BatchRead
from voxflow.store.models import CacheEntry


class EntryFields(TypedDict):
    """``CacheIndex.new_entry``'s fields besides the key."""

    kind: str
    s3_key: str
    content_type: str
    audio_format: str
    sample_rate: int
    duration_s: float
    size: int
    timing: NotRequired[str | None]


class CacheIndex:
    def __init__(
        self, model: type[CacheEntry], ttl_s: int, chunk_ttl_s: int, region: str | None = None
    ) -> None:
        self._model = model
        self.region = region  # recorded on every entry: where its audio was stored first
        self._ttl = {"request": timedelta(seconds=ttl_s), "chunk": timedelta(seconds=chunk_ttl_s)}

    def lookup(self, key: str) -> CacheEntry | None:
        try:
            entry = self._model.get(key, consistent_read=True)
        except DoesNotExist:
            return None
        return entry if _live(entry) else None

    def lookup_many(self, keys: list[str], *, consistent: bool = False) -> dict[str, CacheEntry]:
        """The live entries among ``keys``; BatchGetItem takes 100 keys a call.
        ``consistent``: a strongly consistent read, as ``lookup``'s."""
        unique = list(dict.fromkeys(keys))
        return {
            entry.key: entry
            for entry in self._model.batch_get(unique, consistent_read=consistent or None)
            if _live(entry)
        }

    def lookup_in(self, read: BatchRead, keys: list[str]) -> Callable[[], dict[str, CacheEntry]]:
        """``lookup_many(keys, consistent=True)`` as a part of ``read``: the live entries,
        once it ran."""
        found = read.add(self._model, keys)
        return lambda: {key: entry for key, entry in found().items() if _live(entry)}

    def record(self, key: str, **fields: Unpack[EntryFields]) -> CacheEntry:
        """``new_entry``, written."""
        entry = self.new_entry(key, **fields)
        entry.save()
        return entry

    def new_entry(
        self,
        key: str,
        *,
        kind: str,
        s3_key: str,
        content_type: str,
        audio_format: str,
        sample_rate: int,
        duration_s: float,
        size: int,
        timing: str | None = None,
    ) -> CacheEntry:
        """The entry ``record`` writes, not written yet (``entry.save()`` writes it): for
        a caller that writes it alongside other calls."""
        now = datetime.now(UTC)
        return self._model(
            key,
            kind=kind,
            s3_key=s3_key,
            content_type=content_type,
            format=audio_format,
            sample_rate=sample_rate,
            duration_s=duration_s,
            bytes=size,
            hits=0,
            created_at=now,
            expires_at=now + self._ttl[kind],
            region=self.region,
            timing=timing,
        )

    def count_hit(self, entry: CacheEntry) -> None:
        # A hit keeps a hot phrase cached: it also pushes the expiry out.
        now = datetime.now(UTC)
        entry.update(
            actions=[
                self._model.hits.add(1),
                self._model.last_hit_at.set(now),
                self._model.expires_at.set(now + self._ttl[entry.kind]),
            ]
        )


def _live(entry: CacheEntry) -> bool:
    # DynamoDB deletes expired items up to days late: an expired entry is a miss,
    # its S3 object may already be gone.
    return entry.expires_at is None or entry.expires_at > datetime.now(UTC)
