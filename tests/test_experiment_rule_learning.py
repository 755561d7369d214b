"""rule_learning end to end on a tiny config: guaranteed checks hold, record schema is valid."""

import dataclasses

from verify.experiments import load
from verify.records import validate_record


def test_tiny_config_checks_hold(tmp_path):
    experiment = load("rule_learning")
    config = dataclasses.replace(
        experiment.profiles["quick"],
        tasks=("two-squares",),
        steps=5,
        image_steps=3,
        sample_steps=4,
        samples=20,
        grid_nodes=32,
    )
    cells = experiment.cells(config, 0)
    results = [experiment.run_cell(cell.params, "cpu") for cell in cells]
    outcome = experiment.aggregate(config, results)
    assert outcome.checks and all(item["holds"] for item in outcome.checks)
    record = {
        "experiment": experiment.name,
        "claim": experiment.claim,
        "profile": "test",
        "config": dataclasses.asdict(config),
        "config_hash": "x",
        "seeds": [0],
        "versions": {},
        "metrics": outcome.metrics,
        "checks": outcome.checks,
        "series": outcome.series,
        "summary": outcome.summary,
        "elapsed_s": 0.0,
    }
    validate_record(record)
    assert {"measured", "bound"} <= set(outcome.summary)
