"""A full disk (ENOSPC) and a read-only lakehouse under ingest and score, on both Delta engines
(issue 32): one line on the terminal naming the step and the reason, the full trace in the run's
log file, no table left with a partial commit, no staging files left holding the space, and the
same command re-run once the disk has space completes the work.

The faults are the kernel's own, in a mount namespace of the job's (see
:mod:`tests.faults.environment`); where none can be made the tests skip, saying why.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from tests.conftest import UNSCORED_LISTINGS
from tests.faults.environment import (
    job_command,
    log_file_of,
    one_line_failure,
    private_mounts_unavailable,
    run_on_full_disk,
    run_read_only,
    staging_left,
)
from tests.helpers import SMALL_TRAINING

from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import BRONZE_LISTINGS, BRONZE_TABLES, GOLD_PREDICTIONS

ENGINES = ["delta-rs", "delta-spark"]
# Scored listings of the trained sample (tests.conftest.unscored), in chunks (three commits, as
# the score crash points).
SCORE_LISTINGS, SCORE_CHUNK = UNSCORED_LISTINGS, UNSCORED_LISTINGS // 3
# Listings of the second ingest: about 1 MB of staged rows, where the disk has 64 KiB left.
MORE_LISTINGS = 2000


@pytest.fixture(scope="module", autouse=True)
def private_mounts():
    reason = private_mounts_unavailable()
    if reason and os.environ.get("CI") == "true":
        # CI runs every test: a machine that cannot make these faults fails, not skips.
        pytest.fail(f"no private mount namespace for the machine-fault tests: {reason}")
    if reason:
        pytest.skip(reason)


def listings_csv(path: Path, rows: int) -> Path:
    lines = [",designation,description,productid,imageid"]
    lines += [
        f"{i},Lampe de bureau {i} en laiton,{'Une description assez longue. ' * 12},{i + 10},{i}"
        for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ingest_settings(engine: str, logs: Path) -> list[str]:
    return [
        f"delta_engine={engine}",
        "spark.master=local[2]",
        f"log_dir={logs}",
        "spark.conf.spark.sql.shuffle.partitions=2",
    ]


def counts(spark, root: Path, engine: str, specs) -> dict[str, int]:
    """Every table's rows: reading each proves its log holds whole commits only."""
    lakehouse = Lakehouse(spark, str(root), engine)
    return {s.qualified_name: lakehouse.read(s).count() for s in specs if lakehouse.exists(s)}


# Whole jobs on a broken environment, about 40 s each: the full tier's, not the inner loop's.
@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_an_ingest_on_a_full_disk_is_one_line_commits_nothing_half_way_and_heals(
    spark, tmp_path, engine
):
    import jobs.ingest

    lakehouse, logs = tmp_path / "lakehouse", tmp_path / "logs"
    settings = ingest_settings(engine, logs)
    first = listings_csv(tmp_path / "X.csv", 1)
    args = ["--lakehouse", str(lakehouse), *[a for s in settings for a in ("--set", s)]]
    assert jobs.ingest.main([*args, "--listings", str(first)]) == 0
    before = counts(spark, lakehouse, engine, BRONZE_TABLES)
    more = listings_csv(tmp_path / "X2.csv", MORE_LISTINGS + 1)

    after = tmp_path / "after"
    run = run_on_full_disk(
        lakehouse,
        job_command("ingest", lakehouse, settings, ["--listings", str(more)]),
        after,
        free_kib=64,
    )
    assert one_line_failure(run, "ingest", "disk full (No space left on device)") == [], run.stderr[
        -3000:
    ]
    assert "while writing bronze.listings" in run.error_lines[0], run.error_lines
    assert "No space left on device" in log_file_of(run).read_text()
    # The staged part of the failed write is gone, and the listings' commit was not made.
    assert staging_left(after) == []
    assert counts(spark, after, engine, BRONZE_TABLES) == before
    # Space again: the same command completes the work.
    healed = ["--lakehouse", str(after), *args[2:], "--listings", str(more)]
    assert jobs.ingest.main(healed) == 0
    assert counts(spark, after, engine, [BRONZE_LISTINGS]) == {
        BRONZE_LISTINGS.qualified_name: MORE_LISTINGS + 1
    }


def score_settings(engine: str, encoder: Path, logs: Path) -> list[str]:
    return [
        *SMALL_TRAINING,
        f"train.text.encoder={encoder}",
        f"delta_engine={engine}",
        f"scoring.chunk_rows={SCORE_CHUNK}",
        "spark.master=local[2]",
        "spark.conf.spark.sql.shuffle.partitions=2",
        f"log_dir={logs}",
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_score_on_a_full_disk_or_a_read_only_lakehouse_is_one_line_and_heals(
    spark, unscored, small_config, tmp_path, engine
):
    import jobs.score

    logs = tmp_path / "logs"
    settings = score_settings(engine, small_config.train.text.encoder, logs)
    lakehouse = tmp_path / "lakehouse"
    shutil.copytree(unscored, lakehouse)

    read_only = run_read_only(lakehouse, job_command("score", lakehouse, settings, []))
    assert one_line_failure(read_only, "score", f"the lakehouse {lakehouse} is read-only") == [], (
        read_only.stderr[-3000:]
    )
    assert "Traceback" in log_file_of(read_only).read_text()

    after = tmp_path / "after"
    full = run_on_full_disk(lakehouse, job_command("score", lakehouse, settings, []), after, 0)
    assert one_line_failure(full, "score", "disk full (No space left on device)") == [], (
        full.stderr[-3000:]
    )
    assert " while " in full.error_lines[0], full.error_lines  # the step that failed
    assert staging_left(after) == []
    # Whatever chunks were committed before the disk filled are whole; the re-run completes.
    committed = counts(spark, after, engine, [GOLD_PREDICTIONS]).get(
        GOLD_PREDICTIONS.qualified_name, 0
    )
    assert committed % SCORE_CHUNK == 0 and committed < SCORE_LISTINGS
    args = ["--lakehouse", str(after), *[a for s in settings for a in ("--set", s)]]
    assert jobs.score.main(args) == 0
    assert counts(spark, after, engine, [GOLD_PREDICTIONS]) == {
        GOLD_PREDICTIONS.qualified_name: SCORE_LISTINGS
    }
