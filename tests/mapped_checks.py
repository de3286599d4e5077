"""Invariants every MappedText must keep, shared by the normalization tests."""

from voxflow.text import MappedText, clean_text


def assert_spans_consistent(original: str, mapped: MappedText) -> None:
    """Spans are ordered and disjoint on both sides, inside both texts, cover every
    non-space character, and a span that maps char for char pairs equal characters
    (or a character with what cleanup makes of it: a typographic quote, a wide digit)."""
    text, spans = mapped.text, mapped.spans
    covered = [False] * len(text)
    previous_end = previous_source_end = 0
    for number, span in enumerate(spans):
        assert previous_end <= span.start < span.end <= len(text), span
        assert previous_source_end <= span.source_start <= span.source_end <= len(original), span
        previous_end, previous_source_end = span.end, span.source_end
        for index in range(span.start, span.end):
            covered[index] = True
        if mapped.char_for_char(number):
            for offset in range(span.end - span.start):
                ch, source = text[span.start + offset], original[span.source_start + offset]
                assert ch == source or clean_text(source) in (ch, ""), (span, ch, source)
        elif text[span.start : span.end].strip():
            assert original[span.source_start : span.source_end].strip(), span
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())


def word_sources(original: str, mapped: MappedText) -> list[tuple[str, str]]:
    """Each word of the normalized text with the original text it stands for."""
    pairs = []
    position = 0
    for word in mapped.text.split(" "):
        start, end = mapped.source_range(position, position + len(word))
        pairs.append((word, original[start:end]))
        position += len(word) + 1
    return pairs
