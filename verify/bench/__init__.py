"""Benchmarks: `python -m verify.bench [NAME ...]` prints ratios measured side by side in one run."""
