"""Image features: decoded size, sharpness, brightness, blankness, perceptual hash, duplicates.

Images are decoded with Pillow from their bytes (never trusting a file name), under the same
decompression-bomb limit as the ingest. A file that does not decode gets ``is_valid = false`` and
a reason; the batch goes on. Pure functions of bytes, of pandas frames (run by Spark's
``mapInPandas`` on the executors) and of Spark DataFrames.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import imagehash
import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T
from scipy import ndimage

from catalog_classifier.features.imaging import (
    PROBLEM_BOMB,
    PROBLEM_CORRUPT,
    PROBLEM_NOT_AN_IMAGE,
    PROBLEM_NOT_JPEG,
    PROBLEM_TRUNCATED,
    open_image,
    unidentified_problem,
)
from catalog_classifier.logs import worker_logger
from catalog_classifier.storage.tables import SILVER_IMAGE_FEATURES

# The original study's buckets of the variance of the Laplacian.
SHARPNESS_BUCKETS: tuple[tuple[str, float], ...] = (
    ("sharp", 200.0),
    ("moderately_sharp", 100.0),
    ("slightly_blurry", 50.0),
    ("blurry", float("-inf")),
)
SHARPNESS_BUCKET_NAMES = tuple(name for name, _ in SHARPNESS_BUCKETS)
# A solid image's JPEG noise keeps every channel's standard deviation well under 1; the faintest
# real product photos in the sample are above 5.
DEFAULT_BLANK_MAX_SPREAD = 2.0


def sharpness_bucket(sharpness: float) -> str:
    for name, lower in SHARPNESS_BUCKETS:
        if sharpness >= lower:
            return name
    raise ValueError(f"sharpness {sharpness!r} is not a number")


def laplacian_variance(gray: np.ndarray) -> float:
    """Variance of the Laplacian, as OpenCV's ``Laplacian(gray, CV_64F).var()`` computes it.

    The 3x3 kernel [[0,1,0],[1,-4,1],[0,1,0]] with mirrored borders (OpenCV's default
    BORDER_REFLECT_101 is scipy's ``mirror``), in 64-bit floats.
    """
    return float(ndimage.laplace(gray.astype(np.float64), mode="mirror").var())


def _reason_of(exc: Exception) -> str:
    return PROBLEM_TRUNCATED if "truncated" in str(exc).lower() else PROBLEM_CORRUPT


def measure_image(data: bytes, max_pixels: int, blank_max_spread: float) -> dict[str, Any]:
    """Every measure of one image file; never raises on bad bytes (``is_valid`` says)."""
    row: dict[str, Any] = {
        "is_valid": False,
        "invalid_reason": None,
        "invalid_detail": None,
        "format": None,
        "mode": None,
        "width": None,
        "height": None,
        "sharpness": None,
        "sharpness_bucket": None,
        "brightness": None,
        "contrast": None,
        "pixel_spread": None,
        "is_blank": None,
        "phash": None,
    }
    try:
        image = open_image(data, max_pixels)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return {**row, "invalid_reason": PROBLEM_BOMB, "invalid_detail": str(exc)}
    except UnidentifiedImageError:
        # Named as the ingest names it: JPEG magic followed by garbage is a corrupt JPEG.
        return {
            **row,
            "invalid_reason": unidentified_problem(data),
            "invalid_detail": "Pillow cannot identify the bytes as an image",
        }
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a property of the file
        return {**row, "invalid_reason": _reason_of(exc), "invalid_detail": f"{exc}"}
    row.update(format=image.format, mode=image.mode, width=image.width, height=image.height)
    try:
        image.load()
        rgb = image.convert("RGB")
    except Exception as exc:  # noqa: BLE001
        return {
            **row,
            "invalid_reason": _reason_of(exc),
            "invalid_detail": f"{type(exc).__name__}: {exc}",
        }
    gray_image = rgb.convert("L")
    gray = np.asarray(gray_image)
    pixels = np.asarray(rgb).reshape(-1, 3)
    spread = float(pixels.std(axis=0).max())
    sharpness = laplacian_variance(gray)
    row.update(
        is_valid=True,
        sharpness=sharpness,
        sharpness_bucket=sharpness_bucket(sharpness),
        brightness=float(gray.mean()),
        contrast=float(gray.std()),
        pixel_spread=spread,
        is_blank=spread < blank_max_spread,
        phash=str(imagehash.phash(gray_image)),
    )
    return row


IMAGE_FEATURE_COLUMNS = [c.name for c in SILVER_IMAGE_FEATURES.columns]
# Problems the ingest found that make an image unusable even if Pillow decodes it (a JPEG cut
# after its last full scan decodes with gray padding).
_INGEST_PROBLEMS_THAT_INVALIDATE = {
    PROBLEM_NOT_AN_IMAGE,
    PROBLEM_CORRUPT,
    PROBLEM_TRUNCATED,
    PROBLEM_BOMB,
}
assert PROBLEM_NOT_JPEG not in _INGEST_PROBLEMS_THAT_INVALIDATE  # a PNG is a usable photo


def image_features_pandas(
    images: pd.DataFrame,
    computed_at: datetime,
    max_pixels: int,
    blank_max_spread: float = DEFAULT_BLANK_MAX_SPREAD,
) -> pd.DataFrame:
    """Bronze image rows (imageid, productid, content, byte_size, sha256, problem) -> features."""
    rows: list[dict[str, Any]] = []
    for imageid, productid, content, byte_size, sha256, problem in zip(
        images["imageid"],
        images["productid"],
        images["content"],
        images["byte_size"],
        images["sha256"],
        images["problem"],
        strict=True,
    ):
        measures = measure_image(bytes(content), max_pixels, blank_max_spread)
        if measures["is_valid"] and problem in _INGEST_PROBLEMS_THAT_INVALIDATE:
            measures.update(
                is_valid=False,
                invalid_reason=problem,
                invalid_detail="flagged by the ingest's integrity check",
            )
        rows.append(
            {
                "imageid": int(imageid),
                "productid": int(productid),
                "sha256": sha256,
                "byte_size": int(byte_size),
                **measures,
                # Unique until refresh_duplicate_groups finds the hash elsewhere: then only
                # the members of a group are rewritten.
                "duplicate_group": None,
                "duplicate_count": 1 if measures["phash"] is not None else None,
                "computed_at": computed_at,
            }
        )
    return pd.DataFrame(rows, columns=IMAGE_FEATURE_COLUMNS)


def image_features(
    images: DataFrame,
    computed_at: datetime,
    max_pixels: int,
    blank_max_spread: float = DEFAULT_BLANK_MAX_SPREAD,
) -> DataFrame:
    """Bronze images -> rows of silver.image_features (duplicates not yet grouped)."""
    schema = T.StructType(
        [f for f in SILVER_IMAGE_FEATURES.spark_schema().fields if f.name != "computed_at"]
    )

    def compute(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        worker_log = worker_logger(__name__)
        for batch in batches:
            started = time.monotonic()
            features = image_features_pandas(batch, computed_at, max_pixels, blank_max_spread)
            elapsed = time.monotonic() - started
            worker_log.info(
                "image features: %d images in %.2f s (%.0f images/s)",
                len(batch),
                elapsed,
                len(batch) / elapsed if elapsed else 0.0,
            )
            yield features.drop(columns=["computed_at"])

    return (
        images.select("imageid", "productid", "content", "byte_size", "sha256", "problem")
        .mapInPandas(compute, schema)
        .withColumn("computed_at", F.lit(computed_at).cast("timestamp"))
    )


def duplicate_groups(features: DataFrame) -> DataFrame:
    """(imageid, duplicate_group, duplicate_count) for every image with a hash.

    Images whose perceptual hashes are equal show the same photo (re-encoded or resized ones
    included); the group is named by that hash.
    """
    by_hash = Window.partitionBy("phash")
    return (
        features.filter(F.col("phash").isNotNull())
        .select("imageid", "phash")
        .withColumn("duplicate_count", F.count(F.lit(1)).over(by_hash).cast("int"))
        .select(
            "imageid",
            F.when(F.col("duplicate_count") > 1, F.col("phash")).alias("duplicate_group"),
            "duplicate_count",
        )
    )


def changed_duplicate_groups(features: DataFrame) -> DataFrame:
    """Rows of :func:`duplicate_groups` that differ from what ``features`` stores."""
    groups = duplicate_groups(features)
    stored = features.select(
        "imageid",
        F.col("duplicate_group").alias("stored_group"),
        F.col("duplicate_count").alias("stored_count"),
    )
    return (
        groups.join(stored, "imageid")
        .filter(
            ~F.col("duplicate_group").eqNullSafe(F.col("stored_group"))
            | ~F.col("duplicate_count").eqNullSafe(F.col("stored_count"))
        )
        .select("imageid", "duplicate_group", "duplicate_count")
    )
