"""Faults of the machine, not of the input: a job run on a full disk (ENOSPC) or on a read-only
lakehouse, for the fault suite and its benchmark (issue 32).

Both are real, made by the kernel, without root and without touching the machine's disks: the
job runs in a mount namespace of its own (``unshare --map-root-user --mount``, which an
unprivileged user may create where user namespaces are enabled, as on Debian and in GitHub's
runners), where the lakehouse folder is covered by

- a tmpfs holding a copy of it and a filler file leaving ``free_kib`` free: the job's writes
  fail with ENOSPC ("No space left on device") from the kernel, as on a full disk;
- or a read-only bind mount of itself: writes fail with EROFS, even for root (file permissions
  would not stop root).

The mounts end with the namespace; what the job left on the small disk is copied out first, so
that the test can check that no table was left with a partial commit and that a re-run heals.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UNSHARE = ["unshare", "--map-root-user", "--mount"]


def private_mounts_unavailable() -> str | None:
    """Why no private tmpfs can be mounted here (None when it can): the caller skips."""
    if shutil.which("unshare") is None:
        return "no unshare command"
    probe = subprocess.run(
        [*UNSHARE, "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt && umount /mnt"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"no private mount namespace here: {probe.stderr.strip()}"
    return None


def job_command(job: str, lakehouse: Path, settings: list[str], extra: list[str]) -> list[str]:
    """The job's command line, as a user runs it (its own interpreter, its own Spark)."""
    sets = [a for s in settings for a in ("--set", s)]
    return [sys.executable, str(REPO / "jobs" / f"{job}.py"), "--lakehouse", str(lakehouse)] + [
        *sets,
        *extra,
    ]


def job_env() -> dict[str, str]:
    """The job's environment: the library of this checkout, in the driver and Spark's workers."""
    path = [str(REPO / "lib"), str(REPO), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, path))}


@dataclass
class FaultRun:
    returncode: int
    stderr: str
    after: Path | None  # the lakehouse as the job left it (full disk only; a copy)

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]

    @property
    def java_frames(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.lstrip().startswith("at ")]


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def run_on_full_disk(
    lakehouse: Path, command: list[str], after: Path, free_kib: int, timeout_s: int = 1800
) -> FaultRun:
    """``command`` with ``lakehouse`` on a disk that has ``free_kib`` KiB left; the lakehouse as
    the job left it is copied to ``after`` (the folder ``lakehouse`` itself is not changed)."""
    seed = lakehouse.with_name(lakehouse.name + ".seed")
    shutil.copytree(lakehouse, seed, symlinks=True)
    size = _folder_bytes(seed) * 2 + (32 << 20)
    lh, sd, out = (shlex.quote(str(p)) for p in (lakehouse, seed, after))
    script = (
        f"mount -t tmpfs -o size={size} tmpfs {lh} && cp -a {sd}/. {lh}/ "
        f"&& {{ cat /dev/zero > {lh}/.filler 2>/dev/null; "
        f"truncate -s -{int(free_kib)}K {lh}/.filler; }} || exit 90\n"
        '"$@"\nstatus=$?\n'
        f"rm -f {lh}/.filler && mkdir -p {out} && cp -a {lh}/. {out}/ || exit 91\n"
        "exit $status\n"
    )
    try:
        completed = subprocess.run(
            [*UNSHARE, "sh", "-c", script, "sh", *command],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=job_env(),
        )
    finally:
        shutil.rmtree(seed, ignore_errors=True)
    assert completed.returncode not in (90, 91), completed.stderr[-2000:]
    return FaultRun(completed.returncode, completed.stderr, after)


def run_read_only(lakehouse: Path, command: list[str], timeout_s: int = 1800) -> FaultRun:
    """``command`` with ``lakehouse`` bind-mounted read-only over itself."""
    lh = shlex.quote(str(lakehouse))
    script = f'mount --bind {lh} {lh} && mount -o remount,bind,ro {lh} || exit 90\nexec "$@"'
    completed = subprocess.run(
        [*UNSHARE, "sh", "-c", script, "sh", *command],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=job_env(),
    )
    assert completed.returncode != 90, completed.stderr[-2000:]
    return FaultRun(completed.returncode, completed.stderr, None)


def one_line_failure(run: FaultRun, job: str, reason: str) -> list[str]:
    """What is wrong with a failed run's terminal output (empty: one ``error: JOB failed:``
    line holding ``reason`` and naming its log file, exit code 1, no Python or Java trace)."""
    problems = []
    if run.returncode != 1:
        problems.append(f"exit code {run.returncode}, not 1")
    errors = run.error_lines
    if len(errors) != 1:
        problems.append(f"{len(errors)} error lines: {errors}")
    elif not errors[0].startswith(f"error: {job} failed: ") or reason not in errors[0]:
        problems.append(f"error line without {reason!r}: {errors[0]}")
    elif "(full trace in " not in errors[0]:
        problems.append(f"error line names no log file: {errors[0]}")
    if "Traceback" in run.stderr:
        problems.append("a Python traceback on the terminal")
    if run.java_frames:
        problems.append(f"{len(run.java_frames)} Java stack frames on the terminal")
    return problems


def log_file_of(run: FaultRun) -> Path:
    return Path(run.error_lines[0].rsplit("(full trace in ", 1)[1].rstrip(")"))


def staging_left(lakehouse: Path) -> list[str]:
    """Staging folders a failed write left in the lakehouse (they hold the space that ran
    out)."""
    staging = lakehouse / "_staging"
    return sorted(p.name for p in staging.iterdir()) if staging.is_dir() else []
