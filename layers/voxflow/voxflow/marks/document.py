"""The marks plan of a structured request (SSML, lexicons): from its document's layout.

Each chunk's pieces are walked against the atoms they were made of, in order: a
text piece's tokens are the atoms' words (or pieces of one the chunker hard-cut), a
phonemes piece is one atom, a break or bleep one atom. Words are the words the user
wrote: the atoms of one alias, say-as reading or rewritten span share one source
range and become one word mark over it, timed from the first of them. Offsets are
into the request's original text, the SSML markup included.

An SSML <mark/> is heard where the atom after it starts: before words, when the word
after it starts (as Polly times a mark before "lamb" with "lamb", also when the mark
opens a sentence, a chunk or a prosody change: not at the chunk's leading silence);
before a <break> or bleep, at its start; right after a <break>, where the break ends
(also when the words after it are the next chunk's); after everything, at the end.
"""

import sys
from collections.abc import Sequence
from dataclasses import replace

from voxflow.errors import InvalidParameter
from voxflow.marks.plan import Bytes, MarksPlan, Origin, SsmlMark
from voxflow.text.chunk_document import Atom, DocumentLayout, document_layout
from voxflow.text.document import TIMED_KINDS, Mark, SpeechDocument, decode_chunk


def plan_document(document: SpeechDocument, layout: DocumentLayout) -> MarksPlan:
    """The plan for ``layout``'s chunks (``document_layout`` of ``document``)."""
    planner = _Planner(document)
    chunk = 0
    for sentence in layout.sentences:
        planner.start_sentence(sentence.atoms)
        for text in sentence.chunks:
            planner.add_chunk(chunk, text)
            chunk += 1
        planner.end_sentence()
    for index in layout.trailing_marks:
        planner.add_mark(index, SsmlMark(Origin(0, 0, ""), chunk=chunk - 1, piece=1 << 30))
    return planner.plan()


class _Planner:
    def __init__(self, document: SpeechDocument) -> None:
        self._document = document
        self._bytes = Bytes(document.original)
        self._words: list[Origin] = []
        self._word_chars: list[tuple[int, int]] = []  # to find overlapping sources
        self._token_end = -1  # where the last atom's token ended, in characters
        self._sentences: list[Origin] = []
        self._chunk_words: list[tuple[int, ...]] = []
        self._chunk_sentence: list[int] = []
        self._ssml: list[SsmlMark] = []
        self._atoms: tuple[Atom, ...] = ()
        self._next = 0  # the next atom of the sentence
        self._offset = 0  # into the next atom's word, where the chunker cut it
        self._extent: tuple[int, int] | None = None  # the sentence's characters

    def start_sentence(self, atoms: tuple[Atom, ...]) -> None:
        self._atoms, self._next, self._offset, self._extent = atoms, 0, 0, None
        for atom in atoms:
            if atom.source is not None:
                start, end = atom.source.token
                low, high = self._extent or (start, end)
                self._extent = (min(low, start), max(high, end))

    def end_sentence(self) -> None:
        if self._next != len(self._atoms):
            raise InvalidParameter("speech marks: the chunks do not speak the document")
        if self._extent is not None:
            self._sentences.append(self._bytes.origin(*self._extent))

    def add_chunk(self, chunk: int, text: str) -> None:
        indexes: list[int] = []
        for piece_index, piece in enumerate(decode_chunk(text)):
            if piece.kind == "text":
                for token in piece.content.split():
                    atom, continued = self._take_word(token)
                    if not continued:  # marks before words: the next word's start
                        self._marks_before(atom, chunk, piece_index, opens=False)
                    indexes.append(self._word(atom, token, continued))
                continue
            atom = self._take(piece.kind)
            self._marks_before(atom, chunk, piece_index, opens=True)
            for index in atom.marks_after:  # where the pause ends: the next piece's start
                self.add_mark(index, SsmlMark(Origin(0, 0, ""), chunk=chunk, piece=piece_index + 1))
            if piece.kind not in TIMED_KINDS:
                indexes.append(self._word(atom, "x", continued=False))
        self._chunk_words.append(tuple(indexes))
        # A sentence with no words (a paragraph's pause alone) is no sentence mark.
        self._chunk_sentence.append(len(self._sentences) if self._extent is not None else -1)

    def add_mark(self, index: int, at: SsmlMark) -> None:
        segment = self._document.segments[index]
        assert isinstance(segment, Mark)
        origin = self._bytes.origin(segment.source.start, segment.source.end)
        self._ssml.append(replace(at, origin=replace(origin, value=segment.name)))

    def plan(self) -> MarksPlan:
        return MarksPlan(
            tuple(self._words),
            tuple(self._sentences),
            tuple(self._chunk_words),
            tuple(self._chunk_sentence),
            tuple(self._ssml),
        )

    def _marks_before(self, atom: Atom, chunk: int, piece: int, *, opens: bool) -> None:
        for index in atom.marks:
            if opens:
                self.add_mark(index, SsmlMark(Origin(0, 0, ""), chunk=chunk, piece=piece))
            else:  # the word this atom starts, or the next one if it speaks none
                self.add_mark(index, SsmlMark(Origin(0, 0, ""), word=len(self._words)))

    def _word(self, atom: Atom, token: str, continued: bool) -> int:
        """The index of the word ``token`` speaks; -1 when it speaks nothing."""
        if not any(char.isalnum() for char in token):
            return -1
        if atom.source is None:
            raise InvalidParameter("speech marks: a word has no source")
        start, end = atom.source.core
        glued = atom.source.glued and atom.source.token[0] == self._token_end
        self._token_end = atom.source.token[1]
        if self._word_chars and (continued or glued or start < self._word_chars[-1][1]):
            # The same written word as the last one: widen it, no new mark.
            first, last = self._word_chars[-1]
            self._word_chars[-1] = (min(first, start), max(last, end))
            self._words[-1] = self._bytes.origin(*self._word_chars[-1])
        else:
            self._word_chars.append((start, end))
            self._words.append(self._bytes.origin(start, end))
        return len(self._words) - 1

    def _take(self, kind: str) -> Atom:
        if self._offset or self._next >= len(self._atoms) or self._atoms[self._next].kind != kind:
            raise InvalidParameter("speech marks: the chunks do not speak the document")
        self._next += 1
        return self._atoms[self._next - 1]

    def _take_word(self, token: str) -> tuple[Atom, bool]:
        """The atom ``token`` is (or is the next piece of), and whether it continues one."""
        if self._next >= len(self._atoms):
            raise InvalidParameter("speech marks: the chunks do not speak the document")
        atom = self._atoms[self._next]
        content = atom.content
        if atom.kind != "text" or content[self._offset : self._offset + len(token)] != token:
            raise InvalidParameter("speech marks: the chunks do not speak the document")
        continued = self._offset > 0
        self._offset += len(token)
        if self._offset >= len(content):
            self._next, self._offset = self._next + 1, 0
        return atom, continued


def plan_speech(document: SpeechDocument, chunks: Sequence[str], chunk_max_chars: int) -> MarksPlan:
    """The plan for ``chunks``, which ``chunk_document`` made of ``document`` with
    ``chunk_max_chars`` (the limit on spoken characters was checked then)."""
    layout = document_layout(document, max_chars=sys.maxsize, chunk_max_chars=chunk_max_chars)
    if layout.chunks != list(chunks):
        raise InvalidParameter("speech marks: the chunks are not the document's")
    return plan_document(document, layout)
