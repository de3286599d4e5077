"""The S3 objects a moto server stored, as a log the replicator reads instead of listing.

On AWS, S3 replication is S3's own work, started by each write. Locally the replicator
listed both buckets every half second to find new objects. In a 200-request drill a
bucket holds ~2,500 chunk objects, and one listing of them took moto 1.5 s of its one
interpreter: the secondary's moto spent more CPU listing than the functions spent
synthesizing, and every call of the service waited behind it (issue 17).

``install()`` records each object moto stores (``put_object``, which copies and
completed multipart uploads go through too) in this process; ``WriteLog`` serves the
record at ``GET /_voxflow/s3-writes?bucket=NAME&after=N``: the keys written to that
bucket after the first N, and the N to ask from next time. Only the local stack's
moto serves it (voxflow_local.moto_app); nothing of voxflow calls it on AWS.
"""

import threading
from collections.abc import Callable
from typing import Any

from voxflow_local.json_path import BadQuery, JsonPath, Query

PATH = "/_voxflow/s3-writes"


_lock = threading.Lock()
_writes: dict[str, list[str]] = {}  # bucket → keys, in the order they were stored


def install() -> None:
    """Record every object moto's S3 backend stores in this process (the moto server's)."""
    from moto.s3.models import S3Backend

    original: Callable[..., Any] = S3Backend.put_object
    if getattr(original, "voxflow_write_log", False):
        return

    def put_object(self: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        stored = original(self, bucket_name, key_name, *args, **kwargs)
        with _lock:
            _writes.setdefault(bucket_name, []).append(key_name)
        return stored

    put_object.voxflow_write_log = True  # type: ignore[attr-defined]
    setattr(S3Backend, "put_object", put_object)  # noqa: B010


def written_after(bucket: str, after: int) -> tuple[list[str], int]:
    """The keys stored in ``bucket`` after the first ``after``, and the count so far."""
    with _lock:
        keys = _writes.get(bucket, [])
        return keys[after:], len(keys)


class WriteLog(JsonPath):
    """Serves ``PATH``: the keys a bucket stored after a cursor, and the next cursor."""

    path = PATH

    def answer(self, query: Query) -> dict[str, Any]:
        try:
            bucket = query["bucket"][0]
            after = int(query.get("after", ["0"])[0])
        except (KeyError, ValueError) as error:
            raise BadQuery("bucket=NAME&after=N") from error
        keys, count = written_after(bucket, max(0, after))
        return {"keys": keys, "next": count}
