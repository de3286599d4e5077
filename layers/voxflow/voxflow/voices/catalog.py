"""The voice catalog: voices added to a deployment as data, one DynamoDB item each.

An entry names the voice's model by its sha256 (the model version that cache keys
hold) and carries what a listing shows and what synthesis defaults to, so that plan
can key a request without downloading the model. The model and its config live in
the service's bucket (voxflow.voices.store). In two regions the table is global,
like the tenants: an entry added in one region holds in both.
"""

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from voxflow.errors import VoiceTaken

VOICES_PREFIX = "voices/"


@dataclass(frozen=True)
class CatalogEntry:
    voice_id: str
    language_code: str  # the config's language.code, e.g. de_DE
    language_name: str  # in English, e.g. German
    espeak_voice: str
    sample_rate: int
    quality: str
    model_sha256: str  # the model version
    model_size: int
    config_sha256: str
    # The config's inference section, as piper reads it.
    length_scale: float
    noise_scale: float
    noise_w: float
    speakers: dict[str, int] = field(default_factory=dict)  # name -> sid; empty: one speaker
    enabled: bool = True
    added_at: str = ""

    @property
    def model_key(self) -> str:
        return f"{VOICES_PREFIX}{self.voice_id}/{self.model_sha256}.onnx"

    @property
    def config_key(self) -> str:
        return f"{VOICES_PREFIX}{self.voice_id}/{self.model_sha256}.onnx.json"


class VoiceCatalog(Protocol):
    def entry(self, voice_id: str) -> CatalogEntry | None: ...

    def entries(self) -> list[CatalogEntry]: ...

    def register(self, entry: CatalogEntry) -> CatalogEntry:
        """Adds the entry; VoiceTaken if the id is in the catalog already."""
        ...

    def set_enabled(self, voice_id: str, enabled: bool) -> CatalogEntry | None: ...

    def remove(self, voice_id: str) -> CatalogEntry | None: ...


class VoicesTable:
    """The DynamoDB table behind the catalog (``${AWS::StackName}-voices``)."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self.table = table

    def entry(self, voice_id: str) -> CatalogEntry | None:
        # Consistent: a disabled or removed voice is refused from the next request on.
        item = self._dynamodb.get_item(
            TableName=self.table, Key={"voice_id": {"S": voice_id}}, ConsistentRead=True
        ).get("Item")
        return _entry(item) if item else None

    def entries(self) -> list[CatalogEntry]:
        found: list[CatalogEntry] = []
        for page in self._dynamodb.get_paginator("scan").paginate(TableName=self.table):
            found.extend(_entry(item) for item in page.get("Items", []))
        return sorted(found, key=lambda entry: entry.voice_id)

    def register(self, entry: CatalogEntry) -> CatalogEntry:
        added = replace(entry, added_at=entry.added_at or datetime.now(UTC).isoformat())
        try:
            self._dynamodb.put_item(
                TableName=self.table,
                Item=_item(added),
                ConditionExpression="attribute_not_exists(voice_id)",
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            raise VoiceTaken(f"voice id {entry.voice_id!r} is taken") from None
        return added

    def set_enabled(self, voice_id: str, enabled: bool) -> CatalogEntry | None:
        try:
            updated = self._dynamodb.update_item(
                TableName=self.table,
                Key={"voice_id": {"S": voice_id}},
                UpdateExpression="SET enabled = :enabled",
                ConditionExpression="attribute_exists(voice_id)",
                ExpressionAttributeValues={":enabled": {"BOOL": enabled}},
                ReturnValues="ALL_NEW",
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return None
        return _entry(updated["Attributes"])

    def remove(self, voice_id: str) -> CatalogEntry | None:
        old = self._dynamodb.delete_item(
            TableName=self.table, Key={"voice_id": {"S": voice_id}}, ReturnValues="ALL_OLD"
        ).get("Attributes")
        return _entry(old) if old else None


def create_voices_table(dynamodb: Any, name: str) -> None:
    """The table's keys as template.yaml declares them, for tests without a stack."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "voice_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "voice_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


_TEXT = (
    *("voice_id", "language_code", "language_name", "espeak_voice", "quality"),
    *("model_sha256", "config_sha256", "added_at"),
)
_NUMBERS = ("sample_rate", "model_size", "length_scale", "noise_scale", "noise_w")


def _item(entry: CatalogEntry) -> dict[str, Any]:
    item: dict[str, Any] = {name: {"S": str(getattr(entry, name))} for name in _TEXT}
    item.update({name: {"N": repr(getattr(entry, name))} for name in _NUMBERS})
    item["speakers"] = {"S": json.dumps(entry.speakers, sort_keys=True)}
    item["enabled"] = {"BOOL": entry.enabled}
    return item


def _entry(item: dict[str, Any]) -> CatalogEntry:
    return CatalogEntry(
        voice_id=item["voice_id"]["S"],
        language_code=item["language_code"]["S"],
        language_name=item["language_name"]["S"],
        espeak_voice=item["espeak_voice"]["S"],
        sample_rate=int(item["sample_rate"]["N"]),
        quality=item["quality"]["S"],
        model_sha256=item["model_sha256"]["S"],
        model_size=int(item["model_size"]["N"]),
        config_sha256=item["config_sha256"]["S"],
        length_scale=float(item["length_scale"]["N"]),
        noise_scale=float(item["noise_scale"]["N"]),
        noise_w=float(item["noise_w"]["N"]),
        speakers={str(k): int(v) for k, v in json.loads(item["speakers"]["S"]).items()},
        enabled=bool(item["enabled"]["BOOL"]),
        added_at=item.get("added_at", {}).get("S", ""),
    )


class MemoryCatalog:
    """The catalog in a dict: for unit tests and a CLI without a stack."""

    def __init__(self, entries: list[CatalogEntry] | None = None) -> None:
        self._entries = {entry.voice_id: entry for entry in entries or []}

    def entry(self, voice_id: str) -> CatalogEntry | None:
        return self._entries.get(voice_id)

    def entries(self) -> list[CatalogEntry]:
        return [self._entries[voice_id] for voice_id in sorted(self._entries)]

    def register(self, entry: CatalogEntry) -> CatalogEntry:
        if entry.voice_id in self._entries:
            raise VoiceTaken(f"voice id {entry.voice_id!r} is taken")
        self._entries[entry.voice_id] = entry
        return entry

    def set_enabled(self, voice_id: str, enabled: bool) -> CatalogEntry | None:
        if voice_id not in self._entries:
            return None
        self._entries[voice_id] = replace(self._entries[voice_id], enabled=enabled)
        return self._entries[voice_id]

    def remove(self, voice_id: str) -> CatalogEntry | None:
        return self._entries.pop(voice_id, None)
