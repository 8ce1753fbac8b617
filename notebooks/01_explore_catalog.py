# Databricks notebook source
# MAGIC %md
# MAGIC # 01 · Explore the catalog
# MAGIC
# MAGIC Ingests a catalog delivery into the bronze Delta tables, computes the silver text and image
# MAGIC features, and shows what the data looks like: the data-quality report's figures, the
# MAGIC quarantine (records refused, with the reason), the language mix, and image quality
# MAGIC (invalid, blank, blurry and duplicate photos).
# MAGIC
# MAGIC **Parameters** (Databricks widgets; locally `CATALOG_CLASSIFIER_<NAME>` environment
# MAGIC variables): `source` = `sample` (the project's built-in sample, generated if missing) or
# MAGIC `files`; with `files`, `listings`, `labels` and `images` are comma-separated paths (CSV
# MAGIC files, image folders or zip archives). `conf` (default `conf/demo.yaml`, on Databricks
# MAGIC `conf/databricks.yaml`), `lakehouse` and `overrides` (`key.path=value;...`) apply to every
# MAGIC notebook. `report_dir` is where the HTML report is written.
# MAGIC
# MAGIC Runs unchanged on Databricks, in Jupyter, or as `python notebooks/01_explore_catalog.py`.

# COMMAND ----------

import sys
from pathlib import Path

try:
    import catalog_classifier  # noqa: F401
except ImportError:  # a Databricks Git folder without the package installed: use the checkout
    sys.path.insert(0, str(Path.cwd().parent / "lib"))

import pandas as pd
from pyspark.sql import functions as F

from catalog_classifier.notebook import notebook_context
from catalog_classifier.reports.quality import build_report, quarantine_by_reason
from catalog_classifier.sample.job import generate_from_config
from catalog_classifier.stages.features import run_features
from catalog_classifier.stages.ingest import run_ingest
from catalog_classifier.storage.tables import (
    BRONZE_IMAGES,
    BRONZE_LISTINGS,
    BRONZE_QUARANTINE,
    SILVER_IMAGE_FEATURES,
    SILVER_TEXT_FEATURES,
)

nb = notebook_context(
    globals(),
    "01_explore_catalog",
    {"source": "sample", "listings": "", "labels": "", "images": "", "report_dir": "report"},
)
lakehouse, config = nb.lakehouse, nb.config

# COMMAND ----------

# MAGIC %md
# MAGIC ## Ingest
# MAGIC Listings, labels and images go into `bronze.listings`, `bronze.labels` and `bronze.images`
# MAGIC by MERGE on their keys: running this cell twice changes nothing. Records that cannot be
# MAGIC used land in `bronze.quarantine` with the reason, and the rest of the batch goes on.

# COMMAND ----------


def paths(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


if nb.params["source"] == "sample":
    sample_dir = Path(config.sample.dir)
    if not (sample_dir / "X.csv").exists():
        with nb.step("generate the built-in sample"):
            generate_from_config(config)
    listings = [str(sample_dir / "X.csv")]
    labels = [str(sample_dir / "Y.csv")]
    images = [str(sample_dir / "images.zip")]
elif nb.params["source"] == "files":
    listings, labels, images = (paths(nb.params[k]) for k in ("listings", "labels", "images"))
else:
    raise ValueError(f"source must be sample or files, not {nb.params['source']!r}")

with nb.step("ingest"):
    ingest = run_ingest(nb.spark, lakehouse, config, listings, labels, images)
print(ingest.format())

# COMMAND ----------

# MAGIC %md
# MAGIC ### The quarantine
# MAGIC Every refused record, by kind and reason, then a few of them with the detail and the raw
# MAGIC record as it arrived.

# COMMAND ----------

quarantine = lakehouse.read(BRONZE_QUARANTINE)
nb.show(quarantine_by_reason(quarantine), "Quarantined records by reason")
nb.show(
    quarantine.select("record_kind", "reason", "source", "locator", "detail", "raw_record")
    .withColumn("source", F.regexp_extract("source", r"[^/]+$", 0))
    .orderBy("record_kind", "reason", "locator"),
    "Some quarantined records",
    rows=15,
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Features
# MAGIC Text cleaning (HTML, entities, mojibake, language) into `silver.text_features` and image
# MAGIC quality (size, Laplacian sharpness, blank and corrupt images, perceptual-hash duplicates)
# MAGIC into `silver.image_features`, both incremental: only new or changed rows are computed.

# COMMAND ----------

with nb.step("features"):
    features = run_features(lakehouse, config)
print(features.format())

# COMMAND ----------

# MAGIC %md
# MAGIC ## The data-quality report
# MAGIC The same figures as the HTML report (`report_dir/index.html`), each with how to read it.

# COMMAND ----------

with nb.step("report"):
    report = build_report(lakehouse, config, nb.params["report_dir"])
for figure in report.figures:
    print(f"\n## {figure.title}")
    nb.show_image(report.out_dir / "figures" / f"{figure.name}.png", figure.reading)
nb.show(pd.DataFrame(list(report.facts.items()), columns=["fact", "value"]), "Facts")
print(f"Report page: {report.html_path}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Language
# MAGIC The detected language of each listing's cleaned text: the catalog is French, with German,
# MAGIC English and a few others mixed in; listings without letters have no language.

# COMMAND ----------

text = lakehouse.read(SILVER_TEXT_FEATURES)
listing_count = text.count()
nb.show(
    text.groupBy("language")
    .agg(
        F.count("*").alias("listings"),
        F.round(F.avg("language_probability"), 3).alias("mean_probability"),
        F.round(F.avg(F.col("has_description").cast("int")), 3).alias("with_description"),
    )
    .withColumn("share", F.round(F.col("listings") / F.lit(listing_count), 4))
    .orderBy(F.desc("listings")),
    "Listings by detected language",
)
nb.show(
    text.where(F.col("problem").isNotNull()).groupBy("problem").count().orderBy(F.desc("count")),
    "Text problems",
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Image quality
# MAGIC Invalid images (not JPEG, corrupt, truncated) and blank ones are excluded from training;
# MAGIC blurry ones are kept but counted; duplicate photos across listings are grouped by
# MAGIC perceptual hash.

# COMMAND ----------

image_features = lakehouse.read(SILVER_IMAGE_FEATURES)
nb.show(
    image_features.groupBy("is_valid", "invalid_reason", "is_blank")
    .count()
    .orderBy(F.desc("count")),
    "Images by validity",
)
nb.show(
    image_features.where("is_valid")
    .groupBy("sharpness_bucket")
    .agg(F.count("*").alias("images"), F.round(F.avg("sharpness"), 1).alias("mean_sharpness"))
    .orderBy(F.desc("images")),
    "Valid images by sharpness",
)
nb.show(
    image_features.where(F.col("duplicate_group").isNotNull())
    .groupBy("duplicate_group")
    .agg(F.count("*").alias("images"), F.collect_list("imageid").alias("imageids"))
    .orderBy(F.desc("images")),
    "Duplicate photos (same perceptual hash)",
    rows=10,
)
with_image = lakehouse.read(BRONZE_LISTINGS).where("has_image").count()
print(
    f"{with_image:,} of {listing_count:,} listings have an image; "
    f"{lakehouse.read(BRONZE_IMAGES).count():,} images in bronze.images."
)
