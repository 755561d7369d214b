"""The README's first example runs as written and prints what the README says it prints."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs_and_prints_what_the_readme_promises(capsys):
    text = README.read_text()
    section = text[text.index("## A first example") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README example", "exec"), {})
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 2
    for line in printed:
        assert f"`{line}`" in section
