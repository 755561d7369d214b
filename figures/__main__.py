"""`python -m figures DIR`: redraw every figure from the records in DIR without recomputing."""

import argparse
import json
from pathlib import Path

from figures import render


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m figures", description=__doc__)
    parser.add_argument("out", type=Path, help="a run_all output folder (holds <experiment>.json)")
    args = parser.parse_args()
    if not args.out.is_dir():
        parser.error(f"DIR: {args.out} is not a folder")
    paths = sorted(p for p in args.out.glob("*.json") if p.name != "manifest.json")
    if not paths:
        parser.error(f"DIR: {args.out} holds no result records")
    for path in paths:
        record = json.loads(path.read_text())
        files = render(record, args.out / "figures")
        print(f"{record['experiment']}: {', '.join(files) or 'no figure module'}")


if __name__ == "__main__":
    main()
