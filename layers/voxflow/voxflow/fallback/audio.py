"""Degraded results: the busy clip, in the requested format, at a presigned URL.

Each format is encoded from the shipped WAV once per process and stored once in S3
under ``fallback/<voice>/<format>/``; a later process finds it there.
"""

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voxflow.audio import AudioFormat, encode
from voxflow.events import SynthesisCompleted
from voxflow.fallback.clip import CLIP_PATH, CLIP_VOICE, load_clip
from voxflow.store.audio import AudioStore

FALLBACK_PREFIX = "fallback/"


@dataclass(frozen=True)
class StoredClip:
    s3_key: str
    content_type: str
    sample_rate: int
    duration_s: float
    bytes: int


class FallbackAudio:
    def __init__(self, audio: AudioStore, clip: Path = CLIP_PATH, voice: str = CLIP_VOICE) -> None:
        self._audio = audio
        self._clip = clip
        self.voice = voice
        self._stored: dict[AudioFormat, StoredClip] = {}
        self._lock = threading.Lock()

    def stored(self, audio_format: AudioFormat) -> StoredClip:
        with self._lock:
            if audio_format not in self._stored:
                self._stored[audio_format] = self._store(audio_format)
            return self._stored[audio_format]

    def _store(self, audio_format: AudioFormat) -> StoredClip:
        pcm, rate = load_clip(self._clip)
        encoded = encode(pcm, rate, audio_format)
        s3_key = f"{FALLBACK_PREFIX}{self.voice}/{audio_format.value}/busy{audio_format.extension}"
        if not self._audio.exists(s3_key):
            self._audio.put(s3_key, encoded.data, encoded.content_type)
        return StoredClip(
            s3_key, encoded.content_type, encoded.sample_rate, encoded.duration_s, len(encoded.data)
        )

    def result(
        self,
        request_id: str,
        audio_format: AudioFormat,
        *,
        region: str,
        tenant: str,
        metadata: dict[str, Any],
        batch_id: str | None,
    ) -> SynthesisCompleted:
        """A SynthesisCompleted marked degraded: the busy clip instead of the speech."""
        clip = self.stored(audio_format)
        url = self._audio.presign(clip.s3_key, clip.content_type)
        return SynthesisCompleted(
            request_id=request_id,
            url=url.url,
            expires_at=url.expires_at,
            key=clip.s3_key,
            duration_s=clip.duration_s,
            bytes=clip.bytes,
            format=audio_format,
            sample_rate=clip.sample_rate,
            cache="hit",
            region=region,
            timings={},
            metadata=metadata,
            tenant=tenant,
            batch_id=batch_id,
            degraded=True,
        )
