"""The features stage on a local Spark session: every row, incrementally, duplicates grouped."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime

from PIL import Image, ImageDraw

from catalog_classifier.stages.features import run_features
from catalog_classifier.storage.tables import (
    BRONZE_IMAGES,
    BRONZE_LISTINGS,
    SILVER_IMAGE_FEATURES,
    SILVER_TEXT_FEATURES,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def photo(seed: int, size: int = 64) -> bytes:
    """A distinct drawing per seed (so perceptual hashes differ), as a JPEG."""
    image = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for i in range(6):
        x, y = (seed * 17 + i * 29) % size, (seed * 31 + i * 11) % size
        draw.rectangle([x, y, x + 12 + i, y + 7 + seed % 9], fill=(seed * 40 % 255, 90, i * 40))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def listing_row(productid: int, designation: str, description: str | None) -> tuple:
    digest = hashlib.sha256(f"{designation}|{description}".encode()).hexdigest()
    return (
        productid,
        productid + 1000,
        designation,
        description,
        digest,
        True,
        "X.csv",
        productid,
        NOW,
    )


def image_row(imageid: int, productid: int, content: bytes, problem: str | None = None) -> tuple:
    return (
        imageid,
        productid,
        content,
        len(content),
        hashlib.sha256(content).hexdigest(),
        "JPEG",
        64,
        64,
        problem,
        True,
        f"images.zip!{imageid}",
        NOW,
    )


def write_bronze(spark, lakehouse, listings, images):
    if listings:
        lakehouse.merge(
            BRONZE_LISTINGS, spark.createDataFrame(listings, BRONZE_LISTINGS.spark_schema())
        )
    if images:
        lakehouse.merge(BRONZE_IMAGES, spark.createDataFrame(images, BRONZE_IMAGES.spark_schema()))


def test_features_are_computed_once_then_only_for_new_or_changed_rows(spark, lakehouse, config):
    same_photo = photo(1)
    listings = [
        listing_row(1, "Stylo &amp;eacute;l&eacute;gant", "<p>Encre bleue</p><p>Lot de 3</p>"),
        listing_row(2, "Gartenschlauch 20 m mit Spritzdüse", None),
        listing_row(3, "Wooden chair for the kitchen", "Solid oak, easy to assemble"),
    ]
    images = [
        image_row(1001, 1, same_photo),
        image_row(1002, 2, photo(2)),
        # The same photo under another listing: one duplicate group of two.
        image_row(1003, 3, same_photo[:-1] + b"\xd9"),
        image_row(1004, 4, same_photo[: len(same_photo) // 3], problem="truncated"),
    ]
    write_bronze(spark, lakehouse, listings, images)

    first = run_features(lakehouse, config)
    assert (first.text.computed, first.text.inserted) == (3, 3)
    assert (first.images.computed, first.images.inserted) == (4, 4)
    assert first.images.problems == {"truncated": 1}
    text = {r.productid: r for r in lakehouse.read(SILVER_TEXT_FEATURES).collect()}
    assert text[1].designation_clean == "Stylo élégant"
    assert text[1].description_clean == "Encre bleue Lot de 3"
    assert text[1].text == "Stylo élégant . Encre bleue Lot de 3"
    assert text[1].text_lower == text[1].text.lower()
    assert text[2].has_description is False and text[2].description_chars == 0
    assert text[2].language == "de" and text[3].language == "en"
    features = {r.imageid: r for r in lakehouse.read(SILVER_IMAGE_FEATURES).collect()}
    assert features[1001].is_valid and features[1001].width == 64
    assert features[1004].is_valid is False and features[1004].invalid_reason == "truncated"
    assert features[1001].duplicate_group == features[1003].duplicate_group == features[1001].phash
    assert features[1001].duplicate_count == 2
    assert features[1002].duplicate_group is None and features[1002].duplicate_count == 1
    # A re-run with nothing new makes no commit: tested on the real sample (test_features_real).

    # A run killed after its image MERGE, before the duplicate groups were refreshed: the next
    # run computes no image but heals the groups (they follow the table, not the run).
    stale = spark.createDataFrame(
        [(1001, None, 1), (1003, None, 1)],
        "imageid long, duplicate_group string, duplicate_count int",
    )
    lakehouse.merge(
        SILVER_IMAGE_FEATURES,
        stale,
        update_columns=["duplicate_group", "duplicate_count"],
        insert=False,
    )
    healed = run_features(lakehouse, config)
    assert healed.images.computed == 0 and healed.duplicate_rows_updated == 2
    features = {r.imageid: r for r in lakehouse.read(SILVER_IMAGE_FEATURES).collect()}
    assert features[1001].duplicate_group == features[1003].duplicate_group == features[1001].phash

    # Listing 2 changes, listing 5 is new; image 1003 is replaced by another photo: the
    # duplicate group of 1001 dissolves.
    write_bronze(
        spark,
        lakehouse,
        [listing_row(2, "Gartenschlauch 25 m", "Mit Spritzdüse"), listing_row(5, "Lampe", None)],
        [image_row(1003, 3, photo(3))],
    )
    third = run_features(lakehouse, config)
    assert (third.text.computed, third.text.inserted, third.text.updated) == (2, 1, 1)
    assert (third.images.computed, third.images.updated) == (1, 1)
    assert third.duplicate_rows_updated == 1
    text = {r.productid: r for r in lakehouse.read(SILVER_TEXT_FEATURES).collect()}
    assert text[2].description_clean == "Mit Spritzdüse" and len(text) == 4
    features = {r.imageid: r for r in lakehouse.read(SILVER_IMAGE_FEATURES).collect()}
    assert features[1001].duplicate_group is None and features[1001].duplicate_count == 1
    # --full is tested through the features job (test_jobs).


def test_a_listing_whose_text_breaks_cleaning_is_kept_with_the_reason(monkeypatch):
    import pandas as pd

    from catalog_classifier.features import text as text_features

    real_clean = text_features.clean_text

    def clean_or_fail(text):
        if text == "boom":
            raise ValueError("cleaning bug")
        return real_clean(text)

    monkeypatch.setattr(text_features, "clean_text", clean_or_fail)
    batch = pd.DataFrame(
        {
            "productid": [1, 2],
            "designation": ["boom", "Stylo &amp;eacute;"],
            "description": [None, None],
            "content_sha256": ["a", "b"],
        }
    )
    features = text_features.text_features_pandas(batch, NOW)
    assert list(features["productid"]) == [1, 2]
    assert features.loc[0, "problem"] == "cleaning_failed: ValueError: cleaning bug"
    assert features.loc[0, "designation_clean"] == "boom"
    assert features.loc[1, "problem"] is None and features.loc[1, "designation_clean"] == "Stylo é"
