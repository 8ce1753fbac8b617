"""Ingest of the real Rakuten sample (../shared/data/rakuten): exact counts, twice."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from pyspark.sql import functions as F

from catalog_classifier.storage.tables import (
    BRONZE_IMAGES,
    BRONZE_LABELS,
    BRONZE_LISTINGS,
    BRONZE_QUARANTINE,
    BRONZE_TABLES,
)

# The real_ingested fixture (conftest) appends bad records to copies of the real files: each
# must land in quarantine with its reason while the 2,370 real rows arrive untouched.
pytestmark = pytest.mark.real_data
TABLES = list(BRONZE_TABLES)


def test_all_2370_listings_arrive_with_text_identical_to_pandas(real_ingested, real_data):
    lakehouse, first, _, _ = real_ingested
    # Only an empty field is missing: words like "NA" or "None" are text.
    expected = pd.read_csv(
        real_data / "X_train.csv", index_col=0, keep_default_na=False, na_values=[""]
    )
    assert len(expected) == 2370 and first.listings.read == 2370 + 3
    stored = lakehouse.read(BRONZE_LISTINGS).toPandas().set_index("productid")
    assert len(stored) == 2370 and stored.index.is_unique
    expected = expected.set_index("productid")
    for productid, row in expected.iterrows():
        got = stored.loc[productid]
        assert got["designation"] == row["designation"], productid
        want = row["description"]
        if isinstance(want, float) and math.isnan(want):
            assert got["description"] is None, productid
        else:
            assert got["description"] == want, productid
        assert got["imageid"] == row["imageid"]
    multi_line = stored["description"].dropna().str.contains("\n").sum()
    assert multi_line == expected["description"].dropna().str.contains("\n").sum()


def test_labels_join_every_listing(real_ingested, real_data):
    lakehouse, first, _, _ = real_ingested
    y = pd.read_csv(real_data / "Y_train.csv", index_col=0)
    x = pd.read_csv(real_data / "X_train.csv", index_col=0)
    expected = dict(zip(x["productid"], y.loc[x.index, "prdtypecode"], strict=True))
    labels = {r.productid: r.prdtypecode for r in lakehouse.read(BRONZE_LABELS).collect()}
    assert labels == expected
    # Y_train.csv labels all 84,916 challenge rows; the ones whose text is not here are
    # quarantined as labels without a listing, none silently dropped.
    assert first.labels.read == 84_916 + 3
    assert first.quarantine_reasons == {
        "label_without_listing": 84_916 - 2_370 + 2,  # + the injected rows 90001 and 90004
        "unknown_prdtypecode": 1,
        "non_numeric_productid": 1,
        "missing_imageid": 1,
        "unparsable_row": 1,
        "empty_file": 1,
    }


def test_the_600_images_arrive_with_their_bytes(real_ingested, real_data):
    lakehouse, first, _, _ = real_ingested
    manifest = pd.read_csv(real_data / "images_manifest.csv")
    images = lakehouse.read(BRONZE_IMAGES)
    # The 600 real images, and the injected broken JPEG (stored, flagged, without a listing).
    assert images.count() == 601 == images.select("imageid").distinct().count()
    broken = images.filter(F.col("imageid") == 5550003).first()
    assert (broken.problem, broken.has_listing) == ("corrupt", False)
    assert first.image_problems == {"corrupt": 1}
    stored = {
        r.imageid: (r.sha256, r.byte_size, r.width, r.problem)
        for r in images.select("imageid", "sha256", "byte_size", "width", "problem").collect()
    }
    for row in manifest.itertuples():
        imageid = int(row.file.split("_")[1])
        assert stored[imageid] == (row.sha256, row.bytes, 500, None), row.file
    x = pd.read_csv(real_data / "X_train.csv", index_col=0)
    listed = images.filter(F.col("has_listing")).count()
    assert listed == len(set(manifest["row_index"]) & set(x.index))
    assert first.images_without_listing == 601 - listed
    with_image = lakehouse.read(BRONZE_LISTINGS).filter(F.col("has_image")).count()
    assert with_image == listed


def test_second_run_of_the_csvs_changes_nothing(real_ingested):
    lakehouse, first, second, versions = real_ingested
    assert lakehouse.versions(TABLES) == versions
    assert (second.listings.inserted, second.listings.updated, second.listings.unchanged) == (
        0,
        0,
        2370,
    )
    assert (second.labels.inserted, second.labels.updated) == (0, 0)
    assert second.quarantine_new == 0
    assert lakehouse.read(BRONZE_QUARANTINE).count() == first.quarantine_new
