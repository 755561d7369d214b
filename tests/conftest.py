import pytest
import torch


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (torch.cuda.is_available() is false)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def quick_record(tmp_path, monkeypatch):
    """run(module, config=None): the experiment `module` through verify.runner on one local worker
    (its quick profile, replaced by `config` when given), out=tmp_path; asserts that nothing failed
    and that the one record is valid, and returns it."""
    from verify import runner
    from verify.executor import LocalExecutor
    from verify.records import validate_record

    def run(module, config=None) -> dict:
        if config is not None:
            monkeypatch.setitem(module.EXPERIMENT.profiles, "quick", config)
        items = runner.plan([module.NAME], "quick", 0, "cpu", tmp_path)
        records, failures = runner.run(
            items,
            profile="quick",
            seed=0,
            device="cpu",
            out=tmp_path,
            executor=LocalExecutor(1),
            log=lambda *_: None,
        )
        assert failures == {} and len(records) == 1
        validate_record(records[0])
        return records[0]

    return run
