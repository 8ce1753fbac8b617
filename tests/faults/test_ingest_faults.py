"""The ingest against hostile inputs (issue 14): nothing crashes the run, nothing is stored
corrupted; each bad input is quarantined with its reason and the valid files of the same run land.

The pure-Python parts (encoding detection, the fallback CSV reader, image enumeration and entry
reading) are tested without Spark; one run of the ingest job on every hostile input at once, on
both Delta engines, checks the tables, the summary and the exit code.
"""

from __future__ import annotations

import codecs
import dataclasses
import json
import re
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from pyspark.sql import functions as F
from tests.faults.crashes import written_state
from tests.faults.hostile import (
    ARABIC_123,
    MAX_CHARS,
    MAX_LONG,
    hostile_cases,
    landed_from,
    listings_csv,
    patch_zip_member,
    silent_corruptions,
    sixteen_bit_jpeg,
    sixteen_bit_png,
    write_hostile_inputs,
)
from tests.helpers import image_name, jpeg

from catalog_classifier.ingest.csv_files import (
    RAW_LISTINGS_SCHEMA,
    _read_csv,
    detect_text_encoding,
    parse_csv_in_python,
    scan_text,
)
from catalog_classifier.ingest.images import _read_one_image, enumerate_images
from catalog_classifier.ingest.records import QUARANTINE_REASONS, IngestInputError, id_problem
from catalog_classifier.storage.tables import (
    BRONZE_IMAGES,
    BRONZE_LABELS,
    BRONZE_LISTINGS,
    BRONZE_QUARANTINE,
    BRONZE_TABLES,
)

REPO = Path(__file__).resolve().parents[2]


def test_ids_are_signed_64_bit_integers_of_ascii_digits():
    assert id_problem("0") is None and id_problem(str(MAX_LONG)) is None
    assert "64-bit" in id_problem(str(MAX_LONG + 1))
    assert "64-bit" in id_problem("1" * 40)
    assert id_problem(ARABIC_123) == "not ASCII digits"
    assert id_problem("\uff11") == "not ASCII digits"  # fullwidth 1
    assert id_problem("-1") == "not ASCII digits" and id_problem("") == "not ASCII digits"


def test_16_bit_images_are_flagged_or_measured_scaled_never_clipped():
    from catalog_classifier.features.image import measure_image
    from catalog_classifier.features.imaging import check_image_bytes

    check = check_image_bytes(sixteen_bit_jpeg(), 40_000_000)
    assert check.problem == "corrupt" and "16-bit JPEG (SOF1)" in check.detail
    measured = measure_image(sixteen_bit_jpeg(), 40_000_000, 2.0)
    assert measured["invalid_reason"] == "corrupt" and "16-bit" in measured["invalid_detail"]
    # Mid-gray at 16 bits is mid-gray at 8, not white (Pillow's own conversion clips to 255).
    gray = measure_image(sixteen_bit_png(), 40_000_000, 2.0)
    assert gray["is_valid"] and gray["mode"] == "I;16"
    assert round(gray["brightness"]) == 128 and gray["is_blank"]


def test_encoding_is_utf8_or_the_declared_fallback_or_quarantined(tmp_path):
    def detect(data: bytes, fallback: str = "cp1252") -> str:
        path = tmp_path / "f.csv"
        path.write_bytes(data)
        return detect_text_encoding(str(path), fallback)

    assert detect("é – €".encode()) == "utf-8"
    assert detect("\ufeffa,b\n".encode()) == "utf-8"
    assert detect("Très «belle» – 20 €".encode("cp1252")) == "cp1252"
    assert detect("Très belle".encode("latin-1"), "latin-1") == "iso8859-1"
    cases = {
        # mostly UTF-8 with one Latin-1 line: either decoding would corrupt a part
        "mixed encodings": "é è ° ô".encode() * 20 + "café".encode("latin-1"),
        "nor cp1252": b"caf\xe9 \x81",  # 0x81 is undefined in Windows-1252
        "NUL byte": b"a,b\n\x00\x01",
        "no ingest.fallback_encoding": "café".encode("latin-1"),
        "not UTF-8 (byte 5), nor cp1252 (byte 6)": b"aaaaa\xe9\x81",
        "not UTF-8 (byte 2), nor cp1252 (byte 4)": b"aa\xe9z\x81",
    }
    for words, data in cases.items():
        with pytest.raises(IngestInputError, match=re.escape(words)) as caught:
            detect(data, "" if "fallback" in words else "cp1252")
        assert caught.value.reason == "undecodable_text"
    # A sequence cut at the very end of the file is not UTF-8 either.
    assert detect("café".encode()[:-1], "cp1252") == "cp1252"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_csvs_with_their_byte_order_mark_are_read(tmp_path, config, codec):
    """ "Unicode text" as Excel saves it: the mark names the codec; the rows read as written,
    not refused as binary for their NUL bytes."""
    rows = [
        [0, "Chaise « chêne » – 20 €", 'deux\nlignes, "citées"', 800, 8000],
        [1, "日本", "", 801, 8001],
    ]
    path = tmp_path / "listings.csv"
    path.write_bytes(listings_csv(rows, codec, bom=True))
    assert detect_text_encoding(str(path), "cp1252") == codec
    parsed, rejected = parse_csv_in_python(
        str(path), codec, RAW_LISTINGS_SCHEMA, config.ingest, "listing"
    )
    assert rejected == []
    assert parsed[["designation", "description", "productid"]].values.tolist() == [
        [r[1], r[2] or None, str(r[3])] for r in rows
    ]
    # A mark in front of bytes that are not that codec, or of binary data: refused by name.
    path.write_bytes(codecs.BOM_UTF16_LE + b"a\x00\x00\xd8,\x00")  # a lone surrogate
    with pytest.raises(IngestInputError, match="utf-16-le byte order mark but is not utf-16-le"):
        detect_text_encoding(str(path), "cp1252")
    path.write_bytes(codecs.BOM_UTF16_LE + "a,b\n".encode("utf-16-le") + b"\x00\x00")
    with pytest.raises(IngestInputError, match="NUL character in utf-16-le text"):
        detect_text_encoding(str(path), "cp1252")


def test_python_reader_sets_oversized_records_apart_and_reads_the_rest_as_spark(tmp_path):
    path = tmp_path / "big.csv"
    huge = 'x"y,\n' * MAX_CHARS
    path.write_bytes(
        listings_csv([[0, "a", 'b\n"q"', 1, 2], [1, "huge", huge, 3, 4], [2, "c", "", 5, 6]])
        + b"3,too,many,fields,7,8\n\n"
        + b'4,"'
        + b"z" * (MAX_CHARS + 1)
        + b'",,9,10\n'  # oversized on one line
        + b"5,last,no newline,11,12"
    )
    cfg = SimpleNamespace(
        csv_max_chars_per_column=MAX_CHARS, csv_max_field_lines=10_000, quarantine_raw_chars=4000
    )
    rows, rejected = parse_csv_in_python(str(path), "utf-8", RAW_LISTINGS_SCHEMA, cfg, "listing")
    assert [(r.locator, r.reason, r.kind) for r in rejected] == [
        ("1", "field_too_large", "listing"),
        ("4", "field_too_large", "listing"),
    ]
    records = rows.to_dict("records")
    assert [r["row_index"] for r in records] == ["0", "2", "3", "5"]
    assert records[0]["description"] == 'b\n"q"' and records[0]["_corrupt_record"] is None
    assert records[1]["description"] is None  # empty, as Spark reads it
    assert records[2]["_corrupt_record"] == "3,too,many,fields,7,8"
    assert records[3]["imageid"] == "12" and records[3]["_corrupt_record"] is None


@pytest.mark.parametrize("max_lines", [2, 10_000])
def test_a_stray_quote_costs_its_own_record_and_every_later_record_is_read(tmp_path, max_lines):
    """Caught by the line bound (2) or at the end of the file (10,000): the same records."""
    path = tmp_path / "stray.csv"
    path.write_bytes(
        b",designation,description,productid,imageid\n"
        b'0,Avant,"deux\nlignes",1,2\n'  # lines 2-3, a quoted field spanning lines
        b'2,Des "Arts,,5,6\n'  # line 4: a quote inside an unquoted field is a character
        b'1,"Guillemet perdu,,3,4\n'  # line 5: the quote never closes
        b'3,Fin,"x ""y""",7,8\n'  # its opening quote cannot close the stray one
    )
    cfg = SimpleNamespace(
        csv_max_chars_per_column=MAX_CHARS, csv_max_field_lines=max_lines, quarantine_raw_chars=9
    )
    rows, rejected = parse_csv_in_python(str(path), "utf-8", RAW_LISTINGS_SCHEMA, cfg, "listing")
    assert [(r.locator, r.reason, r.kind, r.raw) for r in rejected] == [
        ("line 5", "unclosed_quote", "listing", '1,"Guille')
    ]
    assert "row '1' (line 5)" in rejected[0].detail
    records = rows.to_dict("records")
    assert [(r["row_index"], r["designation"], r["description"]) for r in records] == [
        ("0", "Avant", "deux\nlignes"),
        ("2", 'Des "Arts', None),
        ("3", "Fin", 'x "y"'),
    ]
    assert all(r["_corrupt_record"] is None for r in records)


def test_two_stray_quotes_further_apart_than_the_bound_are_two_records_set_apart(tmp_path):
    """Without the bound the second quote would close the first and make one record of all
    the lines between them."""
    path = tmp_path / "two.csv"
    path.write_bytes(
        b",designation,description,productid,imageid\n"
        + b'0,"perdu,,1,2\n'
        + b"".join(b"%d,ok,,%d,%d\n" % (i, 10 + i, 20 + i) for i in range(1, 5))
        + b'5,"encore,,3,4\n6,ok,,5,6\n'
    )
    cfg = SimpleNamespace(
        csv_max_chars_per_column=MAX_CHARS, csv_max_field_lines=3, quarantine_raw_chars=4000
    )
    rows, rejected = parse_csv_in_python(str(path), "utf-8", RAW_LISTINGS_SCHEMA, cfg, "listing")
    assert [(r.locator, r.reason) for r in rejected] == [
        ("line 2", "unclosed_quote"),
        ("line 7", "unclosed_quote"),
    ]
    assert list(rows["row_index"]) == ["1", "2", "3", "4", "6"]


def test_a_nul_byte_costs_its_own_record_and_many_make_a_binary_file(tmp_path):
    path = tmp_path / "nul.csv"
    rows_in: list[list[object]] = [
        [i, f"Tasse {i}", "porcelaine blanche, anse large", 10 + i, 20 + i] for i in range(4)
    ]
    rows_in[1][1] = "Tasse\x00 1"
    path.write_bytes(listings_csv(rows_in))
    scan = scan_text(str(path), "cp1252")
    assert (scan.encoding, scan.nul_bytes) == ("utf-8", 1)
    cfg = SimpleNamespace(
        csv_max_chars_per_column=MAX_CHARS, csv_max_field_lines=10, quarantine_raw_chars=4000
    )
    rows, rejected = parse_csv_in_python(str(path), "utf-8", RAW_LISTINGS_SCHEMA, cfg, "listing")
    assert [(r.locator, r.reason, r.raw) for r in rejected] == [
        ("line 3", "nul_byte", '1,Tasse\x00 1,"porcelaine blanche, anse large",11,21')
    ]
    assert list(rows["row_index"]) == ["0", "2", "3"]
    # The same in cp1252 text (the fallback reader meets the NUL after decoding).
    path.write_bytes(listings_csv(rows_in, "cp1252"))
    assert scan_text(str(path), "cp1252").nul_bytes == 1
    # NUL bytes making more than 1% of the file: binary, refused whole.
    path.write_bytes(listings_csv(rows_in) + b"\x00" * 10)
    with pytest.raises(IngestInputError, match="NUL byte at offset"):
        scan_text(str(path), "cp1252")


def test_the_line_bound_is_validated_at_load():
    from catalog_classifier.config import ConfigError, load_config

    assert load_config(REPO / "conf/local.yaml", []).ingest.csv_max_field_lines == 10_000
    for bad in ("0", "-3", "abc"):
        with pytest.raises(ConfigError, match="csv_max_field_lines"):
            load_config(REPO / "conf/local.yaml", [f"ingest.csv_max_field_lines={bad}"])


def test_image_names_folders_and_archives_that_cannot_be_read_are_quarantined(config, tmp_path):
    inputs = write_hostile_inputs(tmp_path)
    entries, rejected = enumerate_images(inputs.images, config.ingest)
    by_reason = sorted((r.reason, Path(r.locator).name) for r in rejected)
    assert by_reason == sorted(
        [
            ("invalid_id", image_name(12345678901234567890, 104)),
            ("invalid_id", f"image_{ARABIC_123}_product_5.jpg"),
            ("not_a_regular_file", image_name(2001, 201)),
            ("encrypted_archive_entry", image_name(3004, 304)),
            ("unsupported_compression", image_name(3005, 305)),
            ("unrecognized_file_name", "very_long_" + "n" * 1000 + ".jpg"),
            ("symlink", "linked"),
        ]
    )
    assert "FIFO" in next(r.detail for r in rejected if r.reason == "not_a_regular_file")
    # A name stored twice in one archive: both copies, each by its own index.
    twice = [(e.entry, e.member) for e in entries if e.imageid == 3002]
    assert twice == [(image_name(3002, 302), 1), (image_name(3002, 302) + "#2", 2)]
    assert {e.imageid for e in entries} == {
        *(1000, 2000, 3000, 3002, 3003),
        *(7000, 7001, 7002, 7003, 7004, 7005, 7006, 7007),
    }


def test_any_failure_reading_one_archive_entry_is_that_entry_s_quarantine(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("encrypted.jpg", jpeg())
        out.writestr("deflate64.jpg", jpeg())
        out.writestr("corrupt.jpg", jpeg((200, 200)), zipfile.ZIP_DEFLATED)
        out.writestr("fine.jpg", jpeg())
    patch_zip_member(archive, "encrypted.jpg", flag_bits=0x1)
    patch_zip_member(archive, "deflate64.jpg", method=9)
    with zipfile.ZipFile(archive) as opened:
        corrupt = opened.getinfo("corrupt.jpg")
    data = bytearray(archive.read_bytes())
    start = corrupt.header_offset + 30 + len(corrupt.filename) + len(corrupt.extra)
    data[start : start + 64] = b"\xff" * 64  # an invalid deflate block
    archive.write_bytes(bytes(data))

    archives: dict[str, zipfile.ZipFile] = {}
    results = {}
    for member, name in enumerate(("encrypted.jpg", "deflate64.jpg", "corrupt.jpg", "fine.jpg")):
        entry = SimpleNamespace(
            source=str(archive), entry=name, kind="zip", imageid=1, productid=1, member=member
        )
        results[name] = _read_one_image(entry, archives, 10_000_000, 40_000_000)
    for archive_file in archives.values():
        archive_file.close()
    assert results["fine.jpg"]["reject_reason"] is None and results["fine.jpg"]["sha256"]
    for name, error in (
        ("encrypted.jpg", "RuntimeError"),
        ("deflate64.jpg", "NotImplementedError"),
        ("corrupt.jpg", "error"),  # zlib.error
    ):
        assert results[name]["reject_reason"] == "corrupt_archive_entry", name
        assert results[name]["detail"].split(":")[0].endswith(error), results[name]["detail"]


def test_the_ingest_job_quarantines_every_hostile_input_and_lands_the_rest(
    spark, lakehouse, tmp_path
):
    import jobs.ingest

    inputs = write_hostile_inputs(tmp_path / "in")
    expected = inputs.expected
    args = [
        "--lakehouse",
        lakehouse.root,
        "--set",
        f"delta_engine={lakehouse.engine.name}",
        "--set",
        f"ingest.csv_max_chars_per_column={MAX_CHARS}",
        # The session's settings as the test fixtures made them (main() applies its conf).
        "--set",
        "spark.conf.spark.sql.shuffle.partitions=2",
        "--set",
        "spark.conf.spark.sql.codegen.wholeStage=false",
        *[arg for path in inputs.listings for arg in ("--listings", path)],
        *[arg for path in inputs.labels for arg in ("--labels", path)],
        *[arg for path in inputs.images for arg in ("--images", path)],
    ]
    summary_json = tmp_path / "summary.json"
    assert jobs.ingest.main([*args, "--summary-json", str(summary_json)]) == 0
    summary = json.loads(summary_json.read_text())

    quarantine = lakehouse.read(BRONZE_QUARANTINE)
    reasons = {r["reason"]: r["count"] for r in quarantine.groupBy("reason").count().collect()}
    assert reasons == expected.quarantine
    assert set(reasons) <= QUARANTINE_REASONS
    assert summary["quarantined_by_reason"] == expected.quarantine
    for table in ("listings", "labels", "images"):
        assert summary[table]["read"] == expected.read[table], table
        assert summary[table]["quarantined"] == expected.quarantined[table], table
    assert summary["decoded_files"] == expected.decoded
    assert summary["sound_images_by_note"] == {"trailing_data": 1}  # the motion photo

    listings = {r.productid: r for r in lakehouse.read(BRONZE_LISTINGS).collect()}
    assert set(listings) == expected.listings
    assert {p: r.has_image for p, r in listings.items()} == expected.has_image
    for productid, (designation, description) in expected.texts.items():
        assert (listings[productid].designation, listings[productid].description) == (
            designation,
            description,
        )
    assert not any("\ufffd" in (r.designation + (r.description or "")) for r in listings.values())
    labels = {r.productid: r.prdtypecode for r in lakehouse.read(BRONZE_LABELS).collect()}
    assert labels == expected.labels
    images = {r.imageid: r.problem for r in lakehouse.read(BRONZE_IMAGES).collect()}
    assert set(images) == expected.images
    assert {i: images[i] for i in expected.image_problems} == expected.image_problems

    whole_files = {
        (Path(r.source).name, r.reason)
        for r in quarantine.filter(F.col("record_kind") == "file").collect()
    }
    assert whole_files == {
        ("listings_mixed.csv", "undecodable_text"),
        ("listings_gzipped.csv", "undecodable_text"),
        ("listings_zipped.csv", "undecodable_text"),
        ("listings_duplicate_columns.csv", "unexpected_header"),
    }
    too_large = quarantine.filter(F.col("reason") == "field_too_large").first()
    assert (Path(too_large.source).name, too_large.locator, too_large.record_kind) == (
        "listings_big.csv",
        "1",
        "listing",
    )
    copies = sorted(
        r.locator
        for r in quarantine.filter(F.col("reason") == "conflicting_duplicate_imageid").collect()
    )
    assert copies == [image_name(3002, 302), image_name(3002, 302) + "#2"]

    # Every hostile case by name, and nothing stored that should not be.
    landed = landed_from(lakehouse)
    assert [c.name for c in hostile_cases(expected) if not c.holds(landed)] == []
    assert silent_corruptions(landed, expected) == []

    # The same run again: every hostile input is met the same way and nothing is committed.
    versions = lakehouse.versions(list(BRONZE_TABLES))
    written = written_state(lakehouse.root)
    again_json = tmp_path / "again.json"
    assert jobs.ingest.main([*args, "--summary-json", str(again_json)]) == 0
    again = json.loads(again_json.read_text())
    assert lakehouse.versions(list(BRONZE_TABLES)) == versions
    assert written_state(lakehouse.root) == written  # not even a staging folder
    assert again["quarantine_rows_new"] == 0
    assert again["quarantined_by_reason"] == expected.quarantine


def test_a_non_utf8_csv_is_quarantined_when_no_fallback_is_declared(spark, config, tmp_path):
    from catalog_classifier.ingest.csv_files import load_csv

    path = tmp_path / "latin1.csv"
    path.write_bytes(listings_csv([[0, "Café", "", 1, 2]], "latin-1"))
    strict = dataclasses.replace(config.ingest, fallback_encoding="")
    loaded = load_csv(spark, str(path), "listing", strict)
    assert loaded.raw is None and loaded.rows == 0
    assert [(r.reason, r.kind) for r in loaded.rejections] == [("undecodable_text", "file")]
    decoded = load_csv(spark, str(path), "listing", config.ingest)
    assert decoded.encoding == "cp1252"
    assert decoded.raw.select("designation").first()[0] == "Café"


def test_csvs_of_another_layout_are_refused_whole_with_their_reason(spark, config, tmp_path):
    from catalog_classifier.ingest.csv_files import load_csv

    cases = {
        "duplicate_columns.csv": (
            "listing",
            b",designation,designation,productid,imageid\n0,a,b,1,2\n",
            "unexpected_header",
        ),
        "labels_extra_column.csv": (
            "label",
            b"productid,prdtypecode,comment\n1,10,ok\n",
            "unexpected_header",
        ),
        "empty.csv": ("listing", b"", "empty_file"),
    }
    for name, (kind, data, reason) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        loaded = load_csv(spark, str(path), kind, config.ingest)
        assert loaded.raw is None, name
        assert [(r.reason, r.kind, r.source) for r in loaded.rejections] == [
            (reason, "file", str(path))
        ]


def test_the_ingest_job_refuses_a_labels_file_with_an_extra_column_and_keeps_the_labels(
    spark, lakehouse, tmp_path
):
    """Through the job, on both engines: the file is quarantined whole with its reason, the
    listings of the same run land, and no label is written or changed."""
    import jobs.ingest

    listings = tmp_path / "X.csv"
    listings.write_bytes(listings_csv([[0, "Lampe", "", 100, 1000], [1, "Table", "", 101, 1001]]))
    labels = tmp_path / "Y.csv"
    labels.write_text("productid,prdtypecode\n100,2060\n", encoding="utf-8")
    extra = tmp_path / "Y_extra_column.csv"
    extra.write_text("productid,prdtypecode,comment\n100,10,ok\n101,10,ok\n", encoding="utf-8")
    settings = [
        f"delta_engine={lakehouse.engine.name}",
        "spark.conf.spark.sql.shuffle.partitions=2",
    ]
    args = ["--lakehouse", lakehouse.root, *[a for s in settings for a in ("--set", s)]]
    assert jobs.ingest.main([*args, "--listings", str(listings), "--labels", str(labels)]) == 0
    assert jobs.ingest.main([*args, "--labels", str(extra)]) == 0
    rows = lakehouse.read(BRONZE_QUARANTINE).select("source", "reason", "record_kind")
    assert [tuple(r) for r in rows.collect()] == [(str(extra), "unexpected_header", "file")]
    assert {r.productid for r in lakehouse.read(BRONZE_LISTINGS).collect()} == {100, 101}
    labelled = lakehouse.read(BRONZE_LABELS).collect()
    assert [(r.productid, r.prdtypecode) for r in labelled] == [(100, 2060)]


def test_the_python_reader_gives_spark_s_rows_on_the_real_listings(spark, config, real_data):
    """The fallback reader must not change a single value Spark's reader would have given."""
    path = str(real_data / "X_train.csv")
    python_rows, rejected = parse_csv_in_python(
        path, "utf-8", RAW_LISTINGS_SCHEMA, config.ingest, "listing"
    )
    assert not rejected
    spark_rows = _read_csv(spark, path, RAW_LISTINGS_SCHEMA, config.ingest).drop("source_file")
    expected = [tuple(r) for r in spark_rows.collect()]
    # Spark reads a quoted empty field as "", an unquoted one as null: both are "no value".
    normalise = [tuple(None if v == "" else v for v in row) for row in expected]
    assert len(normalise) == len(python_rows) == 2370
    assert [tuple(r) for r in python_rows.itertuples(index=False)] == normalise


@pytest.mark.real_data
def test_a_stray_quote_in_the_real_listings_costs_one_record_not_the_file(
    spark, config, lakehouse, real_data, tmp_path
):
    """Issue 32: one unbalanced quote in row 1's title made the other 2,369 rows one quarantine
    record (cut at 4,000 characters, locator "?") and the job said nothing of them."""
    import jobs.ingest

    lines = (real_data / "X_train.csv").read_text(encoding="utf-8").split("\n")
    assert lines[2].startswith("1,Journal Des Arts")
    broken_line = lines[2].replace("1,Journal", '1,"Journal', 1)
    broken = tmp_path / "X_train.csv"
    broken.write_text("\n".join([*lines[:2], broken_line, *lines[3:]]), encoding="utf-8")
    summary_json = tmp_path / "summary.json"
    settings = [
        f"delta_engine={lakehouse.engine.name}",
        "spark.conf.spark.sql.shuffle.partitions=2",
        "spark.conf.spark.sql.codegen.wholeStage=false",
    ]
    args = ["--lakehouse", lakehouse.root, *[a for s in settings for a in ("--set", s)]]
    code = jobs.ingest.main([*args, "--listings", str(broken), "--summary-json", str(summary_json)])
    assert code == 0
    summary = json.loads(summary_json.read_text())
    assert (summary["listings"]["read"], summary["listings"]["quarantined"]) == (2370, 1)
    assert summary["csv_records_set_apart"] == {str(broken): {"unclosed_quote": 1}}
    quarantine = [
        tuple(r)
        for r in lakehouse.read(BRONZE_QUARANTINE)
        .select("source", "locator", "reason", "record_kind", "raw_record")
        .collect()
    ]
    assert quarantine == [(str(broken), "line 3", "unclosed_quote", "listing", broken_line)]
    # Every other row as Spark's reader gives it from the clean file.
    clean = _read_csv(spark, str(real_data / "X_train.csv"), RAW_LISTINGS_SCHEMA, config.ingest)
    expected = {
        int(r.productid): (r.designation, r.description or None, int(r.imageid))
        for r in clean.collect()
        if r.row_index != "1"
    }
    stored = {
        r.productid: (r.designation, r.description, r.imageid)
        for r in lakehouse.read(BRONZE_LISTINGS).collect()
    }
    assert len(stored) == 2369 and stored == expected


def _documented_reasons() -> set[str]:
    """The reasons the quarantine table of docs/operations.md names (its first column,
    wildcards expanded by the row's own list)."""
    runbook = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    table = runbook.split("| reason / flag | when |", 1)[1].split("\n\n", 1)[0]
    names = set()
    for row in table.splitlines()[2:]:
        first, when = row.split("|")[1:3]
        for cell in (first, when if "*" in first else ""):
            names |= {n for n in re.findall(r"`([a-z_]+)`", cell)}
    return names


def _code_reasons() -> tuple[set[str], set[str]]:
    """The reason literals in the ingest's code, and the templates (f-strings) of the others:
    F.lit("..."), Rejection(_, _, "..."), IngestInputError(_, "..."), "reject_reason": "..."
    and assignments to a variable named reason."""
    import ast

    sources = [*(REPO / "lib/catalog_classifier/ingest").glob("*.py")]
    sources.append(REPO / "lib/catalog_classifier/stages/ingest.py")
    literals: set[str] = set()
    templates: set[str] = set()

    def collect(node: ast.AST | None) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            literals.add(node.value)
        elif isinstance(node, ast.JoinedStr):
            templates.add(
                "".join(
                    re.escape(v.value) if isinstance(v, ast.Constant) else "[a-z_]+"
                    for v in node.values
                )
            )
        elif isinstance(node, ast.IfExp):
            collect(node.body)
            collect(node.orelse)

    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                positional = {"lit": 0, "Rejection": 2, "IngestInputError": 1}.get(name)
                if positional is not None and len(node.args) > positional:
                    value = node.args[positional]
                    if (
                        name != "lit"
                        or isinstance(value, ast.JoinedStr)
                        or "_" in str(getattr(value, "value", ""))
                    ):
                        collect(value)
                collect(next((k.value for k in node.keywords if k.arg == "reason"), None))
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "reject_reason":
                        collect(value)
            elif isinstance(node, ast.Assign):
                if any(getattr(t, "id", "") == "reason" for t in node.targets):
                    collect(node.value)
    shaped = {r for r in literals if re.fullmatch(r"[a-z]+(_[a-z]+)*", r)}
    return shaped, {t for t in templates if " " not in t}  # not a detail's sentence


def test_the_runbook_lists_every_quarantine_reason_the_code_can_write():
    from catalog_classifier.ingest.records import QUARANTINE_REASONS

    assert _documented_reasons() == set(QUARANTINE_REASONS)
    literals, templates = _code_reasons()
    assert literals - QUARANTINE_REASONS == set()
    assert len(literals) > 25 and len(templates) >= 4, (literals, templates)
    for template in templates:  # f"missing_{column}", f"conflicting_{kind}s_across_files"...
        assert any(re.fullmatch(template, r) for r in QUARANTINE_REASONS), template
