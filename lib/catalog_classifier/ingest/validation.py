"""Validating listings and labels: pure functions from DataFrame to DataFrame that split the
rows read into valid ones and quarantine rows, each with its reason."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from catalog_classifier.config import IngestConfig
from catalog_classifier.ingest.records import (
    CORRUPT,
    LISTING_FIELDS,
    code_problem_column,
    id_problem_column,
)
from catalog_classifier.storage.tables import (
    BRONZE_QUARANTINE,
)

log = logging.getLogger(__name__)


def _first_problem(*problems: Column) -> Column:
    return F.coalesce(*problems)


def raw_text(fields: Sequence[str], max_chars: int) -> Column:
    as_csv = F.to_csv(F.struct(*[F.col(f) for f in fields]))
    return F.substring(F.coalesce(F.col(CORRUPT), as_csv), 1, max_chars)


def quarantine_rows(
    df: DataFrame,
    record_kind: str | Column,
    reason: Column,
    detail: Column,
    raw: Column,
    locator: Column,
    ingested_at: datetime,
) -> DataFrame:
    """Rows in the quarantine table's schema, keyed by a hash of what makes them unique."""
    out = df.select(
        F.col("source_file").alias("source"),
        locator.cast("string").alias("locator"),
        (F.lit(record_kind) if isinstance(record_kind, str) else record_kind).alias("record_kind"),
        reason.alias("reason"),
        detail.alias("detail"),
        raw.alias("raw_record"),
    )
    key = F.sha2(
        F.concat_ws("\u001f", "source", "locator", "reason", F.coalesce("raw_record", F.lit(""))),
        256,
    )
    return out.select(
        key.alias("quarantine_id"),
        "*",
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
    ).select(*BRONZE_QUARANTINE.column_names)


def validate_listings(
    raw: DataFrame, ingested_at: datetime, cfg: IngestConfig
) -> tuple[DataFrame, DataFrame, DataFrame, DataFrame]:
    """Split raw listing rows into (listing rows, quarantine rows, row index -> productid, the
    persisted rows the three are selected from: the caller unpersists it when done).

    Listing rows are in ``bronze.listings``' schema (``has_image`` still false). Within the
    batch, repeated productids with identical content keep their first row (the others are
    quarantined as ``duplicate_listing``); with different content none is kept
    (``conflicting_duplicate_productid``), since nothing says which is right.
    """
    description = F.when(F.col("description") == "", None).otherwise(F.col("description"))
    checked = raw.withColumn(
        "problem",
        _first_problem(
            F.when(F.col(CORRUPT).isNotNull(), F.lit("unparsable_row")),
            id_problem_column("row_index"),
            id_problem_column("productid"),
            id_problem_column("imageid"),
            F.when(
                F.col("designation").isNull() | (F.trim("designation") == ""),
                F.lit("missing_designation"),
            ),
        ),
    ).withColumn("description", description)
    parsed = checked.filter(F.col("problem").isNull()).select(
        F.trim("productid").cast("long").alias("productid"),
        F.trim("imageid").cast("long").alias("imageid"),
        "designation",
        "description",
        "source_file",
        F.trim("row_index").cast("long").alias("source_row"),
    )
    parsed = parsed.withColumn(
        "content_sha256",
        F.sha2(
            F.concat_ws(
                "\u001f",
                F.col("imageid").cast("string"),
                "designation",
                F.coalesce("description", F.lit("\u0000")),
            ),
            256,
        ),
    )
    by_product = Window.partitionBy("productid")
    ordered = by_product.orderBy("source_file", "source_row")
    ranked = (
        parsed.withColumn("versions", F.size(F.collect_set("content_sha256").over(by_product)))
        .withColumn("rank", F.row_number().over(ordered))
        .withColumn("first_row", F.first("source_row").over(ordered))
    )
    # The window (a shuffle of every valid row, texts included) is read by the listings, the
    # duplicates' quarantine rows and the labels' row index join: computed once.
    ranked = ranked.persist(StorageLevel.MEMORY_AND_DISK)
    duplicate_reason = F.when(F.col("versions") > 1, F.lit("conflicting_duplicate_productid")).when(
        F.col("rank") > 1, F.lit("duplicate_listing")
    )
    ranked = ranked.withColumn("duplicate_reason", duplicate_reason)
    listings = ranked.filter(F.col("duplicate_reason").isNull()).select(
        "productid",
        "imageid",
        "designation",
        "description",
        "content_sha256",
        F.lit(False).alias("has_image"),
        "source_file",
        "source_row",
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
    )
    bad_rows = quarantine_rows(
        checked.filter(F.col("problem").isNotNull()),
        "listing",
        F.col("problem"),
        F.concat(F.lit("listing row rejected: "), F.col("problem")),
        raw_text(LISTING_FIELDS, cfg.quarantine_raw_chars),
        F.coalesce(F.col("row_index"), F.lit("?")),
        ingested_at,
    )
    duplicates = quarantine_rows(
        ranked.filter(F.col("duplicate_reason").isNotNull()).withColumn(CORRUPT, F.lit(None)),
        "listing",
        F.col("duplicate_reason"),
        F.when(
            F.col("duplicate_reason") == "duplicate_listing",
            F.concat(F.lit("same content as row "), F.col("first_row").cast("string")),
        ).otherwise(
            F.concat(
                F.lit("productid "),
                F.col("productid").cast("string"),
                F.lit(" has different content in several rows; none kept"),
            )
        ),
        raw_text(
            ("source_row", "designation", "description", "productid", "imageid"),
            cfg.quarantine_raw_chars,
        ),
        F.col("source_row"),
        ingested_at,
    )
    row_products = ranked.filter(F.col("versions") == 1).select(
        "source_file", F.col("source_row").alias("row_index"), "productid"
    )
    return listings, bad_rows.unionByName(duplicates), row_products, ranked


def validate_labels(
    raw: DataFrame,
    join_on: str,
    row_products: DataFrame,
    known_products: DataFrame,
    codes: Sequence[int],
    ingested_at: datetime,
    cfg: IngestConfig,
) -> tuple[DataFrame, DataFrame]:
    """Split raw label rows into (label rows, quarantine rows).

    ``join_on="row_index"``: a label belongs to the listing at the same row index of the paired
    listings CSV (``row_products``: source_file, row_index, productid). ``"productid"``: the
    label names its product, which must be in ``known_products`` (productid).
    """
    locator = "row_index" if join_on == "row_index" else "productid"
    checked = raw.withColumn(
        "problem",
        _first_problem(
            F.when(F.col(CORRUPT).isNotNull(), F.lit("unparsable_row")),
            id_problem_column(locator),
            code_problem_column(codes),
        ),
    )
    valid = checked.filter(F.col("problem").isNull()).select(
        F.trim(locator).cast("long").alias(locator),
        F.trim(locator).alias("locator_value"),
        F.trim("prdtypecode").cast("int").alias("prdtypecode"),
        "source_file",
        (F.col(locator) if join_on == "row_index" else F.lit(None))
        .cast("long")
        .alias("source_row"),
    )
    if join_on == "row_index":
        joined = valid.join(row_products.drop("source_file"), "row_index", "left")
    else:
        known = known_products.select("productid", F.lit(True).alias("_known")).distinct()
        joined = valid.join(known, "productid", "left").withColumn(
            "productid", F.when(F.col("_known"), F.col("productid"))
        )
    by_product = Window.partitionBy("productid")
    ordered = by_product.orderBy("source_row", "locator_value")
    ranked = (
        joined.withColumn("codes", F.size(F.collect_set("prdtypecode").over(by_product)))
        .withColumn("rank", F.row_number().over(ordered))
        .withColumn(
            "problem",
            F.when(F.col("productid").isNull(), F.lit("label_without_listing"))
            .when(F.col("codes") > 1, F.lit("conflicting_labels"))
            .when(F.col("rank") > 1, F.lit("duplicate_label")),
        )
    )
    labels = ranked.filter(F.col("problem").isNull()).select(
        "productid",
        "prdtypecode",
        "source_file",
        "source_row",
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
    )
    rejected = quarantine_rows(
        checked.filter(F.col("problem").isNotNull()),
        "label",
        F.col("problem"),
        F.concat(F.lit("label row rejected: "), F.col("problem")),
        raw_text((locator, "prdtypecode"), cfg.quarantine_raw_chars),
        F.coalesce(F.col(locator), F.lit("?")),
        ingested_at,
    )
    unmatched = quarantine_rows(
        ranked.filter(F.col("problem").isNotNull()),
        "label",
        F.col("problem"),
        F.when(
            F.col("problem") == "label_without_listing",
            F.lit(f"no valid listing with this {locator}"),
        )
        .when(F.col("problem") == "conflicting_labels", F.lit("the product has several codes"))
        .otherwise(F.lit("the product's label appears more than once")),
        F.concat_ws(",", "locator_value", F.col("prdtypecode").cast("string")),
        F.col("locator_value"),
        ingested_at,
    )
    return labels, rejected.unionByName(unmatched)

