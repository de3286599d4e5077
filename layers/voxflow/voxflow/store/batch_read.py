"""Reads of several tables that go together, in one BatchGetItem.

A hit's first round reads its cache entries and its tenant's quota item: two calls side
by side cost the wall time of the slower and two requests' work on each side. One
BatchGetItem takes keys of several tables, each with its own ConsistentRead, so the
round is one request. Measured on the local stack's moto (benchmarks/NOTES.md, session
16): p50 4.6 → 2.5 ms, p99 6.9 → 3.9 ms.

The models are ``voxflow.store.models.bind``'s, all bound to one account and region.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pynamodb.models import Model

KEYS_PER_CALL = 100  # BatchGetItem's limit
# Keys DynamoDB leaves unprocessed (throttling, a response over 16 MB) are asked again
# with these pauses; the rest are then read one by one.
_RETRY_PAUSES_S = (0.01, 0.05, 0.2)


@dataclass
class _Part:
    model: type[Model]
    keys: list[str]
    found: dict[str, Model] = field(default_factory=dict)
    done: bool = False


class BatchRead:
    """Consistent reads of items of several tables, by hash key, made together by
    ``run``. Each ``add`` returns the function that gives its items once ``run`` ran:
    those found, by hash key."""

    def __init__(self) -> None:
        self._parts: list[_Part] = []

    @property
    def key_count(self) -> int:
        return sum(len(part.keys) for part in self._parts)

    def add[M: Model](self, model: type[M], keys: Sequence[str]) -> Callable[[], dict[str, M]]:
        table = model.Meta.table_name
        if any(part.model.Meta.table_name == table for part in self._parts):
            raise ValueError(f"{table} is in this read already")
        part = _Part(model, list(dict.fromkeys(keys)))
        self._parts.append(part)

        def found() -> dict[str, M]:
            if not part.done:
                raise RuntimeError("the batch read has not run")
            return part.found  # type: ignore[return-value]

        return found

    def run(self) -> None:
        if self.key_count > KEYS_PER_CALL:
            raise ValueError(f"{self.key_count} keys: one BatchGetItem takes {KEYS_PER_CALL}")
        by_table = {part.model.Meta.table_name: part for part in self._parts if part.keys}
        request: dict[str, Any] = {
            table: {"Keys": [_key(part.model, key) for key in part.keys], "ConsistentRead": True}
            for table, part in by_table.items()
        }
        if request:
            client = next(iter(by_table.values())).model._get_connection().connection.client
            request = self._read(client, request, by_table)
            for table, unprocessed in request.items():
                self._one_by_one(by_table[table], unprocessed["Keys"])
        for part in self._parts:
            part.done = True

    @staticmethod
    def _read(client: Any, request: dict[str, Any], by_table: dict[str, _Part]) -> dict[str, Any]:
        """Reads ``request``, again for what is left unprocessed; returns what still is."""
        for pause in (*_RETRY_PAUSES_S, None):
            response = client.batch_get_item(RequestItems=request)
            for table, items in response.get("Responses", {}).items():
                part = by_table[table]
                for item in items:
                    entry = part.model.from_raw_data(item)
                    part.found[_hash_key(entry)] = entry
            request = response.get("UnprocessedKeys") or {}
            if not request or pause is None:
                break
            time.sleep(pause)
        return request

    @staticmethod
    def _one_by_one(part: _Part, keys: list[dict[str, Any]]) -> None:
        attribute = _hash_key_attribute(part.model)
        for key in keys:
            value = attribute.deserialize(key[attribute.attr_name][attribute.attr_type])
            try:
                entry = part.model.get(value, consistent_read=True)
            except part.model.DoesNotExist:
                continue
            part.found[_hash_key(entry)] = entry


def _hash_key_attribute(model: type[Model]) -> Any:
    return model.get_attributes()[str(model._hash_keyname)]


def _key(model: type[Model], value: str) -> dict[str, Any]:
    attribute = _hash_key_attribute(model)
    return {attribute.attr_name: {attribute.attr_type: attribute.serialize(value)}}


def _hash_key(entry: Model) -> str:
    return str(getattr(entry, str(entry._hash_keyname)))
