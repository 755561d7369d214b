"""run_all infrastructure: records, atomic writes, resume by hash, failing cells, CLI errors."""

import json
import os
import socket
import sys
import threading
import time
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

import verify.experiments as experiments
from verify import __version__, run_all, runner
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


def _row_record(**changes) -> dict:
    record = {
        "experiment": "x",
        "claim": "I(a; b | c) >= 0",
        "profile": "default",
        "seeds": {"root": 0},
        "versions": {"device": "cpu", "code": "abc", "toolkit": "0.1.0"},
        "summary": {"measured": "max |d| = 0", "bound": ""},
        "checks": [check("c", 0.0, 1.0)],
        "verdicts": [],
    }
    return {**record, **changes}


def test_claims_table_escapes_pipes_inside_cells():
    row = next(line for line in claims_table([_row_record()], {}, {}).splitlines() if line.startswith("| x"))
    assert row.count(" | ") == 6  # seven columns: no pipe from the text splits a cell


def test_claims_table_keeps_sanity_checks_apart_from_the_claim_verdict():
    supported = {"claim": "x", "primary": True, "verdict": "supported"}
    contradicted = {"claim": "x", "primary": True, "verdict": "contradicted"}
    other = {"claim": "y", "primary": True, "verdict": "contradicted"}
    records = [
        _row_record(experiment="a"),
        _row_record(
            experiment="b", checks=[check("c", 2.0, 1.0), check("d", 0.0, 1.0)], verdicts=[supported]
        ),
        _row_record(experiment="c", checks=[], verdicts=[supported, contradicted]),
        _row_record(experiment="e", checks=[], verdicts=[supported, other]),
    ]
    table = claims_table(records, {"d": ["boom"]}, {})
    rows = {
        line.split(" | ")[0][2:]: line.split(" | ") for line in table.splitlines() if line.startswith("| ")
    }
    assert rows["experiment"][4:6] == ["sanity checks", "paper's claim"]
    assert rows["a"][4:6] == ["1/1 hold", "n/a"]
    assert rows["b"][4:6] == ["NO: 1 of 2 fail", "supported"]
    assert rows["c"][4:6] == ["none", "unresolved"]
    assert rows["e"][5] == "**supported**: x; **contradicted**: y"  # one verdict per claim
    assert "| d | | INCOMPLETE: 1 cell(s) failed |" in table
    assert table.startswith("profile default; root seed 0; device cpu; code abc (toolkit 0.1.0).")
    assert "smoke test" not in table and "**unresolved**" in table


def test_claims_table_stamp_flags_smoke_tests_and_mixed_runs():
    records = [_row_record(experiment="a", profile="quick"), _row_record(experiment="b")]
    stamp = claims_table(records, {}, {}).splitlines()[0]
    assert "profiles MIXED (default, quick)" in stamp and "smoke test, not evidence" in stamp


def test_cli_refuses_an_out_that_is_a_file_or_not_writable(fake, tmp_path, capsys):
    afile = tmp_path / "results.txt"
    afile.write_text("")
    cases = [
        (afile, "--out: must be a folder but names a file"),
        (afile / "sub", "--out: must be a folder but lies under the file"),
        (Path("/proc/self"), "is not writable"),
    ]
    if os.geteuid() != 0:  # permission bits do not bind root
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        cases.append((locked, "is not writable"))
    for out, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            run_all.main(["--out", str(out), "--profile", "quick"])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in err and "Traceback" not in err
    assert CALLS == []  # refused before any work


@pytest.mark.parametrize(
    "address, message",
    [
        ("tcp://localhost", "port in 1..65535"),
        ("tcp://localhost:99999", "port in 1..65535"),
        ("http://localhost:8786", "scheme must be one of"),
        ("", "must be an address"),
        ("tcp://127.0.0.1:{port}", "nothing answers at 127.0.0.1:{port}"),
    ],
)
def test_cli_refuses_a_malformed_or_unreachable_scheduler_at_once(fake, tmp_path, capsys, address, message):
    pytest.importorskip("distributed")
    with socket.socket() as probe:  # a port no one listens on: bound, then closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(SystemExit) as exit_info:
        run_all.main(["--executor", "dask", "--scheduler", address.format(port=port), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message.format(port=port) in err and "Traceback" not in err
    assert time.monotonic() - start < 10 and CALLS == []


def test_cli_version_and_defaults_in_help(capsys):
    with pytest.raises(SystemExit):
        run_all.parse_args(["--version"])
    assert __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        run_all.parse_args(["--help"])
    assert "(default: default)" in capsys.readouterr().out


def test_cli_refuses_a_scheduler_address_where_something_else_listens(fake, tmp_path, capsys):
    pytest.importorskip("distributed")
    server = socket.create_server(("127.0.0.1", 0))

    def answer_like_a_web_server():
        while True:
            connection, _ = server.accept()
            connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" * 4)
            connection.close()

    threading.Thread(target=answer_like_a_web_server, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    start = time.monotonic()
    with pytest.raises(SystemExit) as exit_info:
        run_all.main(["--executor", "dask", "--scheduler", address, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert (
        exit_info.value.code == 2
        and "--scheduler: no Dask scheduler answers" in err
        and "Traceback" not in err
    )
    assert time.monotonic() - start < 10 and CALLS == []
