"""Result records (DESIGN.md, "Result records"): building blocks, hashing and atomic JSON I/O.

A record is plain JSON: experiment, claim, profile, config, config_hash, seeds, versions,
metrics (value, unit, stderr or ci, estimator), checks (name, lhs, rhs, relation, holds, margin),
verdicts (claim, endpoint, primary, estimate, interval, test, p, verdict: verify.verdicts),
series (arrays the figure needs), summary (headline for the claims table), elapsed_s.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
import tempfile
from pathlib import Path

RECORD_KEYS = (
    "experiment",
    "claim",
    "profile",
    "config",
    "config_hash",
    "seeds",
    "versions",
    "metrics",
    "checks",
    "verdicts",
    "series",
    "summary",
    "elapsed_s",
)
RELATIONS = ("<=", ">=", "==")


def metric(value, unit: str, estimator: str, stderr=None, ci=None) -> dict:
    """One measured quantity with its unit, its uncertainty and the estimator that produced it."""
    out = {"value": float(value), "unit": unit, "estimator": estimator}
    if stderr is not None:
        out["stderr"] = float(stderr)
    if ci is not None:
        out["ci"] = [float(ci[0]), float(ci[1])]
    return out


def check(name: str, lhs: float, rhs: float, relation: str = "<=", margin: float = 0.0) -> dict:
    """A mathematically guaranteed relation `lhs relation rhs`, allowed `margin` (from standard errors).

    "<=" holds when lhs <= rhs + margin; ">=" when lhs >= rhs - margin; "==" when |lhs - rhs| <= margin.
    """
    if relation not in RELATIONS:
        raise ValueError(f"relation: must be one of {RELATIONS}, got {relation!r}")
    lhs, rhs, margin = float(lhs), float(rhs), float(margin)
    if not margin >= 0:
        raise ValueError(f"margin: must be >= 0, got {margin}")
    gap = {"<=": rhs + margin - lhs, ">=": lhs - rhs + margin, "==": margin - abs(lhs - rhs)}[relation]
    holds = bool(gap >= 0) and math.isfinite(gap)
    return {"name": name, "lhs": lhs, "rhs": rhs, "relation": relation, "holds": holds, "margin": margin}


def config_hash(payload) -> str:
    """SHA-256 (first 16 hex digits) of the canonical JSON of a config (dataclasses allowed)."""
    text = json.dumps(to_jsonable(payload), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def to_jsonable(value):
    """Dataclasses, tuples, numpy/torch scalars and arrays -> plain JSON types (NaN/inf -> strings)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return to_jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def versions(device: str) -> dict:
    """Versions of everything that can change a number."""
    import numpy
    import scipy
    import sympy
    import torch

    from verify import __version__

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "sympy": sympy.__version__,
        "toolkit": __version__,
        "device": device,
    }


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to a temporary file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, payload) -> None:
    """`payload` as JSON, written atomically (a failed serialisation leaves `path` untouched)."""
    write_text_atomic(path, json.dumps(to_jsonable(payload), indent=1))


def read_json(path: Path):
    """The JSON at `path`, or None when it is missing or unreadable (an interrupted write)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def validate_record(record: dict) -> None:
    """Raise ValueError when a record misses a key or has a malformed metric or check."""
    missing = [key for key in RECORD_KEYS if key not in record]
    if missing:
        raise ValueError(f"record: missing keys {missing}")
    for name, value in record["metrics"].items():
        if not {"value", "unit", "estimator"} <= set(value):
            raise ValueError(f"record: metric {name!r} needs value, unit and estimator")
    for item in record["checks"]:
        if not {"name", "lhs", "rhs", "relation", "holds", "margin"} <= set(item):
            raise ValueError(f"record: check {item.get('name')!r} is incomplete")
