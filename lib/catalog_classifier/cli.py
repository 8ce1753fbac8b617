"""What every job shares: its command-line options, configuration, logging and session."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass

from pyspark.sql import SparkSession

from catalog_classifier.config import Config, ConfigError, load_config
from catalog_classifier.logs import describe_error, setup_logging
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


def start_job(name: str, args: argparse.Namespace) -> JobContext:
    """Load the configuration, start Spark and open the lakehouse; log the start."""
    from catalog_classifier.storage.spark import build_spark

    config = job_config(args)
    root = config.lakehouse
    if "://" not in root and os.path.exists(root) and not os.path.isdir(root):
        print(f"error: the lakehouse {root} is a file: give --lakehouse a folder", file=sys.stderr)
        raise SystemExit(2)
    log = logging.getLogger(f"catalog_classifier.jobs.{name}")
    log.info("job %s starting: %s", name, {k: v for k, v in vars(args).items()})
    spark = build_spark(config, name)
    # Every Spark job of this run carries the job's name in the Spark UI until a step names it.
    spark.sparkContext.setJobDescription(f"catalog-classifier {name}")
    lakehouse = Lakehouse(spark, config.lakehouse, config.delta_engine)
    log.info("lakehouse %s (Delta engine: %s)", lakehouse.root, lakehouse.engine.name)
    return JobContext(config, spark, lakehouse, log)


def job_failed(job: JobContext, name: str, exc: BaseException) -> int:
    """A run that failed: one line on stderr naming the cause, the full trace in the log at
    DEBUG; returns the job's exit code, 1."""
    job.log.debug("job %s failed", name, exc_info=exc)
    cause = describe_error(exc)
    root = job.lakehouse.root
    # access() says EROFS for a read-only mount even to root: the cause the user can act on.
    if "://" not in root and os.path.isdir(root) and not os.access(root, os.W_OK):
        cause = (
            f"the lakehouse {root} is read-only: give --lakehouse a folder this job can write, "
            f"or make it writable; a run with nothing to write would have passed ({cause})"
        )
    print(f"error: {name} failed: {cause} (full trace at log_level DEBUG)", file=sys.stderr)
    return 1
