"""Catalog voices on demand: downloaded once per process, verified, kept within a budget.

A voice's files are fetched into a local directory (Lambda's /tmp) and their sha256
checked against the catalog entry before anything reads them: a model whose hash
differs is deleted and never loaded (VoiceHashMismatch). Concurrent first requests
for one voice wait on one download. ``ResidentVoices`` decides which loaded sessions
stay in memory: least recently used first out, built-in voices never.
"""

import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

from voxflow.errors import VoiceHashMismatch, VoiceLoadError
from voxflow.voices.catalog import CatalogEntry
from voxflow.voices.store import VoiceFiles

_LOGGER = logging.getLogger(__name__)
_READ_BLOCK = 1 << 20
# An onnxruntime session of a Piper model holds about its weights again in buffers:
# a session is budgeted at twice its file (joe: 63 MB file, about 130 MB resident).
SESSION_MEMORY_FACTOR = 2

DownloadTimer = Callable[[str, float], None]  # voice id, seconds (download and hash)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as opened:
        while block := opened.read(_READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class VoiceLoader:
    def __init__(
        self, files: VoiceFiles, directory: Path, on_download: DownloadTimer | None = None
    ) -> None:
        self._files = files
        self.directory = directory
        self._on_download = on_download
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._verified: dict[str, Path] = {}
        self.downloads = 0  # objects fetched by this process

    def model_file(self, entry: CatalogEntry) -> Path:
        return self._fetch(entry.voice_id, entry.model_key, entry.model_sha256)

    def config_file(self, entry: CatalogEntry) -> Path:
        return self._fetch(entry.voice_id, entry.config_key, entry.config_sha256)

    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _fetch(self, voice_id: str, key: str, sha256: str) -> Path:
        with self._lock_for(key):
            verified = self._verified.get(key)
            if verified is not None:
                return verified
            path = self.directory / key
            started = time.perf_counter()
            if not path.is_file():  # another process of this sandbox may have it already
                self._download(key, path)
            actual = file_sha256(path)
            if actual != sha256:
                path.unlink(missing_ok=True)
                raise VoiceHashMismatch(
                    f"voice {voice_id!r}: {key} has sha256 {actual[:12]}, "
                    f"the catalog says {sha256[:12]}; not used"
                )
            elapsed = time.perf_counter() - started
            _LOGGER.info(
                "voice file ready",
                extra={"voice": voice_id, "key": key, "seconds": round(elapsed, 3)},
            )
            if self._on_download is not None:
                self._on_download(voice_id, elapsed)
            self._verified[key] = path
            return path

    def _download(self, key: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
        try:
            self._files.download(key, partial)
            partial.replace(path)
        except VoiceLoadError:
            raise
        except Exception as error:  # botocore's per-service errors, OSError
            raise VoiceLoadError(f"cannot download {key}: {error}") from error
        finally:
            partial.unlink(missing_ok=True)
        self.downloads += 1


class ResidentVoices:
    """Which voices' sessions stay loaded: an LRU within ``budget_bytes``.

    ``pinned`` voices (the built-in ones) are never evicted and count toward the
    budget; the voice just used is never evicted either, even alone over budget.
    """

    def __init__(self, budget_bytes: int, pinned: Iterable[str] = ()) -> None:
        self.budget_bytes = budget_bytes
        self._pinned = frozenset(pinned)
        self._sizes: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def use(self, voice_id: str, size_bytes: int) -> list[str]:
        """Records a use of ``voice_id``; returns the voices to unload, oldest first."""
        with self._lock:
            self._sizes[voice_id] = size_bytes
            self._sizes.move_to_end(voice_id)
            evicted: list[str] = []
            for candidate in list(self._sizes):
                if sum(self._sizes.values()) <= self.budget_bytes:
                    break
                if candidate == voice_id or candidate in self._pinned:
                    continue
                del self._sizes[candidate]
                evicted.append(candidate)
            return evicted

    def __contains__(self, voice_id: object) -> bool:
        return voice_id in self._sizes
