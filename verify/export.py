"""A tidy table of every record's metrics, DIR/metrics.csv, so analysis needs no nested JSON.

One row per (experiment, metric): experiment, metric, value, unit, stderr, ci_low, ci_high,
estimator, then the stamp of the record it came from (profile, root seed, device, code, config
hash). Empty cells where a metric has no standard error or interval.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from verify.records import write_text_atomic

COLUMNS = (
    "experiment",
    "metric",
    "value",
    "unit",
    "stderr",
    "ci_low",
    "ci_high",
    "estimator",
    "profile",
    "seed",
    "device",
    "code",
    "config_hash",
)


def rows(records: list[dict]) -> list[dict]:
    """The tidy rows of `records` (in their order, metrics in record order)."""
    out = []
    for record in records:
        stamp = {
            "experiment": record["experiment"],
            "profile": record["profile"],
            "seed": record["seeds"]["root"],
            "device": record["versions"]["device"],
            "code": record["versions"]["code"],
            "config_hash": record["config_hash"],
        }
        for name, metric in record["metrics"].items():
            low, high = metric.get("ci", ("", ""))
            out.append(
                {
                    **stamp,
                    "metric": name,
                    "value": metric["value"],
                    "unit": metric["unit"],
                    "stderr": metric.get("stderr", ""),
                    "ci_low": low,
                    "ci_high": high,
                    "estimator": metric["estimator"],
                }
            )
    return out


def write_metrics_csv(out: Path, records: list[dict]) -> Path:
    """Write DIR/metrics.csv atomically (mode 0644) and return its path."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows(records))
    path = Path(out) / "metrics.csv"
    write_text_atomic(path, text.getvalue())
    return path
