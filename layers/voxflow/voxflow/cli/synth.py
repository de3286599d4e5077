"""What ``voxflow synth`` does, over the core API."""

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from voxflow.audio import AudioFormat, PcmJoiner
from voxflow.audio.formats import SPEECH_MARKS_FORMAT
from voxflow.cli.engine_start import EngineStart, start_engine
from voxflow.cli.progress import ProgressBar
from voxflow.engine import Engine, SynthesisParams
from voxflow.errors import InvalidParameter, UnsupportedFormat
from voxflow.lexicons import MAX_LEXICONS_PER_REQUEST, Lexicon
from voxflow.marks import MarkType, parse_mark_types, to_json_lines
from voxflow.marks.speech import speech_marks
from voxflow.settings import EngineSettings
from voxflow.text import normalize_mapped, normalize_text, split_into_chunks

if TYPE_CHECKING:
    from voxflow.text.document import SpeechDocument

_DEFAULT_OUTPUT = Path("out.wav")


def run_synth(args: argparse.Namespace, text: str, start: EngineStart | None = None) -> int:
    """``start``: the engine as voxflow.cli.main began it, its voice already loading."""
    start = start or start_engine(args.voice)
    engine = Engine(
        start.registry, start.settings, loading=[start.load] if start.load is not None else []
    )
    params = dataclasses.replace(
        SynthesisParams.from_rate(
            args.rate,
            noise_scale=args.noise_scale,
            noise_w=args.noise_w,
            sentence_pause_s=args.pause,
        ),
        speaker=args.speaker,
    )
    marks_only, mark_types = _marks_wanted(args)
    output: Path = args.output or (Path("out.json") if marks_only else _DEFAULT_OUTPUT)
    audio_format = None if args.raw or marks_only else _output_format(args.format, output)
    voice = engine.registry.get(args.voice)
    output_rate = (
        voice.sample_rate
        if marks_only
        else _output_rate(audio_format, args.sample_rate, voice.sample_rate)
    )
    lexicons = _local_lexicons(args.lexicon)
    chunks, document = _chunks(text, engine.settings, ssml=args.ssml, lexicons=lexicons)
    mapped = normalize_mapped(text) if mark_types and document is None else None
    started = time.perf_counter()
    joiner = PcmJoiner(voice.sample_rate, pause_s=params.sentence_pause_s)
    progress = ProgressBar(sum(len(chunk) for chunk in chunks), "synthesizing")
    pieces = []
    spoken = []
    for chunk in engine.synthesize(chunks, args.voice, params):
        if mark_types:
            spoken.append(chunk)
        ready = joiner.feed(chunk.pcm)
        if args.raw:
            sys.stdout.buffer.write(ready.tobytes())
            sys.stdout.buffer.flush()
        else:
            pieces.append(ready)
        progress.advance(len(chunk.text))
    progress.close()
    tail = joiner.finish()
    if args.raw:
        sys.stdout.buffer.write(tail.tobytes())
        sys.stdout.buffer.flush()
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    if mark_types:
        marks = speech_marks(
            text,
            mapped,
            spoken,
            params.sentence_pause_s,
            mark_types,
            document=document,
            chunk_max_chars=engine.settings.chunk_max_chars,
        )
        marks_path = output if marks_only else marks_output(output)
        marks_path.write_bytes(to_json_lines(marks))
    if marks_only:
        if not args.quiet:
            print(f"wrote {output}: {len(marks)} speech marks", file=sys.stderr)
        return 0
    import numpy as np

    # Here, not at the top: the codecs (soundfile's libsndfile through cffi) are no part
    # of --raw's cold start (benchmarks/engine.py --cold-only).
    from voxflow.audio import encode

    assert audio_format is not None
    encoded = encode(
        np.concatenate([*pieces, tail]), voice.sample_rate, audio_format, output_rate=output_rate
    )
    output.write_bytes(encoded.data)
    if not args.quiet:
        elapsed = time.perf_counter() - started
        print(
            f"wrote {output}: {encoded.duration_s:.2f} s of audio, {len(encoded.data)} bytes, "
            f"{encoded.format.value} {encoded.sample_rate} Hz, {len(chunks)} chunks in "
            f"{elapsed:.2f} s on {engine.provider(args.voice)}",
            file=sys.stderr,
        )
    return 0


def _output_rate(audio_format: AudioFormat | None, requested: int | None, voice_rate: int) -> int:
    """The rate to deliver, checked before any synthesis so a bad one fails at once."""
    if audio_format is None:
        # --raw streams chunks as the voice makes them; resampling is per whole file.
        if requested not in (None, voice_rate):
            raise InvalidParameter(f"--raw streams at the voice's {voice_rate} Hz only")
        return voice_rate
    return audio_format.output_rate(requested, voice_rate)


def _chunks(
    text: str, settings: EngineSettings, *, ssml: bool, lexicons: list[Lexicon]
) -> tuple[list[str], "SpeechDocument | None"]:
    """The same chunk strings the event pipeline's plan makes of this text, and the
    document they were made of (SSML, lexicons)."""
    if ssml or lexicons:
        # Imported here: plain text (the cold start measured) needs none of the XML
        # parsers, whose imports bring in ssl through defusedxml.
        from voxflow.lexicons.apply import apply_lexicons
        from voxflow.text.chunk_document import chunk_document
        from voxflow.text.document import SpeechDocument
        from voxflow.text.ssml import parse_ssml

        parsed = parse_ssml(text) if ssml else SpeechDocument.plain(text)
        document = apply_lexicons(parsed, lexicons, max_chars=settings.max_chars)
        chunks = chunk_document(
            document, max_chars=settings.max_chars, chunk_max_chars=settings.chunk_max_chars
        )
        return chunks, document
    normalized = normalize_text(text, max_chars=settings.max_chars)
    return split_into_chunks(normalized, settings.chunk_max_chars), None


def _local_lexicons(paths: list[Path]) -> list[Lexicon]:
    if not paths:
        return []
    from voxflow.cli.lexicons import read_lexicon_file
    from voxflow.lexicons.pls import parse_lexicon

    if len(paths) > MAX_LEXICONS_PER_REQUEST:
        raise InvalidParameter(f"at most {MAX_LEXICONS_PER_REQUEST} lexicons apply to a request")
    # Files have no stored name; the name only labels errors.
    return [
        parse_lexicon(f"file{index}", read_lexicon_file(path))
        for index, path in enumerate(paths, start=1)
    ]


def _marks_wanted(args: argparse.Namespace) -> tuple[bool, tuple[MarkType, ...]]:
    """Whether only marks are written (--format json), and which (--marks)."""
    marks_only = (args.format or "").lower() == SPEECH_MARKS_FORMAT
    mark_types = parse_mark_types((args.marks or "").split(","))
    if marks_only and not mark_types:
        raise UnsupportedFormat("--format json writes speech marks: name them with --marks")
    if mark_types and args.raw:
        raise InvalidParameter("--raw streams audio only: speech marks need a file")
    return marks_only, mark_types


def marks_output(audio: Path) -> Path:
    """Where the marks of ``audio`` go: out.mp3 -> out.marks.json."""
    return audio.with_name(f"{audio.stem}.marks.json")


def _output_format(name: str | None, output: Path) -> AudioFormat:
    if name:
        return AudioFormat.parse(name)
    return AudioFormat.from_path(output) if output.suffix else AudioFormat.WAV
