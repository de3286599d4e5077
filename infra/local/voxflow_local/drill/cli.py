"""``voxflow drill``: a local two-region stack, load, the primary lost, failback; figures."""

import argparse
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from voxflow_local.drill import DrillSettings, run_drill
from voxflow_local.regions import TwoRegionStack

EXIT_FAILED = 1


def add_drill_command(commands: "argparse._SubParsersAction[Any]") -> None:
    """The `voxflow drill` parser (entry point voxflow.cli: the product's CLI finds it)."""
    drill = commands.add_parser(
        "drill", help="failover drill on a local two-region stack (docs/failover.md)"
    )
    drill.add_argument("--requests", type=int, default=200, help="requests to send (200)")
    drill.add_argument("--rate", type=float, default=4.0, help="requests per second (4)")
    drill.add_argument("--kill-after", type=int, help="kill the primary after N (half)")
    drill.add_argument("--long-fraction", type=float, default=0.1, help="long texts (0.1)")
    drill.add_argument("--failback-requests", type=int, default=3)
    drill.add_argument("--workers", type=int, default=1, help="primary worker processes")
    drill.add_argument(
        "--plan-runners",
        type=int,
        default=2,
        help="plan runners per region (2): Lambda scales plan out with the backlog",
    )
    drill.add_argument(
        "--synthesize-runners",
        type=int,
        default=2,
        help="synthesize runners per chunk lane (2): Lambda runs a lane's backlog "
        "concurrently up to its cap, where one runner made a long text's chunks one by one",
    )
    drill.add_argument("--lag", type=float, default=0.5, help="replication lag in seconds")
    drill.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for all")
    drill.add_argument("--log-dir", type=Path, help="moto, runner and worker logs")
    drill.add_argument("--out", type=Path, help="write the figures as JSON here")
    drill.add_argument(
        "--plot", type=Path, help="draw the timeline as a PNG here (matplotlib, dev extra)"
    )
    drill.add_argument(
        "--edge",
        action="store_true",
        help="serve audio through the edge proxy standing in for CloudFront, and count the "
        "URLs handed out before the kill that still play after it",
    )
    drill.set_defaults(run_plugin=run_drill_command)


def run_drill_command(args: argparse.Namespace) -> int:
    settings = DrillSettings(
        requests=args.requests,
        rate_per_s=args.rate,
        kill_after=args.kill_after,
        long_fraction=args.long_fraction,
        failback_requests=args.failback_requests,
        timeout_s=args.timeout,
    )

    def progress(line: str) -> None:
        print(f"drill: {line}", file=sys.stderr, flush=True)

    # Ports of the kernel's choosing: a drill never collides with `up --regions 2`.
    with TwoRegionStack(
        primary_port=None,
        secondary_port=None,
        workers=args.workers,
        concurrency={
            "PlanFunction": args.plan_runners,
            "SynthesizeFunction": args.synthesize_runners,
        },
        lag_s=args.lag,
        log_dir=args.log_dir,
        edge=args.edge,
    ) as stack:
        progress(f"primary {stack.primary.url}, secondary {stack.secondary.url}")
        report = run_drill(stack, settings, progress)
    print(report.summary())
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report.to_json() + "\n", encoding="utf-8")
        progress(f"figures in {args.out}")
    if args.plot is not None:
        from voxflow_local.plots import drill_chart

        progress(f"chart in {drill_chart(asdict(report), args.plot)}")
    return 0 if report.rpo == 0 and report.failback.ok else EXIT_FAILED
