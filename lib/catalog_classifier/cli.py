"""What every job shares: its command-line options, configuration, logging and session."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import SparkSession

from catalog_classifier.config import Config, ConfigError, load_config
from catalog_classifier.logs import (
    LOG_FORMAT,
    describe_error,
    failed_steps,
    is_disk_full,
    setup_logging,
)
from catalog_classifier.storage.lakehouse import Lakehouse


def job_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every job accepts."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--config",
        "--conf",
        dest="config",
        default=None,
        help="conf YAML file (default conf/local.yaml)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override one conf value, e.g. --set ingest.image_batch_files=500 (repeatable)",
    )
    parser.add_argument(
        "--lakehouse", default=None, help="lakehouse root folder (default from conf)"
    )
    return parser


def job_config(args: argparse.Namespace) -> Config:
    """The job's configuration; a bad conf file or ``--set`` ends the job with one line on
    stderr and exit code 2 (a usage error, as argparse's), not a traceback."""
    try:
        config = load_config(args.config, args.overrides, lakehouse=args.lakehouse)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    setup_logging(config.log_level)
    return config


@dataclass
class JobContext:
    config: Config
    spark: SparkSession
    lakehouse: Lakehouse
    log: logging.Logger
    # The run's log file: the Python log, a failure's trace; the JVM's beside it (.jvm.log).
    log_file: Path | None = None


# A failure's full trace goes to the run's log file only, never to the terminal.
TRACE = logging.getLogger("catalog_classifier.jobs.trace")
TRACE.propagate = False


def open_log_file(name: str, config: Config) -> Path | None:
    """The run's log file (``log_dir``/<job>-<UTC time>-<pid>.log), receiving the Python log
    from here on and, through :data:`TRACE`, a failure's trace; None if it cannot be made."""
    folder = Path(config.log_dir or Path(tempfile.gettempdir()) / "catalog-classifier-logs")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{name}-{stamp}-{os.getpid()}.log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as exc:  # a full or read-only disk: the terminal keeps everything
        logging.getLogger(__name__).warning("no log file for this run (%s): %s", path, exc)
        return None
    handler.setFormatter(logging.Formatter(LOG_FORMAT, "%Y-%m-%d %H:%M:%S"))
    for logger in (logging.getLogger(), TRACE):
        for old in [h for h in logger.handlers if getattr(h, "_job_file", False)]:
            logger.removeHandler(old)  # an earlier job of this process (tests, notebooks)
            old.close()
        handler._job_file = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    return path


def start_job(name: str, args: argparse.Namespace) -> JobContext:
    """Load the configuration, start Spark and open the lakehouse; log the start. The run's
    log file takes the JVM's log output (Java stack traces included) off the terminal."""
    from catalog_classifier.storage.spark import build_spark, route_jvm_logs

    config = job_config(args)
    root = config.lakehouse
    if "://" not in root and os.path.exists(root) and not os.path.isdir(root):
        print(f"error: the lakehouse {root} is a file: give --lakehouse a folder", file=sys.stderr)
        raise SystemExit(2)
    log = logging.getLogger(f"catalog_classifier.jobs.{name}")
    log_file = open_log_file(name, config)
    log.info("job %s starting: %s", name, {k: v for k, v in vars(args).items()})
    spark = build_spark(config, name)
    if log_file is not None and route_jvm_logs(spark, str(log_file.with_suffix(".jvm.log"))):
        log.info("log file %s (the JVM's: %s)", log_file, log_file.with_suffix(".jvm.log").name)
    # Every Spark job of this run carries the job's name in the Spark UI until a step names it.
    spark.sparkContext.setJobDescription(f"catalog-classifier {name}")
    lakehouse = Lakehouse(spark, config.lakehouse, config.delta_engine)
    log.info("lakehouse %s (Delta engine: %s)", lakehouse.root, lakehouse.engine.name)
    return JobContext(config, spark, lakehouse, log, log_file)


def job_failed(job: JobContext, name: str, exc: BaseException) -> int:
    """A run that failed: one line on stderr naming the cause, the full trace in the run's log
    file (at log_level DEBUG on the terminal too); returns the job's exit code, 1."""
    job.log.debug("job %s failed", name, exc_info=exc)
    TRACE.error("job %s failed", name, exc_info=exc)
    cause = describe_error(exc)
    steps = failed_steps(exc)
    step = f" while {': '.join(steps)}" if steps else ""
    root = job.lakehouse.root
    # access() says EROFS for a read-only mount even to root: the cause the user can act on.
    if "://" not in root and os.path.isdir(root) and not os.access(root, os.W_OK):
        cause = (
            f"the lakehouse {root} is read-only: give --lakehouse a folder this job can write, "
            f"or make it writable; a run with nothing to write would have passed ({cause}){step}"
        )
    elif is_disk_full(exc):
        # Every Delta commit is one atomic log entry: what failed left no table half-written,
        # and the same command re-run once there is space completes the work.
        cause = (
            f"disk full (No space left on device){step}: free space on the disk of the "
            f"lakehouse {root} (or of Spark's spark.local.dir) and re-run the same command; "
            "no table was left with a partial commit"
        )
    else:
        cause += step
    where = f"full trace in {job.log_file}" if job.log_file else "full trace at log_level DEBUG"
    print(f"error: {name} failed: {cause} ({where})", file=sys.stderr)
    return 1
