"""run_all infrastructure: records, atomic writes, resume by hash, failing cells, CLI errors."""

import json
import sys
import types
from dataclasses import dataclass

import pytest

import verify.experiments as experiments
from verify import run_all, runner
from verify.claims import claims_table
from verify.executor import LocalExecutor
from verify.experiments import Cell, Experiment, Outcome
from verify.records import check, config_hash, metric, read_json, validate_record, write_json_atomic


@dataclass(frozen=True)
class FakeConfig:
    values: tuple = (1.0, 2.0, 3.0)


@dataclass(frozen=True)
class FakeParams:
    value: float
    seed: int


CALLS = []
FAIL = set()


def _run_cell(params, device):
    CALLS.append(params.value)
    if params.value in FAIL:
        raise RuntimeError(f"planned failure at {params.value}")
    return {"seed": params.seed, "square": params.value**2}


def _aggregate(config, results):
    total = sum(r["square"] for r in results)
    return Outcome(
        metrics={"total": metric(total, "1", "sum")},
        checks=[check("total >= 0", total, 0.0, ">=")],
        summary={"measured": f"{total:g}", "bound": ">= 0"},
    )


FAKE = Experiment(
    name="fake",
    claim="squares are non-negative",
    profiles={p: FakeConfig() for p in experiments.PROFILES},
    cells=lambda config, seed: [
        Cell("fake", f"v{i}", FakeParams(v, seed + i)) for i, v in enumerate(config.values)
    ],
    run_cell=_run_cell,
    aggregate=_aggregate,
    estimated_s={p: 1.0 for p in experiments.PROFILES},
)


@pytest.fixture
def fake(monkeypatch):
    module = types.ModuleType("verify.experiments.fake")
    module.EXPERIMENT = FAKE
    monkeypatch.setitem(sys.modules, "verify.experiments.fake", module)
    monkeypatch.setattr(experiments, "available", lambda: ["fake"])
    monkeypatch.setattr(run_all, "available", lambda: ["fake"])
    CALLS.clear()
    FAIL.clear()
    return FAKE


def _run(out, force=False):
    items = runner.plan(["fake"], "quick", 0, "cpu", out, force)
    return runner.run(
        items,
        profile="quick",
        seed=0,
        device="cpu",
        out=out,
        executor=LocalExecutor(1),
        force=force,
        log=lambda *_: None,
    )


def test_check_relations():
    assert check("a", 1.0, 2.0, "<=")["holds"]
    assert not check("a", 2.5, 2.0, "<=")["holds"]
    assert check("a", 2.5, 2.0, "<=", margin=0.5)["holds"]
    assert check("a", 3.0, 2.0, ">=")["holds"] and not check("a", 1.0, 2.0, ">=")["holds"]
    assert check("a", 2.05, 2.0, "==", margin=0.1)["holds"]
    assert not check("a", float("nan"), 2.0, "<=")["holds"]
    with pytest.raises(ValueError, match="relation"):
        check("a", 1, 2, "<")
    with pytest.raises(ValueError, match="margin"):
        check("a", 1, 2, "<=", margin=-1)


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "r.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})
    assert read_json(path) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_config_hash_is_canonical():
    assert config_hash({"a": 1, "b": (1, 2)}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash(FakeConfig()) != config_hash(FakeConfig(values=(1.0,)))


def test_run_writes_valid_record_and_resumes(fake, tmp_path):
    records, failures = _run(tmp_path)
    assert failures == {} and len(records) == 1
    record = records[0]
    validate_record(record)
    assert record["metrics"]["total"]["value"] == 14.0
    assert record["seeds"]["cells"] == {"v0": 0, "v1": 1, "v2": 2}
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["experiments"]["fake"]["config_hash"] == record["config_hash"]
    assert sorted(CALLS) == [1.0, 2.0, 3.0]
    CALLS.clear()
    _run(tmp_path)
    assert CALLS == []  # complete record: nothing recomputed
    _run(tmp_path, force=True)
    assert sorted(CALLS) == [1.0, 2.0, 3.0]


def test_failing_cell_keeps_the_others_and_rerun_resubmits_only_it(fake, tmp_path):
    FAIL.add(2.0)
    records, failures = _run(tmp_path)
    assert records == [] and list(failures) == ["fake"]
    assert "planned failure" in failures["fake"][0]
    assert not (tmp_path / "fake.json").exists()
    table = runner.write_claims(tmp_path, records, failures)
    assert "INCOMPLETE" in table
    FAIL.clear()
    CALLS.clear()
    records, failures = _run(tmp_path)
    assert CALLS == [2.0] and failures == {} and records[0]["metrics"]["total"]["value"] == 14.0


def test_cli_rejects_bad_input_before_work(fake, capsys):
    with pytest.raises(SystemExit):
        run_all.main(["--only", "nonexistent"])
    assert "unknown experiment" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_all.main(["--profile", "huge"])
    with pytest.raises(SystemExit):
        run_all.main(["--jobs", "0"])


def test_cli_dry_run_and_list(fake, tmp_path, capsys):
    assert run_all.main(["--list"]) == 0
    assert "squares are non-negative" in capsys.readouterr().out
    assert run_all.main(["--dry-run", "--out", str(tmp_path), "--profile", "quick"]) == 0
    assert "1 of 1 experiments to run" in capsys.readouterr().out
    assert not (tmp_path / "fake.json").exists()


def test_claims_table_escapes_pipes_inside_cells():
    record = {
        "experiment": "x",
        "claim": "I(a; b | c) >= 0",
        "summary": {"measured": "max |d| = 0", "bound": ""},
        "checks": [check("c", 0.0, 1.0)],
    }
    row = claims_table([record], {}, {}).splitlines()[2]
    assert row.count(" | ") == 5  # six columns: no pipe from the text splits a cell
