"""``voxflow drill``: a local two-region stack, load, the primary lost, failback; figures."""

import argparse
import sys

from voxflow.drill import DrillSettings, run_drill
from voxflow.local.regions import TwoRegionStack

EXIT_FAILED = 1


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
        concurrency={"PlanFunction": args.plan_runners},
        lag_s=args.lag,
        log_dir=args.log_dir,
    ) as stack:
        progress(f"primary {stack.primary.url}, secondary {stack.secondary.url}")
        report = run_drill(stack, settings, progress)
    print(report.summary())
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report.to_json() + "\n", encoding="utf-8")
        progress(f"figures in {args.out}")
    return 0 if report.rpo == 0 and report.failback.ok else EXIT_FAILED
