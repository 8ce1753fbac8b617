"""A Spark standalone cluster on this machine, started from pyspark's own jars: a master and
workers (``bin/spark-class org.apache.spark.deploy.master.Master`` / ``...worker.Worker``), each
worker with its own work folder and temporary folders, as separate machines would have. Jobs
reach it with ``spark-submit --master <url>``; their executors run in processes the workers
start, not in the driver's JVM as under ``local[*]``."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyspark
from tests.helpers import free_port

REGISTERED = "Successfully registered with master"


def _wait_for(logs: list[Path], text: str, processes: list[subprocess.Popen], timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(log.exists() and text in log.read_text(errors="replace") for log in logs):
            return
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"a cluster daemon exited with {process.returncode}")
        time.sleep(0.5)
    tails = "\n".join(log.read_text(errors="replace")[-2000:] for log in logs if log.exists())
    raise TimeoutError(f"the standalone cluster did not start in {timeout:.0f} s:\n{tails}")


@contextmanager
def standalone_cluster(
    root: Path, workers: int = 2, cores: int = 1, memory: str = "2g"
) -> Iterator[str]:
    """Start a master and ``workers`` workers under ``root``; yield the master's URL; stop them."""
    spark_home = Path(pyspark.__file__).parent
    spark_class = str(spark_home / "bin" / "spark-class")
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home),
        "SPARK_DAEMON_MEMORY": "256m",
        "SPARK_LOG_DIR": str(root / "logs"),
    }
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    root.mkdir(parents=True, exist_ok=True)
    processes: list[subprocess.Popen] = []
    logs: list[Path] = []

    def start(name: str, args: list[str], extra: dict[str, str]) -> None:
        log = root / f"{name}.log"
        with log.open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [spark_class, *args],
                    env={**env, **extra},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # stopped with its children (the executors)
                )
            )
        logs.append(log)

    try:
        start(
            "master",
            [
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--webui-port",
                "0",
            ],
            {},
        )
        for i in range(workers):
            local = root / f"worker{i}" / "tmp"
            local.mkdir(parents=True)
            start(
                f"worker{i}",
                [
                    "org.apache.spark.deploy.worker.Worker",
                    "--host",
                    "127.0.0.1",
                    "--cores",
                    str(cores),
                    "--memory",
                    memory,
                    "--work-dir",
                    str(root / f"worker{i}" / "work"),
                    "--webui-port",
                    "0",
                    url,
                ],
                {"SPARK_LOCAL_DIRS": str(local)},
            )
        _wait_for(logs[1:], REGISTERED, processes, timeout=120)
        yield url
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
