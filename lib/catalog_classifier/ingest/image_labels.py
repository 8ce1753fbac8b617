"""Photo labels (``bronze.image_labels``): the product type code of a photo, read from a CSV
with ``productid``, ``imageid`` and ``prdtypecode`` columns (others, e.g. ``file_size_kb``,
are ignored), such as the challenge's ``image_train_index.csv``.

They label photos that have no labelled listing, for the image member's training only. Only
rows whose photo is in ``bronze.images`` are kept: the challenge's file labels 84,916 photos,
and a label without its photo is never used (it is counted, not quarantined: it is not an
error, and re-running the ingest after new photos land picks it up). Pure functions from
DataFrame to DataFrame that split the rows read into valid ones and quarantine rows, each with
its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from catalog_classifier.config import IngestConfig
from catalog_classifier.ingest.csv_files import read_csv_header
from catalog_classifier.ingest.records import (
    CORRUPT,
    IngestInputError,
    code_problem_column,
    id_problem_column,
)
from catalog_classifier.ingest.validation import quarantine_rows, raw_text

RECORD_KIND = "image_label"
REQUIRED_COLUMNS = ("productid", "imageid", "prdtypecode")
# A label whose photo is not stored: dropped (counted in the ingest summary), not quarantined.
WITHOUT_PHOTO = "without_photo"


def read_image_labels(spark: SparkSession, path: str, cfg: IngestConfig) -> DataFrame:
    """The CSV's rows as strings (every column of the header) with ``source_file`` and the
    parser's corrupt-record column; raises :class:`IngestInputError` for a file that cannot be
    read (no such file, a header without the required columns)."""
    try:
        header = read_csv_header(spark, path)
    except OSError as exc:
        raise IngestInputError(f"{path}: {exc}", "unreadable_csv") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise IngestInputError(
            f"{path}: header {header} lacks {', '.join(missing)} (a photo labels CSV has "
            "productid, imageid and prdtypecode)",
            "unexpected_header",
        )
    schema = T.StructType(
        [T.StructField(name, T.StringType()) for name in header]
        + [T.StructField(CORRUPT, T.StringType())]
    )
    return (
        spark.read.schema(schema)
        .option("header", True)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .option("maxCharsPerColumn", cfg.csv_max_chars_per_column)
        .csv(path)
        .withColumn("source_file", F.lit(path))
    )


def validate_image_labels(
    raw: DataFrame,
    stored_photos: DataFrame,
    codes: Sequence[int],
    ingested_at: datetime,
    cfg: IngestConfig,
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """Split raw photo label rows into (label rows in ``bronze.image_labels``' schema,
    quarantine rows, rows whose photo is not stored).

    ``stored_photos``: (imageid, productid) of ``bronze.images``. A row is quarantined when it
    does not parse, an id or the code is bad, the stored photo of its imageid names another
    productid (``image_label_product_mismatch``), or its (productid, imageid) is labelled more
    than once in the batch: with one code the first row is kept (``duplicate_image_label``),
    with several none is (``conflicting_image_labels``)."""
    checked = raw.withColumn(
        "problem",
        F.coalesce(
            F.when(F.col(CORRUPT).isNotNull(), F.lit("unparsable_row")),
            id_problem_column("productid"),
            id_problem_column("imageid"),
            code_problem_column(codes),
        ),
    )
    fields = ("productid", "imageid", "prdtypecode")
    parsed = checked.filter(F.col("problem").isNull()).select(
        F.trim("productid").cast("long").alias("productid"),
        F.trim("imageid").cast("long").alias("imageid"),
        F.trim("prdtypecode").cast("int").alias("prdtypecode"),
        "source_file",
    )
    photos = stored_photos.select("imageid", F.col("productid").alias("_photo_product"))
    matched = parsed.join(photos, "imageid", "left")
    without_photo = matched.filter(F.col("_photo_product").isNull()).drop("_photo_product")
    present = matched.filter(F.col("_photo_product").isNotNull())
    by_photo = Window.partitionBy("productid", "imageid")
    ranked = (
        present.withColumn("_codes", F.size(F.collect_set("prdtypecode").over(by_photo)))
        .withColumn("_rank", F.row_number().over(by_photo.orderBy("source_file", "prdtypecode")))
        .withColumn(
            "problem",
            F.when(
                F.col("_photo_product") != F.col("productid"),
                F.lit("image_label_product_mismatch"),
            )
            .when(F.col("_codes") > 1, F.lit("conflicting_image_labels"))
            .when(F.col("_rank") > 1, F.lit("duplicate_image_label")),
        )
    )
    labels = ranked.filter(F.col("problem").isNull()).select(
        "productid",
        "imageid",
        "prdtypecode",
        "source_file",
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
    )
    locator = F.concat_ws(
        ":", F.coalesce("productid", F.lit("?")), F.coalesce("imageid", F.lit("?"))
    )
    rejected = quarantine_rows(
        checked.filter(F.col("problem").isNotNull()),
        RECORD_KIND,
        F.col("problem"),
        F.concat(F.lit("photo label row rejected: "), F.col("problem")),
        raw_text(fields, cfg.quarantine_raw_chars),
        locator,
        ingested_at,
    )
    unmatched = quarantine_rows(
        ranked.filter(F.col("problem").isNotNull()).withColumn(CORRUPT, F.lit(None)),
        RECORD_KIND,
        F.col("problem"),
        F.when(
            F.col("problem") == "image_label_product_mismatch",
            F.concat(
                F.lit("the stored photo of this imageid belongs to productid "),
                F.col("_photo_product").cast("string"),
            ),
        )
        .when(
            F.col("problem") == "conflicting_image_labels",
            F.lit("the photo has several codes; none kept"),
        )
        .otherwise(F.lit("the photo's label appears more than once")),
        raw_text(fields, cfg.quarantine_raw_chars),
        F.concat_ws(":", F.col("productid").cast("string"), F.col("imageid").cast("string")),
        ingested_at,
    )
    return labels, rejected.unionByName(unmatched), without_photo
