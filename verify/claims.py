"""The claims table printed at the end of run_all and saved as DIR/claims.md.

One row per experiment: claim, measured, bound, the sanity checks (guaranteed identities and
bounds: "n/n hold") kept apart from the verdict on the paper's claim (supported / contradicted /
unresolved, from verify.verdicts.by_claim, one per claim the record compares; "n/a" when the experiment
compares no models), and the figure. A stamp above the table names the profile, root seed,
device and code version of the records; a legend below says what the columns mean.
"""

from __future__ import annotations

from verify.verdicts import by_claim

SMOKE = "quick"  # the profile that only shows the pipeline runs: a smoke test, not evidence
LEGEND = (
    "Sanity checks: relations that mathematics guarantees (chain rule, probability mass, the bound "
    'hierarchy, estimator identities), each checked within its Monte Carlo error; "n/n hold" is '
    "what a correct toolkit shows, and a failure is a bug, not a finding.  \n"
    "Paper's claim: the verdict on the paper's model comparison from paired seeds and pre-declared "
    'primary endpoints (sign-flip tests, Holm-corrected; TOST for "no better at independence"): '
    "**supported** (the test for the claim rejects at 5%), **contradicted** (the test against it "
    "rejects), **unresolved** (neither: too little data to tell; each record gives the power at "
    "the margin); **n/a**: the experiment checks a guarantee and compares no models."
)


def sanity_text(checks: list[dict]) -> str:
    """ "n/n hold" when every guaranteed check holds, "NO: i of n fail" otherwise, "none" without checks."""
    if not checks:
        return "none"
    failed = sum(not c["holds"] for c in checks)
    return f"{len(checks)}/{len(checks)} hold" if failed == 0 else f"NO: {failed} of {len(checks)} fail"


def claim_text(verdicts: list[dict]) -> str:
    """The verdict on each claim the record compares ("verdict: claim" when there are several),
    or "n/a" for an experiment that compares no models."""
    claims = by_claim(verdicts)
    if not claims:
        return "n/a"
    if len(claims) == 1:
        return next(iter(claims.values()))
    return "; ".join(f"**{verdict}**: {claim}" for claim, verdict in claims.items())


def _one_or_mixed(label: str, values: list[str]) -> str:
    distinct = sorted(set(values))
    return f"{label} {distinct[0]}" if len(distinct) == 1 else f"{label}s MIXED ({', '.join(distinct)})"


def stamp(records: list[dict]) -> str:
    """Profile, root seed, device and code version of the records (MIXED when they differ)."""
    if not records:
        return "No complete records."
    profiles = [r["profile"] for r in records]
    parts = [
        _one_or_mixed("profile", profiles),
        _one_or_mixed("root seed", [str(r["seeds"]["root"]) for r in records]),
        _one_or_mixed("device", [r["versions"]["device"] for r in records]),
        _one_or_mixed(
            "code", [f"{r['versions']['code']} (toolkit {r['versions']['toolkit']})" for r in records]
        ),
    ]
    text = "; ".join(parts) + "."
    if SMOKE in profiles:
        text += f" **The {SMOKE} profile is a smoke test, not evidence.**"
    return text


def _cell(text) -> str:
    """Table cell text: pipes escaped so that |x| or I(a; b | c) cannot split a column."""
    return str(text).replace("|", "\\|")


def claims_table(records: list[dict], failures: dict, manifest: dict) -> str:
    """Markdown: stamp, table (one row per experiment; incomplete experiments say so), legend."""
    header = "| experiment | claim | measured | bound | sanity checks | paper's claim | figure |"
    rows = [stamp(records), "", header, "|---|---|---|---|---|---|---|"]
    figures = {name: entry.get("figures", []) for name, entry in manifest.get("experiments", {}).items()}
    for record in records:
        name = record["experiment"]
        summary = record.get("summary", {})
        pngs = [f for f in figures.get(name, []) if f.endswith(".png")]
        cells = [name, record["claim"], summary.get("measured", ""), summary.get("bound", "")]
        cells += [sanity_text(record["checks"]), claim_text(record["verdicts"]), ", ".join(pngs)]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    for name, errors in failures.items():
        rows.append(f"| {name} | | INCOMPLETE: {len(errors)} cell(s) failed | | | | |")
    return "\n".join(rows + ["", LEGEND])
