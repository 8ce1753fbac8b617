"""A test hook: kill the process at a named point, as a power cut or ``kill -9`` would.

Set ``CATALOG_CLASSIFIER_CRASH_AT`` to a point's name (``ingest:after_images_batch``), or to
``NAME#N`` to die the N-th time the point is reached, and the process sends itself SIGKILL
there: no ``finally``, no ``atexit``, no flush. The fault suite uses it to stop ingest,
features and score between commits, in the middle of a commit and before the quarantine MERGE
deterministically, then checks that a re-run heals the tables. Unset (always, outside tests),
:func:`crash_point` costs one environment look-up.

Points: ``before_commit:<layer.table>`` (rows staged, nothing committed; every engine),
``during_commit:<layer.table>`` (delta-rs has taken a batch of rows and is writing data files;
no log entry yet), ``ingest:after_images_batch``, ``ingest:before_flags``,
``features:before_duplicate_groups``, ``score:after_chunk`` (a chunk's predictions
committed, the next chunk not scored yet), ``cv:after_fold`` (a cross-validation fold's
checkpoint written and its score logged, the next fold not started).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

CRASH_AT_ENV = "CATALOG_CLASSIFIER_CRASH_AT"

_reached: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """Die here if ``CATALOG_CLASSIFIER_CRASH_AT`` names this point (and this pass)."""
    wanted = os.environ.get(CRASH_AT_ENV)
    if not wanted:
        return
    target, _, nth = wanted.partition("#")
    if target != name:
        return
    _reached[name] += 1
    if _reached[name] == (int(nth) if nth else 1):
        os.kill(os.getpid(), signal.SIGKILL)
