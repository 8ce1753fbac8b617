"""Ingest of the real Rakuten sample (../shared/data/rakuten): exact counts, twice."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from pyspark.sql import functions as F

from catalog_classifier.ingest import run_ingest
from catalog_classifier.tables import BRONZE_IMAGES, BRONZE_LABELS, BRONZE_LISTINGS, BRONZE_QUARANTINE

pytestmark = pytest.mark.real_data
TABLES = [BRONZE_LISTINGS, BRONZE_LABELS, BRONZE_IMAGES, BRONZE_QUARANTINE]


@pytest.fixture(scope="module")
def ingested(spark, config, real_data, tmp_path_factory):
    from catalog_classifier.lakehouse import Lakehouse

    lakehouse = Lakehouse(spark, str(tmp_path_factory.mktemp("real") / "lakehouse"), "delta-rs")
    files = dict(
        listings=[str(real_data / "X_train.csv")],
        labels=[str(real_data / "Y_train.csv")],
        images=[str(real_data / "images")],
    )
    first = run_ingest(spark, lakehouse, config, **files)
    versions = lakehouse.versions(TABLES)
    second = run_ingest(spark, lakehouse, config, **files)
    return lakehouse, first, second, versions


def test_all_2370_listings_arrive_with_text_identical_to_pandas(ingested, real_data):
    lakehouse, first, _, _ = ingested
    expected = pd.read_csv(real_data / "X_train.csv", index_col=0)
    assert len(expected) == 2370 and first.listings.read == 2370
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


def test_labels_join_every_listing(ingested, real_data):
    lakehouse, first, _, _ = ingested
    y = pd.read_csv(real_data / "Y_train.csv", index_col=0)
    x = pd.read_csv(real_data / "X_train.csv", index_col=0)
    expected = dict(zip(x["productid"], y.loc[x.index, "prdtypecode"], strict=True))
    labels = {r.productid: r.prdtypecode for r in lakehouse.read(BRONZE_LABELS).collect()}
    assert labels == expected
    # Y_train.csv labels all 84,916 challenge rows; the ones whose text is not here are
    # quarantined as labels without a listing, none silently dropped.
    assert first.labels.read == 84_916
    assert first.quarantine_reasons == {"label_without_listing": 84_916 - 2_370}


def test_the_600_images_arrive_with_their_bytes(ingested, real_data):
    lakehouse, first, _, _ = ingested
    manifest = pd.read_csv(real_data / "images_manifest.csv")
    images = lakehouse.read(BRONZE_IMAGES)
    assert images.count() == 600 == images.select("imageid").distinct().count()
    stored = {r.imageid: (r.sha256, r.byte_size, r.width, r.problem) for r in
              images.select("imageid", "sha256", "byte_size", "width", "problem").collect()}
    for row in manifest.itertuples():
        imageid = int(row.file.split("_")[1])
        assert stored[imageid] == (row.sha256, row.bytes, 500, None), row.file
    x = pd.read_csv(real_data / "X_train.csv", index_col=0)
    listed = images.filter(F.col("has_listing")).count()
    assert listed == len(set(manifest["row_index"]) & set(x.index))
    with_image = lakehouse.read(BRONZE_LISTINGS).filter(F.col("has_image")).count()
    assert with_image == listed


def test_second_run_changes_nothing(ingested):
    lakehouse, first, second, versions = ingested
    assert lakehouse.versions(TABLES) == versions
    assert (second.listings.inserted, second.listings.updated, second.listings.unchanged) == (0, 0, 2370)
    assert (second.labels.inserted, second.labels.updated) == (0, 0)
    assert (second.images.inserted, second.images.updated, second.images.unchanged) == (0, 0, 600)
    assert second.quarantine_new == 0
    assert lakehouse.read(BRONZE_QUARANTINE).count() == first.quarantine_new
