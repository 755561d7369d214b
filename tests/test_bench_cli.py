"""`python -m verify.bench`: a bare call lists the benchmarks with their cost and runs nothing;
names are checked; `all` runs every one; `__main__` is not a benchmark."""

import subprocess
import sys
from pathlib import Path

import pytest

from verify.bench import __main__ as bench

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def ran(monkeypatch):
    """Every benchmark's main replaced by a recorder: nothing slow runs."""
    calls = []
    for name in bench.benchmarks():
        module = __import__(f"verify.bench.{name}", fromlist=["main"])
        monkeypatch.setattr(module, "main", lambda name=name: calls.append(name))
    return calls


def test_benchmarks_are_the_modules_with_main_only():
    names = bench.benchmarks()
    assert {"exact", "samplers", "synthetic", "train"} <= set(names)
    assert not any(name.startswith("_") or name == "timing" for name in names)


def test_bare_call_lists_benchmarks_with_cost_and_runs_nothing(ran, capsys):
    assert bench.main([]) == 0
    out = capsys.readouterr().out
    for name in bench.benchmarks():
        assert name in out and bench.COST.get(name, "cost not measured") in out
    assert "all" in out and ran == []


def test_named_and_all_run_those_benchmarks(ran):
    assert bench.main(["samplers"]) == 0 and ran == ["samplers"]
    assert bench.main(["all"]) == 0 and ran[1:] == bench.benchmarks()


def test_unknown_names_and_main_are_refused_without_recursion(ran, capsys):
    for argv in (["__main__"], ["nope"], ["samplers", "timing"]):
        with pytest.raises(SystemExit) as exit_info:
            bench.main(argv)
        assert exit_info.value.code == 2 and "unknown benchmark" in capsys.readouterr().err
    assert ran == []


def test_help_lists_only_real_benchmarks():
    done = subprocess.run(
        [sys.executable, "-m", "verify.bench", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0
    assert "__main__" not in done.stdout and "[]" not in done.stdout and "samplers" in done.stdout
