"""The claims table printed at the end of run_all: claim, measured, bound, holds?, figure."""

from __future__ import annotations


def holds_text(checks: list[dict]) -> str:
    """ "yes" when every guaranteed check holds, "NO (i/n)" otherwise, "n/a" without checks."""
    if not checks:
        return "n/a (research outcome, reported not asserted)"
    failed = sum(not c["holds"] for c in checks)
    return "yes" if failed == 0 else f"NO ({failed}/{len(checks)} failed)"


def _cell(text) -> str:
    """Table cell text: pipes escaped so that |x| or I(a; b | c) cannot split a column."""
    return str(text).replace("|", "\\|")


def claims_table(records: list[dict], failures: dict, manifest: dict) -> str:
    """Markdown table, one row per experiment (incomplete experiments say so)."""
    rows = ["| experiment | claim | measured | bound | holds | figure |", "|---|---|---|---|---|---|"]
    figures = {name: entry.get("figures", []) for name, entry in manifest.get("experiments", {}).items()}
    for record in records:
        name = record["experiment"]
        summary = record.get("summary", {})
        pngs = [f for f in figures.get(name, []) if f.endswith(".png")]
        cells = [name, record["claim"], summary.get("measured", ""), summary.get("bound", "")]
        cells += [holds_text(record["checks"]), ", ".join(pngs)]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    for name, errors in failures.items():
        rows.append(f"| {name} | | INCOMPLETE: {len(errors)} cell(s) failed | | | |")
    return "\n".join(rows)
