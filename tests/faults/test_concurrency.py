"""Two ingests of different files at once on one lakehouse (issue 14): no lost, duplicated or
wrongly flagged row at the end, and each run's summary counts what that run did.

Each run's photos belong to the other run's listings, so the has_image / has_listing flags are
right only if the runs see each other's commits; each run has one bad row, so both write the
quarantine. The runs are two threads of one driver (one Spark session, two Lakehouse objects):
their Delta commits race as two processes' would, without a second JVM's start-up; a commit
that loses the race is retried (storage/lakehouse.py). The end state is compared row by row
with the same two runs made one after the other.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tests.faults.crashes import differences, snapshot
from tests.helpers import image_name, jpeg, write_labels, write_listings

from catalog_classifier.stages.ingest import IngestSummary, run_ingest
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import BRONZE_LISTINGS, BRONZE_QUARANTINE, BRONZE_TABLES


def write_run_inputs(root: Path, run: int, other: int) -> dict[str, list[str]]:
    """Listings 100*run+i (i < 12) plus one bad row, their labels, and the photos of the other
    run's listings."""
    root.mkdir(parents=True)
    rows: list[list[object]] = [
        [i, f"Produit {run}-{i}", f"run {run}", 100 * run + i, 1000 * run + i] for i in range(12)
    ]
    rows.append([12, "", "no title", 100 * run + 12, 1000 * run + 12])  # missing_designation
    listings = write_listings(root / "X.csv", rows)
    labels = write_labels(root / "Y.csv", [(i, 10 if i % 2 else 2583) for i in range(12)])
    folder = root / "images"
    folder.mkdir()
    for i in range(12):
        color = (20 * other, 10 * i, 90)
        (folder / image_name(1000 * other + i, 100 * other + i)).write_bytes(jpeg(color=color))
    return {"listings": [str(listings)], "labels": [str(labels)], "images": [str(folder)]}


def test_two_ingests_at_once_lose_duplicate_and_misflag_nothing(spark, config, lakehouse, tmp_path):
    inputs = {1: write_run_inputs(tmp_path / "a", 1, 2), 2: write_run_inputs(tmp_path / "b", 2, 1)}
    summaries: dict[int, IngestSummary] = {}
    errors: list[BaseException] = []

    def ingest(run: int) -> None:
        try:
            own = Lakehouse(spark, lakehouse.root, lakehouse.engine.name)
            summaries[run] = run_ingest(spark, own, config, **inputs[run])
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(run,)) for run in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [str(e)[:600] for e in errors] == []

    # The reference on delta-rs whatever the engine under test (the cheaper one; both write the
    # same tables: tests/test_delta_engines.py).
    one_after_the_other = Lakehouse(spark, str(tmp_path / "sequential"), "delta-rs")
    for run in (1, 2):
        run_ingest(spark, one_after_the_other, config, **inputs[run])
    assert (
        differences(
            snapshot(lakehouse, list(BRONZE_TABLES)),
            snapshot(one_after_the_other, list(BRONZE_TABLES)),
        )
        == []
    )
    listings = lakehouse.read(BRONZE_LISTINGS).collect()
    assert len(listings) == 24 and all(r.has_image for r in listings)
    for run, summary in summaries.items():
        assert vars(summary.listings) == {
            "read": 13,
            "inserted": 12,
            "updated": 0,
            "unchanged": 0,
            "quarantined": 1,
        }, run
        assert (summary.images.read, summary.images.inserted) == (12, 12), run
        assert (summary.labels.inserted, summary.quarantine_new) == (12, 1), run
        assert dict(summary.quarantine_reasons) == {"missing_designation": 1}, run


def test_a_table_another_run_is_creating_is_waited_for_not_failed(spark, lakehouse):
    """Issue 32's race, made deterministic: one run has made a table's folder and its
    ``_delta_log`` but not yet its first commit when the other run looks (two ingests started
    at once on an empty lakehouse; one failed with DELTA_TABLE_NOT_FOUND on bronze.quarantine).
    The other run waits for that commit instead of failing."""
    path = lakehouse.path(BRONZE_QUARANTINE)
    Path(path, "_delta_log").mkdir(parents=True)
    # The creator's first commit, written aside and moved in 2 s later (a commit lands as one
    # file: what a creator in that window does next).
    aside = Path(lakehouse.root).parent / "aside"
    creator = Lakehouse(spark, lakehouse.root, lakehouse.engine.name)
    creator.engine.create(str(aside), BRONZE_QUARANTINE)

    def commit_lands() -> None:
        for commit in sorted((aside / "_delta_log").glob("*.json")):
            os.replace(commit, Path(path, "_delta_log", commit.name))

    finishing = threading.Timer(2.0, commit_lands)
    finishing.start()
    try:
        assert lakehouse.read(BRONZE_QUARANTINE).count() == 0
    finally:
        finishing.join()
    creator.ensure(BRONZE_QUARANTINE)  # the creator's own first use: one table, either way
    assert lakehouse.version(BRONZE_QUARANTINE) == 0
