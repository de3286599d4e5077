"""Lexicons stored by name: the ``${AWS::StackName}-lexicons`` table.

One item per lexicon: ``name`` (hash key), ``content`` (the PLS document as put),
``sha256`` (of the content: what cache keys carry) and ``updated_at``. Like the tenant
table it is a global table, so the secondary region applies the same lexicons to the
requests it takes over (docs/lexicons.md says why a table rather than S3 objects).
Content is parsed when put, so a stored lexicon always parses, and again when a
request names it (4,000 characters: microseconds, and no parsed form to keep in step).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from voxflow.errors import LexiconNotFound
from voxflow.lexicons.model import Lexicon, check_name, check_names, content_hash
from voxflow.lexicons.pls import parse_lexicon


@dataclass(frozen=True)
class StoredLexicon:
    name: str
    content: str
    sha256: str
    updated_at: str  # ISO 8601, UTC


class LexiconRepository(Protocol):
    def get(self, name: str) -> StoredLexicon | None:
        """The lexicon stored under ``name``; None when there is none."""
        ...


def resolve_lexicons(repository: LexiconRepository, names: Sequence[str]) -> list[Lexicon]:
    """The named lexicons, parsed, in the request's order; LexiconNotFound for the
    first name that is not stored."""
    lexicons = []
    for name in check_names(tuple(names)):
        stored = repository.get(name)
        if stored is None:
            raise LexiconNotFound(name)
        lexicons.append(parse_lexicon(stored.name, stored.content))
    return lexicons


class LexiconTable:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self.table = table

    def get(self, name: str) -> StoredLexicon | None:
        # Consistent: a lexicon put a moment ago applies to the next request here.
        item = self._dynamodb.get_item(
            TableName=self.table, Key={"name": {"S": check_name(name)}}, ConsistentRead=True
        ).get("Item")
        return _stored(item) if item else None

    def put(self, name: str, content: str) -> StoredLexicon:
        """Stores (or replaces) a lexicon; InvalidLexicon if it would not apply."""
        lexicon = parse_lexicon(name, content)
        stored = StoredLexicon(name, content, lexicon.sha256, datetime.now(UTC).isoformat())
        self._dynamodb.put_item(
            TableName=self.table,
            Item={
                "name": {"S": stored.name},
                "content": {"S": stored.content},
                "sha256": {"S": stored.sha256},
                "updated_at": {"S": stored.updated_at},
            },
        )
        return stored

    def delete(self, name: str) -> StoredLexicon | None:
        """Removes a lexicon; returns it, or None if there was none."""
        old = self._dynamodb.delete_item(
            TableName=self.table, Key={"name": {"S": check_name(name)}}, ReturnValues="ALL_OLD"
        ).get("Attributes")
        return _stored(old) if old else None

    def list(self) -> list[StoredLexicon]:
        found: list[StoredLexicon] = []
        for page in self._dynamodb.get_paginator("scan").paginate(TableName=self.table):
            found.extend(_stored(item) for item in page.get("Items", []))
        return sorted(found, key=lambda stored: stored.name)


def create_lexicons_table(dynamodb: Any, name: str) -> None:
    """The table's keys as template.yaml declares them, for tests without a stack."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "name", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "name", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _stored(item: dict[str, Any]) -> StoredLexicon:
    content = item["content"]["S"]
    return StoredLexicon(
        name=item["name"]["S"],
        content=content,
        sha256=item.get("sha256", {}).get("S") or content_hash(content),
        updated_at=item.get("updated_at", {}).get("S", ""),
    )
