"""Regenerate every result and figure: `python -m verify.run_all [--profile quick|default|full] ...`.

Cells run in local processes (`--jobs N`) or on Dask (`--executor dask [--scheduler ADDRESS]`).

Writes DIR/<experiment>.json, DIR/manifest.json, DIR/figures/*.png|pdf and DIR/claims.md, then
prints the claims table. A rerun skips experiments (and cells) whose config hash already has a
complete record; Ctrl-C keeps everything finished.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from verify.experiments import PROFILES, available


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m verify.run_all",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--profile", choices=PROFILES, default="default")
    parser.add_argument("--out", type=Path, default=Path("results"), help="output folder")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these experiments")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for independent cells")
    parser.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="local: --jobs processes here; dask: a Dask cluster (extra: distributed)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler address (e.g. tcp://host:8786); without it --executor dask starts a "
        "LocalCluster with one worker per core",
    )
    parser.add_argument("--force", action="store_true", help="recompute even complete records")
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    args = parser.parse_args(argv)
    known = available()
    if args.only:
        unknown = [name for name in args.only if name not in known]
        if unknown:
            parser.error(f"--only: unknown experiment(s) {unknown}; known: {', '.join(known)}")
    if args.seed < 0:
        parser.error(f"--seed: must be >= 0, got {args.seed}")
    if args.jobs < 1:
        parser.error(f"--jobs: must be >= 1, got {args.jobs}")
    if args.scheduler is not None and args.executor != "dask":
        parser.error("--scheduler: only meaningful with --executor dask")
    if args.executor == "dask":
        if args.jobs != 1:
            parser.error("--jobs: applies to --executor local; a Dask cluster has its own workers")
        from verify.dask_executor import require_distributed

        try:
            require_distributed()
        except ImportError as error:
            parser.error(str(error))
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda: torch.cuda.is_available() is false on this machine")
    args.names = args.only or known
    return args


def make_executor(args: argparse.Namespace):
    """The executor the arguments ask for; Dask is imported only for --executor dask."""
    if args.executor == "dask":
        from verify.dask_executor import DaskExecutor

        return DaskExecutor(args.scheduler)
    from verify.executor import LocalExecutor

    return LocalExecutor(args.jobs)


def main(argv=None) -> int:
    args = parse_args(argv)
    from verify.experiments import load

    if not args.names:
        print("No experiment modules exist yet under verify/experiments/: nothing to run.")
        return 1
    if args.list:
        for name in args.names:
            print(f"{name:24s} {load(name).claim}")
        return 0

    from verify import runner

    items = runner.plan(args.names, args.profile, args.seed, args.device, args.out, args.force)
    todo = [item for item in items if not item.done]
    estimate = sum(item.experiment.estimated_s[args.profile] for item in todo)
    print(
        f"profile {args.profile}, seed {args.seed}, device {args.device}, out {args.out}: "
        f"{len(todo)} of {len(items)} experiments to run, estimated {estimate:.0f} s "
        f"on a 2-core CPU with --jobs 1"
    )
    for item in items:
        state = "done" if item.done else f"~{item.experiment.estimated_s[args.profile]:.0f} s"
        print(f"  {item.experiment.name:24s} {state:>10s}  config {item.config_hash}")
    if args.dry_run:
        return 0

    from figures import render

    start = time.perf_counter()
    try:
        records, failures = runner.run(
            items,
            profile=args.profile,
            seed=args.seed,
            device=args.device,
            out=args.out,
            executor=make_executor(args),
            force=args.force,
            draw=render,
        )
    except KeyboardInterrupt:
        print("\nInterrupted: every finished cell and record is kept; rerun to resume.")
        return 130
    print(f"\nwall time {time.perf_counter() - start:.1f} s\n")
    print(runner.write_claims(args.out, records, failures))
    broken = [c["name"] for r in records for c in r["checks"] if not c["holds"]]
    if failures or broken:
        print(f"\n{len(failures)} experiment(s) incomplete, {len(broken)} guaranteed check(s) failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
