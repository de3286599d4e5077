"""moto's TransactWriteItems without its copy of every table it touches.

moto 5.2.5 keeps a ``copy.deepcopy`` of each whole table a transaction names, to roll
back a cancelled one: a cost that grows with the table (the jobs and audit tables grow
with every request), so a one-item transaction on the local stack took hundreds of
milliseconds once a benchmark had run a few hundred requests (benchmarks/NOTES.md,
session 8). On AWS a transaction costs about what two writes do, whatever the table's
size. ``install`` makes moto keep only the items the transaction names (a transaction
changes nothing else) and put those back on a rollback: the same outcome, at the cost
of the transaction's own items. moto's function itself runs unchanged.

And moto's writes are not atomic: the server is threaded, and a condition checked in
one request thread can be passed by another's write before this one writes (two
concurrent conditional creates of one job both succeeded under load: two terminal
events in tests/test_hit_path.py's race). DynamoDB checks and writes an item
atomically; ``install`` puts every write (and each transaction, whole) under one lock.
"""

import copy
import threading
from collections.abc import Callable
from typing import Any

_touched = threading.local()  # table name -> the keys the running transaction names
WRITES_LOCK = threading.RLock()  # a transaction's writes call the backend's own write methods
_WRITE_METHODS = ("put_item", "update_item", "delete_item", "batch_write_item")


class TableSnapshot:
    """What a rollback needs of one table: the items the transaction names, as they were."""

    def __init__(self, table: Any, keys: list[dict[str, Any]]) -> None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        self.table = table
        self.saved: list[tuple[Any, Any, Any]] = []
        for key in keys:
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            item = table.get_item(hash_key, range_key)
            self.saved.append((hash_key, range_key, copy.deepcopy(item)))

    def restore(self) -> Any:
        """Put the saved items back; returns the table (moto's rollback assigns it)."""
        table = self.table
        for hash_key, range_key, item in self.saved:
            if item is None:
                if table.get_item(hash_key, range_key) is not None:
                    table.delete_item(hash_key, range_key)
            elif range_key is not None:
                table.items[hash_key][range_key] = item
            else:
                table.items[hash_key] = item
        return table


class _SnapshotCopy:
    """Stands in for the ``copy`` module in moto's dynamodb models: a table copied during
    a transaction is a TableSnapshot; anything else is copied as ``copy`` does."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        from moto.dynamodb.models.table import Table

        keys = getattr(_touched, "keys", None)
        if keys is not None and isinstance(value, Table):
            return TableSnapshot(value, keys.get(value.name, []))
        return copy.deepcopy(value, memo)


def _keys_by_table(backend: Any, transact_items: list[dict[str, Any]]) -> dict[str, list[Any]]:
    keys: dict[str, list[Any]] = {}
    for item in transact_items:
        for op_type, op in item.items():
            name = op.get("TableName")
            if name not in backend.tables:
                continue
            if op_type == "Put":
                table = backend.tables[name]
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs.get(table.hash_key_attr)}
                if table.range_key_attr:
                    key[table.range_key_attr] = attrs.get(table.range_key_attr)
            else:
                key = op.get("Key") or {}
            if all(value is not None for value in key.values()):
                keys.setdefault(name, []).append(key)
    return keys


def install() -> None:
    """Patch moto's DynamoDB backend in this process (the local moto server's)."""
    from moto.dynamodb import models

    backend_class = models.DynamoDBBackend
    original: Callable[..., None] = backend_class.transact_write_items
    if getattr(original, "voxflow_snapshots", False):
        return
    setattr(models, "copy", _SnapshotCopy())  # noqa: B010 (moto exports no "copy")

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        _touched.keys = _keys_by_table(self, transact_items)
        try:
            with WRITES_LOCK:
                original(self, transact_items)
        finally:
            _touched.keys = None
            # A rollback put snapshots where the tables were: the tables go back, restored.
            for name, value in list(self.tables.items()):
                if isinstance(value, TableSnapshot):
                    self.tables[name] = value.restore()

    transact_write_items.voxflow_snapshots = True  # type: ignore[attr-defined]
    setattr(backend_class, "transact_write_items", transact_write_items)  # noqa: B010
    for name in _WRITE_METHODS:
        if hasattr(backend_class, name):
            setattr(backend_class, name, _atomic(getattr(backend_class, name)))


def _atomic(write: Callable[..., Any]) -> Callable[..., Any]:
    def atomic(*args: Any, **kwargs: Any) -> Any:
        with WRITES_LOCK:
            return write(*args, **kwargs)

    return atomic
