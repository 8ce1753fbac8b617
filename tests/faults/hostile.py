"""Hostile inputs for the ingest, as a careless or malicious user hands them over, each with the
outcome the ingest owes it (issue 14): a quarantine reason, a flag, or a correct decoding.

:func:`write_hostile_inputs` writes one run's worth of files (valid ones among them) and returns
them with every expected count, so a test compares a run with :class:`Expected` as a whole.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import struct
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from tests.helpers import LISTINGS_HEADER, image_name, jpeg

MAX_LONG = 2**63 - 1
# Spark's maxCharsPerColumn for the runs of these files: small, so an oversized field is cheap.
MAX_CHARS = 2000
ARABIC_123 = "\u0661\u0662\u0663"  # "123" in Arabic-Indic digits: str.isdigit() says yes


def listings_csv(rows: list[list[object]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LISTINGS_HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def bomb_jpeg() -> bytes:
    """A valid small JPEG whose header declares 65,500 x 65,500 pixels."""
    data = bytearray(jpeg((16, 16)))
    sof = data.index(b"\xff\xc0")  # baseline frame header: length, precision, height, width
    struct.pack_into(">HH", data, sof + 5, 65500, 65500)
    return bytes(data)


def cmyk_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("CMYK", (24, 24), (10, 200, 30, 5)).save(buffer, "JPEG")
    return buffer.getvalue()


def exif_rotated_jpeg() -> bytes:
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees on display
    Image.new("RGB", (40, 20), (90, 30, 60)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def patch_zip_member(
    path: Path, name: str, flag_bits: int | None = None, method: int | None = None
) -> None:
    """Rewrite one member's general-purpose flags or compression method in both its local and
    its central directory header (zipfile cannot write encrypted or deflate64 members)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        infos = [info for info in archive.infolist() if info.filename == name]
    encoded = name.encode()
    for info in infos:
        local = info.header_offset  # local header: flags at +6, method at +8
        if flag_bits is not None:
            struct.pack_into("<H", data, local + 6, flag_bits)
        if method is not None:
            struct.pack_into("<H", data, local + 8, method)
    start = 0
    while (start := data.find(b"PK\x01\x02", start)) != -1:
        name_length = struct.unpack_from("<H", data, start + 28)[0]
        if bytes(data[start + 46 : start + 46 + name_length]) == encoded:
            if flag_bits is not None:  # central header: flags at +8, method at +10
                struct.pack_into("<H", data, start + 8, flag_bits)
            if method is not None:
                struct.pack_into("<H", data, start + 10, method)
        start += 4
    path.write_bytes(bytes(data))


@dataclass
class Expected:
    """What one ingest of the hostile inputs must leave behind."""

    quarantine: dict[str, int]  # reason -> rows in bronze.quarantine
    listings: set[int]  # productids in bronze.listings
    labels: dict[int, int]  # productid -> prdtypecode in bronze.labels
    images: set[int]  # imageids in bronze.images
    has_image: dict[int, bool]
    read: dict[str, int]  # table -> records read
    quarantined: dict[str, int]  # table -> records quarantined (whole files not counted)
    decoded: dict[str, str]  # CSV path -> the codec it was decoded with
    image_problems: dict[int, str | None]  # imageid -> images.problem
    texts: dict[int, tuple[str, str | None]] = field(default_factory=dict)  # exact round trips


@dataclass
class HostileInputs:
    listings: list[str]
    labels: list[str]
    images: list[str]
    expected: Expected


def write_hostile_inputs(root: Path) -> HostileInputs:
    root.mkdir(parents=True, exist_ok=True)
    # UTF-8, with the id edge cases: the largest signed 64-bit id is valid (19 digits), one more
    # overflows, 20 digits overflow, digits of another script are not an id.
    ok = root / "listings_ok.csv"
    ok.write_bytes(
        listings_csv(
            [
                [0, "Lampe de chevet émaillée", "Belle lampe", 100, 1000],
                [1, "Largest id", "", MAX_LONG, 1001],
                [2, "One past the largest id", "", MAX_LONG + 1, 1002],
                [3, "Arabic digits", "", ARABIC_123, 1003],
                [4, "Twenty-digit imageid", "", 104, 12345678901234567890],
            ]
        )
    )
    # Windows-1252: accents, guillemets, the euro sign and an en dash (0x80, 0x96: not Latin-1).
    cp1252 = root / "listings_cp1252.csv"
    chair = ("Chaise en chêne – naturel", "Très belle «chaise» à 20 €")
    cp1252.write_bytes(
        listings_csv([[0, *chair, 200, 2000], [1, "Table basse", "", 201, 2001]], "cp1252")
    )
    # One field far over maxCharsPerColumn, quoted and spanning lines: Spark's parser gives up
    # on the whole file; the rows around it must still land.
    big = root / "listings_big.csv"
    huge = 'x"y,\n' * (MAX_CHARS // 2)
    after = ("Après", 'sur deux\nlignes "citées"')
    big.write_bytes(
        listings_csv(
            [
                [0, "Normal", "court", 300, 3000],
                [1, "Huge", huge, 301, 3001],
                [2, *after, 302, 3002],
            ]
        )
    )
    # Mostly UTF-8 with one pasted Latin-1 row: no single decoding is right for it.
    mixed = root / "listings_mixed.csv"
    mixed.write_bytes(
        listings_csv([[i, f"Théière n°{i}", "élégante", 400 + i, 4000 + i] for i in range(5)])
        + "5,Café crème,,405,4005\n".encode("latin-1")
    )
    # A gzip'd CSV and a zip'd CSV handed over as CSVs.
    gzipped = root / "listings_gzipped.csv"
    gzipped.write_bytes(gzip.compress(listings_csv([[0, "Gzip", "", 500, 5000]]), mtime=0))
    zipped = root / "listings_zipped.csv"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("X.csv", listings_csv([[0, "Zip", "", 501, 5001]]))
    # Line ends mixed between records and inside quoted fields: each kept as written.
    mixed_ends = root / "listings_line_ends.csv"
    crlf_text = ("Lit\r\nbébé", "une\r\ndeux\ntrois\rquatre")
    mixed_ends.write_bytes(
        b",designation,description,productid,imageid\r\n"
        + '0,"{}","{}",600,6000\r\n'.format(*crlf_text).encode()
        + b"1,Plain,lf,601,6001\n"
        + b"2,Old Mac,cr,602,6002\r"
        + b"3,Last,crlf,603,6003\r\n"
    )

    labels = root / "labels_by_product.csv"
    labels.write_text(
        f"productid,prdtypecode\n100,2060\n200,1920\n302,2583\n{MAX_LONG},10\n301,2583\n",
        encoding="utf-8",
    )

    folder = root / "images"
    folder.mkdir()
    (folder / image_name(1000, 100)).write_bytes(jpeg())
    (folder / image_name(2000, 200)).write_bytes(jpeg(color=(200, 10, 10)))
    (folder / image_name(12345678901234567890, 104)).write_bytes(jpeg(color=(1, 1, 1)))
    (folder / f"image_{ARABIC_123}_product_5.jpg").write_bytes(jpeg(color=(2, 2, 2)))
    (folder / image_name(7000, 700)).write_bytes(bomb_jpeg())  # stored, flagged
    (folder / image_name(7001, 701)).write_bytes(cmyk_jpeg())
    (folder / image_name(7002, 702)).write_bytes(exif_rotated_jpeg())
    os.mkfifo(folder / image_name(2001, 201))  # read()ing it would block the run for ever
    (folder / image_name(2002, 202)).mkdir()  # a folder named like an image: walked, empty

    archive = root / "images.zip"
    with warnings.catch_warnings(), zipfile.ZipFile(archive, "w") as out:
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": wanted here
        out.writestr(image_name(3000, 300), jpeg(color=(3, 3, 3)))
        # The same member name twice: different bytes (none kept), identical bytes (one kept).
        out.writestr(image_name(3002, 302), jpeg(color=(4, 4, 4)))
        out.writestr(image_name(3002, 302), jpeg(color=(5, 5, 5)))
        out.writestr(image_name(3003, 303), jpeg(color=(6, 6, 6)))
        out.writestr(image_name(3003, 303), jpeg(color=(6, 6, 6)))
        out.writestr(image_name(3004, 304), jpeg(color=(7, 7, 7)))
        out.writestr(image_name(3005, 305), jpeg(color=(8, 8, 8)))
        out.writestr("very_long_" + "n" * 1000 + ".jpg", jpeg())  # a name no file system takes
    patch_zip_member(archive, image_name(3004, 304), flag_bits=0x1)  # encrypted
    patch_zip_member(archive, image_name(3005, 305), method=9)  # deflate64
    empty_archive = root / "no_images.zip"
    with zipfile.ZipFile(empty_archive, "w"):
        pass

    expected = Expected(
        quarantine={
            "id_out_of_range_productid": 1,
            "non_numeric_productid": 1,
            "id_out_of_range_imageid": 1,
            "field_too_large": 1,
            "undecodable_text": 3,
            "label_without_listing": 1,
            "invalid_id": 2,
            "not_a_regular_file": 1,
            "conflicting_duplicate_imageid": 2,
            "duplicate_file": 1,
            "encrypted_archive_entry": 1,
            "unsupported_compression": 1,
            "unrecognized_file_name": 1,
        },
        listings={100, MAX_LONG, 200, 201, 300, 302, 600, 601, 602, 603},
        labels={100: 2060, 200: 1920, 302: 2583, MAX_LONG: 10},
        images={1000, 2000, 3000, 3003, 7000, 7001, 7002},
        image_problems={7000: "decompression_bomb", 7001: None, 7002: None},
        has_image={
            **{100: True, MAX_LONG: False, 200: True, 201: False, 300: True, 302: False},
            **{600: False, 601: False, 602: False, 603: False},
        },
        read={"listings": 5 + 2 + 3 + 4, "labels": 5, "images": 10 + 6},
        quarantined={"listings": 4, "labels": 1, "images": 9},
        decoded={str(cp1252): "cp1252"},
        texts={
            200: chair,
            302: after,
            100: ("Lampe de chevet émaillée", "Belle lampe"),
            600: crlf_text,
            601: ("Plain", "lf"),
            602: ("Old Mac", "cr"),
            603: ("Last", "crlf"),
        },
    )
    return HostileInputs(
        listings=[str(p) for p in (ok, cp1252, big, mixed, gzipped, zipped, mixed_ends)],
        labels=[str(labels)],
        images=[str(folder), str(archive), str(empty_archive)],
        expected=expected,
    )
