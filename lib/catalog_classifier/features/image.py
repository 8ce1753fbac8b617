"""Image features: decoded size, sharpness, brightness, blankness, perceptual hash, duplicates.

Images are decoded with Pillow from their bytes (never trusting a file name), under the same
decompression-bomb limit as the ingest. A file that does not decode gets ``is_valid = false`` and
a reason; the batch goes on. Pure functions of bytes, of pandas frames (run by Spark's
``mapInPandas`` on the executors) and of Spark DataFrames.
"""

from __future__ import annotations

import functools
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
    reuse_freed_memory,
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
    original code's own rounding. The benchmark shows the flat form below pays: the neighbours
    are whole-row shifts of one contiguous buffer, about half the time of 2-D slices.
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
    # The padded image's rows end to end: the pixel at flat index k has its neighbours at
    # k - 1, k + 1 (left, right) and k -+ stride (up, down). Computed over the inner rows whole,
    # frame columns included: those two values a row are not Laplacians and are taken out below.
    stride = width + 2
    flat = padded.ravel()
    end = stride * (height + 1)  # the inner rows are flat[stride:end]
    laplacian = flat[stride - 1 : end - 1] + flat[stride + 1 : end + 1]  # left + right
    laplacian += flat[: end - stride]  # up
    laplacian += flat[2 * stride :]  # down
    laplacian -= flat[stride:end] << 2
    values = laplacian.astype(np.float64)
    frame = values.reshape(height, stride)[:, :: stride - 1]  # each row's first and last value
    # Integer-valued float64 sums under 2**53: exact (see _exact_sums).
    total = int(values.sum()) - int(frame.sum())
    squares = int(values @ values) - int(np.einsum("ij,ij->", frame, frame))
    return _variance(height * width, total, squares)


def _exact_sums(values: np.ndarray) -> tuple[int, int, int]:
    """(count, sum, sum of squares) of integer-valued pixels, exactly.

    Every partial sum is an integer below 2**53 for an 8-bit image, or its Laplacian, of under
    8 billion pixels (1020**2 * 8e9 < 2**53): float64 holds it exactly whatever the (pairwise
    or BLAS) summation order.
    """
    flat = values.astype(np.float64, copy=False).ravel()
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
# Pillow's fixed-point resampling of 8-bit images (libImaging/Resample.c): coefficients scaled
# by 2**22, a half added before the shift, results clipped to 0..255.
_PILLOW_PRECISION_BITS = 22
_LANCZOS_SUPPORT = 3.0
# Outputs a weight block of the fast horizontal pass covers: 4 of 32 cut the multiply-adds on
# zero weights 4x against one dense matrix (0.2 against 0.7 ms a 500-pixel-wide image).
_RESIZE_BLOCK = 4
# Above this many pixels the float64 copy the fast reduction needs (8 bytes a pixel) is not
# worth it: Pillow reduces the image itself.
_FAST_RESIZE_MAX_PIXELS = 1 << 21


def _sinc(x: float) -> float:
    if x == 0.0:
        return 1.0
    x = x * math.pi
    return math.sin(x) / x


def _lanczos(x: float) -> float:
    return _sinc(x) * _sinc(x / 3) if -3.0 <= x < 3.0 else 0.0


@functools.lru_cache(maxsize=64)
def _lanczos_weights(in_size: int, out_size: int) -> np.ndarray:
    """Pillow's fixed-point Lanczos weights, (out_size, in_size), as float64 integers.

    The same double arithmetic as Pillow's ``precompute_coeffs`` and ``normalize_coeffs_8bpc``,
    term by term, so every weight is the integer Pillow uses.
    """
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = _LANCZOS_SUPPORT * filterscale
    inverse_filterscale = 1.0 / filterscale
    one = float(1 << _PILLOW_PRECISION_BITS)
    weights = np.zeros((out_size, in_size))
    for out in range(out_size):
        center = (out + 0.5) * scale
        first = max(int(center - support + 0.5), 0)
        count = min(int(center + support + 0.5), in_size) - first
        taps = [_lanczos((x + first - center + 0.5) * inverse_filterscale) for x in range(count)]
        total = 0.0
        for tap in taps:  # in order, as the C loop adds them
            total += tap
        if total != 0.0:
            taps = [tap / total for tap in taps]
        weights[out, first : first + count] = [
            int(-0.5 + tap * one) if tap < 0 else int(0.5 + tap * one) for tap in taps
        ]
    return weights


@functools.lru_cache(maxsize=64)
def _horizontal_blocks(in_size: int, out_size: int) -> list[tuple[int, int, np.ndarray]]:
    """The horizontal weights in blocks of outputs: (first column, end column, weights.T)."""
    weights = _lanczos_weights(in_size, out_size)
    blocks = []
    for start in range(0, out_size, _RESIZE_BLOCK):
        rows = weights[start : start + _RESIZE_BLOCK]
        used = np.flatnonzero(rows.any(axis=0))
        first, end = int(used[0]), int(used[-1]) + 1
        blocks.append((first, end, np.ascontiguousarray(rows[:, first:end].T)))
    return blocks


def _to_8bit(sums: np.ndarray) -> np.ndarray:
    """Fixed-point sums as Pillow's ``clip8`` rounds them (the half, a floor shift, a clip)."""
    half = float(1 << (_PILLOW_PRECISION_BITS - 1))
    return np.clip(np.floor((sums + half) / (1 << _PILLOW_PRECISION_BITS)), 0, 255)


def _reduce_like_pillow(pixels: np.ndarray) -> np.ndarray:
    """``Image.resize((32, 32), LANCZOS)`` of an 8-bit gray image, pixel for pixel.

    The benchmark shows it pays: Pillow's reduction took 1.2-1.7 ms of a 500x500 photo, these
    BLAS products of its own integer weights 0.3 ms. Each output is a sum of integer weights
    times 8-bit pixels, under 2**31 in magnitude, so float64 adds it exactly in any order; the
    rounding between the passes is Pillow's. ``pixels``: the gray image's pixels as float64.
    """
    height, width = pixels.shape
    rows = np.hstack(
        [
            pixels[:, first:end] @ block
            for first, end, block in _horizontal_blocks(width, PHASH_REDUCED)
        ]
    )
    reduced = _to_8bit(_lanczos_weights(height, PHASH_REDUCED) @ _to_8bit(rows))
    return reduced.astype(np.uint8)


# Sides (in pixels) this process has hashed an image of: see _side_seen_before.
_SIDES_SEEN: set[int] = set()


def _side_seen_before(side: int) -> bool:
    """Whether an image with a side this long was hashed before in this process (and note it).

    The weights of a side take 2 ms (500 pixels) to 12 ms (4,000) to compute, once, then come
    from a cache: they pay from a size's second image on, not for a size seen once (Pillow
    reduces those). At most 65,535 lengths (a JPEG's longest side) are kept.
    """
    if side in _SIDES_SEEN:
        return True
    _SIDES_SEEN.add(side)
    return False


def _pillow_reduces_horizontally_first(width: int, height: int) -> bool:
    """Whether Pillow resizes this image's rows before its columns (the rounding between the
    passes makes the order matter). Pillow 13 runs the vertical pass first when the height
    shrinks more than twice as much as the width; earlier versions always start with the rows.
    """
    return not (height - PHASH_REDUCED > 0 and height - PHASH_REDUCED > 2 * (width - PHASH_REDUCED))


def perceptual_hash(gray_image: Image.Image, pixels: np.ndarray | None = None) -> str:
    """``str(imagehash.phash(gray_image))``, without its extra copy of the image.

    The hash needs the Lanczos reduction of the full-size gray image: a reduced JPEG decode
    (``draft``) gives other pixels, and other hashes for 28 of the 600 real photos at 1/2 scale
    (56 at 1/4, 483 at 1/8); stored hashes must stay comparable with new ones. Images larger
    than 32x32 both ways, of a moderate size, reduced rows first by every Pillow version and of
    sides seen before are reduced by :func:`_reduce_like_pillow` (``pixels``: the gray pixels
    as float64, if at hand), any other by Pillow: the same pixels either way.
    """
    width, height = gray_image.size
    if (
        width > PHASH_REDUCED
        and height > PHASH_REDUCED
        and width * height <= _FAST_RESIZE_MAX_PIXELS
        and _pillow_reduces_horizontally_first(width, height)
        and _side_seen_before(width)
        and _side_seen_before(height)
    ):
        if pixels is None:
            pixels = np.asarray(gray_image).astype(np.float64)
        reduced = _reduce_like_pillow(pixels)
    else:
        reduced = np.asarray(
            gray_image.resize((PHASH_REDUCED, PHASH_REDUCED), Image.Resampling.LANCZOS)
        )
    dct = scipy.fftpack.dct(scipy.fftpack.dct(reduced, axis=0), axis=1)
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
    pixels = gray.astype(np.float64)  # the gray sums and the pHash reduction share this copy
    spread = max(_band_deviations(rgb.histogram()))
    count, total, squares = _exact_sums(pixels)
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
        phash=perceptual_hash(gray_image, pixels),
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
    """Bronze image rows (imageid, productid, content, byte_size, sha256, problem) -> features.

    Tunes this process's C heap for a run of images first (:func:`reuse_freed_memory`).
    """
    reuse_freed_memory()
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
