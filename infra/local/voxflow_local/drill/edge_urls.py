"""URLs that survive the kill: the audio URLs the primary handed out before it was lost,
played through the edge proxy (voxflow_local.edge) while it is down.

Only when the two-region stack runs with ``edge=True``. The URLs are collected at the
kill without fetching anything (the drill's timing stays as it was), and played from a
thread once replication has had its lag to carry the last objects across; a URL plays
if the edge answers 200 with the byte count its SynthesisCompleted announced.
"""

import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from voxflow.client import GlobalVoxflowClient
from voxflow_local.regions import TwoRegionStack


@dataclass
class EdgeUrlCheck:
    handed_out: dict[str, tuple[str, int]] = field(default_factory=dict)  # id → (url, bytes)
    # Of those, the ones whose audio object was in the secondary's bucket at the kill:
    # the others wait in the frozen primary (replication is asynchronous) and cannot play.
    replicated_at_kill: list[str] = field(default_factory=list)
    playing: list[str] = field(default_factory=list)
    not_playing: list[str] = field(default_factory=list)
    primary_down_throughout: bool = True
    _thread: threading.Thread | None = None

    @classmethod
    def at_kill(
        cls, stack: TwoRegionStack, client: GlobalVoxflowClient, ids: list[str]
    ) -> "EdgeUrlCheck | None":
        """What the primary had answered, with its URL; None without the edge."""
        if stack.edge is None:
            return None
        check = cls()
        secondary = stack.secondary
        s3, bucket = secondary.client("s3"), secondary.stack.resources["AudioBucket"]
        for request_id in ids:
            outcome = client.outcome(request_id)
            completed = outcome.completed
            if completed is not None and outcome.region == stack.primary_region:
                check.handed_out[request_id] = (completed.url, completed.bytes)
                listed = s3.list_objects_v2(Bucket=bucket, Prefix=completed.key, MaxKeys=1)
                if listed.get("KeyCount", 0):
                    check.replicated_at_kill.append(request_id)
        return check

    def start(self, stack: TwoRegionStack, settle_s: float) -> None:
        self._thread = threading.Thread(
            target=self._play_all, args=(stack, settle_s), name="edge-url-check", daemon=True
        )
        self._thread.start()

    def join(self, timeout_s: float = 300.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _play_all(self, stack: TwoRegionStack, settle_s: float) -> None:
        time.sleep(settle_s)
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = dict(
                zip(self.handed_out, pool.map(_plays, self.handed_out.values()), strict=True)
            )
        self.primary_down_throughout = stack.primary_down
        self.playing = sorted(r for r, ok in results.items() if ok)
        self.not_playing = sorted(r for r, ok in results.items() if not ok)


def _plays(url_and_size: tuple[str, int]) -> bool:
    url, size = url_and_size
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status == 200 and len(response.read()) == size
    except (urllib.error.URLError, TimeoutError):
        return False
