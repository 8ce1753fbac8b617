"""The Petastorm feed: every row once per epoch, and a short epoch is an error, not a quiet loss."""

from __future__ import annotations

import logging

import pytest

from catalog_classifier.models.petastorm_feed import (
    PETASTORM_NOISE,
    PetastormFeed,
    RowCountError,
)


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


def _petastorm_messages(spark, cache, caplog) -> list[str]:
    """Every petastorm record logged while one feed is built and read for an epoch."""
    caplog.clear()
    frame = spark.createDataFrame(
        [(i, [float(i)], i % 2) for i in range(200)], "id long, embedding array<double>, label int"
    ).repartition(2)  # two parquet files: petastorm's file-size check runs
    with PetastormFeed(spark, frame, cache, "noise", "dummy") as feed:
        with feed.epoch(batch_size=50) as batches:
            for _ in batches:
                pass
    return [r.getMessage() for r in caplog.records if r.name.startswith("petastorm")]


def test_petastorm_noise_is_dropped_at_its_loggers_and_other_messages_pass(
    spark, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    prefixes = tuple(p for group in PETASTORM_NOISE.values() for p in group)
    loggers = [logging.getLogger(name) for name in PETASTORM_NOISE]
    filters = [list(logger.filters) for logger in loggers]
    # The pinned petastorm does log each of these (else the prefixes have gone stale)...
    for logger in loggers:
        logger.filters.clear()
    try:
        unfiltered = _petastorm_messages(spark, str(tmp_path / "a"), caplog)
    finally:
        for logger, kept in zip(loggers, filters, strict=True):
            logger.filters[:] = kept
    for prefix in prefixes:
        assert any(m.startswith(prefix) for m in unfiltered), (prefix, unfiltered)
    # ...and none of them reaches a handler once the feed's module has filtered them.
    shown = _petastorm_messages(spark, str(tmp_path / "b"), caplog)
    assert not [m for m in shown if m.startswith(prefixes)]
    assert any("rows materialised" in r.getMessage() for r in caplog.records)
    logging.getLogger("petastorm.etl.dataset_metadata").warning("a real problem")
    assert caplog.records[-1].getMessage() == "a real problem"
