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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from tests.helpers import LISTINGS_HEADER, image_name, jpeg

if TYPE_CHECKING:
    from catalog_classifier.storage.lakehouse import Lakehouse

MAX_LONG = 2**63 - 1
# Spark's maxCharsPerColumn for the runs of these files: small, so an oversized field is cheap.
MAX_CHARS = 2000
ARABIC_123 = "\u0661\u0662\u0663"  # "123" in Arabic-Indic digits: str.isdigit() says yes
LONG_NAME = "image_" + "0" * 225 + "7005_product_705.jpg"  # 255 bytes: imageid 7005


def listings_csv(rows: list[list[object]], encoding: str = "utf-8", bom: bool = False) -> bytes:
    """A listings CSV in ``encoding``; ``bom``: led by the byte order mark (U+FEFF encoded)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LISTINGS_HEADER)
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode(encoding)


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


def sixteen_bit_jpeg() -> bytes:
    """A JPEG whose frame header declares 16-bit samples (SOF1, extended sequential): a
    valid header Pillow's 8-bit decoder cannot take."""
    data = bytearray(jpeg((16, 16)))
    sof = data.index(b"\xff\xc0")
    data[sof + 1], data[sof + 4] = 0xC1, 16  # marker, sample precision
    return bytes(data)


def sixteen_bit_png() -> bytes:
    """A 16-bit gray photo (PNG bytes under a .jpg name): mid-gray, 32,896 of 65,535."""
    buffer = io.BytesIO()
    Image.fromarray(np.full((20, 30), 128 * 257, dtype=np.uint16)).save(buffer, "PNG")
    return buffer.getvalue()


def motion_photo() -> bytes:
    """A complete JPEG followed by 1 MiB, as phones append a motion photo's video."""
    return jpeg((32, 24), (40, 90, 140)) + bytes(range(256)) * 4096


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

    # "Unicode text" as Excel and Windows tools save it: UTF-16 or UTF-32 behind a byte order
    # mark, every ASCII character with NUL bytes beside it.
    utf16 = root / "listings_utf16le.csv"
    teapot = ("Théière « fonte » – 30 €", 'deux\nlignes, "citées"')
    utf16.write_bytes(
        listings_csv([[0, *teapot, 900, 9000], [1, "Bol", "", 901, 9001]], "utf-16-le", bom=True)
    )
    utf32 = root / "listings_utf32be.csv"
    bowl = ("Bol 日本 – bleu", None)
    utf32.write_bytes(listings_csv([[0, bowl[0], "", 910, 9100]], "utf-32-be", bom=True))

    # A stray quote opening a title: without a bound the rest of the file would be one record.
    stray = root / "listings_stray_quote.csv"
    stray_rows = ("0,Avant,,1100,11000\n", '1,"Guillemet perdu,,1101,11001\n')
    stray_after = ("Après", "deux\nlignes")
    stray.write_bytes(
        (
            ",designation,description,productid,imageid\n"
            + "".join(stray_rows)
            + '2,{},"{}",1102,11002\n3,Fin,,1103,11003\n'.format(*stray_after)
        ).encode()
    )
    # One NUL byte in one title of an otherwise sound text file: that record alone is set apart.
    nul = root / "listings_nul.csv"
    nul.write_bytes(
        listings_csv(
            [
                [0, "Tasse\x00 à café", "porcelaine blanche, anse large", 1200, 12000],
                [1, "Soucoupe", "porcelaine blanche, assortie à la tasse", 1201, 12001],
                [2, "Théière", "porcelaine blanche, un litre", 1202, 12002],
            ]
        )
    )

    # Two columns with one name: not the listings layout, refused whole.
    duplicate_columns = root / "listings_duplicate_columns.csv"
    duplicate_columns.write_bytes(b",designation,designation,productid,imageid\n0,a,b,700,7000\n")

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
    (folder / image_name(7003, 703)).write_bytes(sixteen_bit_jpeg())  # stored, flagged
    (folder / image_name(7004, 704)).write_bytes(sixteen_bit_png())  # stored as not_jpeg
    # A name near the file system's 255-byte limit, its imageid padded with zeros: valid.
    (folder / LONG_NAME).write_bytes(jpeg(color=(9, 9, 9)))
    (folder / image_name(7006, 706)).write_bytes(motion_photo())  # whole, 1 MiB after it
    cut = jpeg((64, 64), (120, 60, 30))
    (folder / image_name(7007, 707)).write_bytes(cut[:-2])  # its end marker cut off
    os.mkfifo(folder / image_name(2001, 201))  # read()ing it would block the run for ever
    # A link to a folder of images: not followed, and said so.
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / image_name(7008, 708)).write_bytes(jpeg(color=(11, 11, 11)))
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)
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
            "unclosed_quote": 1,
            "nul_byte": 1,
            "undecodable_text": 3,
            "label_without_listing": 1,
            "invalid_id": 2,
            "not_a_regular_file": 1,
            "conflicting_duplicate_imageid": 2,
            "duplicate_file": 1,
            "encrypted_archive_entry": 1,
            "unsupported_compression": 1,
            "unrecognized_file_name": 1,
            "unexpected_header": 1,
            "symlink": 1,
        },
        listings={100, MAX_LONG, 200, 201, 300, 302, 600, 601, 602, 603, 900, 901, 910}
        | {1100, 1102, 1103, 1201, 1202},
        labels={100: 2060, 200: 1920, 302: 2583, MAX_LONG: 10},
        images={1000, 2000, 3000, 3003, 7000, 7001, 7002, 7003, 7004, 7005, 7006, 7007},
        image_problems={
            **{7000: "decompression_bomb", 7001: None, 7002: None},
            **{7003: "corrupt", 7004: "not_jpeg", 7005: None, 7006: None, 7007: "truncated"},
        },
        has_image={
            **{100: True, MAX_LONG: False, 200: True, 201: False, 300: True, 302: False},
            **{600: False, 601: False, 602: False, 603: False},
            **{900: False, 901: False, 910: False},
            **{1100: False, 1102: False, 1103: False, 1201: False, 1202: False},
        },
        read={"listings": 5 + 2 + 3 + 4 + 3 + 4 + 3, "labels": 5, "images": 16 + 6},
        quarantined={"listings": 6, "labels": 1, "images": 10},
        decoded={str(cp1252): "cp1252", str(utf16): "utf-16-le", str(utf32): "utf-32-be"},
        texts={
            200: chair,
            302: after,
            100: ("Lampe de chevet émaillée", "Belle lampe"),
            600: crlf_text,
            601: ("Plain", "lf"),
            602: ("Old Mac", "cr"),
            603: ("Last", "crlf"),
            900: teapot,
            901: ("Bol", None),
            910: bowl,
            1102: stray_after,
        },
    )
    return HostileInputs(
        listings=[
            str(p)
            for p in (
                *(ok, cp1252, big, mixed, gzipped, zipped, mixed_ends),
                *(utf16, utf32, stray, nul, duplicate_columns),
            )
        ],
        labels=[str(labels)],
        images=[str(folder), str(archive), str(empty_archive)],
        expected=expected,
    )


# --- Each hostile case and the outcome it owes, checked against what a run left behind. ---


@dataclass
class Landed:
    """What an ingest (and optionally a features run) left in the tables, as plain values."""

    quarantine: list[tuple[str, str, str]]  # (input's file name, locator, reason)
    listings: dict[int, tuple[str, str | None, bool]]  # productid -> (title, description, image?)
    labels: dict[int, int]
    images: dict[int, str | None]  # imageid -> problem
    image_features: dict[int, tuple[bool, str | None, float | None]] = field(default_factory=dict)

    def reasons_of(self, source: str, locator: str | None = None) -> list[str]:
        return sorted(
            reason
            for name, where, reason in self.quarantine
            if name == source and (locator is None or where == locator)
        )


def landed_from(lakehouse: Lakehouse, with_features: bool = False) -> Landed:
    """Read the bronze (and silver image) tables of ``lakehouse`` into a :class:`Landed`."""
    from catalog_classifier.storage.tables import (
        BRONZE_IMAGES,
        BRONZE_LABELS,
        BRONZE_LISTINGS,
        BRONZE_QUARANTINE,
        SILVER_IMAGE_FEATURES,
    )

    quarantine = [
        (Path(r.source).name, r.locator, r.reason)
        for r in lakehouse.read(BRONZE_QUARANTINE).collect()
    ]
    listings = {
        r.productid: (r.designation, r.description, r.has_image)
        for r in lakehouse.read(BRONZE_LISTINGS).collect()
    }
    labels = {r.productid: r.prdtypecode for r in lakehouse.read(BRONZE_LABELS).collect()}
    images = {
        r.imageid: r.problem
        for r in lakehouse.read(BRONZE_IMAGES).select("imageid", "problem").collect()
    }
    features = {}
    if with_features:
        features = {
            r.imageid: (r.is_valid, r.invalid_reason, r.brightness)
            for r in lakehouse.read(SILVER_IMAGE_FEATURES).collect()
        }
    return Landed(quarantine, listings, labels, images, features)


@dataclass(frozen=True)
class Case:
    """One hostile input and a check of the outcome it owes (True: as expected)."""

    name: str
    check: Callable[[Landed], bool]

    def holds(self, landed: Landed) -> bool:
        return bool(self.check(landed))


def _image(
    got: Landed, imageid: int, problem: str | None, valid: bool, reason: str | None = None
) -> bool:
    """The image stored with ``problem``; measured valid or not (when features ran)."""
    measured = imageid not in got.image_features or got.image_features[imageid][:2] == (
        valid,
        reason,
    )
    return imageid in got.images and got.images[imageid] == problem and measured


def hostile_cases(expected: Expected) -> list[Case]:
    """Every hostile input of :func:`write_hostile_inputs`, by name, with its check."""
    texts = expected.texts
    long_member = "very_long_" + "n" * 1000 + ".jpg"
    cases = [
        Case("largest signed 64-bit productid lands", lambda g: MAX_LONG in g.listings),
        Case(
            "productid one past 2**63-1: id_out_of_range_productid",
            lambda g: g.reasons_of("listings_ok.csv", "2") == ["id_out_of_range_productid"],
        ),
        Case(
            "Arabic-Indic digits as productid: non_numeric_productid",
            lambda g: g.reasons_of("listings_ok.csv", "3") == ["non_numeric_productid"],
        ),
        Case(
            "20-digit imageid: id_out_of_range_imageid",
            lambda g: g.reasons_of("listings_ok.csv", "4") == ["id_out_of_range_imageid"],
        ),
        Case("cp1252 CSV decoded as cp1252", lambda g: g.listings[200][:2] == texts[200]),
        Case(
            "UTF-16 LE CSV with its byte order mark: read as written",
            lambda g: all(g.listings.get(p, ())[:2] == texts[p] for p in (900, 901)),
        ),
        Case(
            "UTF-32 BE CSV with its byte order mark: read as written",
            lambda g: g.listings.get(910, ())[:2] == texts[910],
        ),
        Case(
            "field over csv_max_chars_per_column: field_too_large, the rest lands",
            lambda g: (
                g.reasons_of("listings_big.csv") == ["field_too_large"]
                and g.listings.get(302, ())[:2] == texts[302]
                and 300 in g.listings
            ),
        ),
        Case(
            "stray quote opening a title: unclosed_quote on its line, every later record lands",
            lambda g: (
                g.reasons_of("listings_stray_quote.csv") == ["unclosed_quote"]
                and g.reasons_of("listings_stray_quote.csv", "line 3") == ["unclosed_quote"]
                and {1100, 1102, 1103} <= set(g.listings)
                and g.listings[1102][:2] == texts[1102]
            ),
        ),
        Case(
            "one NUL byte in one title: nul_byte on its line, the file's other rows land",
            lambda g: (
                g.reasons_of("listings_nul.csv") == ["nul_byte"]
                and g.reasons_of("listings_nul.csv", "line 2") == ["nul_byte"]
                and {1201, 1202} <= set(g.listings)
            ),
        ),
        Case(
            "UTF-8 with a pasted Latin-1 row: undecodable_text",
            lambda g: g.reasons_of("listings_mixed.csv", "") == ["undecodable_text"],
        ),
        Case(
            "gzip'd CSV handed as a CSV: undecodable_text",
            lambda g: g.reasons_of("listings_gzipped.csv", "") == ["undecodable_text"],
        ),
        Case(
            "zip'd CSV handed as a CSV: undecodable_text",
            lambda g: g.reasons_of("listings_zipped.csv", "") == ["undecodable_text"],
        ),
        Case(
            "mixed line ends, inside quotes too: each kept as written",
            lambda g: all(g.listings.get(p, ())[:2] == texts[p] for p in (600, 601, 602, 603)),
        ),
        Case(
            "duplicate columns: unexpected_header",
            lambda g: g.reasons_of("listings_duplicate_columns.csv") == ["unexpected_header"],
        ),
        Case(
            "label of a quarantined listing: label_without_listing",
            lambda g: (
                g.reasons_of("labels_by_product.csv") == ["label_without_listing"]
                and g.labels == expected.labels
            ),
        ),
        Case(
            "20-digit imageid in an image name: invalid_id",
            lambda g: (
                g.reasons_of("images", image_name(12345678901234567890, 104)) == ["invalid_id"]
            ),
        ),
        Case(
            "Arabic-Indic digits in an image name: invalid_id",
            lambda g: g.reasons_of("images", f"image_{ARABIC_123}_product_5.jpg") == ["invalid_id"],
        ),
        Case(
            "valid JPEG with a 65,500 x 65,500 header: decompression_bomb, not decoded",
            lambda g: _image(g, 7000, "decompression_bomb", False, "decompression_bomb"),
        ),
        Case(
            "CMYK JPEG: a sound image",
            lambda g: _image(g, 7001, None, True),
        ),
        Case(
            "EXIF-rotated JPEG: a sound image",
            lambda g: _image(g, 7002, None, True),
        ),
        Case(
            "16-bit JPEG: stored, flagged corrupt (8-bit decoder only)",
            lambda g: _image(g, 7003, "corrupt", False, "corrupt"),
        ),
        Case(
            "16-bit gray PNG named .jpg: not_jpeg, measured scaled (mid-gray, not white)",
            lambda g: (
                _image(g, 7004, "not_jpeg", True)
                and (7004 not in g.image_features or abs(g.image_features[7004][2] - 128) < 1)
            ),
        ),
        Case("file name of 251 bytes in a folder lands", lambda g: _image(g, 7005, None, True)),
        Case(
            "JPEG followed by 1 MiB (a motion photo): a sound image",
            lambda g: _image(g, 7006, None, True),
        ),
        Case(
            "JPEG cut before its end marker: truncated",
            lambda g: _image(g, 7007, "truncated", False, "truncated"),
        ),
        Case(
            "link to a folder in an image folder: symlink, not followed",
            lambda g: g.reasons_of("images", "linked") == ["symlink"] and 7008 not in g.images,
        ),
        Case(
            "FIFO named like an image: not_a_regular_file, never opened",
            lambda g: g.reasons_of("images", image_name(2001, 201)) == ["not_a_regular_file"],
        ),
        Case(
            "directory named like an image: walked, nothing stored or quarantined",
            lambda g: (
                2002 not in g.images
                and not any(image_name(2002, 202) in where for _, where, _ in g.quarantine)
            ),
        ),
        Case(
            "one zip member name twice, different bytes: none kept",
            lambda g: (
                3002 not in g.images
                and g.reasons_of("images.zip", image_name(3002, 302))
                + g.reasons_of("images.zip", image_name(3002, 302) + "#2")
                == ["conflicting_duplicate_imageid"] * 2
            ),
        ),
        Case(
            "one zip member name twice, same bytes: one kept",
            lambda g: (
                3003 in g.images
                and g.reasons_of("images.zip", image_name(3003, 303) + "#2") == ["duplicate_file"]
            ),
        ),
        Case(
            "encrypted zip member: encrypted_archive_entry",
            lambda g: (
                g.reasons_of("images.zip", image_name(3004, 304)) == ["encrypted_archive_entry"]
            ),
        ),
        Case(
            "deflate64 zip member: unsupported_compression",
            lambda g: (
                g.reasons_of("images.zip", image_name(3005, 305)) == ["unsupported_compression"]
            ),
        ),
        Case(
            "1,000-character member name: unrecognized_file_name",
            lambda g: g.reasons_of("images.zip", long_member) == ["unrecognized_file_name"],
        ),
        Case(
            "0-entry image archive: nothing stored, nothing quarantined",
            lambda g: not g.reasons_of("no_images.zip"),
        ),
    ]
    return cases


def silent_corruptions(landed: Landed, expected: Expected) -> list[str]:
    """Rows stored that must not be, or stored wrong: each a line saying which and how."""
    problems = []
    for productid, (title, description, _) in landed.listings.items():
        if productid not in expected.listings:
            problems.append(f"listing {productid} stored, expected quarantined")
        if "\ufffd" in title + (description or ""):
            problems.append(f"listing {productid} holds replacement characters")
        if productid in expected.texts and (title, description) != expected.texts[productid]:
            problems.append(f"listing {productid} text changed: {(title, description)!r}")
    for productid, (_, _, has_image) in landed.listings.items():
        if expected.has_image.get(productid, has_image) != has_image:
            problems.append(f"listing {productid} has_image={has_image}")
    for imageid in set(landed.images) - expected.images:
        problems.append(f"image {imageid} stored, expected quarantined")
    for productid, code in landed.labels.items():
        if expected.labels.get(productid) != code:
            problems.append(f"label {productid}={code} stored")
    return problems
