"""What the frozen encoders' ONNX graphs share: where they are kept, how each is made once per
machine, the quantiser's quiet, and how a graph is run on the CPU.

A graph is a pure function of the weights and the versions that export or quantise it, so it is
made once, into the local temporary folder, and reused by every later worker and run.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# The opset every export writes; the quantisation setting's one non-float value.
OPSET = 17
INT8 = "int8"


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


@contextmanager
def quiet_quantizer() -> Iterator[None]:
    """ONNX Runtime's quantiser logs advice ("consider pre-processing", ...) on the root logger
    at every call: nothing to a user of the features. Errors still show."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def cpu_session(path: Path, threads: int) -> Any:
    """An ONNX Runtime session of the graph at ``path`` on the CPU, ``threads`` threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its graph-optimiser notes are not ours
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
