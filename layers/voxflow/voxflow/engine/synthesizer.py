"""Text chunks to audio: phonemize, run the model (batched), trim, normalize.

A structured chunk (SSML) is pieces: text is phonemized as plain chunks are, IPA goes
to the voice's phoneme ids directly, a prosody rate divides the length scale, volume
and compression shape the piece's audio, breaks are zeros and bleeps a tone.

The engine holds one onnxruntime session per voice for the life of the
process, created on first use. ``synthesize`` is a generator: a caller gets
each chunk's audio as soon as its batch has run.
"""

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from piper.phoneme_ids import phonemes_to_ids

from voxflow.audio.pcm import float_to_int16
from voxflow.engine.alignment import Alignment, utterance_alignment
from voxflow.engine.effects import apply_prosody, bleep
from voxflow.engine.params import ResolvedParams, SynthesisParams
from voxflow.engine.phonemizer import ipa_phonemes, utterances
from voxflow.engine.preload import VoiceModelLoad, load_voice_model
from voxflow.engine.session import VoiceModel
from voxflow.errors import SynthesisError
from voxflow.settings import EngineSettings
from voxflow.text import normalize_text, split_into_chunks
from voxflow.text.document import TIMED_KINDS, Piece, Prosody, decode_chunk
from voxflow.voices import Voice, VoiceRegistry

_PAD_ID = 0
_SILENCE_FLOOR = 1e-8


@dataclass(frozen=True)
class SpeechChunk:
    """One text chunk's audio: int16 mono PCM, not yet joined with pauses."""

    index: int
    text: str
    pcm: NDArray[np.int16]
    sample_rate: int
    # Each phoneme's samples in ``pcm``; None when the model gives no durations.
    alignment: Alignment | None = None
    # The first sample of each piece of the chunk (voxflow.text.document); (0,) for
    # plain text. Speech marks time SSML marks and words piece by piece with them.
    piece_starts: tuple[int, ...] = (0,)

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / self.sample_rate


@dataclass(frozen=True)
class _Utterance:
    """One espeak sentence (or one phonemes piece) of a chunk: the unit the model runs
    on. ``slot``: its place among the chunk's parts (pauses fill the others)."""

    chunk: int
    ids: list[int]
    slot: int
    length_scale: float
    prosody: Prosody
    phonemes: tuple[str, ...] = ()


class Engine:
    """Synthesizes text with registered voices. Safe to share between threads."""

    def __init__(
        self,
        registry: VoiceRegistry,
        settings: EngineSettings | None = None,
        on_load: Callable[[str, float], None] | None = None,
        loading: Iterable[VoiceModelLoad] = (),
    ) -> None:
        """``on_load``: told each voice id and the seconds its load took (download,
        hash and session), for the VoiceLoad metric. ``loading``: sessions already
        being built (voxflow.engine.preload), taken at their voice's first use."""
        self.registry = registry
        self.settings = settings or EngineSettings()
        self._models: dict[str, VoiceModel] = {}
        self._load_lock = threading.Lock()
        self._on_load = on_load
        self.load_seconds: dict[str, float] = {}  # voice id -> its last load (download included)
        self._loading = {load.voice_id: load for load in loading}

    def model(self, voice_id: str) -> VoiceModel:
        """The voice's session, created on first use and reused after."""
        loaded = self._models.get(voice_id)
        if loaded is None:
            voice = self.registry.get(voice_id)
            with self._load_lock:
                if voice_id not in self._models:
                    load = self._loading.pop(voice_id, None)
                    if load is not None:
                        self._models[voice_id] = load.result()
                        self.load_seconds[voice_id] = load.seconds
                    else:
                        started = time.perf_counter()
                        self._models[voice_id] = load_voice_model(voice, self.settings)
                        self.load_seconds[voice_id] = time.perf_counter() - started
                    if self._on_load is not None:
                        self._on_load(voice_id, self.load_seconds[voice_id])
                loaded = self._models[voice_id]
        # Catalog voices are kept within a memory budget: a call still running on an
        # unloaded session keeps its own reference until it returns.
        for evicted in self.registry.used(voice_id):
            self._models.pop(evicted, None)
        return loaded

    def provider(self, voice_id: str) -> str:
        return self.model(voice_id).provider

    def synthesize_text(
        self, text: str, voice_id: str, params: SynthesisParams | None = None
    ) -> Iterator[SpeechChunk]:
        """Normalize, split into sentence chunks and synthesize them in order."""
        normalized = normalize_text(text, max_chars=self.settings.max_chars)
        chunks = split_into_chunks(normalized, self.settings.chunk_max_chars)
        return self.synthesize(chunks, voice_id, params)

    def synthesize(
        self, chunks: Iterable[str], voice_id: str, params: SynthesisParams | None = None
    ) -> Iterator[SpeechChunk]:
        """Audio for chunk strings (voxflow.text.document: normalized text, or the
        pieces of a structured chunk), one SpeechChunk each, in order."""
        voice = self.registry.get(voice_id)
        resolved = (params or SynthesisParams()).resolve(voice.config)
        model = self.model(voice_id)
        batch_size = self.settings.batch_size if model.has_durations else 1
        texts: list[str] = []
        parts: dict[int, list[NDArray[np.int16] | None]] = {}
        # Per slot: the utterance's phones, an empty alignment for a pause, None unknown.
        aligned: dict[int, list[Alignment | None]] = {}
        first_slots: dict[int, list[int]] = {}  # per chunk, each piece's first slot
        missing: dict[int, int] = {}
        pending: list[_Utterance] = []
        emitted = 0

        def run(batch: list[_Utterance]) -> None:
            for utterance, (audio, alignment) in zip(
                batch, self._infer(voice, model, batch, resolved), strict=True
            ):
                pcm = _to_pcm(audio, utterance.prosody, voice.sample_rate)
                parts[utterance.chunk][utterance.slot] = pcm
                fits = alignment is not None and _fits(alignment, pcm)
                aligned[utterance.chunk][utterance.slot] = alignment if fits else None
                missing[utterance.chunk] -= 1

        def run_ready(final: bool) -> None:
            # One batch runs at one length scale: a prosody rate change ends a batch.
            nonlocal pending
            while pending:
                scale = pending[0].length_scale
                same = next(
                    (i for i, u in enumerate(pending) if u.length_scale != scale), len(pending)
                )
                if same >= batch_size:
                    batch, pending = pending[:batch_size], pending[batch_size:]
                elif same < len(pending) or final:
                    batch, pending = pending[:same], pending[same:]
                else:
                    return
                run(batch)

        def ready() -> Iterator[SpeechChunk]:
            # Chunks finish in order, but one chunk can span several batches.
            nonlocal emitted
            while emitted < len(texts) and missing[emitted] == 0:
                chunk_parts = [part for part in parts.pop(emitted) if part is not None]
                pcm = np.concatenate(chunk_parts) if chunk_parts else np.zeros(0, np.int16)
                alignment = _chunk_alignment(chunk_parts, aligned.pop(emitted))
                starts = _piece_starts(chunk_parts, first_slots.pop(emitted))
                yield SpeechChunk(
                    emitted, texts[emitted], pcm, voice.sample_rate, alignment, starts
                )
                emitted += 1

        for index, chunk in enumerate(chunks):
            texts.append(chunk)
            slots, slot_alignments, chunk_utterances, firsts = _chunk_parts(
                index, chunk, voice, resolved
            )
            parts[index] = slots
            first_slots[index] = firsts
            aligned[index] = slot_alignments
            missing[index] = len(chunk_utterances)
            pending.extend(chunk_utterances)
            run_ready(final=False)
            yield from ready()
        run_ready(final=True)
        yield from ready()

    def _infer(
        self,
        voice: Voice,
        model: VoiceModel,
        batch: list[_Utterance],
        params: ResolvedParams,
    ) -> list[tuple[NDArray[np.float32], Alignment | None]]:
        lengths = [len(utterance.ids) for utterance in batch]
        ids = np.full((len(batch), max(lengths)), _PAD_ID, dtype=np.int64)
        for row, utterance in enumerate(batch):
            ids[row, : len(utterance.ids)] = utterance.ids
        inputs: dict[str, NDArray[np.generic]] = {
            "input": ids,
            "input_lengths": np.array(lengths, dtype=np.int64),
            "scales": np.array(
                [params.noise_scale, batch[0].length_scale, params.noise_w], dtype=np.float32
            ),
        }
        config = voice.config
        if config.num_speakers > 1:
            speaker = config.default_speaker_id if params.speaker_id is None else params.speaker_id
            inputs["sid"] = np.full(len(batch), speaker, dtype=np.int64)
        try:
            outputs = model.run(inputs)
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise SynthesisError(f"inference failed: {error}") from error
        audio = np.asarray(outputs[0], dtype=np.float32).reshape(len(batch), -1)
        if len(outputs) < 2:
            return [(audio[0], None)]
        # Durations in frames per input id (padding ids of shorter items speak 0 frames).
        frames = np.asarray(outputs[1]).reshape(len(batch), -1).astype(np.int64)
        results: list[tuple[NDArray[np.float32], Alignment | None]] = []
        for row, utterance in enumerate(batch):
            id_samples = frames[row, : lengths[row]] * config.hop_length
            # The decoder makes hop_length samples a frame: the durations' sum is the
            # item's length, which cuts a batch item's padding off.
            alignment = utterance_alignment(
                utterance.phonemes, utterance.ids, id_samples.tolist(), config.phoneme_id_map
            )
            results.append((audio[row, : int(id_samples.sum())], alignment))
        return results

    def warm_up(self, voice_id: str) -> float:
        """Load the voice, run one synthesis and finish any fast-start upgrade.

        Returns the seconds it took: a worker reports ready only after this.
        """
        started = time.perf_counter()
        for _ in self.synthesize(["Ready."], voice_id):
            pass
        self.model(voice_id).ensure_upgraded()
        return time.perf_counter() - started


def _chunk_parts(
    index: int, chunk: str, voice: Voice, resolved: ResolvedParams
) -> tuple[list[NDArray[np.int16] | None], list[Alignment | None], list[_Utterance], list[int]]:
    """A chunk's slots (pauses filled, utterances None until they run), their alignments
    (a pause has no phones), its utterances, and each piece's first slot."""
    slots: list[NDArray[np.int16] | None] = []
    slot_alignments: list[Alignment | None] = []
    chunk_utterances: list[_Utterance] = []
    first_slots: list[int] = []
    for piece in decode_chunk(chunk):
        first_slots.append(len(slots))
        if piece.kind in TIMED_KINDS:
            slots.append(_timed(piece, voice.sample_rate))
            slot_alignments.append(Alignment(()))
            continue
        scale = resolved.length_scale / piece.prosody.rate
        for phonemes, ids in _piece_ids(piece, voice):
            chunk_utterances.append(
                _Utterance(index, ids, len(slots), scale, piece.prosody, phonemes)
            )
            slots.append(None)
            slot_alignments.append(None)
    return slots, slot_alignments, chunk_utterances, first_slots


def _piece_ids(piece: Piece, voice: Voice) -> list[tuple[tuple[str, ...], list[int]]]:
    """(phonemes, ids) per utterance; IPA given directly is one utterance."""
    if piece.kind == "phonemes":
        known = ipa_phonemes(piece.content, voice.config)
        ids = phonemes_to_ids(known, voice.config.phoneme_id_map) if known else []
        return [(tuple(known), ids)] if ids else []
    return [(tuple(phonemes), ids) for phonemes, ids in utterances(piece.content, voice.config)]


def _fits(alignment: Alignment, pcm: NDArray[np.int16]) -> bool:
    return bool(alignment.phones) and alignment.phones[-1].end == len(pcm)


def _chunk_alignment(
    parts: list[NDArray[np.int16]], alignments: list[Alignment | None]
) -> Alignment | None:
    # Peak normalization and prosody keep every sample where it was, so each part's
    # phones only move by the audio that precedes it in the chunk (pauses included).
    joined: list[tuple[Alignment, int]] = []
    offset = 0
    for pcm, alignment in zip(parts, alignments, strict=True):
        if alignment is None:
            return None
        joined.append((alignment, offset))
        offset += len(pcm)
    return Alignment.joined(joined)


def _piece_starts(parts: list[NDArray[np.int16]], first_slots: list[int]) -> tuple[int, ...]:
    slot_starts = [0]
    for pcm in parts:
        slot_starts.append(slot_starts[-1] + len(pcm))
    return tuple(slot_starts[slot] for slot in first_slots) or (0,)


def _timed(piece: Piece, sample_rate: int) -> NDArray[np.int16]:
    if piece.kind == "tone":
        return float_to_int16(bleep(piece.seconds, sample_rate))
    return np.zeros(round(piece.seconds * sample_rate), dtype=np.int16)


def _to_pcm(audio: NDArray[np.float32], prosody: Prosody, sample_rate: int) -> NDArray[np.int16]:
    # Peak-normalize each sentence as piper does, so voices sound as piper users expect.
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < _SILENCE_FLOOR:
        return np.zeros(audio.shape, dtype=np.int16)
    normalized = np.clip(audio / np.float32(peak), -1.0, 1.0).astype(np.float32)
    if not prosody.is_default:
        normalized = np.clip(apply_prosody(normalized, prosody, sample_rate), -1.0, 1.0)
    return float_to_int16(normalized)
