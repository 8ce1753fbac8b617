"""Folders shipped to the executors (storage.shipping). The whole path on a real cluster, with
the driver's copies removed, is tests/test_jobs.py's; here the mechanism on the local session,
with shipping forced on (a local master ships nothing)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from catalog_classifier.storage import shipping


def test_a_local_master_ships_nothing(spark, tmp_path):
    (tmp_path / "model").mkdir()
    assert not shipping.needs_shipping(spark)
    worker = shipping.ship_folder(spark, tmp_path / "model")
    assert worker == str(tmp_path / "model")
    assert shipping.local_path(worker) == worker


def test_a_shipped_folder_is_read_by_the_tasks_after_the_driver_s_copy_is_gone(
    spark, tmp_path, monkeypatch
):
    monkeypatch.setattr(shipping, "needs_shipping", lambda spark: True)
    folder = tmp_path / "encoder"
    (folder / "nested").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\x00\x01weights")
    (folder / "nested" / "vocab.txt").write_text("a b c", encoding="utf-8")
    worker = shipping.ship_folder(spark, folder)
    assert shipping.is_shipped(worker)
    # The same folder, unchanged, is not packed twice; changed, it is shipped anew.
    assert shipping.ship_folder(spark, folder) == worker
    shutil.rmtree(folder)

    def read(_):
        from catalog_classifier.storage.shipping import local_path

        found = Path(local_path(worker))
        yield (
            found.name,
            (found / "weights.bin").read_bytes(),
            (found / "nested" / "vocab.txt").read_text(),
        )

    rows = spark.sparkContext.parallelize(range(2), 2).mapPartitions(read).collect()
    # The folder keeps its name (an encoder's fingerprint includes it).
    assert rows == [("encoder", b"\x00\x01weights", "a b c")] * 2

    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"other")
    again = shipping.ship_folder(spark, folder)
    assert again != worker
    shutil.rmtree(folder)
    assert (Path(shipping.local_path(again)) / "weights.bin").read_bytes() == b"other"


def test_shipping_names_what_is_missing(spark, tmp_path, monkeypatch):
    monkeypatch.setattr(shipping, "needs_shipping", lambda spark: True)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        shipping.ship_folder(spark, tmp_path / "no_such_model")
    with pytest.raises(FileNotFoundError, match="not unpacked on this machine"):
        shipping.local_path("sparkfiles:never-shipped.tar/model")
