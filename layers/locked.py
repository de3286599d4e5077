"""Prints the hashed lock's entries for the named packages, as a requirements file.

    python locked.py LOCK [-r NAMES_FILE]... [NAME]... > requirements.txt

(a NAMES_FILE lists one package name a line; # starts a comment).

The layers install with pip's hash-checking mode from what this prints, so each wheel is
the exact release the lock pins and its sha256 is one the lock lists. pip does not take
hashes from a constraints file, hence a requirements file per layer. A name that the lock
does not hold, or holds without a hash, is an error: the build stops there. Standard
library only: SAM builds the layers with whatever python3 it finds.
"""

import re
import sys
from pathlib import Path

ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)\s*$")


def canonical(name: str) -> str:
    """PEP 503's normalized name: pip treats Foo_Bar, foo-bar and foo.bar as one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def entries(lock_text: str) -> dict[str, str]:
    """Each locked package's canonical name and its entry, continuation lines joined."""
    logical = re.sub(r"\\\n", " ", lock_text)
    found: dict[str, str] = {}
    for line in logical.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = ENTRY.match(line.strip())
        if match is None:
            raise SystemExit(f"not an exact pin with sha256 hashes: {line.strip()[:80]}")
        name, version, hashes = match.groups()
        found[canonical(name)] = " \\\n    ".join([f"{name}=={version}", *hashes.split()])
    return found


def names_in(args: list[str]) -> list[str]:
    names: list[str] = []
    while args:
        arg, *args = args
        if arg != "-r":
            names.append(arg)
            continue
        if not args:
            raise SystemExit("-r needs a file")
        listing, *args = args
        for line in Path(listing).read_text(encoding="utf-8").splitlines():
            names.extend(line.split("#", 1)[0].split())
    return names


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    lock, names = argv[0], names_in(argv[1:])
    locked = entries(Path(lock).read_text(encoding="utf-8"))
    missing = [name for name in names if canonical(name) not in locked]
    if missing or not names:
        raise SystemExit(f"not in {lock}: {', '.join(missing) or '(no names given)'}")
    print("\n".join(locked[canonical(name)] for name in names))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
