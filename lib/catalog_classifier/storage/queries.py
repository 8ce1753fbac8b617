"""The catalog team's everyday questions about the predictions, as Spark SQL.

``register_views`` exposes the Delta tables as temporary views (whatever the Delta engine):

* ``predictions``: gold.predictions as of now (every fused model version);
* ``current_predictions``: the rows of the newest fused model version;
* ``previous_predictions``: gold.predictions as it was before the latest scoring run
  (Delta time travel: the last table version committed before that run started);
* ``predictions_history``: the last ``history_versions`` versions of gold.predictions, each row
  with its ``table_version`` (time travel, for one product's history);
* ``listings``: bronze.listings.

On Databricks or with the Delta connector the same SQL runs against the tables themselves
(``VERSION AS OF`` for time travel); docs/operations.md shows both.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import BRONZE_LISTINGS, GOLD_PREDICTIONS

log = logging.getLogger(__name__)

QUERIES: dict[str, str] = {
    # Listings waiting for a person, by category: where to send reviewers first.
    "review_queue_by_category": """
        SELECT prdtypecode, category, COUNT(*) AS listings,
               ROUND(AVG(confidence), 3) AS mean_confidence
        FROM current_predictions
        WHERE needs_review
        GROUP BY prdtypecode, category
        ORDER BY listings DESC
    """,
    # Category counts now against the previous scoring run (time travel).
    "category_counts_vs_previous_run": """
        WITH today AS (
            SELECT category, COUNT(*) AS listings FROM current_predictions GROUP BY category
        ), before AS (
            SELECT category, COUNT(*) AS listings FROM previous_predictions
            WHERE model_version = (SELECT MAX(model_version) FROM current_predictions)
            GROUP BY category
        )
        SELECT COALESCE(today.category, before.category) AS category,
               COALESCE(before.listings, 0) AS previous_run,
               COALESCE(today.listings, 0) AS today,
               COALESCE(today.listings, 0) - COALESCE(before.listings, 0) AS change
        FROM today FULL OUTER JOIN before ON today.category = before.category
        ORDER BY ABS(change) DESC, category
    """,
    # Listings whose text and image models disagree, the most confident image first.
    "text_image_disagreements": """
        WITH opinions AS (
            SELECT p.*,
                   CAST(get_json_object(p.members, '$.text.prdtypecode') AS INT)
                       AS text_prdtypecode,
                   CAST(get_json_object(p.members, '$.text.probability') AS DOUBLE)
                       AS text_probability,
                   CAST(get_json_object(p.members, '$.image.prdtypecode') AS INT)
                       AS image_prdtypecode,
                   CAST(get_json_object(p.members, '$.image.probability') AS DOUBLE)
                       AS image_probability
            FROM current_predictions p
        )
        SELECT p.productid, l.designation, p.prdtypecode, p.category, p.confidence,
               p.text_prdtypecode, ROUND(p.text_probability, 3) AS text_probability,
               p.image_prdtypecode, ROUND(p.image_probability, 3) AS image_probability
        FROM opinions p JOIN listings l ON l.productid = p.productid
        WHERE p.image_prdtypecode IS NOT NULL AND p.text_prdtypecode <> p.image_prdtypecode
        ORDER BY p.image_probability DESC
    """,
    # One product's predictions through the table's versions (time travel).
    "product_history": """
        SELECT MIN(table_version) AS first_seen_in_version, model_version, prdtypecode,
               category, ROUND(confidence, 3) AS confidence, needs_review, input_hash, scored_at
        FROM predictions_history
        WHERE productid = {productid}
        GROUP BY model_version, prdtypecode, category, confidence, needs_review, input_hash,
                 scored_at
        ORDER BY scored_at, model_version
    """,
}


# What each query answers, for the documentation (docs/tables.md) and the notebooks.
QUERY_TITLES: dict[str, str] = {
    "review_queue_by_category": "Listings needing review, by category: where to send reviewers "
    "first.",
    "category_counts_vs_previous_run": "Category counts now against the previous scoring run "
    "(time travel).",
    "text_image_disagreements": "Listings whose text and image models disagree, the most "
    "confident image first.",
    "product_history": "One product's predictions through the table's versions (time travel); "
    "`{productid}` is the product asked about.",
}

# The views the queries read, as register_views creates them.
VIEWS: dict[str, str] = {
    "predictions": "gold.predictions as of now (every fused model version).",
    "current_predictions": "The rows of the newest fused model version.",
    "previous_predictions": "gold.predictions as it was before the latest scoring run began "
    "(the last version committed before it).",
    "predictions_history": "The last versions of gold.predictions, each row with its "
    "`table_version`.",
    "listings": "bronze.listings.",
}


def previous_run_version(lakehouse: Lakehouse) -> int | None:
    """The last version of gold.predictions committed before the latest scoring run began."""
    if not lakehouse.exists(GOLD_PREDICTIONS):
        return None
    latest = lakehouse.read(GOLD_PREDICTIONS).agg(F.max("scored_at")).first()
    assert latest is not None  # a global aggregate has exactly one row
    latest_run = latest[0]
    if latest_run is None:
        return None
    started = latest_run.replace(tzinfo=UTC) if latest_run.tzinfo is None else latest_run
    before = [
        int(commit["version"])
        for commit in lakehouse.history(GOLD_PREDICTIONS)
        if _commit_time(commit) < started
    ]
    return max(before) if before else None


def _commit_time(commit: dict[str, Any]) -> datetime:
    stamp = commit.get("timestamp")
    if isinstance(stamp, datetime):
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    if stamp is None:  # both engines give every commit one
        raise ValueError(f"Delta commit {commit.get('version')} has no timestamp")
    return datetime.fromtimestamp(float(stamp) / 1000.0, tz=UTC)


def register_views(lakehouse: Lakehouse, history_versions: int = 10) -> dict[str, int | None]:
    """Create the temporary views the queries read; returns the table versions they show."""
    spark = lakehouse.spark
    lakehouse.ensure(GOLD_PREDICTIONS)
    current_version = lakehouse.version(GOLD_PREDICTIONS)
    predictions = lakehouse.read(GOLD_PREDICTIONS)
    predictions.createOrReplaceTempView("predictions")
    newest_row = predictions.agg(F.max(F.col("model_version").cast("long"))).first()
    assert newest_row is not None  # a global aggregate has exactly one row
    newest = newest_row[0]
    predictions.filter(
        F.col("model_version").cast("long") == F.lit(newest)
    ).createOrReplaceTempView("current_predictions")
    previous = previous_run_version(lakehouse)
    previous_frame = (
        lakehouse.read(GOLD_PREDICTIONS, previous)
        if previous is not None
        else spark.createDataFrame([], GOLD_PREDICTIONS.spark_schema())
    )
    previous_frame.createOrReplaceTempView("previous_predictions")
    history: DataFrame | None = None
    first = max(0, (current_version or 0) - history_versions + 1)
    for version in range(first, (current_version or 0) + 1):
        frame = lakehouse.read(GOLD_PREDICTIONS, version).withColumn(
            "table_version", F.lit(version)
        )
        history = frame if history is None else history.unionByName(frame)
    assert history is not None
    history.createOrReplaceTempView("predictions_history")
    lakehouse.read(BRONZE_LISTINGS).createOrReplaceTempView("listings")
    return {"current": current_version, "previous_run": previous}


def run_query(lakehouse: Lakehouse, name: str, limit: int = 1000, **params: Any) -> pd.DataFrame:
    """One of ``QUERIES`` (views must be registered), as a pandas frame of at most ``limit``."""
    sql = QUERIES[name]
    if "{productid}" in sql:
        sql = sql.format(productid=int(params.get("productid", 0)))
    return lakehouse.spark.sql(sql).limit(limit).toPandas()
