"""Train / valid / test splits and cross-validation folds of the labelled listings.

A listing's split depends only on a salted SHA-256 of its productid, mapped to [0, 1): it keeps
its split whatever else is added to the catalog, and the same function runs in Spark and in plain
Python. Because the hash is independent of the class, each class is split in the configured
proportions up to sampling noise (stratified in expectation). Cross-validation folds are exactly
stratified: within each class, listings are ranked by the same hash and dealt round-robin.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from catalog_classifier.config import SplitsConfig
from catalog_classifier.storage.lakehouse import Lakehouse, WriteResult
from catalog_classifier.storage.tables import (
    BRONZE_LABELS,
    BRONZE_LISTINGS,
    BRONZE_REVIEW_DECISIONS,
    REVIEW_ACCEPTED,
    SILVER_SPLITS,
)

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
# The fold of a listing that is never held out: labelled by an accepted prediction only.
NEVER_HELD_OUT = -1
# labelled_listings' column: the label is an analyst's acceptance of a model's prediction.
ACCEPTED_ONLY = "label_from_acceptance"
# 13 hex digits = 52 bits: exactly representable in a double.
_HASH_HEX_DIGITS = 13


def hash_unit(productid: int, salt: str) -> float:
    """The productid's salted hash in [0, 1): the Python twin of :func:`hash_unit_column`."""
    digest = hashlib.sha256(f"{salt}:{productid}".encode()).hexdigest()
    return int(digest[:_HASH_HEX_DIGITS], 16) / float(16**_HASH_HEX_DIGITS)


def hash_unit_column(productid: Column, salt: str) -> Column:
    digest = F.sha2(F.concat(F.lit(f"{salt}:"), productid.cast("string")), 256)
    as_long = F.conv(F.substring(digest, 1, _HASH_HEX_DIGITS), 16, 10).cast("long")
    return as_long.cast("double") / F.lit(float(16**_HASH_HEX_DIGITS))


def split_of(unit: float, config: SplitsConfig) -> str:
    if unit < config.train:
        return "train"
    return "valid" if unit < config.train + config.valid else "test"


def assign_splits(labelled: DataFrame, config: SplitsConfig, assigned_at: datetime) -> DataFrame:
    """(productid, prdtypecode[, label_from_acceptance]) -> the rows of ``silver.splits``.

    A listing labelled by an analyst's acceptance of a prediction (``label_from_acceptance``,
    see :func:`apply_reviews`) trains but is never evaluated: split ``train`` and fold
    :data:`NEVER_HELD_OUT`, so no figure scores a model against the answers it proposed. The
    other listings are dealt into the folds among themselves, so the folds stay stratified.
    """
    unit = hash_unit_column(F.col("productid"), config.salt)
    if ACCEPTED_ONLY not in labelled.columns:
        labelled = labelled.withColumn(ACCEPTED_ONLY, F.lit(False))
    accepted = F.coalesce(F.col(ACCEPTED_ONLY), F.lit(False))
    split = (
        F.when(accepted, "train")
        .when(F.col("hash_unit") < config.train, "train")
        .when(F.col("hash_unit") < config.train + config.valid, "valid")
        .otherwise("test")
    )
    by_class = Window.partitionBy("prdtypecode", ACCEPTED_ONLY).orderBy("hash_unit", "productid")
    dealt = (F.row_number().over(by_class) - 1) % config.cv_folds
    return (
        labelled.select("productid", "prdtypecode", accepted.alias(ACCEPTED_ONLY))
        .withColumn("hash_unit", unit)
        .withColumn("split", split)
        .withColumn("fold", F.when(accepted, NEVER_HELD_OUT).otherwise(dealt).cast("int"))
        .withColumn("assigned_at", F.lit(assigned_at).cast("timestamp"))
        .drop(ACCEPTED_ONLY)
    )


def latest_reviews(decisions: DataFrame) -> DataFrame:
    """The latest review decision of each listing: productid, reviewed_code (null when the
    analyst marked it unclassifiable), decision (accepted, corrected or unclassifiable)."""
    latest = Window.partitionBy("productid").orderBy(
        F.col("decided_at").desc(), F.col("decision_id").desc()
    )
    return (
        decisions.withColumn("_rank", F.row_number().over(latest))
        .where(F.col("_rank") == 1)
        .select("productid", F.col("prdtypecode").alias("reviewed_code"), "decision")
    )


def apply_reviews(labels: DataFrame, reviews: DataFrame) -> DataFrame:
    """Supplier labels (productid, prdtypecode) with the analysts' decisions first, and which
    labels came from an accepted prediction (``label_from_acceptance``).

    A listing an analyst decided takes the decided code (the prediction accepted, or the code
    corrected to) over its supplier label, labelled or not before; one marked unclassifiable
    leaves the labels; the others keep their supplier label. An acceptance is the model's own
    answer confirmed, not an independent label: such listings train, and
    :func:`assign_splits` keeps them out of every evaluation. ``reviews``:
    :func:`latest_reviews`.
    """
    reviewed = reviews.withColumn("_reviewed", F.lit(True))
    code = F.when(F.col("_reviewed"), F.col("reviewed_code")).otherwise(F.col("prdtypecode"))
    accepted = F.coalesce(F.col("decision") == REVIEW_ACCEPTED, F.lit(False))
    return (
        labels.join(reviewed, "productid", "full_outer")
        .select("productid", code.cast("int").alias("prdtypecode"), accepted.alias(ACCEPTED_ONLY))
        .where(F.col("prdtypecode").isNotNull())
    )


def labelled_listings(lakehouse: Lakehouse) -> DataFrame:
    """Labels of listings that exist in bronze (a label alone cannot be trained on), the review
    app's decisions taking precedence over the supplier labels (:func:`apply_reviews`), with
    ``label_from_acceptance``."""
    listings = lakehouse.read(BRONZE_LISTINGS).select("productid")
    labels = lakehouse.read(BRONZE_LABELS).select("productid", "prdtypecode")
    labels = labels.withColumn(ACCEPTED_ONLY, F.lit(False))
    if lakehouse.exists(BRONZE_REVIEW_DECISIONS):
        labels = apply_reviews(labels, latest_reviews(lakehouse.read(BRONZE_REVIEW_DECISIONS)))
    return labels.join(listings, "productid")


def run_splits(lakehouse: Lakehouse, config: SplitsConfig) -> WriteResult:
    """Write the split of every labelled listing; only new or changed rows are merged."""
    assigned_at = datetime.now(UTC).replace(microsecond=0)
    labelled = labelled_listings(lakehouse)
    rows = assign_splits(labelled, config, assigned_at)
    if lakehouse.exists(SILVER_SPLITS):
        existing = lakehouse.read(SILVER_SPLITS).select("productid", "prdtypecode", "split", "fold")
        rows = rows.join(existing, ["productid", "prdtypecode", "split", "fold"], "left_anti")
        # A listing no longer labelled (an analyst marked it unclassifiable) leaves the splits.
        unlabelled = existing.select("productid").join(labelled, "productid", "left_anti")
        gone = [int(r["productid"]) for r in unlabelled.collect()]
        if gone:
            lakehouse.delete_keys(SILVER_SPLITS, gone)
    result = lakehouse.merge(SILVER_SPLITS, rows)
    counts = {
        r["split"]: r["count"]
        for r in lakehouse.read(SILVER_SPLITS).groupBy("split").count().collect()
    }
    log.info(
        "splits: %s (%d rows written, version %s)",
        {s: counts.get(s, 0) for s in SPLITS},
        result.rows,
        lakehouse.version(SILVER_SPLITS),
    )
    return result
