"""kill -9 of score between two chunk commits, before the predictions commit and (delta-rs)
during it, then a re-run: gold.predictions must equal an uninterrupted run's, row by row; and two
scores at once on one lakehouse lose, duplicate and misreport nothing (issue 14). On both Delta
engines.

Every run scores a copy of the shared trained lakehouse (the generated sample) cut to its first
90 listings, with no prediction yet, in chunks of 30, so a run makes three commits (the whole
300 listings in chunks of 100 tested the same commits for three times the scoring). The
during-commit point is delta-rs's only: the connector writes a commit inside the JVM, where the
test cannot stop it at a chosen moment (its commit is one atomic log entry, as delta-rs's is).
"""

from __future__ import annotations

import shutil
import signal
import threading
from pathlib import Path

import pytest
from tests.conftest import REPO, UNSCORED_LISTINGS
from tests.faults.crashes import prediction_differences, run_killed
from tests.helpers import SMALL_TRAINING

from catalog_classifier.config import Config, load_config
from catalog_classifier.stages.score import ScoreSummary, run_score
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import BRONZE_LISTINGS, GOLD_PREDICTIONS

# The shared unscored copy's listings (tests.conftest.unscored), in three chunks.
CHUNK_ROWS = UNSCORED_LISTINGS // 3

POINTS = {
    "delta-rs": [
        "score:after_chunk#1",
        "before_commit:gold.predictions#2",
        "during_commit:gold.predictions",
    ],
    "delta-spark": ["score:after_chunk#1", "before_commit:gold.predictions#2"],
}


def settings(engine: str, encoder: Path) -> list[str]:
    """Every run's `--set`s: the test training's, as the trained lakehouse was made."""
    return [
        *SMALL_TRAINING,
        f"train.text.encoder={encoder}",
        f"delta_engine={engine}",
        f"scoring.chunk_rows={CHUNK_ROWS}",
        "spark.master=local[2]",
        "spark.conf.spark.sql.shuffle.partitions=2",
    ]


def job_config(engine: str, encoder: Path) -> Config:
    return load_config(REPO / "conf" / "local.yaml", settings(engine, encoder))


@pytest.fixture(scope="module", params=list(POINTS))
def reference(request, spark, unscored, small_config, tmp_path_factory):
    """An uninterrupted score of the unscored copy, on each engine."""
    engine = request.param
    root = tmp_path_factory.mktemp(f"score_{engine}") / "reference"
    shutil.copytree(unscored, root)
    lakehouse = Lakehouse(spark, str(root), engine)
    config = job_config(engine, small_config.train.text.encoder)
    summary = run_score(lakehouse, config)
    listings = lakehouse.read(BRONZE_LISTINGS).count()
    assert summary.scored == summary.inserted == listings and summary.chunks == 3
    return engine, lakehouse, config, summary


def test_a_score_killed_at_a_crash_point_heals_on_the_next_run(spark, unscored, reference):
    engine, want, config, uninterrupted = reference
    for point in POINTS[engine]:
        root = Path(want.root).parent / point.replace(":", "_").replace("#", "_")
        shutil.copytree(unscored, root)
        args = ["--lakehouse", str(root)]
        for setting in settings(engine, config.train.text.encoder):
            args += ["--set", setting]
        status = run_killed("score", args, point)
        assert status == -signal.SIGKILL, f"{point} was not reached (exit {status})"
        lakehouse = Lakehouse(spark, str(root), engine)
        committed = (
            lakehouse.read(GOLD_PREDICTIONS).count() if lakehouse.exists(GOLD_PREDICTIONS) else 0
        )
        assert committed < uninterrupted.scored, point  # the kill left work undone
        resumed = run_score(lakehouse, config)
        assert (resumed.pending, resumed.inserted) == (uninterrupted.scored - committed,) * 2
        assert prediction_differences(lakehouse, want) == [], point
        assert resumed.per_category == uninterrupted.per_category, point


def test_two_scores_at_once_lose_duplicate_and_misreport_nothing(spark, unscored, reference):
    engine, want, config, uninterrupted = reference
    root = Path(want.root).parent / "two_at_once"
    shutil.copytree(unscored, root)
    summaries: dict[int, ScoreSummary] = {}
    errors: list[BaseException] = []

    def score(run: int) -> None:
        try:
            summaries[run] = run_score(Lakehouse(spark, str(root), engine), config)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=score, args=(run,)) for run in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [str(e)[:600] for e in errors] == []
    lakehouse = Lakehouse(spark, str(root), engine)
    assert prediction_differences(lakehouse, want) == []
    # Each run's figures say what that run did: every listing inserted by exactly one of them
    # (the other, finding it there when its commit was retried, updated it with the same
    # prediction), and both report the table's final counts.
    listings = uninterrupted.scored
    assert sum(s.inserted for s in summaries.values()) == listings
    for run, summary in summaries.items():
        assert summary.scored == summary.pending == summary.inserted + summary.updated, run
        assert summary.per_category == uninterrupted.per_category, run
        assert summary.needs_review_share == uninterrupted.needs_review_share, run
