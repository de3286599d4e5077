"""SSML text to a SpeechDocument, through defusedxml's hardened expat reader.

Hostile input ends in InvalidSsml, never in a crash, a hang or a blown stack: DTDs,
entity declarations and external references are refused by defusedxml before
anything expands; the document's size, nesting depth, element count and attribute
lengths are bounded here. Errors carry the line, column and tag, never the text.
"""

import io
import xml.sax
from bisect import bisect_right
from typing import Any
from xml.sax.xmlreader import InputSource

from defusedxml.common import DefusedXmlException
from defusedxml.expatreader import DefusedExpatParser

from voxflow.errors import InvalidSsml
from voxflow.text.document import SpeechDocument
from voxflow.text.ssml.elements import DocumentBuilder, Position, SsmlError

MAX_SSML_CHARS = 200_000  # Polly's limit for a whole SSML request, tags included
MAX_DEPTH = 32
MAX_ELEMENTS = 10_000
MAX_ATTRIBUTE_CHARS = 2_000


class _Offsets:
    """Byte offsets of the UTF-8 document to character offsets of the text."""

    def __init__(self, text: str) -> None:
        self._ascii = text.isascii()
        if not self._ascii:
            starts, total = [], 0
            for char in text:
                starts.append(total)
                total += len(char.encode("utf-8"))
            self._starts = starts

    def char(self, byte_offset: int) -> int:
        if self._ascii:
            return byte_offset
        return bisect_right(self._starts, byte_offset) - 1 if byte_offset > 0 else 0


class _Handler(xml.sax.ContentHandler):
    def __init__(self, builder: DocumentBuilder, offsets: _Offsets) -> None:
        super().__init__()
        self.builder = builder
        self.offsets = offsets
        self.reader: Any = None  # the expat parser, for positions (set before parsing)
        self.depth = 0
        self.elements = 0

    def position(self) -> Position:
        parser = self.reader._parser  # defusedxml's reader keeps pyexpat's parser here
        if parser is None:
            return Position(1, 1, 0)
        return Position(
            parser.CurrentLineNumber,
            parser.CurrentColumnNumber + 1,
            self.offsets.char(parser.CurrentByteIndex),
        )

    def startElement(self, name: str, attrs: Any) -> None:  # noqa: N802 - SAX's name
        where = self.position()
        self.depth += 1
        self.elements += 1
        if self.depth > MAX_DEPTH:
            raise SsmlError(f"elements nest deeper than {MAX_DEPTH}", where, name)
        if self.elements > MAX_ELEMENTS:
            raise SsmlError(f"more than {MAX_ELEMENTS} elements", where, name)
        attributes = {key: attrs.getValue(key) for key in attrs.getNames()}
        if any(len(value) > MAX_ATTRIBUTE_CHARS for value in attributes.values()):
            raise SsmlError(
                f"an attribute is longer than {MAX_ATTRIBUTE_CHARS} characters", where, name
            )
        self.builder.start(name, attributes, where)

    def endElement(self, name: str) -> None:  # noqa: N802 - SAX's name
        self.depth -= 1
        self.builder.end(name, self.position())

    def characters(self, content: str) -> None:
        self.builder.characters(content, self.position())


def parse_ssml(ssml: str | bytes, *, max_chars: int = MAX_SSML_CHARS) -> SpeechDocument:
    """The speech an SSML document asks for; InvalidSsml for anything else."""
    text = _decoded(ssml)
    if len(text) > max_chars:
        raise InvalidSsml(f"the document is longer than {max_chars} characters", 1, 1)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as error:  # a lone surrogate
        raise _at_char(text, error.start, "the text is not valid Unicode") from None
    offsets = _Offsets(text)
    builder = DocumentBuilder(text)
    handler = _Handler(builder, offsets)
    reader = DefusedExpatParser(forbid_dtd=True, forbid_entities=True, forbid_external=True)
    handler.reader = reader
    reader.setContentHandler(handler)
    reader.setErrorHandler(xml.sax.ErrorHandler())
    source = InputSource()
    source.setByteStream(io.BytesIO(data))
    source.setEncoding("utf-8")  # overrides the document's own declaration
    try:
        reader.parse(source)
    except SsmlError as error:
        raise InvalidSsml(error.reason, error.where.line, error.where.column, error.tag) from None
    except xml.sax.SAXParseException as error:
        reason = _expat_reason(error)
        line, column = error.getLineNumber() or 1, (error.getColumnNumber() or 0) + 1
        raise InvalidSsml(reason, line, column) from None
    except DefusedXmlException as error:
        where = handler.position()
        raise InvalidSsml(_defused_reason(error), where.line, where.column) from None
    except (xml.sax.SAXException, ValueError, RecursionError) as error:
        where = handler.position()
        raise InvalidSsml(type(error).__name__, where.line, where.column) from None
    return builder.document()


def _decoded(ssml: str | bytes) -> str:
    if isinstance(ssml, str):
        return ssml
    try:
        return ssml.decode("utf-8")
    except UnicodeDecodeError as error:
        prefix = ssml[: error.start].decode("utf-8")
        raise _at_char(prefix + " ", len(prefix), "the bytes are not valid UTF-8") from None


def _at_char(text: str, index: int, reason: str) -> InvalidSsml:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return InvalidSsml(reason, line, column)


def _expat_reason(error: xml.sax.SAXParseException) -> str:
    # expat's messages name the fault ("mismatched tag"), never the document's text.
    message = str(error.getMessage())
    return f"malformed XML ({message})"


def _defused_reason(error: DefusedXmlException) -> str:
    name = type(error).__name__
    return {
        "DTDForbidden": "a DTD is not allowed",
        "EntitiesForbidden": "entity declarations are not allowed",
        "ExternalReferenceForbidden": "external references are not allowed",
    }.get(name, "forbidden XML construct")
