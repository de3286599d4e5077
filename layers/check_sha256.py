"""Fails unless every file a SHA256SUMS list names has the sha256 it gives.

    python check_sha256.py SUMS DIR

SUMS is in sha256sum's format (`<hex>  <path relative to DIR>`). The voice layer runs it
on the ONNX model and its config after pip has put them in place: the model's bytes are
what the service speaks with and what the cache keys name (docs/keys.md), so a model
that differs from the one reviewed stops the build instead of shipping. Standard library
only, and no sha256sum binary needed (SAM builds with whatever python3 it finds).
"""

import hashlib
import sys
from pathlib import Path

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def mismatches(sums: str, root: Path) -> list[str]:
    """One line per file that is missing or differs; empty when all match."""
    problems = []
    listed = [line.split(maxsplit=1) for line in sums.splitlines() if line.strip()]
    if not listed:
        return [f"no files listed to check under {root}"]
    for expected, name in listed:
        path = root / name.strip().removeprefix("*")
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif (actual := sha256_of(path)) != expected:
            problems.append(f"{name}: sha256 {actual}, expected {expected}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        raise SystemExit(__doc__)
    problems = mismatches(Path(argv[0]).read_text(encoding="utf-8"), Path(argv[1]))
    for problem in problems:
        print(f"check_sha256: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
