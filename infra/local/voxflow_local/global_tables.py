"""Global tables' last writer wins, decided where AWS decides it: in the receiving region.

A global table replicates each write as the whole item, and when two regions write one
item the later write wins in both. The receiving replica compares the copy's write time
with its own item's atomically. The replicator used to compare on its own side, against
the writes it had read so far from the receiving region's stream; under load that read
ran seconds behind, and an older copy landed on a newer write. In a drill (issue 17,
g6) the old primary's image of a job overwrote the secondary's takeover, its count of a
cached chunk and its ``dispatched`` mark, and the job waited for the sweeper.

``install`` makes this process's moto remember each streamed item's last write time (a
write of the service: its stream record's time; a replicated copy: the time it was
written in its own region). ``ReplicaWrites`` serves ``POST PATH`` with
``{"region", "table", "keys", "image" (null: a delete), "written_at"}`` and applies the
copy only if it is newer than that, under the lock every moto write takes
(voxflow_local.moto_transactions). The copy's stream record carries
``userIdentity.PrincipalId == REPLICA_PRINCIPAL``, so the replicator never sends it
back. Only the local stack's moto serves it; nothing of voxflow calls it on AWS.
"""

import base64
import json
import threading
from collections.abc import Callable
from typing import Any

from voxflow_local.json_path import BadQuery, JsonPath, Query
from voxflow_local.moto_transactions import WRITES_LOCK
from voxflow_local.stream_heads import DEFAULT_ACCOUNT

PATH = "/_voxflow/replicate-item"
REPLICA_PRINCIPAL = "voxflow-replicator"

_copy = threading.local()  # written_at: the origin's write time while a copy is applied


def key_of(keys: dict[str, Any]) -> str:
    """One item's key attributes as one string (DynamoDB JSON, S/N/B keys only)."""
    return json.dumps(keys, sort_keys=True)


def _write_times(table: Any) -> dict[str, float]:
    times: dict[str, float] | None = getattr(table, "voxflow_write_times", None)
    if times is None:
        times = {}
        table.voxflow_write_times = times
    return times


def install() -> None:
    """Patch moto's stream shards in this process to stamp each streamed write."""
    from moto.core.utils import unix_time
    from moto.dynamodb.models.table import StreamShard

    original: Callable[..., None] = StreamShard.add
    if getattr(original, "voxflow_stamps", False):
        return

    def add(self: Any, old: Any, new: Any) -> None:
        original(self, old, new)
        record = self.items[-1].record
        origin_time = getattr(_copy, "written_at", None)
        if origin_time is None:
            stamp = unix_time(record["dynamodb"]["ApproximateCreationDateTime"])
        else:
            stamp = origin_time
            record["userIdentity"] = {"PrincipalId": REPLICA_PRINCIPAL, "Type": "Service"}
        _write_times(self.table)[key_of(record["dynamodb"]["Keys"])] = stamp

    add.voxflow_stamps = True  # type: ignore[attr-defined]
    setattr(StreamShard, "add", add)  # noqa: B010


def wire_binary(value: dict[str, Any]) -> dict[str, Any]:
    """An attribute value from JSON (binary in base64) as moto's request parser hands
    values to its backend: binary as bytes, in lists and maps too. moto keeps a binary
    value given as a string as that string, and its UpdateItem answer encodes it again."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {kind: base64.b64decode(inner) if isinstance(inner, str) else inner}
    if kind == "BS":
        return {kind: [base64.b64decode(v) if isinstance(v, str) else v for v in inner]}
    if kind == "L":
        return {kind: [wire_binary(element) for element in inner]}
    if kind == "M":
        return {kind: {name: wire_binary(element) for name, element in inner.items()}}
    return value


def apply_copy(
    region: str,
    table_name: str,
    keys: dict[str, Any],
    image: dict[str, Any] | None,
    *,
    written_at: float,
    account: str = DEFAULT_ACCOUNT,
) -> bool:
    """Write a copy made in another region at ``written_at`` (epoch seconds) unless
    this region's item was written at or after it; True if it was written."""
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[account][region]
    table = backend.tables.get(table_name)
    if table is None:
        raise BadQuery(f"no table {table_name} in {region}")
    key = key_of(keys)
    with WRITES_LOCK:
        last = _write_times(table).get(key)
        if last is not None and last >= written_at:
            return False
        _copy.written_at = written_at
        try:
            if image is not None:
                backend.put_item(
                    table_name, {name: wire_binary(value) for name, value in image.items()}
                )
            else:
                backend.delete_item(table_name, keys)
        finally:
            _copy.written_at = None
        # A delete of an item that is not there leaves no record: stamp it all the same,
        # so an older copy of the item cannot bring it back.
        _write_times(table)[key] = written_at
    return True


class ReplicaWrites(JsonPath):
    """Serves ``POST PATH``: one replicated item write, applied if it is the newer."""

    path = PATH

    def answer(self, query: Query) -> Any:
        del query
        raise BadQuery("POST a JSON body: region, table, keys, image, written_at")

    def answer_post(self, payload: Any) -> Any:
        try:
            applied = apply_copy(
                str(payload["region"]),
                str(payload["table"]),
                dict(payload["keys"]),
                None if payload.get("image") is None else dict(payload["image"]),
                written_at=float(payload["written_at"]),
                account=str(payload.get("account", DEFAULT_ACCOUNT)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise BadQuery(f"region, table, keys, image, written_at: {error!r}") from error
        return {"applied": applied}
