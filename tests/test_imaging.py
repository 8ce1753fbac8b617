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


def _encoded(save_options: dict, size=(120, 90)) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, (20, 160, 90))
    for x in range(0, size[0], 3):
        image.putpixel((x, x % size[1]), (255, 255, 255))
    image.save(buffer, "JPEG", **save_options)
    return buffer.getvalue()


# Baseline, progressive (several scans), with restart markers, and with a whole small JPEG in a
# header segment (as an EXIF thumbnail is: its end marker comes first in the file).
JPEG_KINDS = {
    "baseline": {"quality": 90},
    "progressive": {"quality": 90, "progressive": True},
    "restart markers": {"quality": 90, "restart_marker_blocks": 1},
    "embedded thumbnail": {"quality": 90, "icc_profile": jpeg_bytes((8, 8))},
}


def test_a_complete_jpeg_followed_by_a_megabyte_is_sound_and_says_so():
    """A phone's motion photo: the JPEG, then its video appended. The image is whole: it is
    kept, with the trailing bytes named in the detail (it was flagged truncated when the end
    marker was looked for in the last 4 KiB only)."""
    for kind, options in JPEG_KINDS.items():
        data = _encoded(options)
        video = bytes(range(256)) * 4096  # 1 MiB, with 0xFF 0xD9 pairs of its own
        check = check_image_bytes(data + video, MAX_PIXELS)
        assert (check.problem, check.width, check.height) == (None, 120, 90), kind
        assert check.detail.startswith("trailing_data: 1,048,576 bytes after"), kind
        assert check_image_bytes(data, MAX_PIXELS).detail is None, kind
        assert check_image_bytes(data + b"\0" * 16, MAX_PIXELS).problem is None, kind


def test_real_truncation_is_still_caught_wherever_the_file_is_cut():
    for kind, options in JPEG_KINDS.items():
        data = _encoded(options)
        scan = data.rindex(b"\xff\xda")
        for cut in (1, 2, 3, 50, len(data) - scan - 20, len(data) // 2):
            check = check_image_bytes(data[:-cut], MAX_PIXELS)
            assert check.problem == "truncated", (kind, cut, check)
