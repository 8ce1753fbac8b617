"""The session helpers: the project's jars (the Delta connector) and named steps for the UI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pyspark
import pytest

from catalog_classifier.storage.spark import (
    DELTA_CATALOG,
    DELTA_EXTENSION,
    JARS_ENV,
    jar_conf,
    jars_dir,
    job_step,
    project_jars,
)

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


def test_the_session_loads_the_project_jars_from_the_venv(spark) -> None:
    # `make install` fetched pom.xml's jars into the running venv; no download at run time.
    assert os.environ.get(JARS_ENV) is None or os.environ[JARS_ENV]
    folder = jars_dir()
    assert folder is not None and folder == Path(
        os.environ.get(JARS_ENV) or Path(sys.prefix) / "jars"
    )
    jars = project_jars()
    names = {Path(jar).name for jar in jars}
    # Exactly the jars of pom.xml's profile for the installed Spark line (Scala 2.12 for 3.5).
    if pyspark.__version__.startswith("3.5."):
        assert names == {
            "delta-spark_2.12-3.3.2.jar",
            "delta-storage-3.3.2.jar",
            "spark-nlp_2.12-5.5.3.jar",
            "onnxruntime-1.19.2.jar",
            "aws-java-sdk-core-1.12.500.jar",
        }
    else:
        assert names == {"delta-spark_2.13-4.0.1.jar", "delta-storage-4.0.1.jar"}
    # pyspark ships scala-library and antlr4-runtime: pom.xml excludes them (one copy each).
    assert not any(name.startswith(("scala-library", "antlr4")) for name in names)
    loaded = spark.conf.get("spark.jars").split(",")
    assert all(jar in loaded for jar in jars)
    assert spark.conf.get("spark.jars.packages", None) in (None, "")
    assert DELTA_EXTENSION in spark.conf.get("spark.sql.extensions").split(",")
    assert spark.conf.get("spark.sql.catalog.spark_catalog") == DELTA_CATALOG


def test_jar_conf_adds_the_jars_and_keeps_what_the_conf_sets() -> None:
    conf = {"spark.jars": "/opt/x.jar", "spark.sql.extensions": "com.example.Ext"}
    out = jar_conf(conf, ["/v/jars/delta-spark_2.13-4.0.1.jar", "/v/jars/delta-storage-4.0.1.jar"])
    assert out["spark.jars"] == (
        "/opt/x.jar,/v/jars/delta-spark_2.13-4.0.1.jar,/v/jars/delta-storage-4.0.1.jar"
    )
    assert out["spark.sql.extensions"] == f"com.example.Ext,{DELTA_EXTENSION}"
    assert out["spark.sql.catalog.spark_catalog"] == DELTA_CATALOG
    # No connector among the jars: nothing Delta-specific is set.
    assert jar_conf({}, ["/v/jars/other.jar"]) == {"spark.jars": "/v/jars/other.jar"}
    assert jar_conf(conf, []) == conf


def test_an_empty_jars_variable_loads_none_and_a_wrong_one_fails(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(JARS_ENV, "")
    assert jars_dir() is None and project_jars() == []
    monkeypatch.setenv(JARS_ENV, str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="no such folder"):
        project_jars()


def test_spark_warnings_that_say_nothing_to_a_user_are_silenced(spark) -> None:
    """The CSV header check, the local checkpoint notice and the cut plan text: errors only."""
    from catalog_classifier.storage.spark import QUIET_LOGGERS

    manager = spark.sparkContext._jvm.org.apache.logging.log4j.LogManager
    for name in QUIET_LOGGERS:
        assert str(manager.getLogger(name).getLevel()) == "ERROR", name
    # Everything else keeps the session's level.
    assert str(manager.getLogger("org.apache.spark.sql.execution.datasources").getLevel()) == "WARN"
