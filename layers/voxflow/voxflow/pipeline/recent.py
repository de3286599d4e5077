"""The chunk audio this process synthesized lately, kept for assembly.

The worker that completes a job usually synthesized most of its chunks itself:
keeping their PCM saves a GET and a decode per chunk when it assembles. Bounded
by bytes, oldest out first; a miss just reads the chunk from S3.
"""

import threading
from collections import OrderedDict

import numpy as np
from numpy.typing import NDArray

DEFAULT_BUDGET_BYTES = 64 * 1024 * 1024


class RecentChunks:
    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self._budget = budget_bytes
        self._used = 0
        self._pcm: OrderedDict[str, NDArray[np.int16]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: str, pcm: NDArray[np.int16]) -> None:
        if pcm.nbytes > self._budget:
            return
        with self._lock:
            if key in self._pcm:
                self._pcm.move_to_end(key)
                return
            self._pcm[key] = pcm
            self._used += pcm.nbytes
            while self._used > self._budget:
                _, evicted = self._pcm.popitem(last=False)
                self._used -= evicted.nbytes

    def get(self, key: str) -> NDArray[np.int16] | None:
        with self._lock:
            return self._pcm.get(key)
