"""Result records (docs/design.md, "Result records"): building blocks, hashing and atomic JSON I/O.

A record is plain JSON: experiment, claim, profile, config, config_hash, seeds, versions,
metrics (value, unit, stderr or ci, estimator), checks (name, lhs, rhs, relation, holds, margin),
verdicts (claim, endpoint, primary, estimate, interval, test, p, verdict: verify.verdicts),
series (arrays the figure needs), summary (headline for the claims table), elapsed_s.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import json
import math
import os
import platform
import re
import socket
import tempfile
import time
from pathlib import Path

from verify.verdicts import VERDICTS

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
INTEGRITY = "integrity"  # {"sha256": digest of the canonical JSON of every other key}
CODE_PACKAGES = ("bounds", "synthetic", "verify")  # the sources a cell runs (the cache key's code part)
# Margin of every statistical check, in standard errors: with a thousand checks in a run, one
# fails by chance with probability < 1e-3 (two-sided normal tail 5.7e-7 each).
MARGIN_SE = 5.0
FILE_MODE = 0o644  # records, cells and claims.md are readable by everyone, like the figures


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


def canonical(payload) -> str:
    """Canonical JSON text of `payload` (sorted keys, no spaces): equal payloads, equal text."""
    return json.dumps(to_jsonable(payload), sort_keys=True, separators=(",", ":"))


def config_hash(payload) -> str:
    """SHA-256 (first 16 hex digits) of the canonical JSON of a config (dataclasses allowed)."""
    return hashlib.sha256(canonical(payload).encode()).hexdigest()[:16]


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


NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def from_jsonable(value):
    """Inverse of `to_jsonable` for the non-finite floats: "nan", "inf", "-inf" -> float."""
    if isinstance(value, dict):
        return {k: from_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_jsonable(v) for v in value]
    if isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
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
        "code": code_digest(),
        "device": device,
    }


@functools.cache
def code_digest() -> str:
    """SHA-256 (16 hex digits) of the code a cell runs: every .py file of bounds/, synthetic/ and
    verify/ (path and bytes, in sorted path order) and the torch version. Part of every cache key,
    so a changed toolkit recomputes and an unchanged one does not (computed once per process)."""
    import torch

    digest = hashlib.sha256()
    for package in CODE_PACKAGES:
        root = Path(importlib.import_module(package).__file__).parent
        for path in sorted(p for p in root.rglob("*.py") if p.is_file()):
            digest.update(f"{package}/{path.relative_to(root).as_posix()}\0".encode())
            digest.update(path.read_bytes() + b"\0")
    digest.update(torch.__version__.encode())
    return digest.hexdigest()[:16]


# --- the store's files: atomic writes, integrity digests, checked reads --------------------------

TEMP_NAME = re.compile(r"\.tmp\.(\d+)\.([A-Za-z0-9_-]+)\.")  # .NAME.tmp.<pid>.<host>.<random>


def owner() -> str:
    """ "<pid>.<host>": who writes a temporary file or holds a lock (TEMP_NAME parses it back)."""
    return f"{os.getpid()}.{re.sub(r'[^A-Za-z0-9_-]', '_', socket.gethostname())}"


def owner_alive(pid: int, host: str) -> bool:
    """False only when `pid` on this host is known to be gone (another host's owner counts as alive)."""
    if host != owner().split(".", 1)[1]:
        return True
    try:
        os.kill(pid, 0)  # signal 0: existence only (PermissionError means it exists)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to a temporary file of this process in the same folder (mode 0644), fsync, then
    rename over `path`: readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp.{owner()}.")
    try:
        os.fchmod(fd, FILE_MODE)
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


def seal(payload: dict) -> dict:
    """`payload` as plain JSON plus its integrity digest: sha256 of the canonical JSON of the rest."""
    body = to_jsonable({k: v for k, v in payload.items() if k != INTEGRITY})
    return {**body, INTEGRITY: {"sha256": hashlib.sha256(canonical(body).encode()).hexdigest()}}


class CorruptFile(ValueError):
    """A store file that exists but is not what was written: not UTF-8 JSON, wrong schema, or its
    integrity digest does not match its content (edited or damaged)."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


def read_json(path: Path):
    """The JSON at `path`, None when it is missing; CorruptFile naming the path when it is not
    UTF-8 JSON (binary garbage, a torn write from a tool that does not write atomically)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise CorruptFile(path, "is a folder, not a file") from None
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise CorruptFile(path, f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise CorruptFile(path, f"not JSON ({error.msg} at line {error.lineno})") from None


def read_sealed(path: Path, validate) -> dict | None:
    """The payload at `path` without its digest, None when missing; CorruptFile when it is not
    a sealed dict, its digest does not match, or `validate(payload)` raises ValueError."""
    payload = read_json(path)
    if payload is None:
        return None
    if not isinstance(payload, dict):
        raise CorruptFile(path, f"must hold a JSON object, got {type(payload).__name__}")
    stored = payload.get(INTEGRITY)
    if not isinstance(stored, dict) or not isinstance(stored.get("sha256"), str):
        raise CorruptFile(path, f"has no integrity digest ({INTEGRITY!r} key)")
    if seal(payload)[INTEGRITY]["sha256"] != stored["sha256"]:
        raise CorruptFile(path, "integrity digest does not match the content (edited or damaged)")
    body = {k: v for k, v in payload.items() if k != INTEGRITY}
    try:
        validate(body)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise CorruptFile(path, f"schema: {error}") from None
    return body


def set_aside(path: Path) -> Path:
    """Rename a corrupt file to NAME.corrupt-<UTC time>-<pid> next to it (kept, never deleted)."""
    path = Path(path)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}-{os.getpid()}")
    os.replace(path, target)
    return target


def _number(value) -> bool:
    """A JSON number (bools excluded) or a non-finite float as to_jsonable writes it."""
    if isinstance(value, str):
        return value in ("nan", "inf", "-inf")
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise ValueError(f"record: {what}")


def _entries(items, name: str, keys: set) -> None:
    _require(isinstance(items, list), f"{name} must be a list, got {type(items).__name__}")
    for item in items:
        _require(isinstance(item, dict), f"each of {name} must be an object, got {item!r}")
        missing = sorted(keys - set(item))
        _require(not missing, f"{name} entry {item.get('name', item.get('endpoint'))!r} misses {missing}")


def validate_record(record) -> None:
    """Raise ValueError when a record misses a key or a part has the wrong shape or type."""
    _require(isinstance(record, dict), f"must be an object, got {type(record).__name__}")
    missing = [key for key in RECORD_KEYS if key not in record]
    _require(not missing, f"missing keys {missing}")
    for key in ("experiment", "claim", "profile", "config_hash"):
        _require(isinstance(record[key], str), f"{key} must be a string, got {record[key]!r}")
    for key in ("config", "seeds", "versions", "metrics", "series", "summary"):
        _require(isinstance(record[key], dict), f"{key} must be an object, got {type(record[key]).__name__}")
    _require(isinstance(record["seeds"].get("root"), int), "seeds needs the integer root seed")
    missing = sorted({"torch", "toolkit", "code", "device"} - set(record["versions"]))
    _require(not missing, f"versions misses {missing}")
    for name, value in record["metrics"].items():
        _require(isinstance(value, dict), f"metric {name!r} must be an object")
        _require(
            {"value", "unit", "estimator"} <= set(value), f"metric {name!r} needs value, unit and estimator"
        )
        _require(_number(value["value"]), f"metric {name!r} value must be a number, got {value['value']!r}")
    _entries(record["checks"], "checks", {"name", "lhs", "rhs", "relation", "holds", "margin"})
    for item in record["checks"]:
        _require(isinstance(item["holds"], bool), f"check {item['name']!r}: holds must be true or false")
        _require(
            item["relation"] in RELATIONS, f"check {item['name']!r}: relation must be one of {RELATIONS}"
        )
    keys = {"claim", "endpoint", "primary", "estimate", "interval", "test", "p", "verdict"}
    _entries(record["verdicts"], "verdicts", keys)
    for item in record["verdicts"]:
        _require(item["verdict"] in VERDICTS, f"verdict {item['endpoint']!r} must be one of {VERDICTS}")
        _require(isinstance(item["primary"], bool), f"verdict {item['endpoint']!r}: primary must be a bool")
        p_ok = item["p"] is None or _number(item["p"])  # None: an exact (deterministic) comparison
        _require(_number(item["estimate"]) and p_ok, f"verdict {item['endpoint']!r}: numbers")
        interval = item["interval"]
        _require(
            isinstance(interval, (list, tuple)) and len(interval) == 2 and all(map(_number, interval)),
            f"verdict {item['endpoint']!r}: interval must be two numbers, got {interval!r}",
        )
    _require(_number(record["elapsed_s"]), f"elapsed_s must be a number, got {record['elapsed_s']!r}")


def validate_cell(payload) -> None:
    """Raise ValueError unless a cell file holds {key: str, result: object, elapsed_s: number}."""
    if not isinstance(payload, dict):
        raise ValueError(f"cell: must be an object, got {type(payload).__name__}")
    missing = sorted({"key", "result", "elapsed_s"} - set(payload))
    if missing:
        raise ValueError(f"cell: missing keys {missing}")
    if not isinstance(payload["key"], str) or not isinstance(payload["result"], dict):
        raise ValueError("cell: key must be a string and result an object")
    if not _number(payload["elapsed_s"]):
        raise ValueError(f"cell: elapsed_s must be a number, got {payload['elapsed_s']!r}")
