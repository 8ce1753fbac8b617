"""Image features: decoded size, sharpness, brightness, blankness, perceptual hash, duplicates.

Images are decoded with Pillow from their bytes (never trusting a file name), under the same
decompression-bomb limit as the ingest. A file that does not decode gets ``is_valid = false`` and
a reason; the batch goes on. Pure functions of bytes, of pandas frames (run by Spark's
``mapInPandas`` on the executors) and of Spark DataFrames.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import scipy.fftpack
from PIL import Image, UnidentifiedImageError
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from catalog_classifier.features.imaging import (
    PROBLEM_BOMB,
    PROBLEM_CORRUPT,
    PROBLEM_NOT_AN_IMAGE,
    PROBLEM_NOT_JPEG,
    PROBLEM_TRUNCATED,
    open_image,
    to_8bit_gray,
    unidentified_detail,
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
    BORDER_REFLECT_101, numpy's ``reflect``, scipy's ``mirror``). On 8-bit pixels the Laplacian
    is an integer within +-1020: it is built in int16 (a quarter of float64's memory traffic) and
    its variance comes from exact integer sums, so the result is the float64 one to within the
    original code's own rounding.
    """
    if gray.dtype != np.uint8 or gray.ndim != 2:
        raise TypeError(f"an 8-bit 2-D gray image is needed, not {gray.dtype} {gray.shape}")
    height, width = gray.shape
    if height < 2 or width < 2:
        padded = np.pad(gray, 1, mode="reflect").astype(np.int16)
    else:  # the same mirrored frame, without np.pad's general-purpose overhead
        padded = np.empty((height + 2, width + 2), dtype=np.int16)
        padded[1:-1, 1:-1] = gray
        padded[0, 1:-1] = gray[1]
        padded[-1, 1:-1] = gray[-2]
        padded[:, 0] = padded[:, 2]
        padded[:, -1] = padded[:, -3]
    laplacian = padded[1:-1, :-2] + padded[1:-1, 2:]
    laplacian += padded[:-2, 1:-1]
    laplacian += padded[2:, 1:-1]
    laplacian -= padded[1:-1, 1:-1] << 2
    return _variance(*_exact_sums(laplacian))


def _exact_sums(values: np.ndarray) -> tuple[int, int, int]:
    """(count, sum, sum of squares) of integer-valued pixels, exactly.

    Every partial sum is an integer below 2**53 for an 8-bit image, or its Laplacian, of under
    8 billion pixels (1020**2 * 8e9 < 2**53): float64 holds it exactly whatever the (pairwise
    or BLAS) summation order.
    """
    flat = values.astype(np.float64).ravel()
    return flat.size, int(flat.sum()), int(flat @ flat)


def _variance(count: int, total: int, total_of_squares: int) -> float:
    """Population variance from exact integer sums (Python ints: no overflow, one rounding)."""
    return (count * total_of_squares - total * total) / (count * count)


_LEVELS = np.arange(256, dtype=np.int64)


def _band_deviations(histogram: Sequence[int]) -> list[float]:
    """Population standard deviation of each 8-bit band of a Pillow histogram (256 bins a band).

    Exact sums over the bins: numpy's float64 ``std`` of the pixels to within its rounding,
    without another pass over the pixels.
    """
    deviations = []
    for band in np.asarray(histogram, dtype=np.int64).reshape(-1, 256):
        count, total, squares = int(band.sum()), int(band @ _LEVELS), int(band @ _LEVELS**2)
        deviations.append(math.sqrt(_variance(count, total, squares)))
    return deviations


# imagehash.phash's defaults: an 8x8 hash from the DCT of a 32x32 reduction.
PHASH_SIZE = 8
PHASH_REDUCED = 32


def perceptual_hash(gray_image: Image.Image) -> str:
    """``str(imagehash.phash(gray_image))``, without its extra copy of the image.

    The hash needs the Lanczos reduction of the full-size gray image: a reduced JPEG decode
    (``draft``) gives other pixels, and other hashes for 28 of the 600 real photos at 1/2 scale
    (56 at 1/4, 483 at 1/8); stored hashes must stay comparable with new ones.
    """
    reduced = gray_image.resize((PHASH_REDUCED, PHASH_REDUCED), Image.Resampling.LANCZOS)
    dct = scipy.fftpack.dct(scipy.fftpack.dct(np.asarray(reduced), axis=0), axis=1)
    low = dct[:PHASH_SIZE, :PHASH_SIZE]
    bits = low > np.median(low)
    return np.packbits(bits.ravel()).tobytes().hex()


def _reason_of(exc: Exception) -> str:
    return PROBLEM_TRUNCATED if "truncated" in str(exc).lower() else PROBLEM_CORRUPT


def measure_image(data: bytes, max_pixels: int, blank_max_spread: float) -> dict[str, Any]:
    """Every measure of one image file; never raises on bad bytes (``is_valid`` says).

    One full decode to RGB and one gray conversion, both in Pillow's C code, feed every measure:
    the channel spreads come from Pillow's histogram, the gray mean and spread from exact sums,
    the sharpness from an int16 Laplacian, the hash from the gray image.
    """
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
            "invalid_detail": unidentified_detail(data),
        }
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a property of the file
        return {**row, "invalid_reason": _reason_of(exc), "invalid_detail": f"{exc}"}
    row.update(format=image.format, mode=image.mode, width=image.width, height=image.height)
    try:
        image.load()
        if image.mode.startswith("I") or image.mode == "F":  # 16-bit or float gray
            image = to_8bit_gray(image)
        # An RGB image is measured as decoded (convert would only copy it).
        rgb = image if image.mode == "RGB" else image.convert("RGB")
    except Exception as exc:  # noqa: BLE001
        return {
            **row,
            "invalid_reason": _reason_of(exc),
            "invalid_detail": f"{type(exc).__name__}: {exc}",
        }
    gray_image = rgb.convert("L")
    gray = np.asarray(gray_image)
    spread = max(_band_deviations(rgb.histogram()))
    count, total, squares = _exact_sums(gray)
    brightness = total / count
    contrast = math.sqrt(_variance(count, total, squares))
    sharpness = laplacian_variance(gray)
    row.update(
        is_valid=True,
        sharpness=sharpness,
        sharpness_bucket=sharpness_bucket(sharpness),
        brightness=brightness,
        contrast=contrast,
        pixel_spread=spread,
        is_blank=spread < blank_max_spread,
        phash=perceptual_hash(gray_image),
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

    def compute(batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        worker_log = worker_logger(__name__)
        for batch in batches:
            started, cpu_started = time.monotonic(), time.process_time()
            features = image_features_pandas(batch, computed_at, max_pixels, blank_max_spread)
            elapsed = time.monotonic() - started
            # CPU well under the elapsed time: the worker waited for a core (a busy machine).
            worker_log.info(
                "image features: %d images in %.2f s, %.2f s CPU (%.0f images/s)",
                len(batch),
                elapsed,
                time.process_time() - cpu_started,
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
