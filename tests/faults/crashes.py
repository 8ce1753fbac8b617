"""Crash points for the fault suite and its benchmark: kill a job with SIGKILL at a named point
(``catalog_classifier.crashpoints``), re-run it, and compare its tables row by row with an
uninterrupted run's.

Timestamps of when a row was written are the only columns left out of the comparison (a re-run
writes at another time); every other column, bytes and hashes included, must be equal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog_classifier.crashpoints import CRASH_AT_ENV
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import (
    BRONZE_TABLES,
    GOLD_PREDICTIONS,
    SILVER_IMAGE_FEATURES,
    SILVER_TEXT_FEATURES,
    TableSpec,
)

# The tables ingest and features write: what a crashed run and its re-run are compared on.
TABLES = [*BRONZE_TABLES, SILVER_TEXT_FEATURES, SILVER_IMAGE_FEATURES]

# gold.predictions' columns holding JSON text (their probabilities compared to a tolerance).
JSON_COLUMNS = ("top3", "members")

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CrashPoint:
    job: str  # "ingest" or "features": the job killed (the jobs before it ran whole)
    point: str  # CATALOG_CLASSIFIER_CRASH_AT
    where: str  # in words


CRASH_POINTS = (
    CrashPoint("ingest", "ingest:after_images_batch#1", "ingest, between two image commits"),
    CrashPoint("ingest", "during_commit:bronze.listings", "ingest, during the listings commit"),
    CrashPoint("ingest", "before_commit:bronze.quarantine", "ingest, before the quarantine MERGE"),
    CrashPoint(
        "features",
        "features:before_duplicate_groups",
        "features, after the image MERGE, before the duplicate groups",
    ),
    CrashPoint(
        "features", "during_commit:silver.image_features", "features, during the image commit"
    ),
)


def crash_points_for(engine: str) -> list[CrashPoint]:
    """The points a run on ``engine`` is killed at: the during-commit ones on delta-rs only,
    whose commit the test can stop while its data files are being written (the connector
    writes its commit inside the JVM; on either engine a commit is one atomic log entry)."""
    return [
        crash
        for crash in CRASH_POINTS
        if engine == "delta-rs" or not crash.point.startswith("during_commit:")
    ]


def snapshot(lakehouse: Lakehouse, specs: list[TableSpec]) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted, without the columns saying when a row was written."""
    out = {}
    for spec in specs:
        columns = [c.name for c in spec.columns if c.type != "timestamp"]
        rows = [tuple(r) for r in lakehouse.read(spec).select(*columns).collect()]
        out[spec.qualified_name] = sorted(rows, key=repr)
    return out


def differences(
    got: dict[str, list[tuple[Any, ...]]], want: dict[str, list[tuple[Any, ...]]]
) -> list[str]:
    """Lines naming each table whose rows differ, with a row missing or extra."""
    lines = []
    for table, rows in want.items():
        have = got.get(table, [])
        if have != rows:
            missing = [r for r in rows if r not in have][:1]
            extra = [r for r in have if r not in rows][:1]
            lines.append(
                f"{table}: {len(have)} rows, want {len(rows)}; missing {missing!r:.300}, "
                f"extra {extra!r:.300}"
            )
    return lines


def written_state(root: str) -> dict[str, int]:
    """Every file and folder under ``root`` with its modification time: a run that creates,
    changes or deletes anything (a staging folder included) changes it."""
    state = {}
    for folder, _, files in os.walk(root):
        for path in (folder, *(os.path.join(folder, f) for f in files)):
            state[os.path.relpath(path, root)] = os.stat(path).st_mtime_ns
    return state


def run_killed(job: str, args: list[str], point: str, timeout: float = 1200) -> int:
    """Run ``jobs/<job>.py`` in its own process, to die at ``point``; its exit status.

    ``timeout`` only guards against a hang: on the shared 2-core machine at load 30-45 an
    ingest killed at its first image batch had not started Spark 4.5 min in (it takes ~30 s
    at load 4), and the 300 s this was failed the crash tests, before any assertion."""
    env = {
        **os.environ,
        CRASH_AT_ENV: point,
        "PYTHONPATH": os.pathsep.join([str(REPO / "lib"), str(REPO)]),
    }
    completed = subprocess.run(
        [sys.executable, str(REPO / "jobs" / f"{job}.py"), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return completed.returncode


def prediction_differences(got: Lakehouse, want: Lakehouse, tolerance: float = 1e-5) -> list[str]:
    """Lines naming each gold.predictions row of ``got`` that differs from ``want``'s (same key),
    and keys only one has. Probabilities are compared to ``tolerance``: a listing scored in
    another batch (a re-run scores what is left, in other batches) can differ in the last float
    bits; codes, categories, flags and every other column must be equal."""
    spec = GOLD_PREDICTIONS
    columns = [c.name for c in spec.columns if c.type != "timestamp"]

    def rows(lakehouse: Lakehouse) -> dict[tuple[Any, ...], dict[str, Any]]:
        if not lakehouse.exists(spec):
            return {}
        frame = lakehouse.read(spec).select(*columns).collect()
        return {tuple(r[k] for k in spec.keys): r.asDict() for r in frame}

    def close(a: Any, b: Any) -> bool:
        if isinstance(a, float) and isinstance(b, float):
            return abs(a - b) <= tolerance
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
        if isinstance(a, list) and isinstance(b, list):
            return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
        return bool(a == b)

    have, expected = rows(got), rows(want)
    lines = [f"{key}: missing" for key in sorted(expected.keys() - have.keys())][:5]
    lines += [f"{key}: extra" for key in sorted(have.keys() - expected.keys())][:5]
    for key in sorted(expected.keys() & have.keys()):
        a, b = have[key], expected[key]
        for column in columns:
            x, y = a[column], b[column]
            if column in JSON_COLUMNS:
                x, y = json.loads(x), json.loads(y)
            if not close(x, y):
                lines.append(f"{key} {column}: {x!r:.200} != {y!r:.200}")
    return lines
