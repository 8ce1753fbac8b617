"""Integrity checks on image bytes: every bad file gets a problem, none raises."""

from __future__ import annotations

import io
import struct

from PIL import Image

from catalog_classifier.features.imaging import check_image_bytes

MAX_PIXELS = 40_000_000


def jpeg_bytes(size=(64, 48), color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, color)
    for x in range(0, size[0], 4):  # some detail so the entropy-coded data is not trivial
        image.putpixel((x, x % size[1]), (0, 0, 0))
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def with_declared_size(data: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header (SOF0) claiming another size."""
    sof = data.index(b"\xff\xc0")
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


def test_sound_jpeg():
    check = check_image_bytes(jpeg_bytes(), MAX_PIXELS)
    assert (check.format, check.width, check.height, check.problem) == ("JPEG", 64, 48, None)


def test_png_named_jpeg_is_not_jpeg():
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, "PNG")
    check = check_image_bytes(buffer.getvalue(), MAX_PIXELS)
    assert (check.format, check.problem) == ("PNG", "not_jpeg")


def test_random_bytes_are_not_an_image():
    assert (
        check_image_bytes(b"this is not an image at all" * 10, MAX_PIXELS).problem == "not_an_image"
    )


def test_truncated_jpeg():
    data = jpeg_bytes((200, 200))
    check = check_image_bytes(data[: len(data) // 2], MAX_PIXELS)
    assert check.problem == "truncated"


def test_jpeg_header_then_garbage_is_corrupt():
    data = jpeg_bytes()
    garbage = data[:20] + bytes(range(256)) * 4
    assert check_image_bytes(garbage, MAX_PIXELS).problem in ("corrupt", "truncated")


def test_decompression_bomb_is_refused_before_decoding():
    bomb = with_declared_size(jpeg_bytes(), 30000, 30000)
    check = check_image_bytes(bomb, MAX_PIXELS)
    assert check.problem == "decompression_bomb"
    assert "900000000" in check.detail.replace(",", "")
