"""Local Spark start-up and small-job cost, with and without conf/local.yaml's JVM options.

    .venv/bin/python benchmarks/spark_startup.py [--jobs 3]

Starts a local[2] session in a fresh process twice: with the JVM's default options, and with
the options conf/local.yaml sets (C1 JIT only, no bytecode re-verification). For each, prints the
wall time to a session, the JVM's CPU seconds at that point, and the wall time of a few small
groupBy jobs. The figures come last, as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))


def jvm_cpu_seconds() -> float:
    import psutil

    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def measure(java_options: str, jobs: int) -> dict[str, float | list[float]]:
    """Run in a child process: one session, a few small jobs."""
    started = time.monotonic()
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if java_options:
        builder = builder.config("spark.driver.extraJavaOptions", java_options)
    spark = builder.getOrCreate()
    start_s = time.monotonic() - started
    start_cpu = jvm_cpu_seconds()
    job_s = []
    for _ in range(jobs):
        began = time.monotonic()
        spark.range(100_000).selectExpr("id % 17 AS k").groupBy("k").count().collect()
        job_s.append(round(time.monotonic() - began, 2))
    total_cpu = jvm_cpu_seconds()
    spark.stop()
    return {
        "start_s": round(start_s, 1),
        "jvm_cpu_at_start_s": round(start_cpu, 1),
        "job_s": job_s,
        "jvm_cpu_total_s": round(total_cpu, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.jobs)))
        return 0

    from catalog_classifier.config import load_config

    tuned = load_config(REPO / "conf" / "local.yaml").spark.conf["spark.driver.extraJavaOptions"]
    figures: dict[str, object] = {"benchmark": "spark_startup", "tuned_options": tuned}
    for name, options in (("default", ""), ("tuned", tuned)):
        completed = subprocess.run(
            [sys.executable, __file__, "--jobs", str(args.jobs), "--child", options],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        figures[name] = result
        print(
            f"{name:8} session in {result['start_s']} s (JVM CPU {result['jvm_cpu_at_start_s']} s),"
            f" jobs {result['job_s']} s, JVM CPU in all {result['jvm_cpu_total_s']} s"
        )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
