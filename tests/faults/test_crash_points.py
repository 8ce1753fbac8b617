"""kill -9 of ingest and features at named points (between commits, during a commit, before the
quarantine MERGE), then a re-run: the tables must equal an uninterrupted run's, row by row
(issue 14).

On both Delta engines (the during-commit points on delta-rs only: crashes.crash_points_for).
The hostile inputs are the ones of test_ingest_faults, read in image batches of 4 so a run makes
several image commits.
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
from pathlib import Path

import pytest
from filelock import FileLock
from tests.faults.crashes import (
    TABLES,
    crash_points_for,
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

ENGINES = ("delta-rs", "delta-spark")

SETTINGS = [
    f"ingest.csv_max_chars_per_column={MAX_CHARS}",
    "ingest.image_batch_files=4",
    "spark.master=local[2]",
    "spark.conf.spark.sql.shuffle.partitions=2",
    "spark.conf.spark.sql.codegen.wholeStage=false",
]


def job_args(lakehouse: str, job: str, inputs, engine: str) -> list[str]:  # noqa: ANN001
    settings = [f"delta_engine={engine}", *SETTINGS]
    args = ["--lakehouse", lakehouse, *[a for s in settings for a in ("--set", s)]]
    if job == "ingest":
        args += [a for p in inputs.listings for a in ("--listings", p)]
        args += [a for p in inputs.labels for a in ("--labels", p)]
        args += [a for p in inputs.images for a in ("--images", p)]
    return args


def run_in_process(job: str, args: list[str]) -> None:
    import jobs.features
    import jobs.ingest

    assert {"ingest": jobs.ingest, "features": jobs.features}[job].main(args) == 0


def shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every pytest-xdist worker of this run sees (the run's base temporary folder;
    each worker's own is a folder inside it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="module")
def uninterrupted(spark, tmp_path_factory):
    """Per engine (made when first asked for): the hostile inputs ingested then featured
    without a crash, the reference.

    Made once per run, not once per xdist worker: the first worker to ask builds it in the
    run's shared folder under a file lock (an ingest and a features run: 30-45 s each engine
    in the suite on 2 cores), the other waits for it and reads the inputs and the reference
    rows it saved. A crash point copies the ingested copy or writes a folder of its own beside
    it; the reference is only read (the first test checks that features write nothing there)."""
    made = {}

    def reference(engine: str):  # noqa: ANN202
        if engine not in made:
            work = shared_folder(tmp_path_factory) / f"crash_{engine}"
            root = str(work / "reference")
            saved = work / "reference.pickle"
            with FileLock(f"{work}.lock"):
                if not saved.exists():
                    shutil.rmtree(work, ignore_errors=True)  # a build that failed half-way
                    inputs = write_hostile_inputs(work / "in")
                    run_in_process("ingest", job_args(root, "ingest", inputs, engine))
                    shutil.copytree(root, work / "ingested")  # the features' crash points start
                    run_in_process("features", job_args(root, "features", inputs, engine))
                    rows = snapshot(Lakehouse(spark, root, engine), TABLES)
                    saved.write_bytes(pickle.dumps((inputs, rows)))
            inputs, rows = pickle.loads(saved.read_bytes())
            made[engine] = work, inputs, rows, Lakehouse(spark, root, engine)
        return made[engine]

    return reference


@pytest.mark.parametrize("engine", ENGINES)
def test_the_uninterrupted_run_meets_every_hostile_case_through_features(uninterrupted, engine):
    _, inputs, reference, lakehouse = uninterrupted(engine)
    landed = landed_from(lakehouse, with_features=True)
    assert [c.name for c in hostile_cases(inputs.expected) if not c.holds(landed)] == []
    assert silent_corruptions(landed, inputs.expected) == []
    # Features again with nothing new: nothing written, not even a staging folder.
    written = written_state(lakehouse.root)
    run_in_process("features", job_args(lakehouse.root, "features", inputs, engine))
    assert written_state(lakehouse.root) == written
    assert snapshot(lakehouse, TABLES) == reference


CASES = [(engine, crash) for engine in ENGINES for crash in crash_points_for(engine)]


@pytest.mark.parametrize(("engine", "crash"), CASES, ids=[f"{e}-{c.point}" for e, c in CASES])
def test_a_run_killed_at_a_crash_point_heals_on_the_next_run(spark, uninterrupted, engine, crash):
    work, inputs, reference, _ = uninterrupted(engine)
    root = str(work / crash.point.replace(":", "_").replace("#", "_").replace(".", "_"))
    if crash.job == "features":
        shutil.copytree(work / "ingested", root)
    status = run_killed(crash.job, job_args(root, crash.job, inputs, engine), crash.point)
    assert status == -signal.SIGKILL, f"{crash.point} was not reached (exit {status})"
    lakehouse = Lakehouse(spark, root, engine)
    # The kill left the tables short of the reference (else the point tests nothing).
    assert differences(snapshot(lakehouse, TABLES), reference) != []
    # The next run (the nightly's) completes the work; the features after a killed ingest.
    run_in_process(crash.job, job_args(root, crash.job, inputs, engine))
    if crash.job == "ingest":
        run_in_process("features", job_args(root, "features", inputs, engine))
    assert differences(snapshot(lakehouse, TABLES), reference) == []
