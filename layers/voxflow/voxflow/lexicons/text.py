"""A request's text with its lexicons applied, for the plain-text chunk path.

Until structured chunks reach the engine (SSML's work), plan and ``voxflow synth``
still make chunks from one normalized string: this joins the document's text
segments back into it, aliases in place of their graphemes, and the string is then
normalized as before (an alias is normalized like the user's own words). A phoneme
entry cannot be spelled as text, so a request that uses one fails INVALID_LEXICON
rather than being read wrongly; once the document's structured chunks reach the
engine, phoneme entries travel as Phonemes segments instead and this module goes.
"""

from collections.abc import Sequence

from voxflow.errors import InvalidLexicon
from voxflow.lexicons.apply import apply_lexicons
from voxflow.lexicons.model import Lexicon
from voxflow.text.document import Phonemes, SpeechDocument, Text


def text_with_lexicons(text: str, lexicons: Sequence[Lexicon], *, max_chars: int) -> str:
    """TextTooLong when the aliases make the text longer than ``max_chars``."""
    if not lexicons:
        return text
    document = apply_lexicons(SpeechDocument.plain(text), lexicons, max_chars=max_chars)
    parts = []
    for segment in document.segments:
        if isinstance(segment, Phonemes):
            raise InvalidLexicon(
                "a phoneme entry matched, and phoneme entries are not spoken on the "
                "plain-text path yet; use an alias entry"
            )
        if isinstance(segment, Text):
            # No spaces added: whole-word matching means no letter or digit touches an
            # alias, so "W3C's" becomes "World Wide Web Consortium's".
            parts.append(segment.text)
    return "".join(parts)
