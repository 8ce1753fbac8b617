"""Features and report on the real Rakuten sample (2,370 listings, 600 images + 1 broken)."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest
from PIL import Image

from catalog_classifier.reports.quality import build_report
from catalog_classifier.stages.features import run_features
from catalog_classifier.storage.tables import (
    BRONZE_LISTINGS,
    FEATURE_TABLES,
    SILVER_IMAGE_FEATURES,
    SILVER_TEXT_FEATURES,
)

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def featured(real_ingested, config):
    lakehouse = real_ingested[0]
    first = run_features(lakehouse, config)
    versions = lakehouse.versions(FEATURE_TABLES)
    second = run_features(lakehouse, config)
    return lakehouse, first, second, versions


def not_null_columns(spec):
    return [c.name for c in spec.columns if not c.nullable]


def test_every_listing_gets_text_features_without_nulls(featured):
    lakehouse, first, _, _ = featured
    assert (first.text.computed, first.text.inserted) == (2370, 2370)
    text = lakehouse.read(SILVER_TEXT_FEATURES).toPandas()
    listings = lakehouse.read(BRONZE_LISTINGS).select("productid", "content_sha256").toPandas()
    assert sorted(text["productid"]) == sorted(listings["productid"])
    assert text[not_null_columns(SILVER_TEXT_FEATURES)].notna().all().all()
    assert text["language"].notna().all() and text["problem"].isna().all()
    merged = text.merge(listings, on="productid", suffixes=("", "_bronze"))
    assert (merged["content_sha256"] == merged["content_sha256_bronze"]).all()
    assert not text["text"].str.contains(r"<br|&amp;|&#\d+;|Ã©", regex=True).any()
    languages = text["language"].value_counts()
    assert languages.index[0] == "fr" and {"en", "de"} <= set(languages.index)


def test_every_image_gets_measures_and_the_broken_one_a_reason(featured):
    lakehouse, first, _, _ = featured
    assert (first.images.computed, first.images.inserted) == (601, 601)
    assert first.images.problems == {"corrupt": 1}
    images = lakehouse.read(SILVER_IMAGE_FEATURES).toPandas()
    assert len(images) == 601
    assert images[not_null_columns(SILVER_IMAGE_FEATURES)].notna().all().all()
    images = images.set_index("imageid")
    broken = images.loc[5550003]
    assert not broken["is_valid"] and broken["invalid_reason"] == "corrupt"
    valid = images[images["is_valid"]]
    assert len(valid) == 600
    measured = [
        "width",
        "height",
        "mode",
        "sharpness",
        "sharpness_bucket",
        "brightness",
        "contrast",
        "pixel_spread",
        "is_blank",
        "phash",
        "duplicate_count",
    ]
    assert valid[measured].notna().all().all()
    assert (valid["width"] == 500).all() and (valid["height"] == 500).all()
    # The study found most photos sharp and only a handful blank.
    assert (valid["sharpness_bucket"] == "sharp").mean() > 0.7
    assert valid["is_blank"].sum() <= 3
    groups = valid.dropna(subset=["duplicate_group"]).groupby("duplicate_group").size()
    assert (groups >= 2).all()
    assert (valid.loc[valid["duplicate_group"].isna(), "duplicate_count"] == 1).all()


def test_second_run_computes_nothing(featured):
    lakehouse, _, second, versions = featured
    assert (second.text.computed, second.images.computed, second.duplicate_rows_updated) == (
        0,
        0,
        0,
    )
    assert lakehouse.versions(FEATURE_TABLES) == versions


def test_the_report_renders_every_figure_with_a_reading(featured, config, real_data, tmp_path):
    lakehouse = featured[0]
    report = build_report(lakehouse, config, tmp_path / "report")
    page = report.html_path.read_text(encoding="utf-8")
    expected = {
        "class_distribution",
        "text_length",
        "description_presence",
        "word_cloud",
        "language_mix",
        "sharpness_buckets",
        "sharpness_by_category",
        "blank_invalid",
    }
    assert {f.name for f in report.figures} == expected
    for figure in report.figures:
        png = tmp_path / "report" / "figures" / f"{figure.name}.png"
        with Image.open(png) as image:
            assert image.width > 400 and image.height > 200
        assert f"figures/{figure.name}.png" in page
        # the page escapes the reading (an apostrophe, an ampersand): compare the text
        assert figure.reading and figure.reading in html.unescape(page)
    # Readable names from conf, real counts from the labels.
    assert "2583 Pool and accessories" in page
    assert report.facts["listings"] == "2,370" and report.facts["labelled listings"] == "2,370"
    assert report.facts["images"] == "601" and report.facts["valid images"] == "600"
    # The quarantine table lists the injected bad records by reason.
    for reason in ("label_without_listing", "non_numeric_productid", "empty_file"):
        assert reason in page
    # The class-distribution reading names the largest category of the real labels.
    x = pd.read_csv(real_data / "X_train.csv", index_col=0)
    y = pd.read_csv(real_data / "Y_train.csv", index_col=0).loc[x.index, "prdtypecode"]
    largest = y.value_counts().index[0]
    share = y.value_counts(normalize=True).iloc[0]
    match = re.search(r"largest (\d+) [^(]+\((\d+\.\d)%\)", page)
    assert match and int(match.group(1)) == largest
    assert float(match.group(2)) == pytest.approx(100 * share, abs=0.05)
