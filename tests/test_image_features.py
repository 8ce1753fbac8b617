"""Image measures on real photos of ../shared/data/rakuten and on images derived from them."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import imagehash
import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageFilter

from catalog_classifier.features.image import (
    _pillow_reduces_horizontally_first,
    _reduce_like_pillow,
    image_features_pandas,
    laplacian_variance,
    measure_image,
    perceptual_hash,
    sharpness_bucket,
)

MAX_PIXELS = 40_000_000
BLANK = 2.0


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def real_photos(real_data) -> list[Path]:
    photos = sorted((real_data / "images").glob("*.jpg"))
    assert len(photos) == 600
    return photos


def test_sharpness_buckets_follow_the_study():
    assert sharpness_bucket(200.0) == "sharp"
    assert sharpness_bucket(199.9) == "moderately_sharp"
    assert sharpness_bucket(100.0) == "moderately_sharp"
    assert sharpness_bucket(99.0) == "slightly_blurry"
    assert sharpness_bucket(50.0) == "slightly_blurry"
    assert sharpness_bucket(49.9) == "blurry"
    assert sharpness_bucket(0.0) == "blurry"


def test_laplacian_matches_the_opencv_definition():
    # OpenCV's Laplacian(ksize=1) with BORDER_REFLECT_101, computed by hand on a small image.
    gray = np.array([[0, 10, 0], [10, 50, 10], [0, 10, 0]], dtype=np.uint8)
    padded = np.pad(gray.astype(float), 1, mode="reflect")
    expected = (
        padded[:-2, 1:-1]
        + padded[2:, 1:-1]
        + padded[1:-1, :-2]
        + padded[1:-1, 2:]
        - 4 * padded[1:-1, 1:-1]
    )
    assert laplacian_variance(gray) == pytest.approx(expected.var())


# Square, wide, tall, odd, barely over 32, 1-pixel and large gray images.
SHAPES = [
    (500, 500),
    (499, 500),
    (500, 499),
    (127, 333),
    (333, 127),
    (900, 40),
    (40, 900),
    (100, 64),
    (100, 90),
    (33, 33),
    (33, 31),
    (31, 33),
    (1200, 1600),
    (1, 1),
    (1, 57),
    (57, 1),
    (2, 2),
]


def gray_samples(shape: tuple[int, int]) -> list[np.ndarray]:
    """Noise, black-and-white noise (the largest Lanczos overshoots), a smooth walk, white."""
    rng = np.random.default_rng(sum(shape))
    walk = np.cumsum(rng.integers(-9, 10, shape), axis=1) + 128
    return [
        rng.integers(0, 256, shape, dtype=np.uint8),
        (rng.random(shape) < 0.5).astype(np.uint8) * 255,
        np.clip(walk, 0, 255).astype(np.uint8),
        np.full(shape, 255, dtype=np.uint8),
    ]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_the_fast_phash_reduction_is_pillows_pixel_for_pixel(shape):
    height, width = shape
    for gray in gray_samples(shape):
        image = Image.fromarray(gray)
        pillow = np.asarray(image.resize((32, 32), Image.Resampling.LANCZOS))
        if min(shape) > 32 and _pillow_reduces_horizontally_first(width, height):
            assert np.array_equal(_reduce_like_pillow(gray.astype(np.float64)), pillow)
        assert perceptual_hash(image) == str(imagehash.phash(image))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_the_laplacian_variance_is_the_float64_one(shape):
    for gray in gray_samples(shape):
        padded = np.pad(gray.astype(float), 1, mode="reflect")
        laplacian = (
            padded[:-2, 1:-1]
            + padded[2:, 1:-1]
            + padded[1:-1, :-2]
            + padded[1:-1, 2:]
            - 4 * padded[1:-1, 1:-1]
        )
        assert laplacian_variance(gray) == pytest.approx(laplacian.var(), rel=1e-12, abs=1e-12)


def test_a_blurred_copy_is_blurrier(real_photos):
    for path in real_photos[:5]:
        original = Image.open(path).convert("RGB")
        sharp = measure_image(path.read_bytes(), MAX_PIXELS, BLANK)
        blurred = measure_image(
            jpeg(original.filter(ImageFilter.GaussianBlur(3))), MAX_PIXELS, BLANK
        )
        assert sharp["is_valid"] and blurred["is_valid"]
        assert blurred["sharpness"] < sharp["sharpness"] / 2, path.name
        assert (sharp["width"], sharp["height"], sharp["format"]) == (500, 500, "JPEG")


def test_a_solid_image_is_blank_and_real_photos_are_not(real_photos):
    solid = measure_image(jpeg(Image.new("RGB", (500, 500), (250, 250, 250))), MAX_PIXELS, BLANK)
    assert solid["is_valid"] and solid["is_blank"]
    assert solid["sharpness_bucket"] == "blurry" and solid["pixel_spread"] < 1.0
    spreads = [measure_image(p.read_bytes(), MAX_PIXELS, BLANK) for p in real_photos[:40]]
    assert not any(m["is_blank"] for m in spreads)


def test_a_truncated_jpeg_is_invalid_not_a_crash(real_photos):
    data = real_photos[0].read_bytes()
    cut = measure_image(data[: len(data) // 2], MAX_PIXELS, BLANK)
    assert cut["is_valid"] is False and cut["invalid_reason"] == "truncated"
    assert cut["width"] == 500  # the header was read
    header_only = measure_image(data[:300], MAX_PIXELS, BLANK)
    assert header_only["is_valid"] is False
    assert header_only["invalid_reason"] in {"truncated", "corrupt"}


def test_non_images_bombs_and_other_formats():
    text = measure_image(b"designation,description\n", MAX_PIXELS, BLANK)
    assert (text["is_valid"], text["invalid_reason"]) == (False, "not_an_image")
    big = Image.new("L", (3000, 3000))
    bomb = measure_image(jpeg(big), 1_000_000, BLANK)
    assert (bomb["is_valid"], bomb["invalid_reason"]) == (False, "decompression_bomb")
    png = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(png, "PNG")
    measured = measure_image(png.getvalue(), MAX_PIXELS, BLANK)
    assert measured["is_valid"] and measured["format"] == "PNG" and measured["width"] == 64


def test_the_same_photo_resized_or_recompressed_has_the_same_hash(real_photos):
    original = Image.open(real_photos[3]).convert("RGB")
    first = measure_image(real_photos[3].read_bytes(), MAX_PIXELS, BLANK)
    smaller = measure_image(jpeg(original.resize((250, 250)), 70), MAX_PIXELS, BLANK)
    other = measure_image(real_photos[4].read_bytes(), MAX_PIXELS, BLANK)
    assert first["phash"] == smaller["phash"]
    assert first["phash"] != other["phash"]
    assert len(first["phash"]) == 16


def test_pandas_batch_keeps_every_row_and_marks_flagged_images(real_photos):
    data = [p.read_bytes() for p in real_photos[:6]]
    batch = pd.DataFrame(
        {
            "imageid": range(6),
            "productid": range(100, 106),
            "content": [*data[:5], data[5][:2000]],
            "byte_size": [len(d) for d in data],
            "sha256": ["h"] * 6,
            # The ingest saw a missing end marker that Pillow may decode past.
            "problem": [None, None, None, None, "truncated", "truncated"],
        }
    )
    features = image_features_pandas(batch, datetime.now(UTC), MAX_PIXELS)
    assert list(features["imageid"]) == list(range(6))
    assert features["is_valid"].tolist() == [True] * 4 + [False, False]
    assert features["invalid_reason"].tolist()[4:] == ["truncated", "truncated"]
    valid = features[features["is_valid"]]
    assert valid[["sharpness", "brightness", "contrast", "phash", "is_blank"]].notna().all().all()
