"""The Petastorm feed: every row once per epoch, and a short epoch is an error, not a quiet loss."""

from __future__ import annotations

import pytest

from catalog_classifier.models.petastorm_feed import PetastormFeed, RowCountError


def test_each_epoch_reads_every_row_once_and_a_short_epoch_raises(spark, tmp_path):
    frame = spark.createDataFrame(
        [(i, [float(i), 1.0], i % 3) for i in range(700)],
        "id long, embedding array<double>, label int",
    )
    with PetastormFeed(spark, frame, str(tmp_path / "cache"), "test", "dummy") as feed:
        assert feed.rows == 700
        orders = []
        for epoch in range(2):
            ids: list[int] = []
            with feed.epoch(batch_size=64, shuffle=True, seed=epoch) as batches:
                for batch in batches:
                    assert batch["embedding"].dtype.is_floating_point
                    ids += batch["id"].tolist()
            assert sorted(ids) == list(range(700))
            orders.append(ids)
        assert orders[0] != orders[1]  # shuffled differently each epoch

        # The data set claims one more row than an epoch delivers: the epoch must fail.
        feed.rows += 1
        with pytest.raises(RowCountError, match="read 700 rows, expected 701"):
            with feed.epoch(batch_size=64) as batches:
                for _ in batches:
                    pass


def test_the_thread_pool_is_refused(spark, tmp_path):
    frame = spark.createDataFrame([(1,)], "id long")
    with pytest.raises(ValueError, match="thread pool loses rows"):
        PetastormFeed(spark, frame, str(tmp_path), "t", reader_pool="thread")
