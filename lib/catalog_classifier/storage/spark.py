"""Building the Spark session every job and test uses."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from catalog_classifier.config import Config
from catalog_classifier.logs import note_step

log = logging.getLogger(__name__)

# Settings the library relies on; conf/*.yaml and spark-submit's --conf can add to them.
REQUIRED_CONF = {
    # Parquet timestamps as INT64 microseconds, the encoding Delta readers expect (not INT96).
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Spark 4's default, set for the Spark 3.5 line too: both lines then fail a bad cast or an
    # overflow the same way instead of one of them returning null (docs/stack.md).
    "spark.sql.ansi.enabled": "true",
}

# The folder of the project's JVM jars (pom.xml; `make install` fetches them into the venv's
# jars/ folder). This environment variable names another folder; set empty, it loads none.
JARS_ENV = "CATALOG_CLASSIFIER_JARS"
# The Delta Lake connector's SQL extension and catalog: its MERGE and time travel need both.
DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"

# Spark loggers whose warnings say nothing to a user of the jobs, set to errors only: the CSV
# reader's header check (every listings CSV: the ingest checks the header itself and reads the
# unnamed index column as row_index), the notice that a locally checkpointed RDD cannot be
# recomputed (the connector's MERGE materialises its source so, once per write; the scoring and
# the TF-IDF training checkpoint on purpose) and a plan's text cut short for a log line.
QUIET_LOGGERS = (
    "org.apache.spark.sql.catalyst.csv.CSVHeaderChecker",
    "org.apache.spark.rdd.MapPartitionsRDD",
    "org.apache.spark.sql.catalyst.util.SparkStringUtils",
    "org.apache.spark.util.SparkStringUtils",
)


def jars_dir() -> Path | None:
    """The folder of the project's jars: ``$CATALOG_CLASSIFIER_JARS`` when set (empty: none),
    else ``jars/`` in the running interpreter's venv (``sys.prefix``); None where it is missing."""
    named = os.environ.get(JARS_ENV)
    if named is not None:
        return Path(named) if named else None
    folder = Path(sys.prefix) / "jars"
    return folder if folder.is_dir() else None


def project_jars() -> list[str]:
    """The jar files the project's Spark sessions load (none where the folder is missing)."""
    folder = jars_dir()
    if folder is None:
        return []
    if not folder.is_dir():
        raise FileNotFoundError(f"{JARS_ENV}={folder}: no such folder")
    return [str(path) for path in sorted(folder.glob("*.jar"))]


def jar_conf(conf: dict[str, str], jars: list[str]) -> dict[str, str]:
    """``conf`` with ``jars`` added to spark.jars and, when they hold the Delta connector, its
    SQL extension and catalog (kept where ``conf`` already sets them)."""
    if not jars:
        return dict(conf)
    out = dict(conf)
    out["spark.jars"] = ",".join(filter(None, [conf.get("spark.jars", ""), *jars]))
    if any(Path(jar).name.startswith("delta-spark_") for jar in jars):
        extensions = [e for e in conf.get("spark.sql.extensions", "").split(",") if e]
        if DELTA_EXTENSION not in extensions:
            out["spark.sql.extensions"] = ",".join([*extensions, DELTA_EXTENSION])
        out.setdefault("spark.sql.catalog.spark_catalog", DELTA_CATALOG)
    return out


def build_spark(config: Config, app_name: str) -> SparkSession:
    """Return the active session, or start one configured from ``config``.

    Under spark-submit or on Databricks a session (and its master) already exists or is set by
    the launcher; ``config.spark.master`` only applies when Python starts Spark itself (tests,
    notebooks run locally).
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        _apply_runtime_conf(active, config)
        quiet_spark_loggers(active)
        return active
    # Executors must run the same interpreter as the driver when Spark is started from Python.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(f"catalog-classifier {app_name}")
    conf = {**config.spark.conf, **REQUIRED_CONF}
    if not _launched_by_submit():
        builder = builder.master(config.spark.master)
        # spark-submit.sh passes the same jars with --jars; a job never downloads any.
        conf = jar_conf(conf, project_jars())
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    quiet_spark_loggers(spark)
    log.info(
        "Spark %s session %s on %s (parallelism %d)",
        spark.version,
        spark.sparkContext.applicationId,
        spark.sparkContext.master,
        spark.sparkContext.defaultParallelism,
    )
    return spark


def quiet_spark_loggers(spark: SparkSession) -> None:
    """Errors only from :data:`QUIET_LOGGERS`, in the driver's JVM (where a local session's
    tasks run too). A session without a JVM at hand (Spark Connect) keeps its logging."""
    try:
        jvm = spark.sparkContext._jvm
        assert jvm is not None  # a started session's gateway
        configurator = jvm.org.apache.logging.log4j.core.config.Configurator
        error = jvm.org.apache.logging.log4j.Level.ERROR
        for name in QUIET_LOGGERS:
            configurator.setLevel(name, error)
    except Exception as exc:  # noqa: BLE001 - logging levels are a comfort, never a failure
        log.debug("Spark's loggers left as they are: %s", exc)


def route_jvm_logs(spark: SparkSession, path: str) -> bool:
    """Send the driver JVM's log4j output to the file ``path`` instead of the terminal (in a
    local session the executors' too): a failed task logs its Java stack trace at ERROR from
    several places (the task, the executor, the task set, the writer), hundreds of lines that
    bury the job's one-line error. Every appender of every logger is replaced by the file; the
    levels stay as they are. False (and the terminal kept) where the JVM is out of reach."""
    try:
        jvm = spark.sparkContext._jvm
        assert jvm is not None  # a started session's gateway
        core = jvm.org.apache.logging.log4j.core
        context = jvm.org.apache.logging.log4j.LogManager.getContext(False)
        configuration = context.getConfiguration()
        layout = (
            core.layout.PatternLayout.newBuilder()
            .withPattern("%d{yyyy-MM-dd HH:mm:ss} %p %c: %m%n%ex")
            .build()
        )
        appender = (
            core.appender.FileAppender.newBuilder()
            .setName("catalog-classifier-job-file")
            .withFileName(path)
            .setLayout(layout)
            .build()
        )
        appender.start()
        configuration.addAppender(appender)
        loggers = [configuration.getRootLogger(), *configuration.getLoggers().values()]
        for logger in loggers:
            for name in list(logger.getAppenders().keySet()):
                logger.removeAppender(name)
        configuration.getRootLogger().addAppender(appender, None, None)
        context.updateLoggers()
        return True
    except Exception as exc:  # noqa: BLE001 - where the logs go is a comfort, never a failure
        log.debug("the JVM's log output left on the terminal: %s", exc)
        return False


def _launched_by_submit() -> bool:
    # spark-submit starts the Python driver with the gateway already up and the master set.
    return "PYSPARK_GATEWAY_PORT" in os.environ


def _apply_runtime_conf(spark: SparkSession, config: Config) -> None:
    for key, value in REQUIRED_CONF.items():
        try:
            spark.conf.set(key, value)
        except Exception as exc:  # noqa: BLE001 - some managed runtimes lock settings
            log.warning("could not set %s=%s: %s", key, value, exc)


def torch_threads_per_task(spark: SparkSession, configured: int = 0) -> int:
    """Torch threads for one Spark task: ``configured`` when set; else the cores a task owns
    (1 in local[N], which runs N tasks at once on this machine's cores)."""
    if configured:
        return configured
    if (spark.sparkContext.master or "").startswith("local"):
        return 1
    return int(spark.conf.get("spark.task.cpus", "1") or "1")


@contextmanager
def job_step(spark: SparkSession, description: str) -> Iterator[None]:
    """Name the Spark jobs one step runs (the Spark UI's and Databricks' job description) and
    log the step's start and duration, so a person can follow a long run step by step.

    Steps nest: the inner description shows while it runs, the outer one again after it.
    """
    context = spark.sparkContext
    outer = context.getLocalProperty("spark.job.description")
    context.setJobDescription(description)
    started = time.monotonic()
    log.info("step %s: started", description)
    try:
        yield
    except BaseException as exc:
        note_step(exc, description)  # the job's error line names the step that failed
        raise
    finally:
        context.setJobDescription(outer)  # type: ignore[arg-type]  # None clears it
        log.info("step %s: done in %.1f s", description, time.monotonic() - started)
