"""The session helpers: named steps for the Spark UI."""

from __future__ import annotations

from catalog_classifier.storage.spark import job_step

DESCRIPTION = "spark.job.description"


def test_job_step_names_the_jobs_it_runs_and_nests(spark) -> None:
    context = spark.sparkContext
    context.setJobDescription(None)
    with job_step(spark, "outer"):
        assert context.getLocalProperty(DESCRIPTION) == "outer"
        with job_step(spark, "inner"):
            assert context.getLocalProperty(DESCRIPTION) == "inner"
            assert spark.range(10).count() == 10
            jobs = context.statusTracker().getActiveJobsIds()  # none left running
            assert list(jobs) == []
        assert context.getLocalProperty(DESCRIPTION) == "outer"
    assert context.getLocalProperty(DESCRIPTION) is None
