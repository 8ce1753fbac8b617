"""The rows each model trains and is evaluated on, assembled from the Delta tables.

Every model's probability vector follows one label map: class index ``i`` is the ``i``-th
prdtypecode of the configured categories in ascending order (``Config.label_codes``), whether or
not a class has training rows, so models can be fused column by column.

Each row says where it comes from in ``origin``: ``listing`` for a labelled listing (the only
rows ever scored or evaluated), else the kind of a training-only text of
``bronze.training_texts`` (:func:`training_text_rows`), which :func:`with_training_texts` adds
to a training part and nowhere else, or ``image_label`` for a photo without a labelled
listing, labelled by ``bronze.image_labels`` (:func:`image_label_rows`), which the image member
adds to a training part the same way.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from catalog_classifier.features.text import clean_text
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import (
    BRONZE_IMAGE_LABELS,
    BRONZE_IMAGES,
    BRONZE_LISTINGS,
    BRONZE_TRAINING_TEXTS,
    SILVER_IMAGE_FEATURES,
    SILVER_SPLITS,
    SILVER_TEXT_FEATURES,
    TableSpec,
)

TEXT_INPUT_TABLES: tuple[TableSpec, ...] = (SILVER_SPLITS, SILVER_TEXT_FEATURES)
IMAGE_INPUT_TABLES: tuple[TableSpec, ...] = (
    SILVER_SPLITS,
    BRONZE_LISTINGS,
    SILVER_IMAGE_FEATURES,
    BRONZE_IMAGES,
    BRONZE_IMAGE_LABELS,
)

log = logging.getLogger(__name__)

# ``origin`` of the labelled listings; a training text's is its kind (translated_en, ...).
LISTING = "listing"
# ``origin`` of a photo labelled by bronze.image_labels, not by a labelled listing.
IMAGE_LABEL = "image_label"
# The training texts' column of the folds whose test part holds a listing they copy.
LISTING_FOLDS = "listing_folds"


def label_index_column(codes: Sequence[int], code: Column | None = None) -> Column:
    """prdtypecode -> class index (null for a code outside the label map)."""
    mapping = F.create_map(
        *itertools.chain.from_iterable((F.lit(c), F.lit(i)) for i, c in enumerate(codes))
    )
    return mapping[code if code is not None else F.col("prdtypecode")].cast("int")


def code_column(codes: Sequence[int], index: Column) -> Column:
    """Class index -> prdtypecode."""
    return F.array(*[F.lit(c) for c in codes])[index.cast("int")]


def text_rows(lakehouse: Lakehouse, codes: Sequence[int]) -> DataFrame:
    """Labelled listings with their cleaned text: productid, content_sha256, text, text_lower,
    title (the cleaned designation alone), title_lower, split, fold, prdtypecode, label."""
    splits = lakehouse.read(SILVER_SPLITS).select("productid", "prdtypecode", "split", "fold")
    text = lakehouse.read(SILVER_TEXT_FEATURES).select(
        "productid",
        "content_sha256",
        "text",
        "text_lower",
        F.col("designation_clean").alias("title"),
        F.lower(F.col("designation_clean")).alias("title_lower"),
    )
    return (
        splits.join(text, "productid")
        .withColumn("label", label_index_column(codes))
        .withColumn("origin", F.lit(LISTING))
    )


def image_rows(lakehouse: Lakehouse, codes: Sequence[int]) -> DataFrame:
    """Labelled listings whose image is usable for training (decoded, not blank): productid,
    imageid, sha256, content, split, fold, prdtypecode, label."""
    splits = lakehouse.read(SILVER_SPLITS).select("productid", "prdtypecode", "split", "fold")
    listings = lakehouse.read(BRONZE_LISTINGS).select("productid", "imageid")
    usable = (
        lakehouse.read(SILVER_IMAGE_FEATURES)
        .filter(F.col("is_valid") & ~F.coalesce(F.col("is_blank"), F.lit(False)))
        .select("imageid", "productid")
    )
    images = lakehouse.read(BRONZE_IMAGES).select("imageid", "productid", "sha256", "content")
    return (
        splits.join(listings, "productid")
        .join(usable, ["imageid", "productid"])
        .join(images, ["imageid", "productid"])
        .withColumn("label", label_index_column(codes))
        .withColumn("origin", F.lit(LISTING))
    )


def image_label_rows(lakehouse: Lakehouse, codes: Sequence[int]) -> DataFrame | None:
    """Usable photos labelled by ``bronze.image_labels`` that are not the photo of a labelled
    listing, in :func:`image_rows`' columns (origin ``image_label``, fold -1: never a test part)
    with ``content_sha256`` (the photo's sha256) and ``listing_folds``; None without any.

    A photo of a product that has a labelled listing (another photo of it, in a CV fold's
    test part) follows that listing as a training text does: split ``train`` only where the
    listing is in split train, else ``held_out``; ``listing_folds`` its folds. A photo of a
    labelled listing is that listing's row of :func:`image_rows`, whatever its photo label."""
    if not lakehouse.exists(BRONZE_IMAGE_LABELS):
        return None
    labels = lakehouse.read(BRONZE_IMAGE_LABELS).select("imageid", "productid", "prdtypecode")
    if labels.limit(1).count() == 0:
        return None
    splits = lakehouse.read(SILVER_SPLITS).select(
        "productid", F.col("split").alias("_split"), F.col("fold").alias("_fold")
    )
    listed = (
        lakehouse.read(BRONZE_LISTINGS)
        .select("productid", "imageid")
        .join(splits.select("productid"), "productid")
        .select("imageid")
        .distinct()
    )
    usable = (
        lakehouse.read(SILVER_IMAGE_FEATURES)
        .filter(F.col("is_valid") & ~F.coalesce(F.col("is_blank"), F.lit(False)))
        .select("imageid", "productid")
    )
    images = lakehouse.read(BRONZE_IMAGES).select("imageid", "productid", "sha256", "content")
    photos = (
        labels.join(usable, ["imageid", "productid"])
        .join(listed, "imageid", "left_anti")
        .join(images, ["imageid", "productid"])
    )
    followed = (
        photos.join(splits, "productid", "left")
        .groupBy("imageid", "productid", "prdtypecode", "sha256", "content")
        .agg(
            F.count(F.when(F.col("_split").isNotNull() & (F.col("_split") != "train"), 1)).alias(
                "_not_train"
            ),
            F.collect_set("_fold").alias(LISTING_FOLDS),
        )
    )
    return followed.select(
        "imageid",
        "productid",
        "prdtypecode",
        F.when(F.col("_not_train") == 0, F.lit("train"))
        .otherwise(F.lit("held_out"))
        .alias("split"),
        F.lit(-1).alias("fold"),
        "sha256",
        "content",
        label_index_column(codes).alias("label"),
        F.lit(IMAGE_LABEL).alias("origin"),
        F.col("sha256").alias("content_sha256"),
        LISTING_FOLDS,
    )


def listings_only(rows: DataFrame) -> DataFrame:
    """The labelled listings of ``rows``: what every evaluation path scores (a training text
    is never evaluated, whatever its split)."""
    return rows.filter(F.col("origin") == LISTING) if "origin" in rows.columns else rows


def _clean(texts: pd.Series) -> pd.Series:
    """The listings' cleaning (entities, tags, mojibake, whitespace) on the training texts."""
    return texts.map(clean_text)


def training_text_rows(
    lakehouse: Lakehouse, codes: Sequence[int], kinds: Sequence[str]
) -> DataFrame | None:
    """The training texts of ``kinds`` in :func:`text_rows`' columns (productid null, origin
    their kind, fold -1: never a test part) with ``listing_folds``, or None without any kind.

    A text whose row_index is the source_row of listings in ``bronze.listings`` follows them
    (the processed copy of a listing must not train a model that evaluates that listing):
    split ``train`` only where every such listing is in split train, else ``held_out`` (used
    by no training of the train stage); ``listing_folds`` the folds of those listings (a CV
    fold's training leaves the text out where its test part holds one). A text of a listing
    that is not labelled (not in silver.splits) is dropped. A text matching no listing is
    split train with no listing fold: training data everywhere. Its text is cleaned like a
    listing's; title is the whole text (the files merge title and description)."""
    if not kinds:
        return None
    if not lakehouse.exists(BRONZE_TRAINING_TEXTS):
        log.warning("training texts %s asked for, but bronze.training_texts is missing", kinds)
        return None
    texts = (
        lakehouse.read(BRONZE_TRAINING_TEXTS)
        .filter(F.col("kind").isin(list(kinds)))
        .select("kind", "row_index", "content_sha256", "text", "prdtypecode")
    )
    # None where there is none: the training parts and the CV checkpoint keys are then those
    # of a lakehouse without the table, at the cost of one small read.
    if texts.limit(1).count() == 0:
        return None
    listings = lakehouse.read(BRONZE_LISTINGS).select(
        "productid", F.col("source_row").alias("row_index")
    )
    splits = lakehouse.read(SILVER_SPLITS).select(
        "productid", F.col("split").alias("_split"), F.col("fold").alias("_fold")
    )
    matched = listings.join(splits, "productid", "left")
    followed = (
        texts.join(matched, "row_index", "left")
        .groupBy("kind", "row_index", "content_sha256", "text", "prdtypecode")
        .agg(
            F.count("productid").alias("_listings"),
            F.count("_split").alias("_labelled"),
            F.count(F.when(F.col("_split") != "train", 1)).alias("_not_train"),
            F.collect_set("_fold").alias(LISTING_FOLDS),
        )
        .filter(F.col("_listings") == F.col("_labelled"))
    )
    # Made here, not at import: a pandas UDF needs an active Spark context.
    cleaned = F.pandas_udf(_clean, "string")(F.col("text"))  # type: ignore[call-overload]
    return (
        followed.select(
            F.lit(None).cast("long").alias("productid"),
            "prdtypecode",
            F.when(F.col("_not_train") == 0, F.lit("train"))
            .otherwise(F.lit("held_out"))
            .alias("split"),
            F.lit(-1).alias("fold"),
            "content_sha256",
            cleaned.alias("text"),
            F.col("kind").alias("origin"),
            LISTING_FOLDS,
        )
        .filter(F.col("text").isNotNull())
        .withColumn("text_lower", F.lower("text"))
        .withColumn("title", F.col("text"))
        .withColumn("title_lower", F.col("text_lower"))
        .withColumn("label", label_index_column(codes))
    )


def with_training_texts(
    rows: DataFrame, texts: DataFrame | None, fold: int | None = None
) -> DataFrame:
    """A training part (``rows``: labelled listings) with the training texts it may learn from,
    in ``rows``' columns, split train (never valid: selection and early stopping stay on
    listings). ``fold`` None: the train stage (texts of train-split listings and unmatched
    ones); a fold: cross-validation's fold ``fold`` (every text but those of its listings)."""
    if texts is None:
        return rows
    if fold is None:
        allowed = texts.filter(F.col("split") == "train")
    else:
        allowed = texts.filter(~F.array_contains(LISTING_FOLDS, fold))
    extra = allowed.withColumn("split", F.lit("train")).select(*rows.columns)
    return rows.unionByName(extra)


def class_weights(labels: Sequence[int], n_classes: int) -> list[float]:
    """Inverse-frequency weights n / (classes present * count), 0 for absent classes."""
    counts = [0] * n_classes
    for label in labels:
        counts[int(label)] += 1
    present = sum(1 for c in counts if c)
    total = sum(counts)
    return [total / (present * c) if c else 0.0 for c in counts]
