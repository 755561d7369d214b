"""The output folder as a store that survives interrupts, corruption and two runs at once.

- Locks: `FileLock(path)` is an exclusive `flock` on `path.lock` holding "<pid>.<host>". The kernel
  drops it when its process ends, even by kill -9, so a dead run never blocks a live one; the file
  left behind is removed by the next `clean_temporaries`. One lock per cell, per record and for
  the manifest: two runs on one folder share the work instead of repeating it.
- Checked loads: `load` reads a sealed file (records.read_sealed: JSON, integrity digest, schema);
  a file that fails is reported by path, renamed aside (records.set_aside) and treated as absent,
  so it is recomputed.
- Temporaries carry their writer's pid and host (records.TEMP_NAME); `clean_temporaries` removes
  those whose writer is gone.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from pathlib import Path

from verify.records import TEMP_NAME, CorruptFile, owner, owner_alive, read_sealed, set_aside

# earlier versions' temporaries: .NAME.png.tmp.png (figures) and .NAME.XXXX.tmp (mkstemp)
LEGACY_TEMP = re.compile(r"^\..+\.tmp(\.png|\.pdf)?$")


class FileLock:
    """Exclusive lock on `path` (the file `path.lock`); `with FileLock(path):` waits for it."""

    def __init__(self, path: Path):
        self.path = Path(path).with_name(Path(path).name + ".lock")
        self.fd = None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock (waiting when `blocking`); False when another process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                return False
            try:  # the holder before us may have removed the file after we opened it: retry on the new one
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, owner().encode())
                self.fd = fd
                return True
            os.close(fd)

    def release(self) -> None:
        """Remove the lock file, then drop the lock (in that order, so no one locks a removed file)."""
        if self.fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self.fd)
            self.fd = None

    def holder(self) -> str:
        """Who holds the lock, as written in the lock file ("<pid>.<host>"), or "" when unknown."""
        try:
            return self.path.read_text().strip()
        except OSError:
            return ""

    def __enter__(self) -> FileLock:
        self.acquire(blocking=True)
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def load(path: Path, validate, log, locked: bool = False) -> dict | None:
    """The checked payload at `path`, or None when it is missing or corrupt. A corrupt file is
    re-read under its lock (`locked`: the caller holds it already) and, if still corrupt, reported
    and renamed aside; when another process holds the lock it is rewriting the file: None."""
    try:
        return read_sealed(path, validate)
    except CorruptFile:
        pass
    lock = FileLock(path)
    if not locked and not lock.acquire(blocking=False):
        return None
    try:
        return read_sealed(path, validate)
    except CorruptFile as error:
        target = set_aside(path)
        log(f"[corrupt] {error}; set aside as {target.name}; it is recomputed or rebuilt")
        return None
    finally:
        lock.release()


def clean_temporaries(out: Path, log) -> None:
    """Remove what interrupted writers left in `out`, `out/figures` and `out/cells/*`: temporary
    files and render folders whose writer is gone, legacy temporaries, and free lock files."""
    out = Path(out)
    folders = [out, out / "figures", *(p for p in (out / "cells").glob("*") if p.is_dir())]
    for folder in folders:
        for path in folder.glob(".*") if folder.is_dir() else ():
            match = TEMP_NAME.search(path.name)
            if match and owner_alive(int(match.group(1)), match.group(2)):
                continue
            if match or LEGACY_TEMP.match(path.name):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                log(f"[clean] removed the stale temporary {path}")
        for path in folder.glob("*.lock") if folder.is_dir() else ():
            lock = FileLock(path.with_suffix(""))
            if lock.acquire(blocking=False):
                lock.release()
