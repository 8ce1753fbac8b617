"""The incremental idiom every derived table follows: find the rows whose key and content hash
the target has not seen, compute only those, MERGE them, log rows/s.

Re-running on unchanged inputs computes nothing and commits nothing; a crash between two runs
loses at most the work of the run that crashed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from pyspark.sql import DataFrame

from catalog_classifier.storage.lakehouse import Lakehouse, WriteResult
from catalog_classifier.storage.tables import TableSpec

log = logging.getLogger(__name__)


def missing_rows(
    rows: DataFrame, done: DataFrame | None, keys: Sequence[str]
) -> DataFrame:
    """``rows`` whose ``keys`` (an id and a content hash) are not among ``done``'s."""
    if done is None:
        return rows
    return rows.join(done.select(*keys), list(keys), "left_anti")


def compute_missing(
    lakehouse: Lakehouse,
    spec: TableSpec,
    rows: DataFrame,
    keys: Sequence[str],
    compute: Callable[[DataFrame], DataFrame],
    what: str,
    done: DataFrame | None = None,
) -> WriteResult:
    """MERGE ``compute(missing rows)`` into ``spec``; ``done`` defaults to the table's keys."""
    lakehouse.ensure(spec)
    if done is None:
        done = lakehouse.read(spec).select(*keys)
    todo = missing_rows(rows, done, keys)
    started = time.monotonic()
    result = lakehouse.merge(spec, compute(todo))
    seconds = time.monotonic() - started
    log.info(
        "%s: %d computed in %.1f s (%.1f rows/s)",
        what,
        result.rows,
        seconds,
        result.rows / seconds if seconds else 0.0,
    )
    return result
