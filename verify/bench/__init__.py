"""Benchmarks: `python -m verify.bench` lists them with their cost; `python -m verify.bench NAME | all`
runs them, each printing ratios measured side by side in one run."""
