"""Plan and run experiments: cells are cached by hash, records written atomically, figures drawn.

Layout of an output folder DIR:
  DIR/<experiment>.json            the result record (complete, written last)
  DIR/cells/<experiment>/<key>-<hash>.json   finished cells (a rerun resubmits only missing ones)
  DIR/figures/<experiment>*.png|pdf
  DIR/manifest.json                experiment -> record, figures, config hash, versions, wall time
  DIR/claims.md                    the claims table
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from verify.claims import claims_table
from verify.experiments import Cell, Experiment, Outcome, load
from verify.records import (
    config_hash,
    read_json,
    to_jsonable,
    validate_record,
    versions,
    write_json_atomic,
    write_text_atomic,
)


@dataclass(frozen=True)
class Planned:
    experiment: Experiment
    config: object
    config_hash: str
    done: bool


def plan(names, profile: str, seed: int, device: str, out: Path, force: bool = False) -> list[Planned]:
    """Resolve each experiment's config for `profile`; `done` when DIR holds its complete record."""
    items = []
    for name in names:
        experiment = load(name)
        config = experiment.profiles[profile]
        digest = config_hash({"experiment": name, "config": config, "seed": seed, "device": device})
        record = read_json(Path(out) / f"{name}.json")
        done = not force and bool(record) and record.get("config_hash") == digest
        items.append(Planned(experiment, config, digest, done))
    return items


def _cell_path(out: Path, cell: Cell, device: str) -> Path:
    digest = config_hash(
        {"experiment": cell.experiment, "key": cell.key, "params": cell.params, "device": device}
    )
    return Path(out) / "cells" / cell.experiment / f"{cell.key}-{digest}.json"


def run(
    items: list[Planned],
    *,
    profile: str,
    seed: int,
    device: str,
    out: Path,
    executor,
    force: bool = False,
    draw=None,
    log=print,
) -> tuple[list[dict], dict]:
    """Run every planned experiment not yet done; return (records, failures by experiment)."""
    out = Path(out)
    todo = [item for item in items if not item.done]
    for item in items:
        if item.done:
            log(f"[skip] {item.experiment.name}: complete record with config hash {item.config_hash}")
    cells, results, remaining = {}, {}, []
    for item in todo:
        name = item.experiment.name
        cells[name] = item.experiment.cells(item.config, seed)
        results[name] = {}
        for cell in cells[name]:
            cached = None if force else read_json(_cell_path(out, cell, device))
            if cached is not None:
                results[name][cell.key] = cached
            else:
                remaining.append(cell)
    by_name = {item.experiment.name: item for item in todo}
    failures: dict[str, list[str]] = {}
    started = time.perf_counter()

    def finish(name: str) -> None:
        item = by_name[name]
        record = _record(item, [results[name][c.key] for c in cells[name]], profile, seed, device)
        write_json_atomic(out / f"{name}.json", record)
        figures = draw(record, out / "figures") if draw else []
        _update_manifest(out, record, figures)
        est = item.experiment.estimated_s[profile]
        log(
            f"[done] {name}: {record['elapsed_s']:.1f} s of compute (estimated {est:.0f} s), "
            f"wall {time.perf_counter() - started:.1f} s so far"
        )

    for name in by_name:
        if len(results[name]) == len(cells[name]):
            finish(name)
    counts = {"done": 0, "failed": 0}

    def progress() -> str:
        running = len(remaining) - counts["done"] - counts["failed"]
        return f"[{counts['done']} done, {running} running or queued, {counts['failed']} failed]"

    # closing(): Ctrl-C or an error here stops the executor's workers; finished cells stay on disk
    with contextlib.closing(executor.run(remaining, device)) as outcomes:
        for cell, outcome in outcomes:
            name = cell.experiment
            if not outcome["ok"]:
                counts["failed"] += 1
                failures.setdefault(name, []).append(f"cell {cell.key} ({cell.params}):\n{outcome['error']}")
                log(
                    f"[fail] {name}: cell {cell.key} raised; the other cells go on {progress()}\n"
                    f"{outcome['error']}"
                )
                continue
            payload = {"key": cell.key, "result": outcome["result"], "elapsed_s": outcome["elapsed_s"]}
            write_json_atomic(_cell_path(out, cell, device), payload)
            results[name][cell.key] = payload
            counts["done"] += 1
            log(
                f"  {name}: cell {cell.key} in {outcome['elapsed_s']:.1f} s "
                f"({len(results[name])}/{len(cells[name])}) {progress()}"
            )
            if len(results[name]) == len(cells[name]) and name not in failures:
                finish(name)
    records = [read_json(out / f"{item.experiment.name}.json") for item in items]
    # only this run's records: an older record of a now incomplete experiment is not reported
    current = [
        r for r, item in zip(records, items, strict=True) if r and r.get("config_hash") == item.config_hash
    ]
    return current, failures


def _record(item: Planned, cell_payloads: list[dict], profile: str, seed: int, device: str) -> dict:
    start = time.perf_counter()
    outcome: Outcome = item.experiment.aggregate(item.config, [p["result"] for p in cell_payloads])
    cell_seconds = sum(p["elapsed_s"] for p in cell_payloads)
    record = {
        "experiment": item.experiment.name,
        "claim": item.experiment.claim,
        "profile": profile,
        "config": to_jsonable(item.config),
        "config_hash": item.config_hash,
        "seeds": {"root": seed, "cells": {p["key"]: p["result"].get("seed") for p in cell_payloads}},
        "versions": versions(device),
        "metrics": outcome.metrics,
        "checks": outcome.checks,
        "verdicts": outcome.verdicts,
        "series": outcome.series,
        "summary": outcome.summary,
        "elapsed_s": cell_seconds + time.perf_counter() - start,
    }
    validate_record(record)
    return record


def _update_manifest(out: Path, record: dict, figures: list[str]) -> None:
    path = out / "manifest.json"
    manifest = read_json(path) or {"experiments": {}}
    manifest["experiments"][record["experiment"]] = {
        "record": f"{record['experiment']}.json",
        "figures": figures,
        "config_hash": record["config_hash"],
        "profile": record["profile"],
        "versions": record["versions"],
        "elapsed_s": record["elapsed_s"],
        "all_checks_hold": all(c["holds"] for c in record["checks"]),
    }
    write_json_atomic(path, manifest)


def write_claims(out: Path, records: list[dict], failures: dict) -> str:
    """Render the claims table, save it as DIR/claims.md and return it."""
    table = claims_table(records, failures, read_json(Path(out) / "manifest.json") or {})
    write_text_atomic(Path(out) / "claims.md", table + "\n")
    return table
