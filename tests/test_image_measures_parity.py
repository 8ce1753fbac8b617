"""The image measures keep their values: the fast code against the original implementation.

``reference_measures`` below is a faithful copy of ``measure_image``'s measures as they were
before the speed work (issue 15): float64 numpy statistics, scipy's Laplacian and imagehash's
pHash of the full-size gray image. The fixture computes them at test time on every real photo of
../shared/data/rakuten/images, so the comparison needs no stored numbers; the fast code must
agree within float32 rounding, with the same pHash, bucket and blank flag.
"""

from __future__ import annotations

import io
from typing import Any

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageFilter, ImageOps
from scipy import ndimage

from catalog_classifier.features.image import measure_image, sharpness_bucket

MAX_PIXELS = 40_000_000
BLANK = 2.0
# float32's machine epsilon: values may differ by float32 rounding, no more.
FLOAT32_RTOL = float(np.finfo(np.float32).eps)
FLOAT_MEASURES = ("sharpness", "brightness", "contrast", "pixel_spread")
EXACT_MEASURES = ("format", "mode", "width", "height", "sharpness_bucket", "is_blank", "phash")


def reference_measures(data: bytes) -> dict[str, Any]:
    """The measures exactly as ``measure_image`` computed them before issue 15 (valid images)."""
    image = Image.open(io.BytesIO(data))
    row: dict[str, Any] = {
        "format": image.format,
        "mode": image.mode,
        "width": image.width,
        "height": image.height,
    }
    image.load()
    rgb = image.convert("RGB")
    gray_image = rgb.convert("L")
    gray = np.asarray(gray_image)
    pixels = np.asarray(rgb).reshape(-1, 3)
    spread = float(pixels.std(axis=0).max())
    sharpness = float(ndimage.laplace(gray.astype(np.float64), mode="mirror").var())
    row.update(
        sharpness=sharpness,
        sharpness_bucket=sharpness_bucket(sharpness),
        brightness=float(gray.mean()),
        contrast=float(gray.std()),
        pixel_spread=spread,
        is_blank=spread < BLANK,
        phash=str(imagehash.phash(gray_image)),
    )
    return row


def assert_same_measures(name: str, new: dict[str, Any], old: dict[str, Any]) -> None:
    assert new["is_valid"], (name, new["invalid_reason"], new["invalid_detail"])
    for key in EXACT_MEASURES:
        assert new[key] == old[key], (name, key, new[key], old[key])
    for key in FLOAT_MEASURES:
        assert isinstance(new[key], float), (name, key, type(new[key]))
        assert new[key] == pytest.approx(old[key], rel=FLOAT32_RTOL, abs=1e-9), (name, key)


def encoded(image: Image.Image, fmt: str = "JPEG", **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def real_photos(real_data) -> dict[str, bytes]:
    photos = sorted((real_data / "images").glob("*.jpg"))
    assert len(photos) == 600
    return {p.name: p.read_bytes() for p in photos}


@pytest.fixture(scope="module")
def reference(real_photos) -> dict[str, dict[str, Any]]:
    """Today's measures of every real photo, from the reference implementation above."""
    return {name: reference_measures(data) for name, data in real_photos.items()}


def test_every_real_photo_keeps_its_measures(real_photos, reference):
    for name, data in real_photos.items():
        assert_same_measures(name, measure_image(data, MAX_PIXELS, BLANK), reference[name])
    # The sample spans the buckets and the range the comparison must hold over.
    buckets = {m["sharpness_bucket"] for m in reference.values()}
    assert {"sharp", "blurry"} <= buckets


def derived_images(photo: bytes) -> dict[str, bytes]:
    """Other modes, formats and sizes a catalog may send, derived from one real photo."""
    rgb = Image.open(io.BytesIO(photo)).convert("RGB")
    rgba = rgb.copy()
    rgba.putalpha(Image.linear_gradient("L").resize(rgb.size))
    noise = Image.fromarray(np.random.default_rng(3).integers(0, 256, (97, 131, 3), np.uint8))
    return {
        "gray_jpeg": encoded(rgb.convert("L")),
        "cmyk_jpeg": encoded(rgb.convert("CMYK")),
        "palette_png": encoded(rgb.convert("P"), "PNG"),
        "rgba_png": encoded(rgba, "PNG"),
        "odd_size": encoded(rgb.resize((333, 127))),
        "tall": encoded(rgb.resize((40, 900))),
        "one_pixel": encoded(rgb.resize((1, 1)), "PNG"),
        "one_row": encoded(rgb.resize((57, 1)), "PNG"),
        "two_by_two": encoded(rgb.resize((2, 2)), "PNG"),
        "blurred": encoded(rgb.filter(ImageFilter.GaussianBlur(4))),
        "inverted": encoded(ImageOps.invert(rgb), quality=40),
        "noise_png": encoded(noise, "PNG"),
        "solid_white": encoded(Image.new("RGB", (500, 500), (255, 255, 255))),
        "solid_black_png": encoded(Image.new("RGB", (64, 64), (0, 0, 0)), "PNG"),
        "large": encoded(rgb.resize((1600, 1200))),
    }


def test_other_modes_formats_and_sizes_keep_their_measures(real_photos):
    for photo in list(real_photos.values())[:3]:
        for name, data in derived_images(photo).items():
            assert_same_measures(
                name, measure_image(data, MAX_PIXELS, BLANK), reference_measures(data)
            )


def test_the_reference_is_the_study_definition(real_photos):
    """The reference's Laplacian is OpenCV's Laplacian(CV_64F).var() with mirrored borders."""
    name, data = next(iter(real_photos.items()))
    gray = np.asarray(Image.open(io.BytesIO(data)).convert("RGB").convert("L")).astype(float)
    padded = np.pad(gray, 1, mode="reflect")
    laplacian = (
        padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:] - 4 * gray
    )
    assert reference_measures(data)["sharpness"] == pytest.approx(laplacian.var(), rel=1e-12)
