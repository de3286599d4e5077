"""Where a failover drill's requests spent their time in the secondary, from its logs.

    .venv/bin/voxflow drill --out out/drill.json --log-dir out/drill-logs
    .venv/bin/python benchmarks/drill_stages.py out/drill-logs out/drill.json

For the requests published after the kill ("new") and those in flight at it
("interrupted"), answered by the secondary: publish → plan received (the wait for a
plan runner), plan's own time, plan → request assembled (the lanes and synthesis), by
the lane of their first chunk and by the queue plan took them from. Read from the
runners' "request planned" and "request assembled" log lines (timestamps only).
"""

import argparse
import json
import statistics
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _lines(folder: Path, pattern: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(folder.glob(pattern)):
        # PlanFunction-PlanFunctionStandby-0.log → PlanFunctionStandby
        source = path.stem.split("-")[1]
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("{") and '"request_id"' in line:
                yield source, json.loads(line)


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def stages(log_dir: Path, report: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    secondary = log_dir / report["timeline"]["secondary"]
    interrupted = set(report["in_flight_at_kill_ids"])
    planned: dict[str, tuple[str, dict[str, Any]]] = {}
    for source, line in _lines(secondary, "PlanFunction-*.log"):
        if line.get("message") == "request planned":
            planned.setdefault(line["request_id"], (source, line))
    lanes: dict[str, str] = {}
    assembled: dict[str, float] = {}
    for source, line in _lines(secondary, "SynthesizeFunction-*.log"):
        if line.get("message") == "chunk stored":
            lanes.setdefault(line["request_id"], source)
        elif line.get("message") == "request assembled":
            assembled[line["request_id"]] = line.get("replied_at") or 0.0
    firsts = [line["requested_at"] for rid, (_, line) in planned.items() if rid in interrupted]
    kill = max(firsts) if firsts else 0.0
    figures: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for request_id, (source, line) in planned.items():
        kind = (
            "interrupted"
            if request_id in interrupted
            else "new"
            if line["requested_at"] >= kill
            else None
        )
        done = assembled.get(request_id)
        if kind is None or not done:
            continue
        for group in (kind, f"{kind} via {source}", f"{kind} on {lanes.get(request_id, '?')}"):
            figures[group]["publish → plan"].append(line["received_at"] - line["requested_at"])
            figures[group]["plan"].append(line["plan_s"])
            figures[group]["plan → assembled"].append(done - line["received_at"])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log_dir", type=Path, help="the drill's --log-dir")
    parser.add_argument("report", type=Path, help="the drill's --out JSON")
    args = parser.parse_args()
    report = json.loads(args.report.read_text(encoding="utf-8"))
    figures = stages(args.log_dir, report)
    print(
        f"{'requests':48} {'n':>4}  "
        + "  ".join(f"{s:>22}" for s in next(iter(figures.values()), {}))
    )
    for group in sorted(figures):
        steps = figures[group]
        n = len(next(iter(steps.values())))
        cells = [f"{statistics.median(v):8.1f} / {_p(v, 0.99):8.1f} s" for v in steps.values()]
        print(f"{group:48} {n:>4}  " + "  ".join(f"{c:>22}" for c in cells))
    print("(p50 / p99 of each step)")


if __name__ == "__main__":
    main()
