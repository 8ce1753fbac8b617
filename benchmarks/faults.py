"""Fault benchmark: every hostile input of the fault suite through ingest and features, and every
crash point killed and healed; says how many came out as expected (issue 14).

    .venv/bin/python benchmarks/faults.py [--engines delta-rs,delta-spark] [--no-crash-points]

Writes the hostile inputs of ``tests/faults/hostile.py`` (each with the outcome it owes: a
quarantine reason, a flag, a correct decoding), runs the ingest job then the features job on them
in this process, once per Delta engine, and checks each case by name against the tables; then,
on each engine, kills ingest and features at each point of ``tests/faults/crashes.py`` with SIGKILL
(``CATALOG_CLASSIFIER_CRASH_AT``), re-runs them and compares every row with an uninterrupted
run's. Figures:

- ``cases_tried``: hostile cases x engines; ``cases_as_expected``: those whose outcome held;
- ``crashes``: job runs that did not end with exit code 0 (a crash point's own kill excluded);
- ``silent_corruptions``: rows stored that should have been quarantined, or stored altered
  (replacement characters, changed text, a wrong flag or label);
- ``crash_points_tried`` / ``crash_points_healed``: killed runs whose re-run equals the
  uninterrupted run row by row.

The record (with the failed cases and differences by name, the load average, the commit) goes to
``benchmarks/results/faults.json``; the figures come last as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "lib"), str(REPO)]
# Spark's Python workers import the library from this checkout too.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO / "lib"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)

from tests.faults.crashes import (  # noqa: E402
    TABLES,
    crash_points_for,
    differences,
    run_killed,
    snapshot,
)
from tests.faults.environment import (  # noqa: E402
    job_command,
    one_line_failure,
    private_mounts_unavailable,
    run_on_full_disk,
    run_read_only,
    staging_left,
)
from tests.faults.hostile import (  # noqa: E402
    MAX_CHARS,
    HostileInputs,
    hostile_cases,
    landed_from,
    silent_corruptions,
    write_hostile_inputs,
)

from catalog_classifier.storage.lakehouse import Lakehouse  # noqa: E402
from record import commit, load_average  # noqa: E402  (this folder: sys.path[0])

RESULTS = REPO / "benchmarks" / "results" / "faults.json"


def job_settings(engine: str) -> list[str]:
    return [
        f"delta_engine={engine}",
        f"ingest.csv_max_chars_per_column={MAX_CHARS}",
        "ingest.image_batch_files=4",
        "spark.conf.spark.sql.shuffle.partitions=2",
        "log_level=WARNING",
    ]


def job_inputs(job: str, inputs: HostileInputs) -> list[str]:
    if job != "ingest":
        return []
    args = [a for p in inputs.listings for a in ("--listings", p)]
    args += [a for p in inputs.labels for a in ("--labels", p)]
    return args + [a for p in inputs.images for a in ("--images", p)]


def job_args(root: str, job: str, engine: str, inputs: HostileInputs) -> list[str]:
    sets = [a for s in job_settings(engine) for a in ("--set", s)]
    return ["--lakehouse", root, *sets, *job_inputs(job, inputs)]


def run_job(job: str, args: list[str]) -> int:
    """The job's exit code, in this process; an exception or SystemExit is a crash (code 99)."""
    import jobs.features
    import jobs.ingest

    module = {"ingest": jobs.ingest, "features": jobs.features}[job]
    try:
        return int(module.main(args))
    except BaseException:  # noqa: BLE001 - counted, not raised: the benchmark goes on
        traceback.print_exc()
        return 99


def hostile_round(spark: Any, engine: str, work: Path, inputs: HostileInputs) -> dict[str, Any]:
    root = str(work / f"lakehouse-{engine}")
    started = time.monotonic()
    codes = {
        job: run_job(job, job_args(root, job, engine, inputs)) for job in ("ingest", "features")
    }
    lakehouse = Lakehouse(spark, root, engine)
    landed = landed_from(lakehouse, with_features=codes["features"] == 0)
    cases = hostile_cases(inputs.expected)
    failed = [case.name for case in cases if not case.holds(landed)]
    corrupt = silent_corruptions(landed, inputs.expected)
    return {
        "engine": engine,
        "exit_codes": codes,
        "cases": len(cases),
        "cases_failed": failed,
        "silent_corruptions": corrupt,
        "seconds": round(time.monotonic() - started, 1),
    }


def crash_round(spark: Any, engine: str, work: Path, inputs: HostileInputs) -> dict[str, Any]:
    reference_root = str(work / f"lakehouse-{engine}")  # the hostile round's uninterrupted run
    reference = snapshot(Lakehouse(spark, reference_root, engine), TABLES)
    results = []
    for crash in crash_points_for(engine):
        started = time.monotonic()
        name = "".join(c if c.isalnum() else "_" for c in crash.point)
        root = str(work / f"crash-{engine}-{name}")
        codes: dict[str, int] = {}
        if crash.job == "features":
            codes["ingest"] = run_job("ingest", job_args(root, "ingest", engine, inputs))
        killed = run_killed(crash.job, job_args(root, crash.job, engine, inputs), crash.point)
        codes[f"{crash.job} (rerun)"] = run_job(
            crash.job, job_args(root, crash.job, engine, inputs)
        )
        if crash.job == "ingest":
            codes["features"] = run_job("features", job_args(root, "features", engine, inputs))
        diff = differences(snapshot(Lakehouse(spark, root, engine), TABLES), reference)
        results.append(
            {
                "point": crash.point,
                "where": crash.where,
                "killed": killed == -signal.SIGKILL,
                "exit_codes": codes,
                "healed": killed == -signal.SIGKILL and not diff and set(codes.values()) == {0},
                "differences": diff,
                "seconds": round(time.monotonic() - started, 1),
            }
        )
        outcome = "healed" if results[-1]["healed"] else diff
        print(f"  {engine} crash point {crash.point}: {outcome}")
    return {"engine": engine, "points": [{"engine": engine, **r} for r in results]}


# The machine's faults (tests/faults/environment.py): the job that meets each, on which
# lakehouse, and the reason its one error line must give.
DISK_FULL = "disk full (No space left on device)"
ENVIRONMENT_CASES = (
    ("ingest on a full disk", "ingest", "empty", DISK_FULL),
    ("ingest on a read-only lakehouse", "ingest", "empty", "is read-only"),
    ("features on a full disk", "features", "ingested", DISK_FULL),
    ("features on a read-only lakehouse", "features", "ingested", "is read-only"),
)
FULL_DISK_FREE_KIB = 64


def environment_round(spark: Any, engine: str, work: Path, inputs: HostileInputs) -> dict[str, Any]:
    """Each of :data:`ENVIRONMENT_CASES` in the job's own process (a mount namespace of its
    own): it holds when the run fails with one error line giving the reason and the step, no
    trace on the terminal, no staging files left, and, space back, the same jobs re-run make
    every table equal to the hostile round's uninterrupted run, row by row."""
    reference = snapshot(Lakehouse(spark, str(work / f"lakehouse-{engine}"), engine), TABLES)
    started = time.monotonic()
    results = []
    for name, job, start, reason in ENVIRONMENT_CASES:
        case_started = time.monotonic()
        slug = "".join(c if c.isalnum() else "_" for c in name)
        root = work / f"environment-{engine}-{slug}"
        root.mkdir(parents=True)
        codes: dict[str, int] = {}
        if start == "ingested":
            codes["ingest"] = run_job("ingest", job_args(str(root), "ingest", engine, inputs))
        settings = [*job_settings(engine), f"log_dir={work / 'logs'}"]
        command = job_command(job, root, settings, job_inputs(job, inputs))
        if reason == DISK_FULL:
            after = work / f"environment-{engine}-{slug}-after"
            run = run_on_full_disk(root, command, after, FULL_DISK_FREE_KIB)
            left = staging_left(after)
            healed_root = after
        else:
            run = run_read_only(root, command)
            left = staging_left(root)
            healed_root = root
        problems = one_line_failure(run, job, reason)
        if run.error_lines and reason == DISK_FULL and " while " not in run.error_lines[0]:
            problems.append(f"no step named: {run.error_lines[0]}")
        if left:
            problems.append(f"staging left: {left}")
        # Space (or write access) back: the same commands complete the work.
        for step in ("ingest", "features") if job == "ingest" else ("features",):
            codes[f"{step} (rerun)"] = run_job(
                step, job_args(str(healed_root), step, engine, inputs)
            )
        diff = differences(snapshot(Lakehouse(spark, str(healed_root), engine), TABLES), reference)
        results.append(
            {
                "case": name,
                "fault_exit_code": run.returncode,
                "error_line": run.error_lines[0] if run.error_lines else None,
                "problems": problems,
                "exit_codes": codes,
                "differences": diff,
                "as_expected": not problems and not diff and set(codes.values()) == {0},
                "seconds": round(time.monotonic() - case_started, 1),
            }
        )
        print(f"  {engine} {name}: {'as expected' if results[-1]['as_expected'] else results[-1]}")
    return {
        "engine": engine,
        "cases": len(results),
        "cases_failed": [r["case"] for r in results if not r["as_expected"]],
        "results": results,
        "seconds": round(time.monotonic() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="delta-rs,delta-spark", help="comma-separated")
    parser.add_argument("--no-crash-points", action="store_true", help="skip the kill -9 part")
    parser.add_argument(
        "--no-environment", action="store_true", help="skip the full disk and read-only part"
    )
    parser.add_argument("--workdir", default=None, help="keep files here (default: a temp dir)")
    parser.add_argument(
        "--results", default=str(RESULTS), help="JSON file for the figures ('' for none)"
    )
    args = parser.parse_args()
    from catalog_classifier.config import load_config
    from catalog_classifier.logs import setup_logging
    from catalog_classifier.storage.spark import build_spark

    setup_logging("WARNING")
    load_start = load_average()
    started = time.monotonic()
    config = load_config(
        REPO / "conf" / "local.yaml", ["spark.conf.spark.sql.shuffle.partitions=2"]
    )
    spark = build_spark(config, "faults-benchmark")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        inputs = write_hostile_inputs(work / "in")
        engines = [e for e in args.engines.split(",") if e]
        rounds = []
        for engine in engines:
            rounds.append(hostile_round(spark, engine, work, inputs))
            print(
                f"{engine}: {rounds[-1]['cases'] - len(rounds[-1]['cases_failed'])} of "
                f"{rounds[-1]['cases']} hostile cases as expected, exit codes "
                f"{rounds[-1]['exit_codes']}, failed {rounds[-1]['cases_failed']}, silent "
                f"corruptions {rounds[-1]['silent_corruptions']}"
            )
        environment = []
        unavailable = None if args.no_environment else private_mounts_unavailable()
        if unavailable:
            print(f"full disk and read-only cases skipped: {unavailable}")
        elif not args.no_environment:
            for engine in engines:
                environment.append(environment_round(spark, engine, work, inputs))
        points = []
        if not args.no_crash_points:
            # Each engine's hostile round is its crash points' uninterrupted reference.
            for engine in engines:
                points += crash_round(spark, engine, work, inputs)["points"]
    figures: dict[str, Any] = {
        "benchmark": "faults",
        "engines": engines,
        "cases_tried": sum(r["cases"] for r in [*rounds, *environment]),
        "cases_as_expected": sum(
            r["cases"] - len(r["cases_failed"]) for r in [*rounds, *environment]
        ),
        "hostile_cases_tried": sum(r["cases"] for r in rounds),
        "environment_cases_tried": sum(r["cases"] for r in environment),
        "environment_cases_as_expected": sum(
            r["cases"] - len(r["cases_failed"]) for r in environment
        ),
        # A job run ending otherwise than as it owes: 0, or 1 with its error line for a fault
        # of the machine (a Python exception escaping, a JVM killed, a hang's timeout).
        "crashes": sum(
            code != 0
            for record in [*rounds, *points, *(c for e in environment for c in e["results"])]
            for code in record["exit_codes"].values()
        )
        + sum(c["fault_exit_code"] != 1 for e in environment for c in e["results"]),
        "silent_corruptions": sum(len(r["silent_corruptions"]) for r in rounds),
        "crash_points_tried": len(points),
        "crash_points_healed": sum(p["healed"] for p in points),
        "seconds": round(time.monotonic() - started, 1),
        "load_average_start": load_start,
        "load_average_end": load_average(),
    }
    if args.results:
        record = {
            **figures,
            "commit": commit(),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "rounds": rounds,
            "environment_rounds": environment,
            "crash_points": points,
        }
        path = Path(args.results)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"load average: start {load_start}, end {figures['load_average_end']}")
    print(json.dumps(figures))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
