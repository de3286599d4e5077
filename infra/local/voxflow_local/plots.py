"""Charts of a drill and of a load run, drawn from their results JSON (matplotlib, dev extra).

    python -m voxflow_local.plots drill out/drill.json out/drill.png
    python -m voxflow_local.plots load out/load.json out/load.png

``voxflow drill --plot`` and ``benchmarks/load.py --plot`` call the same functions on
the results they have just written, so a recorded run can be drawn again.
"""

import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

# What each mark of a drill's timeline is called on the chart, and its colour.
DRILL_MARKS = {
    "kill": ("primary killed", "tab:red"),
    "detected": ("failover detected", "tab:orange"),
    "first_secondary_completion": ("first completion by the secondary", "tab:green"),
    "recovered": ("primary recovered", "tab:purple"),
    "failback_healthy": ("failback: primary healthy", "tab:blue"),
}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, no GUI toolkit
    import matplotlib.pyplot as plt

    return plt


def per_second(times: Iterable[float], end_s: float) -> tuple[list[int], list[int]]:
    """Counts in one-second bins from 0 to ``end_s``: (bin starts, counts)."""
    bins = [0] * (int(end_s) + 1)
    for at in times:
        if 0 <= at <= end_s:
            bins[int(at)] += 1
    return list(range(len(bins))), bins


def drill_chart(results: Mapping[str, Any], path: Path) -> Path:
    """Requests published and answered per second by region, with the drill's marks."""
    return _save(_pyplot(), drill_figure(results), path)


def drill_figure(results: Mapping[str, Any]) -> Any:
    """drill_chart's matplotlib figure: each mark a dashed vertical line on both panels,
    labelled as DRILL_MARKS says."""
    timeline = results.get("timeline") or {}
    if not timeline.get("published"):
        raise ValueError("these drill results have no timeline (recorded before --plot existed)")
    published: Sequence[tuple[float, str]] = [tuple(p) for p in timeline["published"]]
    answered: Sequence[tuple[float, str]] = [tuple(a) for a in timeline["answered"]]
    marks: Mapping[str, float | None] = timeline.get("marks", {})
    end_s = max([t for t, _ in (*published, *answered)] + [m for m in marks.values() if m])
    regions = [timeline["primary"], timeline["secondary"]]
    plt = _pyplot()
    figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(11, 6.5))
    for axis, series, what in ((top, published, "published"), (bottom, answered, "answered")):
        for region, colour in zip(regions, ("tab:blue", "tab:orange"), strict=True):
            x, counts = per_second((t for t, r in series if r == region), end_s)
            role = "primary" if region == timeline["primary"] else "secondary"
            axis.step(x, counts, where="post", color=colour, label=f"{role} {region}")
        axis.set_ylabel(f"{what} / s")
        axis.grid(alpha=0.3)
        for key, (label, colour) in DRILL_MARKS.items():
            at = marks.get(key)
            if at is not None:
                axis.axvline(at, color=colour, linestyle="--", linewidth=1.2, label=label)
    top.legend(loc="upper right", fontsize=8, ncol=2)
    bottom.set_xlabel("seconds since the drill started")
    rto = results.get("rto_s")
    top.set_title(
        f"Failover drill: {results.get('accepted', len(published))} requests, "
        f"RPO {results.get('rpo', '?')}, RTO {'n/a' if rto is None else f'{rto:.1f} s'}"
    )
    return figure


def load_chart(results: Mapping[str, Any], path: Path) -> Path:
    """Latency distribution by class, and throughput over time with the kills and the
    injected faults marked."""
    return _save(_pyplot(), load_figure(results), path)


def load_figure(results: Mapping[str, Any]) -> Any:
    """load_chart's figure: each kill a red dashed line, the faults injected per second a
    step line on the throughput panel's right axis (results recorded before faults were
    timed have none to draw)."""
    timeline = results.get("timeline") or {}
    samples = timeline.get("requests") or []
    if not samples:
        raise ValueError("these load results have no timeline (recorded before --plot existed)")
    latencies: dict[str, list[float]] = {}
    answered_at: list[float] = []
    for published_s, answered_s, kind in samples:
        if answered_s is None:
            continue
        latencies.setdefault(kind, []).append(answered_s - published_s)
        answered_at.append(answered_s)
    kills: list[float] = timeline.get("kills", [])
    fault_times: list[float] = [at for at, _ in timeline.get("faults", [])]
    end_s = max([*answered_at, *kills, *fault_times, 1.0])
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    for kind in sorted(latencies):
        left.hist(latencies[kind], bins=30, alpha=0.6, label=f"{kind} (n={len(latencies[kind])})")
    left.set_xlabel("publish → terminal event (s)")
    left.set_ylabel("requests")
    left.set_title("Latency distribution")
    left.legend(fontsize=8)
    x, counts = per_second(answered_at, end_s)
    right.step(x, counts, where="post", color="tab:blue", label="answered / s")
    for n, at in enumerate(kills):
        right.axvline(
            at,
            color="tab:red",
            linestyle="--",
            linewidth=1,
            label="runner killed" if n == 0 else None,
        )
    if fault_times:
        faulted = right.twinx()
        x, counts = per_second(fault_times, end_s)
        faulted.step(x, counts, where="post", color="tab:orange", alpha=0.8, linewidth=1)
        faulted.set_ylabel("faults injected / s", color="tab:orange")
        faulted.tick_params(axis="y", colors="tab:orange")
        faulted.set_ylim(0, max(counts) * 3)  # kept low, under the throughput
        right.plot([], [], color="tab:orange", label="faults injected / s (right)")
    faults = results.get("faults", {})
    injected = sum(f.get("injected", 0) for f in faults.values())
    calls = sum(f.get("calls", 0) for f in faults.values())
    right.set_xlabel("seconds since the load started")
    right.set_ylabel("requests answered / s")
    right.set_title(
        f"Throughput ({results.get('throughput_rps', '?')} req/s over the load)\n"
        f"{injected} faults injected in {calls} S3/DynamoDB calls",
        fontsize=10,
    )
    right.legend(fontsize=8, loc="best")
    right.grid(alpha=0.3)
    return figure


def _save(plt: Any, figure: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def main(argv: list[str]) -> int:
    import json

    charts = {"drill": drill_chart, "load": load_chart}
    if len(argv) != 3 or argv[0] not in charts:
        print(__doc__, file=sys.stderr)
        return 2
    results = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    print(charts[argv[0]](results, Path(argv[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
