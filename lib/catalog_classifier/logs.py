"""Logging set-up and progress reporting for long steps (rows done, rows/s)."""

from __future__ import annotations

import errno
import logging
import sys
import time

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str = "INFO") -> None:
    """Log to stderr in one format for every job; quiet the chattiest third-party loggers."""
    root = logging.getLogger()
    if not any(getattr(h, "_catalog_classifier", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT, "%Y-%m-%d %H:%M:%S"))
        handler._catalog_classifier = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("py4j", "py4j.clientserver", "deltalake"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class Progress:
    """Logs rows done and rows/s of a long step, at most once every ``every_s`` seconds."""

    def __init__(
        self, logger: logging.Logger, step: str, total: int | None = None, every_s: float = 10.0
    ) -> None:
        self.logger = logger
        self.step = step
        self.total = total
        self.every_s = every_s
        self.done = 0
        self.started = time.monotonic()
        self._last_log = self.started

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    @property
    def rows_per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def update(self, rows: int, force: bool = False) -> None:
        self.done += rows
        now = time.monotonic()
        if force or now - self._last_log >= self.every_s:
            self._last_log = now
            self._log()

    def finish(self) -> None:
        self._log(final=True)

    def _log(self, final: bool = False) -> None:
        of_total = f"/{self.total:,}" if self.total is not None else ""
        self.logger.info(
            "%s: %s%s rows%s in %.1f s (%.0f rows/s)",
            self.step,
            f"{self.done:,}",
            of_total,
            " done" if final else "",
            self.elapsed_s,
            self.rows_per_s,
        )


def worker_logger(name: str, level: str = "INFO") -> logging.Logger:
    """A logger for code run by Spark's Python workers, which have no logging set up.

    Messages go to the worker's stderr: the console in local mode, the executor's log on a
    cluster. Called once per partition, it configures each worker process once.
    """
    root = logging.getLogger()
    if not any(getattr(h, "_catalog_classifier", False) for h in root.handlers):
        setup_logging(level)
    return logging.getLogger(name)


def describe_error(exc: BaseException, limit: int = 500) -> str:
    """One line for a person or a quarantine row: the exception's type and first line, or for an
    error raised in Spark's JVM its root cause's (py4j's own text is the whole Java trace)."""
    text = str(exc)
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            cause = java
            while cause.getCause() is not None:
                cause = cause.getCause()
            text = f"{cause.getClass().getSimpleName()}: {cause.getMessage()}"
        except Exception:  # noqa: BLE001 - a gateway already gone: py4j's text will do
            pass
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {first}"[:limit]


# Where a failure happened, recorded on the exception as it leaves each named step (a job step,
# a table write), innermost first: the job's one error line names them.
_STEPS_ATTRIBUTE = "catalog_classifier_steps"
# How a full disk reads in the errors that reach Python: OSError's text, Java's IOException
# (through py4j), delta-rs' object store error ("... (os error 28)"), SQLite's (MLflow's store).
_DISK_FULL_TEXTS = ("No space left on device", "os error 28", "ENOSPC", "database or disk is full")


def note_step(exc: BaseException, step: str) -> None:
    """Record on ``exc`` that it came out of ``step`` (called from the innermost step out)."""
    try:
        steps = exc.__dict__.setdefault(_STEPS_ATTRIBUTE, [])
    except AttributeError:  # an exception type without a __dict__
        return
    if step not in steps:
        steps.append(step)


def failed_steps(exc: BaseException) -> list[str]:
    """The steps ``exc`` came out of, outermost first ([] when none was named)."""
    return list(reversed(getattr(exc, _STEPS_ATTRIBUTE, [])))


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc``, or an exception it was raised from, is a full disk (ENOSPC), in Python
    or in the JVM or delta-rs below it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return True
        if any(text in str(current) for text in _DISK_FULL_TEXTS):
            return True
        current = current.__cause__ or current.__context__
    return False
