"""``python -m voxflow.fallback``: render the busy clip with the real engine into the package."""

import sys

from voxflow.engine import Engine
from voxflow.fallback.clip import CLIP_PATH, render_clip
from voxflow.voices import VoiceRegistry


def main() -> int:
    data = render_clip(Engine(VoiceRegistry.default()))
    CLIP_PATH.write_bytes(data)
    print(f"wrote {CLIP_PATH} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
