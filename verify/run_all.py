"""Regenerate every result and figure: `python -m verify.run_all [--profile quick|default|full] ...`.

Cells run in local processes (`--jobs N`) or on Dask (`--executor dask [--scheduler ADDRESS]`).

Writes DIR/<experiment>.json, DIR/manifest.json, DIR/figures/*.png|pdf, DIR/claims.md and
DIR/metrics.csv (every metric with its interval, one row each); logs progress on stderr, then
prints the claims table (built from every record in DIR) on stdout. A rerun skips experiments
(and cells) whose config, seed, device and code already have a complete record, repairs missing
figures and manifest entries, and sets corrupt files aside; Ctrl-C or kill keeps everything
finished; two runs on one folder share the work.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from verify import __version__
from verify.experiments import PROFILES, available


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written, and every option's default in --help."""


class _Version(argparse.Action):
    """--version: the toolkit version and the code digest of the cache keys (hashed only when asked)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from verify.records import code_digest

        print(f"{parser.prog} {__version__} (code {code_digest()})")
        parser.exit()


def check_out(out: Path) -> None:
    """ValueError "--out: reason, got X" unless `out` is (or can be made as) a writable folder."""
    existing = out
    while not existing.exists():
        if existing.is_symlink() or existing == existing.parent:
            raise ValueError(f"--out: cannot be created (a dangling link or no existing parent), got {out}")
        existing = existing.parent
    if not existing.is_dir():
        what = "names a file" if existing == out else f"lies under the file {existing}"
        raise ValueError(f"--out: must be a folder but {what}, got {out}")
    try:  # the real test of writability (permission bits do not bind root, read-only mounts bind all)
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as error:
        raise ValueError(f"--out: {existing} is not writable ({error.strerror}), got {out}") from None


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m verify.run_all",
        description=__doc__,
        formatter_class=_Formatter,
    )
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default="default",
        help="quick: a smoke test of the pipeline, not evidence; default: the evidence on a CPU; "
        "full: paper scale (one GPU)",
    )
    parser.add_argument("--out", type=Path, default=Path("results"), help="output folder")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these experiments")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where cells compute")
    parser.add_argument("--seed", type=int, default=0, help="root seed")
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="worker processes for independent cells (default: one per available core with local, "
        "each cell on one thread)",
    )
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
    parser.add_argument("--version", action=_Version, help="print the toolkit version and code digest, exit")
    args = parser.parse_args(argv)
    known = available()
    if args.only:
        unknown = [name for name in args.only if name not in known]
        if unknown:
            parser.error(f"--only: unknown experiment(s) {unknown}; known: {', '.join(known)}")
    if args.seed < 0:
        parser.error(f"--seed: must be >= 0, got {args.seed}")
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs: must be >= 1, got {args.jobs}")
    if args.scheduler is not None and args.executor != "dask":
        parser.error("--scheduler: only meaningful with --executor dask")
    if args.executor == "dask":
        if args.jobs is not None:
            parser.error("--jobs: applies to --executor local; a Dask cluster has its own workers")
        from verify.dask_executor import check_reachable, require_distributed

        try:
            require_distributed()
        except ImportError as error:
            parser.error(str(error))
        if args.scheduler is not None and not args.list:
            try:
                check_reachable(args.scheduler)
            except ValueError as error:
                parser.error(str(error))
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda: torch.cuda.is_available() is false on this machine")
    if not args.list:
        try:
            check_out(args.out)
        except ValueError as error:
            parser.error(str(error))
    args.names = args.only or known
    return args


def make_executor(args: argparse.Namespace):
    """The executor the arguments ask for; Dask is imported only for --executor dask."""
    if args.executor == "dask":
        from verify.dask_executor import DaskExecutor

        return DaskExecutor(args.scheduler)
    from verify.executor import LocalExecutor

    return LocalExecutor(args.jobs or len(os.sched_getaffinity(0)))


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
    from verify.records import code_digest

    print(
        f"profile {args.profile}, seed {args.seed}, device {args.device}, code {code_digest()}, "
        f"out {args.out}: "
        f"{len(todo)} of {len(items)} experiments to run, estimated {estimate:.0f} s of compute "
        f"(cell time on one core of a 2-core CPU; --jobs divides the wall time)"
    )
    for item in items:
        state = "done" if item.done else f"~{item.experiment.estimated_s[args.profile]:.0f} s"
        print(f"  {item.experiment.name:24s} {state:>10s}  config {item.config_hash}")
    if args.dry_run:
        return 0

    from figures import render

    def log(line: str) -> None:  # progress on stderr, results on stdout
        print(line, file=sys.stderr, flush=True)

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
            log=log,
        )
    except KeyboardInterrupt:
        log("\nInterrupted: every finished cell and record is kept; rerun to resume.")
        return 130
    print(f"\nwall time {time.perf_counter() - start:.1f} s\n")
    print(runner.write_claims(args.out, records, failures, log))
    broken = [c["name"] for r in records for c in r["checks"] if not c["holds"]]
    entries = runner.read_manifest(args.out, log)["experiments"]
    undrawn = [name for name, entry in entries.items() if entry.get("figure_failed")]
    if failures or broken or undrawn:
        print(
            f"\n{len(failures)} experiment(s) incomplete, {len(broken)} guaranteed check(s) failed, "
            f"{len(undrawn)} figure(s) failed to draw {undrawn or ''}"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
