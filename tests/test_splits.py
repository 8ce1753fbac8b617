"""Splits: deterministic, stable as data grows, stratified folds; one hash in Spark and Python."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from pyspark.sql import functions as F

from catalog_classifier.config import SplitsConfig
from catalog_classifier.features.splits import assign_splits, hash_unit, hash_unit_column, split_of

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CONFIG = SplitsConfig()


def labelled(spark, n: int, classes: int = 5):
    return spark.createDataFrame(
        [(1_000_000 + i * 7, 10 * (i % classes) + 10) for i in range(n)],
        "productid long, prdtypecode int",
    )


def test_spark_and_python_hash_the_same_way(spark):
    ids = [0, 1, 42, 123456789, 4_000_000_000]
    frame = spark.createDataFrame([(i,) for i in ids], "productid long")
    units = [
        r["u"] for r in frame.select(hash_unit_column(F.col("productid"), "s").alias("u")).collect()
    ]
    assert units == [hash_unit(i, "s") for i in ids]
    assert all(0 <= u < 1 for u in units)
    assert hash_unit(42, "s") != hash_unit(42, "other salt")


def test_a_listing_keeps_its_split_as_data_grows_and_folds_are_stratified(spark):
    small = assign_splits(labelled(spark, 400), CONFIG, NOW).toPandas().set_index("productid")
    large = assign_splits(labelled(spark, 2000), CONFIG, NOW).toPandas().set_index("productid")
    assert (large.loc[small.index, "split"] == small["split"]).all()
    assert (
        small["split"] == [split_of(hash_unit(p, CONFIG.salt), CONFIG) for p in small.index]
    ).all()
    shares = large["split"].value_counts(normalize=True)
    assert abs(shares["train"] - 0.8) < 0.04 and abs(shares["test"] - 0.1) < 0.03
    # Each class has 400 listings: the five folds hold 80 of each, exactly.
    per_class_fold = Counter(zip(large["prdtypecode"], large["fold"], strict=True))
    assert set(per_class_fold.values()) == {80}
    # Stratified in expectation: every class gets its share of train and of valid + test.
    by_class = large.groupby("prdtypecode")["split"].value_counts(normalize=True).unstack()
    assert (by_class["train"].between(0.74, 0.86)).all()
    again = assign_splits(labelled(spark, 2000), CONFIG, NOW).toPandas().set_index("productid")
    assert again.equals(large)
