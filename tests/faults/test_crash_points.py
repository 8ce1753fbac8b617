"""kill -9 of ingest and features at named points (between commits, during a commit, before the
quarantine MERGE), then a re-run: the tables must equal an uninterrupted run's, row by row
(issue 14).

On delta-rs only: each point costs a Spark process of its own, and the healing is the stages'
(incremental writes, flags and duplicate groups recomputed over the whole table), not the
engine's; a commit is atomic in both engines (one log entry). The hostile inputs are the ones
of test_ingest_faults, read in image batches of 4 so a run makes several image commits.
"""

from __future__ import annotations

import shutil
import signal

import pytest
from tests.faults.crashes import (
    CRASH_POINTS,
    TABLES,
    differences,
    run_killed,
    snapshot,
    written_state,
)
from tests.faults.hostile import (
    MAX_CHARS,
    hostile_cases,
    landed_from,
    silent_corruptions,
    write_hostile_inputs,
)

from catalog_classifier.storage.lakehouse import Lakehouse

SETTINGS = [
    "delta_engine=delta-rs",
    f"ingest.csv_max_chars_per_column={MAX_CHARS}",
    "ingest.image_batch_files=4",
    "spark.master=local[2]",
    "spark.conf.spark.sql.shuffle.partitions=2",
    "spark.conf.spark.sql.codegen.wholeStage=false",
]


def job_args(lakehouse: str, job: str, inputs) -> list[str]:  # noqa: ANN001
    args = ["--lakehouse", lakehouse, *[a for s in SETTINGS for a in ("--set", s)]]
    if job == "ingest":
        args += [a for p in inputs.listings for a in ("--listings", p)]
        args += [a for p in inputs.labels for a in ("--labels", p)]
        args += [a for p in inputs.images for a in ("--images", p)]
    return args


def run_in_process(job: str, args: list[str]) -> None:
    import jobs.features
    import jobs.ingest

    assert {"ingest": jobs.ingest, "features": jobs.features}[job].main(args) == 0


@pytest.fixture(scope="module")
def uninterrupted(spark, tmp_path_factory):
    """The hostile inputs, ingested then featured without a crash: the reference."""
    work = tmp_path_factory.mktemp("crash")
    inputs = write_hostile_inputs(work / "in")
    root = str(work / "reference")
    run_in_process("ingest", job_args(root, "ingest", inputs))
    shutil.copytree(root, work / "ingested")  # where the features' crash points start from
    run_in_process("features", job_args(root, "features", inputs))
    lakehouse = Lakehouse(spark, root, "delta-rs")
    return work, inputs, snapshot(lakehouse, TABLES), lakehouse


def test_the_uninterrupted_run_meets_every_hostile_case_through_features(uninterrupted):
    _, inputs, reference, lakehouse = uninterrupted
    landed = landed_from(lakehouse, with_features=True)
    assert [c.name for c in hostile_cases(inputs.expected) if not c.holds(landed)] == []
    assert silent_corruptions(landed, inputs.expected) == []
    # Features again with nothing new: nothing written, not even a staging folder.
    written = written_state(lakehouse.root)
    run_in_process("features", job_args(lakehouse.root, "features", inputs))
    assert written_state(lakehouse.root) == written
    assert snapshot(lakehouse, TABLES) == reference


@pytest.mark.parametrize("crash", CRASH_POINTS, ids=[c.point for c in CRASH_POINTS])
def test_a_run_killed_at_a_crash_point_heals_on_the_next_run(spark, uninterrupted, crash):
    work, inputs, reference, _ = uninterrupted
    root = str(work / crash.point.replace(":", "_").replace("#", "_").replace(".", "_"))
    if crash.job == "features":
        shutil.copytree(work / "ingested", root)
    status = run_killed(crash.job, job_args(root, crash.job, inputs), crash.point)
    assert status == -signal.SIGKILL, f"{crash.point} was not reached (exit {status})"
    lakehouse = Lakehouse(spark, root, "delta-rs")
    # The kill left the tables short of the reference (else the point tests nothing).
    assert differences(snapshot(lakehouse, TABLES), reference) != []
    # The next run (the nightly's) completes the work; the features after a killed ingest.
    run_in_process(crash.job, job_args(root, crash.job, inputs))
    if crash.job == "ingest":
        run_in_process("features", job_args(root, "features", inputs))
    assert differences(snapshot(lakehouse, TABLES), reference) == []
