"""Safe image decoding with Pillow: format sniffing, decompression-bomb guard, integrity checks.

Images are always identified from their bytes, never from the file name. The checks here are the
cheap ones the ingest needs (is it a sound JPEG?); image measures live in the features stage.
"""

from __future__ import annotations

import ctypes
import functools
import io
import platform
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

JPEG_MAGIC = b"\xff\xd8\xff"
JPEG_EOI = b"\xff\xd9"
# A sound image with bytes after its end-of-image marker (a phone's motion photo appends its
# video there, some tools pad): kept, and the check's detail starts with this note.
NOTE_TRAILING_DATA = "trailing_data"

PROBLEM_NOT_AN_IMAGE = "not_an_image"
PROBLEM_NOT_JPEG = "not_jpeg"
PROBLEM_CORRUPT = "corrupt"
PROBLEM_TRUNCATED = "truncated"
PROBLEM_BOMB = "decompression_bomb"


@dataclass(frozen=True)
class ImageCheck:
    format: str | None
    width: int | None
    height: int | None
    problem: str | None  # None: a sound JPEG
    detail: str | None


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Every array a 500x500 photo's measures need (at most 2 MB each, about 6 MB in all) is
# allocated from, and freed back to, the heap under these.
_MMAP_THRESHOLD_BYTES = 16 << 20
_TRIM_THRESHOLD_BYTES = 64 << 20


@functools.cache
def reuse_freed_memory() -> bool:
    """Let this process's C heap keep the memory an image's arrays free, for the next image.

    By default glibc maps every block over 128 KiB afresh and unmaps it when freed, so each
    image's decoded pixels and arrays fault in newly zeroed pages: in the benchmark, half of
    ``measure_image``'s CPU time (5.8 against 2.9 ms a 500x500 photo). Blocks up to 16 MB now
    come from the heap, which keeps up to 64 MB free. Once a process; False where the C
    library is not glibc (nothing is changed there).
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    return bool(
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
        and libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES)
    )


def open_image(data: bytes, max_pixels: int) -> Image.Image:
    """Open image bytes lazily, refusing any image over ``max_pixels`` before it is decoded."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data))
    width, height = image.size
    if width * height > max_pixels:
        raise Image.DecompressionBombError(
            f"{width}x{height} = {width * height:,} pixels exceeds the limit of {max_pixels:,}"
        )
    return image


def to_8bit_gray(image: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit or float gray image as 8-bit gray, scaled: Pillow's own conversion clips
    every value over 255 to white, so a 16-bit photo would be measured as a white page."""
    pixels = np.asarray(image, dtype=np.float32)
    if image.mode.startswith("I;16") or float(np.nanmax(pixels, initial=0.0)) > 255.0:
        pixels = pixels / 257.0
    elif image.mode == "F" and float(np.nanmax(pixels, initial=0.0)) <= 1.0:
        pixels = pixels * 255.0
    return Image.fromarray(np.clip(np.nan_to_num(pixels), 0, 255).astype(np.uint8))


def unidentified_problem(data: bytes) -> str:
    """The problem of bytes Pillow cannot identify: a JPEG's magic number followed by garbage is
    a corrupt JPEG; anything else is not an image at all."""
    return PROBLEM_CORRUPT if data.startswith(JPEG_MAGIC) else PROBLEM_NOT_AN_IMAGE


# Start-of-frame markers (0xC4, 0xC8 and 0xCC share the range but are not frames).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def jpeg_frame(data: bytes) -> tuple[int, int] | None:
    """The (SOF number, sample precision in bits) of JPEG bytes, from their frame header, or
    None when no frame header is found before the first scan."""
    i = 2
    while i + 5 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker in _SOF_MARKERS:
            return marker - 0xC0, data[i + 4]
        if marker == 0xDA:  # start of scan: no frame header before it
            return None
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


def unidentified_detail(data: bytes) -> str:
    """Why Pillow could not identify bytes, as far as their header says."""
    frame = jpeg_frame(data) if data.startswith(JPEG_MAGIC) else None
    if frame is not None and frame[1] != 8:
        return (
            f"a {frame[1]}-bit JPEG (SOF{frame[0]}): Pillow decodes 8-bit JPEGs only, "
            "so it cannot be measured or used"
        )
    return "Pillow cannot identify the bytes"


def jpeg_end(data: bytes) -> int | None:
    """The offset just past the end-of-image marker of JPEG bytes, found by walking their
    segments and entropy-coded scans: an end marker inside an embedded thumbnail, or in data
    appended after the image, is not taken for the image's own. None when the bytes end
    before it (the file is truncated).

    Entropy-coded data holds no marker (a 0xFF byte there is followed by 0x00, or by a restart
    marker), so the scan ends at the first other one. Bytes where a marker should be are
    skipped up to the next 0xFF, as libjpeg does ("extraneous bytes before marker").
    """
    size, i = len(data), 2  # past the start-of-image marker
    while True:
        i = data.find(b"\xff", i)
        if i < 0:
            return None
        while i < size and data[i] == 0xFF:  # fill bytes before the marker code
            i += 1
        if i >= size:
            return None
        marker = data[i]
        i += 1
        if marker == 0xD9:
            return i
        if marker == 0x00 or marker == 0x01 or 0xD0 <= marker <= 0xD7:
            continue  # no length: a stray stuffed byte, TEM or a restart marker
        if i + 2 > size:
            return None
        i += int.from_bytes(data[i : i + 2], "big")
        if marker != 0xDA:
            continue
        # Start of scan: its entropy-coded data runs to the next marker that is neither a
        # stuffed zero nor a restart.
        while True:
            i = data.find(b"\xff", i)
            if i < 0 or i + 1 >= size:
                return None
            following = data[i + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7:
                i += 2
            elif following == 0xFF:
                i += 1
            else:
                break


def check_image_bytes(data: bytes, max_pixels: int) -> ImageCheck:
    """Say whether ``data`` is a sound JPEG, and if not, why; never raises on bad bytes."""
    try:
        image = open_image(data, max_pixels)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return ImageCheck(
            "JPEG" if data.startswith(JPEG_MAGIC) else None, None, None, PROBLEM_BOMB, str(exc)
        )
    except UnidentifiedImageError:
        return ImageCheck(None, None, None, unidentified_problem(data), unidentified_detail(data))
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a property of the file
        # A file cut inside its header fails here already ("Truncated File Read").
        problem = PROBLEM_TRUNCATED if "truncated" in str(exc).lower() else PROBLEM_CORRUPT
        return ImageCheck(None, None, None, problem, f"{type(exc).__name__}: {exc}")
    width, height = image.size
    if image.format != "JPEG":
        return ImageCheck(
            image.format, width, height, PROBLEM_NOT_JPEG, f"the bytes are {image.format}"
        )
    try:
        # Decoding at 1/8 scale reads every entropy-coded segment (so truncation and corruption
        # show) at a fraction of the cost of a full decode.
        image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
        image.load()
    except OSError as exc:
        problem = PROBLEM_TRUNCATED if "truncated" in str(exc).lower() else PROBLEM_CORRUPT
        return ImageCheck("JPEG", width, height, problem, f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001
        return ImageCheck("JPEG", width, height, PROBLEM_CORRUPT, f"{type(exc).__name__}: {exc}")
    # Pillow decodes a JPEG cut after its last full scan (gray padding): only the end marker,
    # where the image's own segments lead, says that it is complete.
    end = jpeg_end(data)
    if end is None:
        return ImageCheck("JPEG", width, height, PROBLEM_TRUNCATED, "no JPEG end-of-image marker")
    if end < len(data):
        trailing = len(data) - end
        return ImageCheck(
            "JPEG",
            width,
            height,
            None,
            f"{NOTE_TRAILING_DATA}: {trailing:,} bytes after the JPEG end-of-image marker "
            "(kept: a motion photo's video, padding or other appended data)",
        )
    return ImageCheck("JPEG", width, height, None, None)
