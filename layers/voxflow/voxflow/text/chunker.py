"""Sentence chunking: the unit of synthesis and of the audio cache.

A chunk is one sentence, never several: the cache keys audio by chunk text,
so the same sentence has to become the same chunk wherever it appears.
Only a sentence longer than the limit is cut, first at clause punctuation,
then between words, and a single word longer than the limit is hard-cut.

Chunks are built from the text's whitespace-separated words, so joining them
with spaces gives back the text's words in order (a hard-cut word comes back
in pieces).
"""

from collections.abc import Iterator

from voxflow.errors import InvalidParameter

MIN_CHUNK_CHARS = 20

_CLOSERS = "\"')]}"
_SENTENCE_END = ".!?…"
_CLAUSE_END = ",;:"
_DASHES = frozenset({"-", "--", "–", "—"})

# Abbreviations that are followed by more of the same sentence.
_NEVER_FINAL = frozenset(
    {
        "mr.", "mrs.", "ms.", "mx.", "dr.", "prof.", "st.", "mt.", "vs.", "e.g.", "i.e.",
        "approx.", "cf.", "fig.", "vol.", "ch.", "pp.", "sen.", "rep.", "gen.", "capt.",
    }
)  # fmt: skip
# Abbreviations that end a sentence only when a capitalized word follows
# ("at 8 a.m. Then..." versus "No. 5" or "Jan. 5").
_MAYBE_FINAL = frozenset(
    {
        "etc.", "jr.", "sr.", "inc.", "ltd.", "co.", "corp.", "al.", "a.m.", "p.m.", "no.",
        "nos.", "jan.", "feb.", "mar.", "apr.", "jun.", "jul.", "aug.", "sep.", "sept.",
        "oct.", "nov.", "dec.",
    }
)  # fmt: skip


def _is_initialism(core: str) -> bool:
    # "U.S." or "e.g."-like runs of single letters each followed by a period.
    parts = core.split(".")
    return (
        len(parts) > 2 and parts[-1] == "" and all(len(p) == 1 and p.isalpha() for p in parts[:-1])
    )


def _ends_sentence(word: str, next_word: str | None) -> bool:
    core = word.rstrip(_CLOSERS).lstrip("\"'([{")
    if not core or core[-1] not in _SENTENCE_END:
        return False
    key = core.lower()
    if key in _NEVER_FINAL:
        return False
    if key in _MAYBE_FINAL or _is_initialism(key):
        return next_word is None or next_word.lstrip("\"'([{")[:1].isupper()
    # A capital initial ("J. R. R. Tolkien") nearly never ends a sentence; "I." can.
    return not (len(core) == 2 and core[0].isupper() and core[0] != "I")


def _ends_clause(word: str) -> bool:
    core = word.rstrip(_CLOSERS)
    return word in _DASHES or core[-1:] in _CLAUSE_END or core.endswith(("—", "--"))


def _sentences(words: list[str]) -> Iterator[list[str]]:
    sentence: list[str] = []
    has_text = False
    for index, word in enumerate(words):
        sentence.append(word)
        has_text = has_text or any(ch.isalnum() for ch in word)
        next_word = words[index + 1] if index + 1 < len(words) else None
        # Stray punctuation ("... Hello") joins the next sentence rather than
        # becoming a chunk the voice has nothing to say for.
        if has_text and _ends_sentence(word, next_word):
            yield sentence
            sentence, has_text = [], False
    if sentence:
        yield sentence


def split_sentences(words: list[str]) -> list[list[str]]:
    """The words grouped into sentences, as chunking groups them."""
    return list(_sentences(words))


def _pack(pieces: list[str], max_chars: int) -> list[str]:
    """Greedily join pieces with spaces into strings of at most ``max_chars``."""
    packed: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + 1 + len(piece) <= max_chars:
            current = f"{current} {piece}"
            continue
        if current:
            packed.append(current)
        current = piece
    if current:
        packed.append(current)
    return packed


def _cut_words(words: list[str], max_chars: int) -> list[str]:
    pieces: list[str] = []
    for word in words:
        if len(word) <= max_chars:
            pieces.append(word)
        else:
            pieces.extend(word[i : i + max_chars] for i in range(0, len(word), max_chars))
    return _pack(pieces, max_chars)


def _cut_sentence(words: list[str], max_chars: int) -> list[str]:
    clauses: list[list[str]] = [[]]
    for word in words:
        clauses[-1].append(word)
        if _ends_clause(word):
            clauses.append([])
    pieces: list[str] = []
    for clause in filter(None, clauses):
        joined = " ".join(clause)
        if len(joined) <= max_chars:
            pieces.append(joined)
        else:
            pieces.extend(_cut_words(clause, max_chars))
    # Clauses and their parts are packed back together so a cut lands on the
    # last clause boundary that fits, not on every comma.
    return _pack(pieces, max_chars)


def _validated_limit(max_chars: int) -> int:
    if max_chars < MIN_CHUNK_CHARS:
        raise InvalidParameter(f"max_chars must be at least {MIN_CHUNK_CHARS}, got {max_chars}")
    return max_chars


def _generate(text: str, max_chars: int) -> Iterator[str]:
    for words in _sentences(text.split()):
        sentence = " ".join(words)
        if len(sentence) <= max_chars:
            yield sentence
        else:
            yield from _cut_sentence(words, max_chars)


def iter_chunks(text: str, max_chars: int = 400) -> Iterator[str]:
    """Yield the chunks of ``text`` one sentence at a time.

    ``max_chars`` is checked here, not on the first ``next()``.
    """
    return _generate(text, _validated_limit(max_chars))


def split_into_chunks(text: str, max_chars: int = 400) -> list[str]:
    """Split normalized text into stripped, non-empty chunks of at most ``max_chars``."""
    return list(iter_chunks(text, max_chars))
