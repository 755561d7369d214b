"""Dask executor: local executor's records, failing cells, lost workers, Ctrl-C, no extra."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dask_fake_experiment as fake
import pytest
import torch

import verify.experiments as experiments
from verify import run_all, runner
from verify.dask_executor import INSTALL_HINT, DaskExecutor
from verify.executor import LocalExecutor
from verify.records import INTEGRITY

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def registered(monkeypatch):
    """The fake experiment as if it were verify/experiments/dask_fake.py."""
    monkeypatch.setitem(sys.modules, f"verify.experiments.{fake.NAME}", fake)
    monkeypatch.setattr(experiments, "available", lambda: [fake.NAME])
    monkeypatch.setattr(run_all, "available", lambda: [fake.NAME])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two single-threaded worker processes on loopback; they inherit the kill-control folder."""
    distributed = pytest.importorskip("distributed")
    control = tmp_path_factory.mktemp("control")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(fake.CONTROL, str(control))
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local:
            yield local, control


def _run(out, executor, profile="quick", log=lambda *_: None):
    items = runner.plan([fake.NAME], profile, 0, "cpu", out)
    options = {"profile": profile, "seed": 0, "device": "cpu", "out": out, "log": log}
    return runner.run(items, executor=executor, **options)


def _without_elapsed(record: dict) -> dict:
    """A record or cell without its wall time (and the integrity digest that covers it)."""
    return {k: v for k, v in record.items() if k not in ("elapsed_s", INTEGRITY)}


def _cells_on_disk(out) -> dict:
    files = sorted((Path(out) / "cells" / fake.NAME).glob("*.json"))
    return {f.name: _without_elapsed(json.loads(f.read_text())) for f in files}


class Recording:
    """Wraps an executor and remembers which cells were submitted to it."""

    def __init__(self, inner):
        self.inner, self.submitted = inner, []

    def run(self, cells, device):
        self.submitted = [cell.key for cell in cells]
        yield from self.inner.run(cells, device)


def test_toolkit_imports_without_dask_and_names_the_install_command():
    script = textwrap.dedent(
        """
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("dask", "distributed"):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)

        sys.meta_path.insert(0, Block())
        from verify import run_all, runner, executor, dask_executor
        try:
            list(dask_executor.DaskExecutor().run([object()], "cpu"))
        except ImportError as error:
            print("RUN:", error)
        loaded = [m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")]
        print("IMPORTED:", loaded)
        run_all.parse_args(["--executor", "dask"])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr  # argparse error, before any work
    assert "IMPORTED: []" in done.stdout
    assert "RUN: --executor dask needs the optional Dask extra" in done.stdout
    assert INSTALL_HINT in done.stdout and INSTALL_HINT in done.stderr


def test_cli_rejects_scheduler_without_dask_and_jobs_with_dask(capsys):
    with pytest.raises(SystemExit):
        run_all.parse_args(["--scheduler", "tcp://127.0.0.1:8786"])
    assert "--scheduler: only meaningful with --executor dask" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_all.parse_args(["--executor", "dask", "--jobs", "2"])
    assert "--jobs" in capsys.readouterr().err
    with pytest.raises(ValueError, match="retries"):
        DaskExecutor(retries=-1)
    with pytest.raises(ValueError, match="--scheduler: must be"):
        DaskExecutor("tcp://host-without-port")


def test_own_local_cluster_gives_the_local_executor_records(registered, tmp_path):
    pytest.importorskip("distributed")
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # in-process cells must still run as single-threaded as Dask's
    try:
        local, failures_local = _run(tmp_path / "local", LocalExecutor(1))
    finally:
        torch.set_num_threads(threads)
    dask, failures_dask = _run(tmp_path / "dask", DaskExecutor())
    assert failures_local == failures_dask == {}
    assert [_without_elapsed(r) for r in dask] == [_without_elapsed(r) for r in local]
    assert _cells_on_disk(tmp_path / "dask") == _cells_on_disk(tmp_path / "local")
    assert len(_cells_on_disk(tmp_path / "dask")) == 6


def test_failing_cell_is_reported_with_config_and_traceback_and_the_rest_complete(
    registered, cluster, tmp_path
):
    records, failures = _run(tmp_path, DaskExecutor(cluster[0].scheduler_address), "default")
    assert records == [] and list(failures) == [fake.NAME] and len(failures[fake.NAME]) == 1
    report = failures[fake.NAME][0]
    assert "seed=2" in report and "Traceback" in report and "planned failure" in report
    assert len(_cells_on_disk(tmp_path)) == 5
    assert "INCOMPLETE" in runner.write_claims(tmp_path, records, failures)


def test_worker_killed_mid_sweep_still_gives_the_complete_records(registered, cluster, tmp_path):
    local, control = cluster
    client = pytest.importorskip("distributed").Client(local.scheduler_address)
    pids_before = set(client.run(os.getpid).values())
    (control / "kill").write_text("1")  # the cell with seed 1 SIGKILLs its worker
    lines = []
    executor = DaskExecutor(local.scheduler_address)
    records, failures = _run(tmp_path / "dask", executor, log=lines.append)
    assert not (control / "kill").exists(), "the kill cell never ran"
    client.wait_for_workers(2, timeout=60)
    assert set(client.run(os.getpid).values()) != pids_before  # a worker process was replaced
    client.close()
    reference, _ = _run(tmp_path / "local", LocalExecutor(1))
    assert failures == {}
    assert [_without_elapsed(r) for r in records] == [_without_elapsed(r) for r in reference]
    assert "[6 done, 0 running or queued, 0 failed]" in lines[-2]


def test_cell_whose_worker_dies_too_often_is_reported_not_dropped(registered, cluster, tmp_path):
    local, control = cluster
    allowed = local.scheduler.allowed_failures
    local.scheduler.allowed_failures = 0  # the first lost worker fails the task (KilledWorker)
    (control / "kill").write_text("3")
    try:
        records, failures = _run(tmp_path, DaskExecutor(local.scheduler_address))
    finally:
        local.scheduler.allowed_failures = allowed
    reports = failures[fake.NAME]  # the kill cell, and any cell queued on the same worker
    assert records == [] and all("KilledWorker" in r for r in reports)
    assert any("seed=3" in r for r in reports)
    assert len(_cells_on_disk(tmp_path)) + len(reports) == 6  # every cell accounted for


def test_interrupt_keeps_finished_cells_and_resubmits_only_the_rest(registered, cluster, tmp_path):
    def interrupt(line):
        if "cell" in line:
            raise KeyboardInterrupt

    executor = Recording(DaskExecutor(cluster[0].scheduler_address))
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "dask", executor, log=interrupt)
    kept = _cells_on_disk(tmp_path / "dask")
    assert len(kept) == 1 and not (tmp_path / "dask" / f"{fake.NAME}.json").exists()
    records, failures = _run(tmp_path / "dask", executor)
    assert failures == {} and len(executor.submitted) == 5
    reference, _ = _run(tmp_path / "local", LocalExecutor(1))
    assert [_without_elapsed(r) for r in records] == [_without_elapsed(r) for r in reference]


def test_local_pool_reports_a_killed_worker_and_a_rerun_completes(registered, tmp_path, monkeypatch):
    control = tmp_path / "control"
    control.mkdir()
    (control / "kill").write_text("2")  # the cell with seed 2 SIGKILLs its worker process once
    monkeypatch.setenv(fake.CONTROL, str(control))
    out = tmp_path / "out"
    records, failures = _run(out, LocalExecutor(2))
    on_disk = {name.split("-")[0] for name in _cells_on_disk(out)}
    reported = {line.split()[1] for line in failures.get(fake.NAME, [])}
    assert records == [] and "c2" in reported
    assert on_disk | reported == {f"c{i}" for i in range(6)}  # every cell saved or reported, none lost
    records, failures = _run(out, LocalExecutor(2))
    assert failures == {} and len(records) == 1


def test_an_older_record_is_not_reported_for_an_incomplete_run(registered, tmp_path):
    records, _ = _run(tmp_path, LocalExecutor(1))
    assert len(records) == 1
    records, failures = _run(tmp_path, LocalExecutor(1), profile="default")  # cell c2 raises
    assert records == [] and list(failures) == [fake.NAME]
    assert "| yes |" not in runner.write_claims(tmp_path, records, failures)
