"""The results folder survives interrupts at every write boundary, kill -9, corrupt files, two runs
at once and code changes; after recovery its records, figures and manifest equal a clean run's."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import store_fake as fake

import verify.records as records
from verify import run_all, runner, update_readme
from verify.executor import LocalExecutor
from verify.verdicts import VERDICTS

ROOT = Path(__file__).resolve().parents[1]
CELLS = 4  # per fake experiment in the quick profile
SUBPROCESS_RUN = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    import store_fake
    store_fake.register()
    from pathlib import Path
    from verify import records, runner
    from verify.executor import LocalExecutor
    # this process's view of the code, as a tree being edited meanwhile could change it
    records.code_digest = runner.code_digest = lambda: {digest!r}
    out = Path({out!r})
    items = runner.plan(list(store_fake.NAMES), "quick", 0, "cpu", out)
    records, failures = runner.run(items, profile="quick", seed=0, device="cpu", out=out,
                                   executor=LocalExecutor(1), draw=store_fake.draw)
    assert not failures and len(records) == 2, failures
    """
)


@pytest.fixture
def calls(monkeypatch, tmp_path):
    """The fakes registered as the only experiments; returns the file where each computed cell is logged."""
    fake.register(monkeypatch.setitem, monkeypatch.setattr)
    path = tmp_path / "calls.txt"
    monkeypatch.setenv(fake.CALLS, str(path))
    return path


def _count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _run(out, profile="quick", names=fake.NAMES, force=False, lines=None):
    items = runner.plan(list(names), profile, 0, "cpu", out, force)
    return runner.run(
        items,
        profile=profile,
        seed=0,
        device="cpu",
        out=out,
        executor=LocalExecutor(1),
        force=force,
        draw=fake.draw,
        log=lines.append if lines is not None else lambda *_: None,
    )


def _state(out: Path) -> dict:
    """Records (without wall times and digests), figure files with contents, manifest entries, and
    anything an interrupted writer could leave (temporaries, locks, set-aside files)."""
    recs = {}
    for name in fake.NAMES:
        record = json.loads((out / f"{name}.json").read_text())
        recs[name] = {k: v for k, v in record.items() if k not in ("elapsed_s", records.INTEGRITY)}
    manifest = json.loads((out / "manifest.json").read_text())["experiments"]
    return {
        "records": recs,
        "figures": {p.name: p.read_text() for p in sorted((out / "figures").iterdir())},
        "manifest": {n: (e["config_hash"], e["figures"]) for n, e in sorted(manifest.items())},
        "leftovers": sorted(
            str(p.relative_to(out)) for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".lock"
        ),
    }


@pytest.fixture
def clean(calls, tmp_path):
    """The state of an uninterrupted run."""
    out = tmp_path / "clean"
    records_, failures = _run(out)
    assert failures == {} and len(records_) == 2
    return _state(out)


def _interrupt(real, match, after: bool = False):
    """`real(path, ...)` that raises KeyboardInterrupt, before or after the real call, when the
    file name matches."""

    def wrapped(path, *args):
        hit = match(Path(path).name)
        if hit and not after:
            raise KeyboardInterrupt
        result = real(path, *args)
        if hit:
            raise KeyboardInterrupt
        return result

    return wrapped


def _always_interrupt(*args):
    raise KeyboardInterrupt


BOUNDARIES = {  # runner function -> its stand-in, given the real one
    "cell write": ("write_json_atomic", lambda real: _interrupt(real, lambda n: n.startswith("c2-"))),
    "figures": ("_draw", lambda real: _always_interrupt),
    "record write": ("write_json_atomic", lambda real: _interrupt(real, lambda n: n == "store_a.json")),
    "after the record": (
        "write_json_atomic",
        lambda real: _interrupt(real, lambda n: n == "store_a.json", after=True),
    ),
    "manifest entry": ("_update_manifest", lambda real: _always_interrupt),
}


@pytest.mark.parametrize("boundary", list(BOUNDARIES))
def test_interrupt_at_each_write_boundary_recovers_without_recomputing(
    boundary, clean, calls, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    name, stand_in = BOUNDARIES[boundary]
    real = getattr(runner, name)
    monkeypatch.setattr(runner, name, stand_in(real))
    with pytest.raises(KeyboardInterrupt):
        _run(out)
    monkeypatch.setattr(runner, name, real)
    saved = len(list((out / "cells").rglob("*.json")))
    before = _count(calls)
    records_, failures = _run(out)
    assert failures == {} and len(records_) == 2
    assert _count(calls) - before == 2 * CELLS - saved  # only cells never saved are computed
    assert _state(out) == clean


def test_kill_9_mid_run_leaves_a_folder_the_rerun_completes(clean, calls, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, fake.SLEEP: "0.5", fake.CALLS: str(calls), "OMP_NUM_THREADS": "1"}
    script = SUBPROCESS_RUN.format(tests=str(ROOT / "tests"), out=str(out), digest=records.code_digest())
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while len(list((out / "cells").rglob("*.json"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    (out / "figures").mkdir(exist_ok=True)
    (out / "figures" / ".store_a.png.tmp.png").write_text("stale")  # what older versions left
    (out / f".store_b.json.tmp.{2**31 - 1}.{records.owner().split('.', 1)[1]}.x").write_text("{")
    saved = len(list((out / "cells").rglob("*.json")))
    before = _count(calls)
    lines = []
    records_, failures = _run(out, lines=lines)
    assert failures == {} and len(records_) == 2
    assert _count(calls) - before == 2 * CELLS - saved
    assert _state(out) == clean
    assert sum("[clean]" in line for line in lines) >= 2


def test_record_without_figures_or_manifest_is_repaired_not_recomputed(clean, calls, tmp_path):
    out = tmp_path / "clean"
    for path in (out / "figures").glob("store_a.*"):
        path.unlink()
    (out / "manifest.json").unlink()
    before, lines = _count(calls), []
    _run(out, names=["store_b"], lines=lines)  # even a run of another experiment repairs it
    assert _count(calls) == before
    assert _state(out) == clean
    assert any(line.startswith("[repair] store_a") for line in lines)


def test_deleted_manifest_is_rebuilt_from_every_record_and_claims_keep_every_row(clean, calls, tmp_path):
    out = tmp_path / "clean"
    (out / "manifest.json").unlink()
    records_, failures = _run(out, names=["store_b"])
    assert _state(out) == clean
    table = runner.write_claims(out, records_, failures)
    assert "| store_a |" in table and "| store_b |" in table and "figures/store_a.png" in table


def _corrupt(path: Path, kind: str, record_hash: str) -> None:
    text = path.read_text()
    if kind == "garbage":
        path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00binary")
    elif kind == "truncated":
        path.write_text(text[: len(text) // 2])
    elif kind == "list":
        path.write_text("[1, 2]")
    elif kind == "empty object":
        path.write_text("{}")
    elif kind == "hash only":
        path.write_text(json.dumps({"config_hash": record_hash}))
    elif kind == "edited value":  # digest kept, content changed: silently reused before
        payload = json.loads(text)
        target = payload["metrics"]["mean_square"] if "metrics" in payload else payload["result"]
        target["value" if "value" in target else "mean_square"] += 1.0
        path.write_text(json.dumps(payload))
    elif kind == "unsealed":  # valid content, digest removed
        payload = json.loads(text)
        del payload[records.INTEGRITY]
        path.write_text(json.dumps(payload))


KINDS = ["garbage", "truncated", "list", "empty object", "hash only", "edited value", "unsealed"]


@pytest.mark.parametrize("target", ["record", "cell"])
@pytest.mark.parametrize("kind", KINDS)
def test_corrupt_file_is_reported_set_aside_and_recomputed(kind, target, clean, calls, tmp_path):
    out = tmp_path / "clean"
    record_hash = json.loads((out / "store_a.json").read_text())["config_hash"]
    if target == "record":
        path = out / "store_a.json"
    else:  # a corrupt cell matters when its record must be rebuilt
        (out / "store_a.json").unlink()
        path = sorted((out / "cells" / "store_a").glob("c1-*.json"))[0]
    _corrupt(path, kind, record_hash)
    before, lines = _count(calls), []
    records_, failures = _run(out, lines=lines)
    assert failures == {} and len(records_) == 2
    assert _count(calls) - before == (0 if target == "record" else 1)
    reports = [line for line in lines if line.startswith("[corrupt]")]
    assert len(reports) == 1 and str(path) in reports[0]
    aside = list(path.parent.glob(f"{path.name}.corrupt-*"))
    assert len(aside) == 1
    state = _state(out)
    assert state.pop("leftovers") == [] and clean.pop("leftovers") == []
    assert state == clean


def test_read_json_names_the_file_of_binary_garbage(tmp_path):
    path = tmp_path / "r.json"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(records.CorruptFile, match="r.json: not UTF-8"):
        records.read_json(path)
    assert records.read_json(tmp_path / "missing.json") is None


def test_two_runs_at_once_share_the_work_and_agree(clean, calls, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, fake.SLEEP: "0.4", fake.CALLS: str(calls), "OMP_NUM_THREADS": "1"}
    script = SUBPROCESS_RUN.format(tests=str(ROOT / "tests"), out=str(out), digest=records.code_digest())
    before = _count(calls)
    runs = [
        subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    errors = [run.communicate(timeout=300)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    computed = calls.read_text().splitlines()[before:]
    cells = [line.rsplit(" ", 1)[0] for line in computed]
    assert len(cells) == 2 * CELLS and len(set(cells)) == 2 * CELLS  # every cell once, none twice
    assert _state(out) == clean


def test_changed_code_recomputes_and_unchanged_code_does_not(calls, tmp_path, monkeypatch):
    out = tmp_path / "out"
    _run(out)
    assert _count(calls) == 2 * CELLS
    _run(out)
    assert _count(calls) == 2 * CELLS  # unchanged code: everything reused
    monkeypatch.setattr(runner, "code_digest", lambda: "0" * 16)
    monkeypatch.setattr(records, "code_digest", lambda: "0" * 16)
    records_, _ = _run(out)
    assert _count(calls) == 4 * CELLS  # changed code: every cell recomputed
    assert {r["versions"]["code"] for r in records_} == {"0" * 16}


def test_code_digest_follows_the_package_sources(tmp_path, monkeypatch):
    package = tmp_path / "probe_pkg"
    package.mkdir()
    source = package / "__init__.py"
    source.write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(records, "CODE_PACKAGES", ("probe_pkg",))
    digests = []
    try:
        for text in ("X = 1\n", "X = 2\n", "X = 1\n"):
            source.write_text(text)
            records.code_digest.cache_clear()
            digests.append(records.code_digest())
        (package / "extra.py").write_text("")
        records.code_digest.cache_clear()
        digests.append(records.code_digest())
    finally:
        monkeypatch.undo()
        records.code_digest.cache_clear()
    assert digests[0] == digests[2] and len({digests[0], digests[1], digests[3]}) == 3


def test_records_cells_manifest_and_claims_are_world_readable(calls, tmp_path):
    out = tmp_path / "out"
    records_, failures = _run(out)
    runner.write_claims(out, records_, failures)
    cell = next((out / "cells" / "store_a").glob("*.json"))
    for path in (out / "store_a.json", cell, out / "manifest.json", out / "claims.md"):
        assert path.stat().st_mode & 0o777 == 0o644, path


def test_only_one_experiment_updates_its_row_and_keeps_the_rest(calls, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_all.main(["--profile", "quick", "--out", str(out), "--jobs", "1"]) == 0
    assert (
        run_all.main(["--profile", "quick", "--out", str(out), "--only", "store_b", "--force", "--jobs", "1"])
        == 0
    )
    table = (out / "claims.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| store_")]
    assert [row.split(" | ")[0] for row in rows] == ["| store_a", "| store_b"]
    for row in rows:
        cells = [c.strip() for c in row.split(" | ")]
        assert cells[4] == "1/1 hold" and cells[5] in VERDICTS
    assert "profile quick" in table and "smoke test, not evidence" in table
    assert "Sanity checks:" in table and "Paper's claim:" in table
    assert f"code {records.code_digest()}" in table and "root seed 0" in table and "device cpu" in table


def _readme(tmp_path) -> Path:
    path = tmp_path / "README.md"
    path.write_text(f"intro\n{update_readme.START}\nold\n{update_readme.END}\nrest\n")
    return path


def test_update_readme_refuses_missing_experiments_and_mixed_profiles(calls, tmp_path, capsys):
    out, readme = tmp_path / "out", _readme(tmp_path)
    _run(out, names=["store_a"])
    with pytest.raises(SystemExit) as exit_info:
        update_readme.main([str(out), "--readme", str(readme)])
    assert exit_info.value.code == 2 and "miss experiments ['store_b']" in capsys.readouterr().err
    _run(out, profile="default", names=["store_b"])
    with pytest.raises(SystemExit):
        update_readme.main([str(out), "--readme", str(readme)])
    assert "mix profiles" in capsys.readouterr().err
    assert "old" in readme.read_text()  # untouched
    _run(out, names=["store_b"])
    assert update_readme.main([str(out), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "| store_a |" in text and "| store_b |" in text and text.endswith("rest\n")


def test_a_figure_that_fails_to_draw_keeps_its_record_and_is_redrawn_by_the_rerun(
    clean, calls, tmp_path, monkeypatch
):
    out = tmp_path / "out"

    def broken(record, out_dir):
        raise ValueError("a figure bug")

    monkeypatch.setattr(fake, "draw", broken)
    lines = []
    records_, failures = _run(out, lines=lines)
    assert failures == {} and len(records_) == 2
    assert sum(line.startswith("[figure failed]") for line in lines) == 2
    entries = json.loads((out / "manifest.json").read_text())["experiments"]
    assert all(entry["figure_failed"] for entry in entries.values())
    monkeypatch.undo()
    fake.register(monkeypatch.setitem, monkeypatch.setattr)
    monkeypatch.setenv(fake.CALLS, str(calls))
    before = _count(calls)
    _run(out)
    assert _count(calls) == before and _state(out) == clean


def test_metrics_csv_holds_every_metric_of_every_record_with_its_stamp(calls, tmp_path):
    out = tmp_path / "out"
    records_, failures = _run(out)
    runner.write_claims(out, records_, failures)
    with open(out / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["experiment"], row["metric"]) for row in rows] == [(n, "mean_square") for n in fake.NAMES]
    for row, record in zip(rows, records_, strict=True):
        metric = record["metrics"]["mean_square"]
        assert float(row["value"]) == metric["value"] and float(row["stderr"]) == metric["stderr"]
        assert row["ci_low"] == row["ci_high"] == ""
        assert (row["profile"], row["seed"], row["code"]) == ("quick", "0", record["versions"]["code"])
    assert (out / "metrics.csv").stat().st_mode & 0o777 == 0o644


def test_cells_are_claimed_in_batches_and_each_runs_once(clean, calls, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "CLAIM", 3)  # 8 cells: batches of 3, 3 and 2
    before = _count(calls)
    records_, failures = _run(tmp_path / "out")
    assert failures == {} and len(records_) == 2
    assert _count(calls) - before == 2 * CELLS
    assert _state(tmp_path / "out") == clean
