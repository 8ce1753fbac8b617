"""Folders the executors read (model folders, encoder weights), shipped the way Spark ships files.

On a cluster the executors run on other machines: a model folder the registry downloaded into
the driver's temporary folder, or an encoder folder on the driver's disk, does not exist there.
:func:`ship_folder` packs a folder into an uncompressed tar (the weights are already dense;
gzip would cost seconds per hundred megabytes for nothing), registers it with
``SparkContext.addArchive`` (Spark fetches it once per executor and unpacks it into the
executor's own work folder; the driver gets its copy too) and returns a *worker path*: a
string that :func:`local_path` turns into the folder's path on whichever machine reads it.
Executor code takes worker paths and calls :func:`local_path` where it opens the folder; a
plain path passes through unchanged.

On a local master (``local[*]``, tests, a laptop, a single-node Databricks cluster) the
executors share the driver's disk: :func:`needs_shipping` is false and nothing is packed.
A standalone cluster started by the test suite (tests/test_jobs.py) ships every folder and
removes the driver's downloads once shipped, so an executor that still read a driver path
would fail there.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# A worker path: "sparkfiles:<archive name>/<folder name>".
SCHEME = "sparkfiles:"

# Per Spark application: (folder, its files' sizes and times) -> worker path, so a folder
# shipped once (the encoder, by training and again by the fusion's predictions) is not packed
# and registered twice.
_shipped: dict[tuple[str, str, tuple[tuple[str, int, int], ...]], str] = {}
_archives_dir: list[Path] = []


def needs_shipping(spark: SparkSession) -> bool:
    """Whether executors may run on another machine than the driver (any non-local master)."""
    return not (spark.sparkContext.master or "local").startswith("local")


def _listing(folder: Path) -> tuple[tuple[str, int, int], ...]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    stats = [(p, p.stat()) for p in files]
    return tuple((str(p.relative_to(folder)), s.st_size, s.st_mtime_ns) for p, s in stats)


def _archives() -> Path:
    """This process's folder of archives: Spark serves them from here to executors that start
    later (dynamic allocation), so they stay until the process ends."""
    if not _archives_dir:
        folder = Path(tempfile.mkdtemp(prefix="catalog-classifier-shipped-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _archives_dir.append(folder)
    return _archives_dir[0]


def ship_folder(spark: SparkSession, folder: str | Path) -> str:
    """The worker path of ``folder``: shipped to every executor when :func:`needs_shipping`,
    else the folder's own absolute path. The folder keeps its name on the executors (an
    encoder's fingerprint includes it)."""
    path = Path(folder).expanduser().absolute()
    if not needs_shipping(spark):
        return str(path)
    if not path.is_dir():
        raise FileNotFoundError(f"cannot ship {path} to the executors: not a folder")
    key = (spark.sparkContext.applicationId, str(path), _listing(path))
    if key in _shipped:
        return _shipped[key]
    started = time.monotonic()
    archive = _archives() / f"{path.name}-{uuid.uuid4().hex[:12]}.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(path, arcname=path.name)
    spark.sparkContext.addArchive(str(archive))
    worker = f"{SCHEME}{archive.name}/{path.name}"
    _shipped[key] = worker
    log.info(
        "shipped %s to the executors as %s (%.0f MB, %.1f s)",
        path,
        archive.name,
        archive.stat().st_size / 1e6,
        time.monotonic() - started,
    )
    return worker


def is_shipped(worker_path: str) -> bool:
    return worker_path.startswith(SCHEME)


def local_path(worker_path: str) -> str:
    """Where a worker path's folder lies on this machine (an executor's or the driver's)."""
    if not is_shipped(worker_path):
        return worker_path
    from pyspark import SparkFiles

    archive, _, name = worker_path[len(SCHEME) :].partition("/")
    found = os.path.join(SparkFiles.get(archive), name)
    if not os.path.isdir(found):
        raise FileNotFoundError(
            f"{worker_path}: not unpacked on this machine ({found} is missing); it must be "
            "shipped by the driver of this Spark application"
        )
    return found
