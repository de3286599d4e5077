"""Polly's PutLexicon, GetLexicon, ListLexicons and DeleteLexicon over the lexicon table
(voxflow.lexicons.store), with Polly's limits and error codes.

Lexicons are the deployment's, as Polly's are an account's in a region: every signed
principal sees and changes the same set, and requests of every tenant may name them.
"""

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from voxflow.api.polly import PollyError
from voxflow.errors import InvalidLexicon
from voxflow.lexicons.model import MAX_CONTENT_CHARS, NAME_PATTERN
from voxflow.lexicons.pls import parse_lexicon
from voxflow.lexicons.store import LexiconTable, StoredLexicon

MAX_LEXICONS = 100  # Polly's per region
MAX_LEXEME_CHARS = 100  # Polly's: a grapheme or alias
LIST_PAGE = 25


class PollyLexicons:
    def __init__(self, table: LexiconTable | None, region: str, account: str = "") -> None:
        """``table`` None: this deployment stores no lexicons (every call says so).
        ``account``: the deployment's AWS account, for LexiconArn."""
        self._table = table
        self._region = region
        self._account = account

    def put(self, name: str, body: bytes) -> dict[str, Any]:
        table = self._store()
        _check_name(name)
        content = _content(body)
        if len(content) > MAX_CONTENT_CHARS:
            raise PollyError(
                "LexiconSizeExceededException",
                f"a lexicon has at most {MAX_CONTENT_CHARS} characters; this one {len(content)}",
            )
        try:
            lexicon = parse_lexicon(name, content)
        except InvalidLexicon as error:
            code = "UnsupportedPlsAlphabetException" if "alphabet" in str(error) else None
            raise PollyError(code or "InvalidLexiconException", str(error)) from None
        for position, lexeme in enumerate(lexicon.lexemes, start=1):
            words = [*lexeme.graphemes, getattr(lexeme.pronunciation, "text", "")]
            if any(len(word) > MAX_LEXEME_CHARS for word in words):
                raise PollyError(
                    "MaxLexemeLengthExceededException",
                    f"lexeme {position}: a grapheme or alias has at most "
                    f"{MAX_LEXEME_CHARS} characters",
                )
        if table.get(name) is None and len(table.list()) >= MAX_LEXICONS:
            raise PollyError(
                "MaxLexiconsNumberExceededException",
                f"this deployment holds at most {MAX_LEXICONS} lexicons",
            )
        table.put(name, content)
        return {}

    def get(self, name: str) -> dict[str, Any]:
        stored = self._found(name)
        return {
            "Lexicon": {"Name": stored.name, "Content": stored.content},
            "LexiconAttributes": self._attributes(stored),
        }

    def list(self, next_token: str | None) -> dict[str, Any]:
        stored = self._store().list()  # sorted by name
        after = _after(next_token) if next_token else None
        remaining = [lexicon for lexicon in stored if after is None or lexicon.name > after]
        page = remaining[:LIST_PAGE]
        document: dict[str, Any] = {
            "Lexicons": [
                {"Name": lexicon.name, "Attributes": self._attributes(lexicon)} for lexicon in page
            ]
        }
        if len(remaining) > LIST_PAGE:
            document["NextToken"] = base64.urlsafe_b64encode(page[-1].name.encode()).decode()
        return document

    def delete(self, name: str) -> dict[str, Any]:
        _check_name(name)
        if self._store().delete(name) is None:
            raise _not_found(name)
        return {}

    def _store(self) -> LexiconTable:
        if self._table is None:
            raise PollyError("ServiceFailureException", "this deployment stores no lexicons")
        return self._table

    def _found(self, name: str) -> StoredLexicon:
        _check_name(name)
        stored = self._store().get(name)
        if stored is None:
            raise _not_found(name)
        return stored

    def _attributes(self, stored: StoredLexicon) -> dict[str, Any]:
        lexicon = parse_lexicon(stored.name, stored.content)  # stored ones always parse
        modified = datetime.fromisoformat(stored.updated_at) if stored.updated_at else None
        attributes: dict[str, Any] = {
            "Alphabet": lexicon.alphabet,
            "LanguageCode": lexicon.language,
            "LexiconArn": f"arn:aws:polly:{self._region}:{self._account}:lexicon/{stored.name}",
            "LexemesCount": len(lexicon.lexemes),
            "Size": len(stored.content),
        }
        if modified is not None:
            attributes["LastModified"] = modified.timestamp()  # rest-json: epoch seconds
        return attributes


def _check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise PollyError(
            "ValidationException",
            "1 validation error detected: Value at 'name' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [0-9A-Za-z]{1,20}",
        )


def _content(body: bytes) -> str:
    try:
        document = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        raise PollyError("SerializationException", "the request body is not JSON") from None
    content = document.get("Content") if isinstance(document, dict) else None
    if not isinstance(content, str) or not content:
        raise PollyError(
            "ValidationException",
            "1 validation error detected: Value at 'content' failed to satisfy constraint: "
            "Member must not be null",
        )
    return content


def _after(token: str) -> str:
    try:
        name = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        name = ""
    if not NAME_PATTERN.fullmatch(name):
        raise PollyError("InvalidNextTokenException", "the NextToken is not one this API gave")
    return name


def _not_found(name: str) -> PollyError:
    return PollyError("LexiconNotFoundException", f"lexicon {name} not found")
