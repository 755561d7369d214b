"""One plotting module per figure; figures are pure functions of saved result records.

`figures/<experiment>.py` defines `draw(record) -> matplotlib Figure`; `render` draws it in the
house style (`figures.style.RC`), stamps it with the record's provenance (`figures.style.stamp`)
and saves it as PNG and PDF. Nothing here imports verify: records are plain JSON.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import socket
from pathlib import Path


def render(record: dict, out_dir: Path) -> list[str]:
    """Draw the record's figure into out_dir as <experiment>.png and .pdf; return the file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = record["experiment"]
    if importlib.util.find_spec(f"figures.{name}") is None:
        return []
    from figures.style import RC, stamp

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # the writer's pid and host, in the form the results store recognises (verify.records.TEMP_NAME)
    owner = f"{os.getpid()}.{re.sub(r'[^A-Za-z0-9_-]', '_', socket.gethostname())}"
    files = []
    with plt.rc_context(RC):
        figure = importlib.import_module(f"figures.{name}").draw(record)
        stamp(figure, record)
        for suffix in ("png", "pdf"):
            path = out_dir / f"{name}.{suffix}"
            tmp = path.with_name(f".{path.name}.tmp.{owner}.{suffix}")  # .NAME.tmp.<pid>.<host>.png
            figure.savefig(tmp, bbox_inches="tight")
            tmp.replace(path)
            files.append(f"figures/{path.name}")
    plt.close(figure)
    return files
