"""W3C PLS 1.0 documents to ``Lexicon`` values, with a hardened XML parser.

defusedxml refuses any DTD, so entity bombs and external entities fail before a
single entity is expanded; the 4,000-character limit is checked before parsing, which
bounds nesting and attribute sizes too. Errors name the element and the lexeme's
position, never a lexicon's words.

Accepted: ``<lexicon version="1.0" alphabet="ipa|x-sampa" xml:lang=...>`` in the PLS
namespace, holding ``<meta>``/``<metadata>`` (ignored) and ``<lexeme>`` elements; a
lexeme holds one or more ``<grapheme>``, ``<example>`` (ignored) and at least one
``<alias>`` or ``<phoneme>``. Of several pronunciations the first with
``prefer="true"`` is used, else the first (PLS 4.6, for synthesis).
"""

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from voxflow.errors import InvalidLexicon
from voxflow.lexicons.model import (
    Alias,
    Lexeme,
    Lexicon,
    Phoneme,
    Pronunciation,
    check_content,
    check_name,
    content_hash,
)
from voxflow.text.ssml.xsampa import xsampa_to_ipa

PLS_NAMESPACE = "http://www.w3.org/2005/01/pronunciation-lexicon"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_ALPHABETS = ("ipa", "x-sampa")
_IGNORED = frozenset({"meta", "metadata", "example"})


def parse_lexicon(name: str, content: str) -> Lexicon:
    check_name(name)
    check_content(content)
    root = _parse_xml(content)
    if _local(root) != "lexicon" or _namespace(root) != PLS_NAMESPACE:
        raise InvalidLexicon(
            f"the root element must be <lexicon> in the PLS namespace ({PLS_NAMESPACE})"
        )
    if root.get("version") != "1.0":
        raise InvalidLexicon('<lexicon> must have version="1.0"')
    alphabet = _alphabet(root.get("alphabet"), "<lexicon>")
    lexemes = []
    for position, child in enumerate(_children(root, "<lexicon>"), start=1):
        if _local(child) in _IGNORED:
            continue
        if _local(child) != "lexeme":
            raise InvalidLexicon(f"<lexicon> cannot hold <{_local(child)}>")
        lexemes.append(_lexeme(child, position, alphabet))
    return Lexicon(
        name=name,
        sha256=content_hash(content),
        lexemes=tuple(lexemes),
        language=root.get(_XML_LANG, ""),
        alphabet=alphabet,
    )


def _parse_xml(content: str) -> Element:
    try:
        # A str is decoded already: expat ignores its encoding declaration.
        return fromstring(  # type: ignore[no-any-return]
            content, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as error:
        raise InvalidLexicon(f"forbidden XML construct: {type(error).__name__}") from None
    except ParseError as error:
        line, column = error.position
        raise InvalidLexicon(f"malformed XML at line {line}, column {column}") from None


def _lexeme(element: Element, position: int, default_alphabet: str) -> Lexeme:
    where = f"lexeme {position}"
    graphemes: list[str] = []
    pronunciations: list[tuple[bool, Pronunciation]] = []
    for child in _children(element, where):
        kind = _local(child)
        if kind in _IGNORED:
            continue
        if kind == "grapheme":
            graphemes.append(_text(child, f"{where}: <grapheme>"))
        elif kind == "alias":
            pronunciations.append((_preferred(child), Alias(_text(child, f"{where}: <alias>"))))
        elif kind == "phoneme":
            alphabet = _alphabet(child.get("alphabet", default_alphabet), f"{where}: <phoneme>")
            symbols = _text(child, f"{where}: <phoneme>").replace(" ", "")
            ipa = xsampa_to_ipa(symbols) if alphabet == "x-sampa" else symbols
            if ipa is None:
                raise InvalidLexicon(f"{where}: <phoneme> holds a symbol x-sampa does not have")
            pronunciations.append((_preferred(child), Phoneme(ipa)))
        else:
            raise InvalidLexicon(f"{where}: <lexeme> cannot hold <{kind}>")
    if not graphemes:
        raise InvalidLexicon(f"{where}: no <grapheme>")
    if not pronunciations:
        raise InvalidLexicon(f"{where}: no <alias> or <phoneme>")
    chosen = next((p for preferred, p in pronunciations if preferred), pronunciations[0][1])
    return Lexeme(tuple(graphemes), chosen)


def _children(element: Element, where: str) -> list[Element]:
    for child in element:
        if _namespace(child) != PLS_NAMESPACE:
            raise InvalidLexicon(f"{where} holds an element outside the PLS namespace")
    return list(element)


def _text(element: Element, where: str) -> str:
    if len(element):
        raise InvalidLexicon(f"{where} must hold text only")
    text = " ".join((element.text or "").split())
    if not text:
        raise InvalidLexicon(f"{where} is empty")
    return text


def _alphabet(value: str | None, where: str) -> str:
    alphabet = (value or "").lower()
    if alphabet not in _ALPHABETS:
        raise InvalidLexicon(f"{where}: alphabet must be ipa or x-sampa")
    return alphabet


def _preferred(element: Element) -> bool:
    return element.get("prefer") == "true"


def _local(element: Element) -> str:
    return str(element.tag).rsplit("}", 1)[-1]


def _namespace(element: Element) -> str:
    tag = str(element.tag)
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""
