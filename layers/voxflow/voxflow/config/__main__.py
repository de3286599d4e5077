"""``python -m voxflow.config docs``: regenerate the settings tables in README.md and docs/
(run from the repository root). ``python -m voxflow.config check``: exit 1 while one is
out of date. ``python -m voxflow.config count``: how many variables are declared."""

import sys
from pathlib import Path

from voxflow.config import VARIABLES
from voxflow.config.docs import COMMAND, stale, write


def main(argv: list[str]) -> int:
    root = Path.cwd()
    match argv:
        case ["docs"]:
            for path in write(root):
                print(f"rewrote {path.relative_to(root)}")
            return 0
        case ["check"]:
            out_of_date = stale(root)
            for path in out_of_date:
                print(f"{path.relative_to(root)}: settings tables out of date; run {COMMAND}")
            return 1 if out_of_date else 0
        case ["count"]:
            own = sum(variable.name.startswith("VOXFLOW_") for variable in VARIABLES)
            print(f"{len(VARIABLES)} variables: {own} VOXFLOW_*, {len(VARIABLES) - own} others")
            return 0
    print("usage: python -m voxflow.config docs|check|count", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
