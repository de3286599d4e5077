"""A SpeechDocument to chunk strings: what the pipeline keys, queues and synthesizes.

Sentences are found across segments the way ``voxflow.text.chunker`` finds them in
plain text, so a document of plain default-prosody text chunks exactly as that text
does (same chunk strings, same cache keys). A chunk never splits a segment's element:
phonemes stay whole, breaks and bleeps stay where they were (a break right after a
sentence's end closes that sentence's chunk), and each piece keeps its own prosody, so
prosody holds across chunk boundaries. </s> and </p> always end a chunk.

Text is normalized to spoken form segment by segment, unless it is spoken already
(say-as output, a lexicon's alias).
"""

import json
from dataclasses import dataclass, field, replace

from voxflow.errors import EmptyText, TextTooLong
from voxflow.text.chunker import split_into_chunks, split_sentences
from voxflow.text.clean import clean_text
from voxflow.text.document import (
    CHUNK_MARKER,
    DEFAULT_PROSODY,
    MAX_BREAK_S,
    TIMED_KINDS,
    Bleep,
    Break,
    Mark,
    Phonemes,
    Piece,
    Prosody,
    SentenceEnd,
    SpeechDocument,
    Text,
    decode_chunk,
    encode_chunk,
    is_structured,
)
from voxflow.text.sources import WordSource, word_sources
from voxflow.text.spoken import to_spoken_form

# Stand-ins the sentence finder sees for what is not a word: phonemes count as a
# word (lowercase, so never a sentence's capital start), a pause as nothing.
_PHONEMES_WORD = "x"
_TIMED_WORD = "\x00"


@dataclass(frozen=True)
class Atom:
    """One word, phonemes run, break or bleep of a document, in speaking order.

    ``source`` (words and phonemes, when a layout is asked for) says where it came
    from; ``marks`` are the SSML <mark/>s right before it (indexes into the segments),
    ``marks_after`` those right after a break or bleep, heard where it ends. None of
    them shapes the sound, so none reaches a chunk string."""

    kind: str
    content: str = ""
    prosody: Prosody = DEFAULT_PROSODY
    seconds: float = 0.0
    source: WordSource | None = field(default=None, compare=False)
    marks: tuple[int, ...] = field(default=(), compare=False)
    marks_after: tuple[int, ...] = field(default=(), compare=False)

    @property
    def word(self) -> str:
        if self.kind == "text":
            return self.content
        return _PHONEMES_WORD if self.kind == "phonemes" else _TIMED_WORD


def spoken_chars(document: SpeechDocument) -> int:
    """Characters billed, as Polly bills SSML: what the speech stands for, not tags."""
    return sum(
        segment.source.end - segment.source.start
        for segment in document.segments
        if isinstance(segment, Text | Phonemes | Bleep)
    )


def chunk_document(
    document: SpeechDocument, *, max_chars: int, chunk_max_chars: int = 400
) -> list[str]:
    """Encoded chunk strings, in order. TextTooLong over ``max_chars`` spoken characters;
    EmptyText when nothing is left to say and no pause to hold."""
    layout = _layout(document, max_chars, chunk_max_chars, track=False)
    return [chunk for sentence in layout.sentences for chunk in sentence.chunks]


@dataclass(frozen=True)
class SentenceLayout:
    """One sentence's atoms, in order, and the chunks they are spoken in."""

    atoms: tuple[Atom, ...]
    chunks: tuple[str, ...]


@dataclass(frozen=True)
class DocumentLayout:
    sentences: tuple[SentenceLayout, ...]
    trailing_marks: tuple[int, ...]  # <mark/>s after the last atom

    @property
    def chunks(self) -> list[str]:
        return [chunk for sentence in self.sentences for chunk in sentence.chunks]


def document_layout(
    document: SpeechDocument, *, max_chars: int, chunk_max_chars: int = 400
) -> DocumentLayout:
    """``chunk_document``'s chunks with the atoms behind them and their sources in the
    original text: what speech marks are planned from."""
    return _layout(document, max_chars, chunk_max_chars, track=True)


def _layout(
    document: SpeechDocument, max_chars: int, chunk_max_chars: int, *, track: bool
) -> DocumentLayout:
    billed = spoken_chars(document)
    if billed > max_chars:
        raise TextTooLong(billed, max_chars)
    blocks, trailing = _blocks(document, track=track)
    sentences = [
        SentenceLayout(tuple(sentence), tuple(_sentence_chunks(sentence, chunk_max_chars)))
        for block in blocks
        for sentence in _sentences(block)
    ]
    if not any(_audible(chunk) for sentence in sentences for chunk in sentence.chunks):
        raise EmptyText("the text has nothing to speak")
    return DocumentLayout(tuple(sentences), trailing)


def key_text(chunks: list[str], chunk_max_chars: int = 400) -> str:
    """What a request key hashes for these chunks: their plain text when plain text
    would chunk the same way (so the same speech shares a key), else all of them."""
    joined = " ".join(chunks)
    plain = not any(is_structured(chunk) for chunk in chunks)
    if plain and split_into_chunks(joined, chunk_max_chars) == chunks:
        return joined
    return CHUNK_MARKER + json.dumps(chunks, separators=(",", ":"), ensure_ascii=False)


def _blocks(document: SpeechDocument, *, track: bool) -> tuple[list[list[Atom]], tuple[int, ...]]:
    blocks: list[list[Atom]] = [[]]
    pending: list[int] = []  # marks waiting for the next atom

    def add(atom: Atom) -> None:
        if pending:
            atom = replace(atom, marks=tuple(pending))
            pending.clear()
        blocks[-1].append(atom)

    for index, segment in enumerate(document.segments):
        if isinstance(segment, Mark):
            _place_mark(blocks[-1], pending, index)
        elif isinstance(segment, Text):
            for atom in _text_atoms(segment, document.original, track=track):
                add(atom)
        elif isinstance(segment, Phonemes):
            where = (segment.source.start, segment.source.end)
            source = WordSource(where, where) if track else None
            add(Atom("phonemes", segment.ipa.strip(), segment.prosody, source=source))
        elif isinstance(segment, SentenceEnd):
            if segment.seconds > 0:
                _pause_after_block(blocks, segment.seconds, pending)
            if blocks[-1]:
                blocks.append([])
        elif isinstance(segment, Break):
            kind = "tone" if isinstance(segment, Bleep) else "break"
            if segment.seconds > 0:
                add(Atom(kind, seconds=min(segment.seconds, MAX_BREAK_S)))
    return [block for block in blocks if block], tuple(pending)


def _place_mark(block: list[Atom], pending: list[int], index: int) -> None:
    last = block[-1] if block else None
    if last is not None and last.kind in TIMED_KINDS:
        # Right after a pause: where the pause ends, even when the words after it start
        # the next chunk, after the pause between chunks.
        block[-1] = replace(last, marks_after=(*last.marks_after, index))
    else:
        pending.append(index)


def _text_atoms(segment: Text, original: str, *, track: bool) -> list[Atom]:
    spoken = segment.text if segment.spoken else to_spoken_form(clean_text(segment.text))
    words = clean_text(spoken).split()
    sources: list[WordSource | None] = [None] * len(words)
    if track:
        sources = list(word_sources(segment, original, words))
    return [
        Atom("text", word, segment.prosody, source=source)
        for word, source in zip(words, sources, strict=True)
    ]


def _pause_after_block(blocks: list[list[Atom]], seconds: float, pending: list[int]) -> None:
    """A paragraph's pause, once: nested or empty paragraphs do not pile pauses up."""
    if not blocks[-1] and len(blocks) > 1 and blocks[-2] and blocks[-2][-1].kind == "break":
        last = blocks[-2][-1]
        # Marks stay where they were: before the pause, or waiting for the next atom.
        blocks[-2][-1] = replace(last, seconds=max(last.seconds, seconds))
        return
    blocks[-1].append(Atom("break", seconds=min(seconds, MAX_BREAK_S), marks=tuple(pending)))
    pending.clear()


def _sentences(block: list[Atom]) -> list[list[Atom]]:
    sentences: list[list[Atom]] = []
    position = 0
    for words in split_sentences([atom.word for atom in block]):
        sentence = block[position : position + len(words)]
        position += len(words)
        # A pause that opens a sentence belongs to the end of the one before it.
        while sentences and sentence and sentence[0].kind in TIMED_KINDS:
            sentences[-1].append(sentence.pop(0))
        if sentence:
            sentences.append(sentence)
    return sentences


def _sentence_chunks(sentence: list[Atom], chunk_max_chars: int) -> list[str]:
    return [encode_chunk(pieces) for pieces in _cut(_pieces(sentence), chunk_max_chars)]


def _pieces(atoms: list[Atom]) -> list[Piece]:
    pieces: list[Piece] = []
    for atom in atoms:
        if atom.kind in TIMED_KINDS:
            pieces.append(Piece(atom.kind, seconds=atom.seconds))
        elif atom.kind == "phonemes":
            pieces.append(Piece("phonemes", atom.content, atom.prosody))
        elif pieces and pieces[-1].kind == "text" and pieces[-1].prosody == atom.prosody:
            pieces[-1] = Piece("text", f"{pieces[-1].content} {atom.content}", atom.prosody)
        else:
            pieces.append(Piece("text", atom.content, atom.prosody))
    return pieces


def _size(piece: Piece) -> int:
    return len(piece.content)


def _cut(pieces: list[Piece], max_chars: int) -> list[list[Piece]]:
    """Pieces packed into chunks of at most ``max_chars`` characters of words; a text
    piece too long on its own is cut as the chunker cuts a sentence."""
    parts: list[Piece] = []
    for piece in pieces:
        if piece.kind == "text" and _size(piece) > max_chars:
            parts.extend(
                Piece("text", part, piece.prosody)
                for part in split_into_chunks(piece.content, max_chars)
            )
        else:
            parts.append(piece)
    chunks: list[list[Piece]] = []
    size = 0
    for part in parts:
        grows = _size(part) + (1 if size else 0)
        if chunks and (part.kind in TIMED_KINDS or size + grows <= max_chars):
            chunks[-1].append(part)
            size += grows if part.kind not in TIMED_KINDS else 0
            continue
        chunks.append([part])
        size = _size(part)
    return chunks


def _audible(chunk: str) -> bool:
    if not is_structured(chunk):
        return any(char.isalnum() for char in chunk)
    return any(
        piece.kind != "text" or any(char.isalnum() for char in piece.content)
        for piece in decode_chunk(chunk)
    )
