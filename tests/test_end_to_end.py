"""The quick profile end to end: every guaranteed check in every record holds ("gaps respect bounds").

The quick profile runs once per session (module fixture); the default profile's checks run under
the `slow` marker.
"""

import json

import pytest

from verify import run_all
from verify.experiments import available
from verify.records import validate_record


def _run_profile(out, profile):
    code = run_all.main(["--profile", profile, "--out", str(out)])
    records = [json.loads((out / f"{name}.json").read_text()) for name in available()]
    return code, records


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick")
    code, records = _run_profile(out, "quick")
    return out, code, records


def _assert_records_sound(out, code, records):
    assert records, "no experiment produced a record"
    for record in records:
        validate_record(record)
        failed = [c for c in record["checks"] if not c["holds"]]
        assert not failed, f"{record['experiment']}: guaranteed checks failed: {failed}"
    manifest = json.loads((out / "manifest.json").read_text())
    for record in records:
        entry = manifest["experiments"][record["experiment"]]
        assert entry["config_hash"] == record["config_hash"]
        for name in entry["figures"]:
            assert (out / name).stat().st_size > 0
    claims = (out / "claims.md").read_text()
    for record in records:
        assert f"| {record['experiment']} |" in claims
    assert claims.startswith(f"profile {records[0]['profile']}; root seed 0; device cpu; code ")
    assert (out / "metrics.csv").read_text().count("\n") == 1 + sum(len(r["metrics"]) for r in records)
    assert code == 0


def test_quick_profile_checks_hold(quick):
    _assert_records_sound(*quick)


def test_quick_profile_rerun_recomputes_nothing(quick, capsys):
    out, _, records = quick
    before = {r["experiment"]: r["elapsed_s"] for r in records}
    assert run_all.main(["--profile", "quick", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"0 of {len(before)} experiments to run" in text
    after = {name: json.loads((out / f"{name}.json").read_text())["elapsed_s"] for name in before}
    assert after == before


@pytest.mark.slow
def test_default_profile_checks_hold(tmp_path):
    _assert_records_sound(tmp_path, *_run_profile(tmp_path, "default"))
