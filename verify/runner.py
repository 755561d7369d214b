"""Plan and run experiments: cells cached by hash, records sealed and written atomically, figures drawn.

Layout of an output folder DIR:
  DIR/<experiment>.json            the result record (sealed: integrity digest; written after its figures)
  DIR/cells/<experiment>/<key>-<hash>.json   finished cells (a rerun resubmits only missing ones)
  DIR/figures/<experiment>*.png|pdf
  DIR/manifest.json                experiment -> record, figures, config hash, versions, wall time
  DIR/claims.md                    the claims table, built from every record in DIR
  DIR/metrics.csv                  the same records' metrics as one tidy table (verify.export)

What the folder guarantees (verify.store has the mechanisms):
- Write order per experiment: figures, then the record (the commit point), then its manifest
  entry. Every run first repairs the records already present (missing figures or manifest
  entries are redrawn and rewritten from the record, never recomputed), rebuilds a deleted
  manifest, and removes temporaries that interrupted writers left behind.
- Every record and cell is checked on read (JSON, schema, integrity digest); a file that fails
  is reported by path, renamed aside (NAME.corrupt-<time>-<pid>) and recomputed.
- A cell's key holds the experiment, its parameters, the device and the digest of the code
  (records.code_digest), so a changed toolkit recomputes and an unchanged one does not.
- Two runs on one folder: each cell, record and the manifest has a lock; a run skips the cells
  another run is computing, waits for them, and reuses what it wrote.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import verify.experiments as experiments
from verify import store
from verify.claims import claims_table
from verify.experiments import Cell, Experiment, Outcome
from verify.export import write_metrics_csv
from verify.records import (
    code_digest,
    config_hash,
    from_jsonable,
    owner,
    read_sealed,
    seal,
    to_jsonable,
    validate_cell,
    validate_record,
    versions,
    write_json_atomic,
    write_text_atomic,
)

POLL_S = 0.5  # how often a run looks whether cells locked by another run are free
CLAIM = 256  # cells a run locks (one open file each) and hands to its executor at a time


@dataclass(frozen=True)
class Planned:
    experiment: Experiment
    config: object
    config_hash: str
    done: bool


def validate_for(name: str):
    """The check of the record file of experiment `name`: a valid record that names `name`."""

    def validate(record) -> None:
        validate_record(record)
        if record["experiment"] != name:
            raise ValueError(
                f"record: experiment must be {name!r} (the file name), got {record['experiment']!r}"
            )

    return validate


def _cell_check(cell: Cell):
    """The check of a cell file: a valid cell payload for this cell's key."""

    def validate(payload) -> None:
        validate_cell(payload)
        if payload["key"] != cell.key:
            raise ValueError(f"cell: key must be {cell.key!r} (its file), got {payload['key']!r}")

    return validate


def _peek_record(out: Path, name: str) -> dict | None:
    """The valid record of `name` in `out`, or None (missing or corrupt; nothing is moved)."""
    try:
        return read_sealed(Path(out) / f"{name}.json", validate_for(name))
    except ValueError:
        return None


def plan(names, profile: str, seed: int, device: str, out: Path, force: bool = False) -> list[Planned]:
    """Resolve each experiment's config for `profile`; `done` when DIR holds its valid record for
    this config, seed, device and code. Reads only: corrupt files are handled by `run`."""
    items = []
    for name in names:
        experiment = experiments.load(name)
        config = experiment.profiles[profile]
        digest = config_hash(
            {"experiment": name, "config": config, "seed": seed, "device": device, "code": code_digest()}
        )
        record = None if force else _peek_record(out, name)
        done = record is not None and record["config_hash"] == digest
        items.append(Planned(experiment, config, digest, done))
    return items


def _cell_path(out: Path, cell: Cell, device: str) -> Path:
    digest = config_hash(
        {
            "experiment": cell.experiment,
            "key": cell.key,
            "params": cell.params,
            "device": device,
            "code": code_digest(),
        }
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
    """Repair the folder, then run every planned experiment not yet done; return (this run's
    records, failures by experiment)."""
    out = Path(out)
    store.clean_temporaries(out, log)
    repair(out, draw, log)
    for item in items:
        if item.done:
            log(f"[skip] {item.experiment.name}: complete record with config hash {item.config_hash}")
    session = _Session(
        [item for item in items if not item.done], profile, seed, device, out, force, draw, log
    )
    pending = session.resume()
    while pending:
        pending = session.step(pending, executor)
    # only this run's records: an older record of a now incomplete experiment is not reported
    current = [_peek_record(out, item.experiment.name) for item in items]
    current = [
        r for r, item in zip(current, items, strict=True) if r and r["config_hash"] == item.config_hash
    ]
    return current, session.failures


class _Session:
    """One run over the experiments to do: their cells, the results so far, failures, progress."""

    def __init__(self, todo, profile, seed, device, out, force, draw, log):
        self.items = {item.experiment.name: item for item in todo}
        self.cells = {name: item.experiment.cells(item.config, seed) for name, item in self.items.items()}
        self.results: dict[str, dict] = {name: {} for name in self.items}
        self.failures: dict[str, list[str]] = {}
        self.profile, self.seed, self.device, self.out = profile, seed, device, out
        self.force, self.draw, self.log = force, draw, log
        self.left = {name: item.experiment.estimated_s[profile] for name, item in self.items.items()}
        self.started = time.perf_counter()
        self.to_compute, self.done, self.failed = 0, 0, 0

    def path(self, cell: Cell) -> Path:
        return _cell_path(self.out, cell, self.device)

    def resume(self) -> list[Cell]:
        """Take every cell already saved, finish the experiments they complete; return the rest."""
        remaining = []
        for name, cells in self.cells.items():
            for cell in cells:
                cached = None if self.force else store.load(self.path(cell), _cell_check(cell), self.log)
                if cached is not None:
                    self.results[name][cell.key] = cached
                else:
                    remaining.append(cell)
            if len(self.results[name]) == len(cells):
                self.finish(name)
        self.to_compute = len(remaining)
        return remaining

    def step(self, pending: list[Cell], executor) -> list[Cell]:
        """Claim up to CLAIM free cells (lock), take those another run saved meanwhile, compute
        the claimed ones; return what is left (once another run frees one, if nothing else is)."""
        mine, theirs, later, locks = [], [], [], {}
        for cell in pending:
            if len(mine) == CLAIM:
                later.append(cell)
                continue
            lock = store.FileLock(self.path(cell))
            if not lock.acquire(blocking=False):
                theirs.append(cell)
                continue
            cached = (
                None if self.force else store.load(self.path(cell), _cell_check(cell), self.log, locked=True)
            )
            if cached is not None:  # written by another run since we looked
                lock.release()
                self.collect(cell, cached, "from another run")
            else:
                locks[cell] = lock
                mine.append(cell)
        try:
            if mine:
                self.compute(mine, locks, executor)
        finally:  # Ctrl-C or an error: free the cells this run had claimed
            for lock in locks.values():
                lock.release()
        if mine or later:
            return later + theirs
        return self.wait(theirs) if theirs else []

    def compute(self, mine: list[Cell], locks: dict, executor) -> None:
        """Run the cells this run holds locks for; save each finished one, then free its lock."""
        # closing(): Ctrl-C or an error here stops the executor's workers; finished cells stay on disk
        with contextlib.closing(executor.run(mine, self.device)) as outcomes:
            for cell, outcome in outcomes:
                name = cell.experiment
                if not outcome["ok"]:
                    locks.pop(cell).release()
                    self.failed += 1
                    self.failures.setdefault(name, []).append(
                        f"cell {cell.key} ({cell.params}):\n{outcome['error']}"
                    )
                    self.log(
                        f"[fail] {name}: cell {cell.key} raised; the other cells go on {self.progress()}\n"
                        f"{outcome['error']}"
                    )
                    continue
                payload = {"key": cell.key, "result": outcome["result"], "elapsed_s": outcome["elapsed_s"]}
                sealed = seal(payload)
                write_json_atomic(self.path(cell), sealed)
                locks.pop(cell).release()
                saved = {k: v for k, v in sealed.items() if k in payload}  # as a rerun reads it back
                self.collect(cell, saved, f"in {outcome['elapsed_s']:.1f} s")

    def wait(self, theirs: list[Cell]) -> list[Cell]:
        """Wait until at least one cell another run holds is free; return them all to look at again."""
        locks = [store.FileLock(self.path(cell)) for cell in theirs]
        holders = sorted({lock.holder() for lock in locks} - {""})
        self.log(f"[wait] {len(theirs)} cell(s) are being computed by another run ({', '.join(holders)})")
        while True:
            for lock in locks:
                if lock.acquire(blocking=False):
                    lock.release()
                    return theirs
            time.sleep(POLL_S)

    def progress(self) -> str:
        running = self.to_compute - self.done - self.failed
        return f"[{self.done} done, {running} running or queued, {self.failed} failed]"

    def collect(self, cell: Cell, payload: dict, how: str) -> None:
        name = cell.experiment
        self.results[name][cell.key] = payload
        self.done += 1
        count = f"{len(self.results[name])}/{len(self.cells[name])}"
        self.log(f"  {name}: cell {cell.key} {how} ({count}) {self.progress()}")
        if len(self.results[name]) == len(self.cells[name]) and name not in self.failures:
            self.finish(name)

    def finish(self, name: str) -> None:
        """Aggregate, draw, commit the record, then its manifest entry (under the record's lock)."""
        item, path = self.items[name], self.out / f"{name}.json"
        estimate = self.left.pop(name, 0.0)
        with store.FileLock(path):
            existing = None if self.force else store.load(path, validate_for(name), self.log, locked=True)
            if existing is not None and existing["config_hash"] == item.config_hash:
                self.log(f"[skip] {name}: another run wrote its record")
                return
            payloads = [self.results[name][c.key] for c in self.cells[name]]
            record = seal(_record(item, payloads, self.profile, self.seed, self.device))
            figures = _draw(self.draw, record, self.out, self.log)
            write_json_atomic(path, record)
        _update_manifest(self.out, record, figures)
        self.log(
            f"[done] {name}: {record['elapsed_s']:.1f} s of compute (estimated {estimate:.0f} s), "
            f"wall {time.perf_counter() - self.started:.1f} s so far, about {sum(self.left.values()):.0f} s "
            f"left by the estimates ({len(self.left)} experiment(s))"
        )


def _draw(draw, record: dict, out: Path, log) -> list[str] | None:
    """Draw the record's figures in a private folder, then move each into DIR/figures (atomic
    renames, so two writers never collide); return their names relative to DIR. A figure module
    that raises costs its figure, never the record: None, and the next run tries again."""
    if draw is None:
        return []
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(dir=figures, prefix=f".render.tmp.{owner()}."))
    try:
        names = draw(record, private)
        for name in names:
            os.replace(private / Path(name).name, figures / Path(name).name)
        return [f"figures/{Path(name).name}" for name in names]
    except Exception as error:  # reported; the manifest entry marks it, so a rerun redraws
        log(f"[figure failed] {record['experiment']}: {type(error).__name__}: {error}; a rerun redraws it")
        return None
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _record(item: Planned, cell_payloads: list[dict], profile: str, seed: int, device: str) -> dict:
    start = time.perf_counter()
    results = [from_jsonable(p["result"]) for p in cell_payloads]  # cells are read back from JSON
    outcome: Outcome = item.experiment.aggregate(item.config, results)
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


def validate_manifest(manifest) -> None:
    if not isinstance(manifest, dict) or not isinstance(manifest.get("experiments"), dict):
        raise ValueError("manifest: must be an object with an 'experiments' object")
    for name, entry in manifest["experiments"].items():
        if not isinstance(entry, dict) or not {"record", "figures", "config_hash"} <= set(entry):
            raise ValueError(f"manifest: entry {name!r} needs record, figures and config_hash")


def read_manifest(out: Path, log=print) -> dict:
    """DIR/manifest.json checked (a corrupt one is set aside), or an empty manifest."""
    path = Path(out) / "manifest.json"
    return store.load(path, validate_manifest, log) or {"experiments": {}}


def _entry(record: dict, figures: list[str] | None) -> dict:
    return {
        "record": f"{record['experiment']}.json",
        "figures": figures or [],
        "figure_failed": figures is None,
        "config_hash": record["config_hash"],
        "profile": record["profile"],
        "versions": record["versions"],
        "elapsed_s": record["elapsed_s"],
        "all_checks_hold": all(c["holds"] for c in record["checks"]),
    }


def _edit_manifest(out: Path, change, log=print) -> None:
    """Apply `change(experiments dict)` to the manifest under its lock and write it sealed."""
    path = Path(out) / "manifest.json"
    with store.FileLock(path):
        manifest = store.load(path, validate_manifest, log, locked=True) or {"experiments": {}}
        change(manifest["experiments"])
        write_json_atomic(path, seal(manifest))


def _update_manifest(out: Path, record: dict, figures: list[str] | None) -> None:
    _edit_manifest(out, lambda entries: entries.__setitem__(record["experiment"], _entry(record, figures)))


def present_records(out: Path, log=print) -> list[dict]:
    """Every valid record in DIR, in claims order (corrupt ones are reported and set aside)."""
    records = []
    for name in experiments.available():
        record = store.load(Path(out) / f"{name}.json", validate_for(name), log)
        if record is not None:
            records.append(record)
    return records


def repair(out: Path, draw, log=print) -> None:
    """Make the manifest and figures agree with the records present, without recomputing:
    redraw the figures and rewrite the manifest entry of any record whose entry is missing,
    stale or names a missing figure; drop entries whose record is gone."""
    out = Path(out)
    if not out.is_dir():
        return
    records = {r["experiment"]: r for r in present_records(out, log)}
    entries = read_manifest(out, log)["experiments"]
    fixed = {}
    for name, record in records.items():
        entry = entries.get(name)
        if (
            entry is not None
            and entry["config_hash"] == record["config_hash"]
            and not entry.get("figure_failed")
            and all((out / f).is_file() for f in entry["figures"])
        ):
            continue
        fixed[name] = _entry(record, _draw(draw, record, out, log))
        log(f"[repair] {name}: figures and manifest entry restored from its record (nothing recomputed)")
    gone = [name for name in entries if name not in records]
    if fixed or gone or (records and not (out / "manifest.json").is_file()):

        def change(current: dict) -> None:
            current.update(fixed)
            for name in gone:
                current.pop(name, None)

        _edit_manifest(out, change, log)


def write_claims(out: Path, records: list[dict], failures: dict, log=print) -> str:
    """Render the claims table from every record in DIR (this run's `records` and failures win
    for their experiments); save it as DIR/claims.md, the same records' metrics as DIR/metrics.csv,
    and return the table."""
    by_name = {r["experiment"]: r for r in present_records(out, log)}
    by_name.update({r["experiment"]: r for r in records})
    rows = [r for name, r in by_name.items() if name not in failures]
    order = {name: i for i, name in enumerate(experiments.available())}
    rows.sort(key=lambda r: order.get(r["experiment"], len(order)))
    table = claims_table(rows, failures, read_manifest(out, log))
    write_text_atomic(Path(out) / "claims.md", table + "\n")
    write_metrics_csv(out, rows)
    return table
