"""What every benchmark records beside its figures: the load average and the commit measured,
and the results file (``benchmarks/results/*.json``) docs/results.md's table is generated from
(``benchmarks/results_table.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def commit() -> str:
    """HEAD's commit, marked ``+dirty`` when tracked files differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    head = git("rev-parse", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def write_results(
    path: str | Path, figures: dict[str, Any], targets: dict[str, float], **details: Any
) -> None:
    """The figures, then the commit, the time, the command line and the targets, then any
    per-round ``details``, as one JSON file."""
    record = {
        **figures,
        "commit": commit(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "targets": targets,
        **details,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
