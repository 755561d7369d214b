"""Run the named benchmarks (all when none is named); each lives in verify/bench/<name>.py with main()."""

import argparse
import importlib
import pkgutil

import verify.bench


def main() -> None:
    names = sorted(m.name for m in pkgutil.iter_modules(verify.bench.__path__) if m.name != "timing")
    parser = argparse.ArgumentParser(prog="python -m verify.bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=names + [[]], help=f"any of {names}")
    args = parser.parse_args()
    for name in args.names or names:
        print(f"== {name} ==")
        importlib.import_module(f"verify.bench.{name}").main()


if __name__ == "__main__":
    main()
