"""Claim 7 experiment: config validation and the quick profile end to end (every check holds)."""

import pytest

from figures import render
from verify.experiments import training_loss
from verify.experiments.training_loss import Config


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("preset", {"preset": "nope"}),
        ("checkpoints", {"checkpoints": (0, 500)}),
        ("checkpoints", {"checkpoints": (20, 10)}),
        ("times", {"times": (0.0, 0.5)}),
        ("width", {"width": 0}),
        ("draws", {"draws": 0}),
    ],
)
def test_config_rejects_bad_fields(field, kwargs):
    with pytest.raises(ValueError, match=field):
        Config(**kwargs)


def test_quick_profile_identity_holds_and_record_is_valid(tmp_path, quick_record):
    record = quick_record(training_loss)
    config = training_loss.EXPERIMENT.profiles["quick"]
    # AR: 2 stages, DDPM: joint; every (checkpoint, t) measured
    assert len(record["checks"]) == len(config.checkpoints) * len(config.times) * 3 * config.seeds
    failed = [c["name"] for c in record["checks"] if not c["holds"]]
    assert failed == []
    assert render(record, tmp_path / "figures")
