"""onnx_files.made_once: a graph is made by one worker, never read half-written, never left
half-written by a failure."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from catalog_classifier.models.onnx_files import made_once


def _slow_make(target: Path) -> None:
    target.write_bytes(b"first half ")
    time.sleep(0.5)
    with target.open("ab") as handle:
        handle.write(b"second half")


def _make_in_a_process(path: str, made: multiprocessing.Queue) -> None:
    made.put(made_once(Path(path), _slow_make))


def test_two_workers_make_the_file_once_and_both_read_it_whole(tmp_path):
    path = tmp_path / "graph.onnx"
    context = multiprocessing.get_context("spawn")
    made: multiprocessing.Queue = context.Queue()
    workers = [
        context.Process(target=_make_in_a_process, args=(str(path), made)) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert sorted([made.get(timeout=5), made.get(timeout=5)]) == [False, True]
    assert path.read_bytes() == b"first half second half"
    assert not list(tmp_path.glob("*.partial"))
    assert made_once(path, lambda target: pytest.fail("made again")) is False


def test_a_failed_make_leaves_no_file(tmp_path):
    path = tmp_path / "graph.onnx"

    def broken(target: Path) -> None:
        target.write_bytes(b"half")
        raise RuntimeError("exporter crashed")

    with pytest.raises(RuntimeError, match="exporter crashed"):
        made_once(path, broken)
    assert not path.exists() and not list(tmp_path.glob("*.partial"))
    assert made_once(path, lambda target: target.write_bytes(b"whole")) is True
    assert path.read_bytes() == b"whole"
