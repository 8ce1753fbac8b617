"""The rows each model trains and is evaluated on, assembled from the Delta tables.

Every model's probability vector follows one label map: class index ``i`` is the ``i``-th
prdtypecode of the configured categories in ascending order (``Config.label_codes``), whether or
not a class has training rows, so models can be fused column by column.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import (
    BRONZE_IMAGES,
    BRONZE_LISTINGS,
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
)


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
    return splits.join(text, "productid").withColumn("label", label_index_column(codes))


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
    )


def class_weights(labels: Sequence[int], n_classes: int) -> list[float]:
    """Inverse-frequency weights n / (classes present * count), 0 for absent classes."""
    counts = [0] * n_classes
    for label in labels:
        counts[int(label)] += 1
    present = sum(1 for c in counts if c)
    total = sum(counts)
    return [total / (present * c) if c else 0.0 for c in counts]
