"""The ingest job on hand-made bad input and on the generated sample catalog."""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path

import pandas as pd
from pyspark.sql import functions as F
from tests.helpers import image_name, jpeg, png, write_labels, write_listings, write_zip

from catalog_classifier.ingest.images import enumerate_images
from catalog_classifier.stages.ingest import run_ingest
from catalog_classifier.storage.tables import (
    BRONZE_IMAGES,
    BRONZE_LABELS,
    BRONZE_LISTINGS,
    BRONZE_QUARANTINE,
)


def quarantine_reasons(lakehouse) -> dict[str, int]:
    rows = lakehouse.read(BRONZE_QUARANTINE).groupBy("reason").count().collect()
    return {row["reason"]: row["count"] for row in rows}


def test_archive_entries_that_escape_or_inflate_are_refused(config, tmp_path):
    cfg = replace(config.ingest, max_image_bytes=1_000_000)
    archive = write_zip(
        tmp_path / "a.zip",
        {
            "../evil/" + image_name(1, 2): jpeg(),
            "/abs/" + image_name(3, 4): jpeg(),
            "C:/win/" + image_name(5, 6): jpeg(),
            "ok/" + image_name(7, 8): jpeg(),
            "notes.txt": b"hello",
            image_name(9, 10): b"",
            image_name(11, 12): b"\0" * 2_000_000,
        },
    )
    # A zip bomb: a small entry that inflates more than max_compression_ratio allows.
    with zipfile.ZipFile(archive, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(image_name(13, 14), b"\0" * 500_000)
    entries, rejected = enumerate_images([str(archive), str(tmp_path / "missing.zip")], cfg)
    assert [(e.imageid, e.productid, e.entry) for e in entries] == [
        (7, 8, "ok/" + image_name(7, 8))
    ]
    reasons = {r.locator: r.reason for r in rejected}
    assert reasons == {
        "../evil/" + image_name(1, 2): "unsafe_archive_path",
        "/abs/" + image_name(3, 4): "unsafe_archive_path",
        "C:/win/" + image_name(5, 6): "unsafe_archive_path",
        "notes.txt": "unrecognized_file_name",
        image_name(9, 10): "empty_file",
        image_name(11, 12): "file_too_large",
        image_name(13, 14): "suspicious_compression_ratio",
        "": "missing_source",
    }


def bad_input(tmp_path: Path) -> dict[str, str]:
    listings = write_listings(
        tmp_path / "X.csv",
        [
            [0, "Lampe de chevet", 'Belle lampe,\n"vintage" <br>&eacute;', 100, 1000],
            [1, "Housse de couette", "", 101, 1001],
            [2, "Carte Pokemon", "rare", "12ab", 1002],
            [3, "Sans image id", "", 103, ""],
            [4, "", "no title", 104, 1004],
            [5, "Lampe de chevet", 'Belle lampe,\n"vintage" <br>&eacute;', 100, 1000],
            [6, "Conflit A", "", 106, 1006],
            [7, "Conflit B", "", 106, 1006],
            [8, "Sans photo", "", 108, 1008],
            [9, "Photo corrompue", "", 109, 1009],
            [10, "Photo PNG", "", 110, 1010],
        ],
    )
    with listings.open("a", encoding="utf-8") as handle:
        handle.write("11,too,many,fields,111,1011,extra\n")
    labels = write_labels(
        tmp_path / "Y.csv",
        [
            (0, 2060),
            (1, 1920),
            (2, 1160),
            (3, 10),
            (4, 10),
            (5, 2060),
            (6, 10),
            (7, 10),
            (8, 99999),
            (9, "abc"),
            (10, 2583),
            (11, 10),
            (500, 10),
        ],
    )
    images = tmp_path / "images"
    images.mkdir()
    (images / image_name(1000, 100)).write_bytes(jpeg())
    (images / image_name(1001, 101)).write_bytes(jpeg(color=(1, 2, 3)))
    (images / image_name(1009, 109)).write_bytes(jpeg((80, 80))[:300])
    (images / image_name(1010, 110)).write_bytes(png())
    (images / image_name(2000, 200)).write_bytes(jpeg(color=(9, 9, 9)))
    (images / image_name(2001, 201)).write_bytes(b"")
    (images / "thumbs.db").write_bytes(b"junk")
    return {"listings": str(listings), "labels": str(labels), "images": str(images)}


def test_bad_records_are_quarantined_or_flagged_and_the_rest_goes_on(
    spark, lakehouse, config, tmp_path
):
    files = bad_input(tmp_path)
    summary = run_ingest(
        spark, lakehouse, config, [files["listings"]], [files["labels"]], [files["images"]]
    )

    listings = {r.productid: r for r in lakehouse.read(BRONZE_LISTINGS).collect()}
    assert sorted(listings) == [100, 101, 108, 109, 110]
    assert listings[100].description == 'Belle lampe,\n"vintage" <br>&eacute;'
    assert listings[101].description is None
    assert {p: r.has_image for p, r in listings.items()} == {
        100: True,
        101: True,
        108: False,
        109: True,
        110: True,
    }
    labels = {r.productid: r.prdtypecode for r in lakehouse.read(BRONZE_LABELS).collect()}
    assert labels == {100: 2060, 101: 1920, 110: 2583}
    images = {r.imageid: r for r in lakehouse.read(BRONZE_IMAGES).collect()}
    assert sorted(images) == [1000, 1001, 1009, 1010, 2000]
    assert {i: r.problem for i, r in images.items()} == {
        1000: None,
        1001: None,
        1009: "truncated",
        1010: "not_jpeg",
        2000: None,
    }
    assert images[2000].has_listing is False and images[1000].has_listing is True
    assert images[1000].byte_size == len(images[1000].content)

    reasons = quarantine_reasons(lakehouse)
    assert reasons == {
        "non_numeric_productid": 1,
        "missing_imageid": 1,
        "missing_designation": 1,
        "duplicate_listing": 1,
        "conflicting_duplicate_productid": 2,
        "unparsable_row": 1,
        "unknown_prdtypecode": 1,
        "non_numeric_prdtypecode": 1,
        "label_without_listing": 7,  # rows 2, 3, 4, 6, 7, 11 (listing rejected), 500 (no row)
        "duplicate_label": 1,  # row 5 repeats row 0's listing
        "empty_file": 1,
        "unrecognized_file_name": 1,
    }
    assert summary.listings.read == 12 and summary.listings.quarantined == 7
    assert summary.image_problems == {"truncated": 1, "not_jpeg": 1}
    unparsable = (
        lakehouse.read(BRONZE_QUARANTINE).filter(F.col("reason") == "unparsable_row").first()
    )
    assert "too,many,fields" in unparsable.raw_record and unparsable.source == files["listings"]

    # Re-running on the same files changes nothing: no new commit on any table.
    versions = lakehouse.versions(
        [BRONZE_LISTINGS, BRONZE_LABELS, BRONZE_IMAGES, BRONZE_QUARANTINE]
    )
    again = run_ingest(
        spark, lakehouse, config, [files["listings"]], [files["labels"]], [files["images"]]
    )
    assert lakehouse.versions(list(map(_spec, versions))) == versions
    assert (again.listings.inserted, again.listings.updated, again.listings.unchanged) == (0, 0, 5)
    assert (again.images.inserted, again.images.updated, again.images.unchanged) == (0, 0, 5)
    assert again.quarantine_new == 0


def _spec(qualified: str):
    return {
        s.qualified_name: s
        for s in (BRONZE_LISTINGS, BRONZE_LABELS, BRONZE_IMAGES, BRONZE_QUARANTINE)
    }[qualified]


def test_changed_and_new_listings_update_and_add_rows_and_flags_follow(
    spark, lakehouse, config, tmp_path
):
    first = write_listings(
        tmp_path / "X1.csv", [[0, "Tapis", "", 1, 11], [1, "Chaise", "bois", 2, 12]]
    )
    run_ingest(spark, lakehouse, config, [str(first)], [], [])
    assert {r.productid: r.has_image for r in lakehouse.read(BRONZE_LISTINGS).collect()} == {
        1: False,
        2: False,
    }

    second = write_listings(
        tmp_path / "X2.csv",
        [[0, "Tapis", "laine", 1, 11], [1, "Chaise", "bois", 2, 12], [2, "Table", "", 3, 13]],
    )
    # A second file in the same run: product 2 again (same content) and product 5 twice with
    # different content across the files (none kept), product 4 new.
    third = write_listings(
        tmp_path / "X3.csv",
        [[0, "Chaise", "bois", 2, 12], [1, "Lit", "", 4, 14], [2, "Banc", "", 5, 15]],
    )
    second.write_text(second.read_text() + "3,Banc,chêne,5,15\n")
    images = tmp_path / "img"
    images.mkdir()
    (images / image_name(12, 2)).write_bytes(jpeg())
    summary = run_ingest(spark, lakehouse, config, [str(second), str(third)], [], [str(images)])
    counts = summary.listings
    assert (counts.inserted, counts.updated, counts.unchanged) == (2, 1, 1)
    assert summary.quarantine_reasons == {
        "duplicate_listing": 1,
        "conflicting_listings_across_files": 2,
    }
    rows = {r.productid: r for r in lakehouse.read(BRONZE_LISTINGS).collect()}
    assert rows[1].description == "laine" and rows[1].source_file == str(second)
    assert rows[2].source_file == str(first)  # unchanged content keeps its first provenance
    assert {p: r.has_image for p, r in rows.items()} == {1: False, 2: True, 3: False, 4: False}

    # An image arriving alone later flips the flag of a listing that was not re-sent.
    more = tmp_path / "img2"
    more.mkdir()
    (more / image_name(11, 1)).write_bytes(jpeg(color=(50, 50, 50)))
    summary = run_ingest(spark, lakehouse, config, [], [], [str(more)])
    assert summary.flags_updated["listings.has_image"] == 1
    assert lakehouse.read(BRONZE_LISTINGS).filter("productid = 1").first().has_image is True


def test_generated_sample_ingests_exactly_and_idempotently(spark, lakehouse, config, small_sample):
    x = pd.read_csv(small_sample.listings_csv, index_col=0)
    files = dict(
        listings=[str(small_sample.listings_csv)],
        labels=[str(small_sample.labels_csv)],
        images=[str(small_sample.images_zip)],
    )
    summary = run_ingest(spark, lakehouse, config, **files)

    unique_products = x["productid"].nunique()
    exact_dups = small_sample.blemishes["exact_duplicate_row"]
    assert exact_dups >= 1
    assert summary.listings.read == len(x) == small_sample.n_listings
    assert lakehouse.read(BRONZE_LISTINGS).count() == unique_products == len(x) - exact_dups
    assert lakehouse.read(BRONZE_LABELS).count() == unique_products
    assert quarantine_reasons(lakehouse)["duplicate_listing"] == exact_dups

    images = lakehouse.read(BRONZE_IMAGES)
    assert images.count() == small_sample.n_images
    problems = {r["problem"]: r["count"] for r in images.groupBy("problem").count().collect()}
    assert problems.get("truncated", 0) == small_sample.blemishes["truncated_image"]
    bad = problems.get("corrupt", 0) + problems.get("not_an_image", 0)
    assert bad == small_sample.blemishes["corrupt_image"]
    without_image = lakehouse.read(BRONZE_LISTINGS).filter(~F.col("has_image")).count()
    # Rows past n_images have no photo (an exact duplicate row repeats its first row's ids).
    first_rows = x[~x["productid"].duplicated()]
    assert without_image == (first_rows.index >= small_sample.n_images).sum() > 0

    # Again, now with the same images also given as a folder: nothing changes but the
    # quarantine, which records each second copy once.
    data_tables = [BRONZE_LISTINGS, BRONZE_LABELS, BRONZE_IMAGES]
    versions = lakehouse.versions(data_tables)
    quarantined = lakehouse.read(BRONZE_QUARANTINE).count()
    files["images"].append(str(small_sample.images_dir))
    again = run_ingest(spark, lakehouse, config, **files)
    assert lakehouse.versions(data_tables) == versions
    assert again.listings.inserted + again.listings.updated + again.images.inserted == 0
    assert again.images.unchanged == small_sample.n_images
    assert again.quarantine_reasons["duplicate_file"] == small_sample.n_images
    assert lakehouse.read(BRONZE_QUARANTINE).count() == quarantined + small_sample.n_images
