"""Writes the JSON Schema of every public event model beside this file.

``python -m voxflow.events.schemas`` rewrites stale files; ``--check`` only reports
them and exits 1, for CI. The files are committed so that clients in any language
can validate events without running Python.
"""

import argparse
import json
import sys
from pathlib import Path

from voxflow.events.models import DETAIL_TYPES

SCHEMA_DIR = Path(__file__).resolve().parent
_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def render_schemas() -> dict[str, str]:
    """File name to file text, for every detail type."""
    rendered = {}
    for name, model in DETAIL_TYPES.items():
        schema = {"$schema": _DIALECT, **model.model_json_schema()}
        text = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False)
        rendered[f"{name}.json"] = text + "\n"
    return rendered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m voxflow.events.schemas")
    parser.add_argument("--check", action="store_true", help="report stale files, write none")
    args = parser.parse_args(argv)
    stale = []
    for filename, text in render_schemas().items():
        path = SCHEMA_DIR / filename
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(filename)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    verb = "stale" if args.check else "written"
    print(f"{verb}: {', '.join(stale)}" if stale else "schemas are up to date")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
