"""Photo labels (bronze.image_labels): the ingest (stored photos only, quarantine, idempotence),
photos without a labelled listing as training-only rows of the image member (never a test
part; a photo of a product evaluated in a fold never trains that fold), and the image-only
cross-validation's folds over every labelled photo."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import functions as F
from tests.helpers import image_name, jpeg, rows_of, write_labels, write_listings

from catalog_classifier.features.splits import run_splits
from catalog_classifier.models.datasets import IMAGE_LABEL, LISTING, LISTING_FOLDS
from catalog_classifier.models.members.image import ImageMember
from catalog_classifier.stages.evaluate import run_cross_validation
from catalog_classifier.stages.image_cv import labelled_photos, photo_folds, run_image_cv
from catalog_classifier.stages.ingest import run_ingest
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import (
    BRONZE_IMAGE_LABELS,
    BRONZE_QUARANTINE,
    GOLD_EVALUATIONS,
    SILVER_IMAGE_FEATURES,
    SILVER_SPLITS,
)

CODES = (10, 2280, 1280)
HEADER = ["productid", "imageid", "prdtypecode", "file_size_kb"]


def write_image_labels(path: Path, rows: list[tuple[object, object, object]]) -> Path:
    """A photo labels CSV as image_train_index.csv: productid, imageid, prdtypecode, and a
    column the ingest ignores."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for productid, imageid, code in rows:
            writer.writerow([productid, imageid, code, 12.5])
    return path


def write_photos(folder: Path, photos: list[tuple[int, int]]) -> Path:
    """(imageid, productid) photos, each a little different."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, (imageid, productid) in enumerate(photos):
        (folder / image_name(imageid, productid)).write_bytes(jpeg(color=(n * 7 % 256, 90, 40)))
    return folder


def quarantined(lakehouse: Lakehouse) -> dict[str, int]:
    rows = (
        lakehouse.read(BRONZE_QUARANTINE)
        .filter(F.col("record_kind").isin("image_label", "file"))
        .groupBy("reason")
        .count()
        .collect()
    )
    return {r["reason"]: r["count"] for r in rows}


def test_ingest_keeps_the_labels_of_stored_photos_quarantines_and_is_idempotent(
    spark, config, tmp_path
):
    lakehouse = Lakehouse(spark, str(tmp_path / "lakehouse"), "delta-rs")
    photos = write_photos(tmp_path / "images", [(200, 100), (201, 101), (202, 102)])
    labels = write_image_labels(
        tmp_path / "image_train_index.csv",
        [
            (100, 200, 10),
            (101, 201, 2280),
            (101, 201, 2280),  # the same row again
            (102, 202, 77777),  # no category
            (103, 202, 10),  # the stored photo 202 is product 102's
            (104, 204, 10),  # no such photo: counted, not stored nor quarantined
            ("x", 205, 10),
        ],
    )
    summary = run_ingest(spark, lakehouse, config, images=[str(photos)], image_labels=[str(labels)])
    stored = {
        (r["productid"], r["imageid"]): r["prdtypecode"]
        for r in lakehouse.read(BRONZE_IMAGE_LABELS).collect()
    }
    assert stored == {(100, 200): 10, (101, 201): 2280}
    assert quarantined(lakehouse) == {
        "duplicate_image_label": 1,
        "unknown_prdtypecode": 1,
        "image_label_product_mismatch": 1,
        "non_numeric_productid": 1,
    }
    counts = summary.image_labels
    assert (counts.read, counts.inserted, counts.quarantined) == (7, 2, 4)
    assert summary.image_labels_without_photo == 1
    versions = lakehouse.versions([BRONZE_IMAGE_LABELS, BRONZE_QUARANTINE])

    again = run_ingest(spark, lakehouse, config, image_labels=[str(labels)])
    assert (again.image_labels.inserted, again.image_labels.updated) == (0, 0)
    assert again.image_labels.unchanged == 2
    assert again.quarantine_new == 0
    assert lakehouse.versions([BRONZE_IMAGE_LABELS, BRONZE_QUARANTINE]) == versions

    # A file without the columns is quarantined whole; the run goes on.
    bad = tmp_path / "bad.csv"
    bad.write_text("productid,prdtypecode\n100,10\n", encoding="utf-8")
    run_ingest(spark, lakehouse, config, image_labels=[str(bad)])
    assert quarantined(lakehouse)["unexpected_header"] == 1


# ------------------------------------------------------------ training rows and the folds

LISTINGS = 18  # productids 1000.., photos 2000.., 6 per class
ORPHANS = 9  # photos without a listing: productids 5000.., photos 6000.., 3 per class
SECOND_PHOTO = (1000, 2900)  # another photo of the labelled listing 1000's product


@pytest.fixture(scope="module")
def photo_lakehouse(spark, config, tmp_path_factory):
    """Labelled listings with a photo, photos without a listing, a second photo of listing
    1000's product, all labelled in a photo labels CSV; usable image features; 3 folds."""
    work = tmp_path_factory.mktemp("image_labels")
    listings, labels, photos, photo_labels = [], [], [], []
    for i in range(LISTINGS):
        code = CODES[i % 3]
        listings.append([i, f"product {i}", "", 1000 + i, 2000 + i])
        labels.append((i, code))
        photos.append((2000 + i, 1000 + i))
        photo_labels.append((1000 + i, 2000 + i, code))
    for i in range(ORPHANS):
        photos.append((6000 + i, 5000 + i))
        photo_labels.append((5000 + i, 6000 + i, CODES[i % 3]))
    photos.append((SECOND_PHOTO[1], SECOND_PHOTO[0]))
    photo_labels.append((*SECOND_PHOTO, CODES[0]))
    lakehouse = Lakehouse(spark, str(work / "lakehouse"), "delta-rs")
    run_ingest(
        spark,
        lakehouse,
        config,
        [str(write_listings(work / "X.csv", listings))],
        [str(write_labels(work / "Y.csv", labels))],
        [str(write_photos(work / "images", photos))],
        image_labels=[str(write_image_labels(work / "index.csv", photo_labels))],
    )
    rows_of(
        lakehouse,
        SILVER_IMAGE_FEATURES,
        [
            {"imageid": imageid, "productid": productid, "is_valid": True, "is_blank": False}
            for imageid, productid in photos
        ],
    )
    cfg = replace(config, splits=replace(config.splits, cv_folds=3))
    run_splits(lakehouse, cfg.splits)
    return lakehouse, cfg


def test_photos_without_a_listing_train_and_follow_their_product(photo_lakehouse):
    lakehouse, config = photo_lakehouse
    extra = ImageMember.training_texts(lakehouse, config)
    assert extra is not None
    rows = {r["imageid"]: r for r in extra.collect()}
    # The listings' own photos are listing rows, not training-only ones.
    assert set(rows) == {6000 + i for i in range(ORPHANS)} | {SECOND_PHOTO[1]}
    assert all(r["origin"] == IMAGE_LABEL and r["fold"] == -1 for r in rows.values())
    splits = {r["productid"]: r for r in lakehouse.read(SILVER_SPLITS).collect()}
    second = rows[SECOND_PHOTO[1]]
    assert second[LISTING_FOLDS] == [splits[SECOND_PHOTO[0]]["fold"]]
    assert second["split"] == (
        "train" if splits[SECOND_PHOTO[0]]["split"] == "train" else "held_out"
    )
    assert all(
        r[LISTING_FOLDS] == [] and r["split"] == "train" for r in rows.values() if r is not second
    )


def test_training_only_photos_are_never_in_a_test_fold(photo_lakehouse, tmp_path, monkeypatch):
    lakehouse, config = photo_lakehouse
    fold_of = {r["productid"]: r["fold"] for r in lakehouse.read(SILVER_SPLITS).collect()}
    seen: list[tuple[int, set[int]]] = []

    def fake_fit_fold(cls, lakehouse_, config_, training, test):
        test_rows = test.select("productid", "label", "origin").collect()
        assert {r["origin"] for r in test_rows} == {LISTING}
        folds = {fold_of[r["productid"]] for r in test_rows}
        assert len(folds) == 1
        trained = {
            r["imageid"]
            for r in training.filter(F.col("origin") != LISTING).select("imageid").collect()
        }
        seen.append((folds.pop(), trained))
        ids = [int(r["productid"]) for r in test_rows]
        probs = np.full((len(ids), len(config.label_codes)), 1 / len(config.label_codes))
        return ids, [int(r["label"]) for r in test_rows], probs

    monkeypatch.setattr(ImageMember, "fit_fold", classmethod(fake_fit_fold))
    summary = run_cross_validation(
        lakehouse, config, folds=3, out_dir=str(tmp_path / "cv"), models=["image"]
    )
    assert summary.evaluations[0].rows == LISTINGS  # the listings' photos alone are scored
    orphans = {6000 + i for i in range(ORPHANS)}
    for fold, trained in seen:
        # The second photo of listing 1000's product never trains the fold that tests 1000.
        expected = orphans | ({SECOND_PHOTO[1]} if fold != fold_of[SECOND_PHOTO[0]] else set())
        assert trained == expected
    assert sorted(fold for fold, _ in seen) == [0, 1, 2]


def test_image_only_folds_cover_every_photo_by_product(photo_lakehouse, tmp_path, monkeypatch):
    lakehouse, config = photo_lakehouse
    photos = labelled_photos(lakehouse, config.label_codes)
    folded = photo_folds(photos, 3, config.splits).toPandas()
    assert len(folded) == LISTINGS + ORPHANS + 1
    # One fold per product (listing 1000's two photos together), deterministic, stratified.
    assert (folded.groupby("productid")["fold"].nunique() == 1).all()
    again = photo_folds(photos, 3, config.splits).toPandas()
    assert dict(zip(folded["imageid"], folded["fold"], strict=True)) == dict(
        zip(again["imageid"], again["fold"], strict=True)
    )
    per_class = folded.drop_duplicates("productid").groupby(["prdtypecode", "fold"]).size()
    for code in CODES:
        assert per_class[code].max() - per_class[code].min() <= 1
    tested: list[int] = []

    def fake_fit_fold(cls, lakehouse_, config_, training, test):
        test_rows = test.select("productid", "imageid", "label", "fold").collect()
        folds = {r["fold"] for r in test_rows}
        assert len(folds) == 1 and training.filter(F.col("fold").isin(folds)).count() == 0
        tested.extend(r["imageid"] for r in test_rows)
        ids = [int(r["productid"]) for r in test_rows]
        probs = np.eye(len(config.label_codes))[[int(r["label"]) for r in test_rows]]
        return ids, [int(r["label"]) for r in test_rows], probs

    monkeypatch.setattr(ImageMember, "fit_fold", classmethod(fake_fit_fold))
    summary = run_image_cv(lakehouse, config, 3, str(tmp_path / "cv"))
    assert sorted(tested) == sorted(folded["imageid"])  # every photo tested exactly once
    evaluation = summary.evaluations[0]
    assert evaluation.rows == LISTINGS + ORPHANS + 1
    assert evaluation.fold_scores == [1.0, 1.0, 1.0]
    assert evaluation.metrics["photos_image_label"] == ORPHANS + 1
    gold = lakehouse.read(GOLD_EVALUATIONS).filter(F.col("split") == "cv3-photos").collect()
    assert len(gold) == 1 and gold[0]["rows"] == LISTINGS + ORPHANS + 1
