"""Benchmarks: `python -m verify.bench NAME [NAME ...]` or `python -m verify.bench all`.

Each lives in verify/bench/<name>.py with main(). Without a name this lists them with their
approximate cost and runs nothing.
"""

import argparse
import importlib
import pkgutil
import sys

import verify.bench

# wall time of one run on a shared 2-core CPU (measured: exact 48 s, synthetic 43 s, samplers 7 s;
# train from its 2-minute budgets per model)
COST = {
    "exact": "~50 s",
    "samplers": "~10 s",
    "synthetic": "~45 s",
    "train": "~7 min",
}


def benchmarks() -> list[str]:
    """Names of the benchmark modules (private modules, __main__ and the shared timing helper excluded)."""
    return sorted(
        m.name
        for m in pkgutil.iter_modules(verify.bench.__path__)
        if not m.name.startswith("_") and m.name != "timing"
    )


def listing(names: list[str]) -> str:
    lines = [f"  {name:10s} {COST.get(name, 'cost not measured'):>8s}  {_summary(name)}" for name in names]
    return "\n".join(["benchmarks (approximate wall time on a 2-core CPU):", *lines])


def _summary(name: str) -> str:
    doc = importlib.import_module(f"verify.bench.{name}").__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def main(argv=None) -> int:
    names = benchmarks()
    parser = argparse.ArgumentParser(
        prog="python -m verify.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one or more of {', '.join(names)}, or all")
    args = parser.parse_args(argv)
    if not args.names:
        print(listing(names))
        print("\nName one or more to run them, or `all`: python -m verify.bench NAME [NAME ...]")
        return 0
    chosen = names if args.names == ["all"] else args.names
    unknown = [name for name in chosen if name not in names]
    if unknown:
        parser.error(
            f"NAME: unknown benchmark(s) {unknown}; known: {', '.join(names)} or all, got {args.names}"
        )
    for name in chosen:
        print(f"== {name} ({COST.get(name, 'cost not measured')}) ==", flush=True)
        importlib.import_module(f"verify.bench.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
