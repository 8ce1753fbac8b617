"""Where the ONNX graphs of the frozen encoders are kept, and how each is made once per machine.

A graph is a pure function of the weights and the versions that export or quantise it, so it is
made once, into the local temporary folder, and reused by every later worker and run.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def export_folder() -> Path:
    return Path(tempfile.gettempdir()) / "catalog-classifier-onnx"


def made_once(path: Path, make: Callable[[Path], None]) -> bool:
    """Make ``path`` with ``make(partial)`` unless it exists; whether this call made it.

    The Python workers of one machine start together: one makes the file under a lock while
    the others wait, then read it. ``make`` writes a temporary name, renamed when complete, so
    no reader ever sees a partial file, and a crash leaves none behind."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_name(path.name + ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            return False
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        try:
            make(partial)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
    return True
