# Databricks notebook source
# MAGIC %md
# MAGIC # 03 · Score new listings and review the predictions
# MAGIC
# MAGIC The nightly scoring as a catalog analyst sees it: score the listings that have no prediction
# MAGIC from the current fused model (or whose text or image changed), then work through the
# MAGIC review queue, the listings where the text and image models disagree, today's category
# MAGIC counts against the previous run, and one product's history, by Delta time travel.
# MAGIC
# MAGIC Run `01_explore_catalog` and `02_train_and_evaluate` first (same lakehouse).
# MAGIC **Parameters**: `delivery` = `sample` generates a small delivery of new listings (and edits
# MAGIC one existing title) to show incremental scoring, `none` scores what is pending as it is;
# MAGIC `new_listings` is the delivery's size; `model_version` the fused model version to score with
# MAGIC (empty: the latest); plus `conf`, `lakehouse` and `overrides`.

# COMMAND ----------

import csv
import sys
from pathlib import Path

try:
    import catalog_classifier  # noqa: F401
except ImportError:  # a Databricks Git folder without the package installed: use the checkout
    sys.path.insert(0, str(Path.cwd().parent / "lib"))

import pandas as pd
from pyspark.sql import functions as F

from catalog_classifier.notebook import notebook_context
from catalog_classifier.sample.job import generate_from_config
from catalog_classifier.stages.features import run_features
from catalog_classifier.stages.ingest import run_ingest
from catalog_classifier.stages.score import run_score
from catalog_classifier.storage.queries import register_views, run_query
from catalog_classifier.storage.registry import Registry
from catalog_classifier.storage.tables import BRONZE_LISTINGS, GOLD_PREDICTIONS

nb = notebook_context(
    globals(),
    "03_score_and_review",
    {"delivery": "sample", "new_listings": "40", "model_version": ""},
)
lakehouse, config = nb.lakehouse, nb.config
model_version = nb.params["model_version"] or None
if Registry(config, lakehouse.root).latest_version("fusion") is None:
    raise RuntimeError(
        f"no fused model registered for {lakehouse.root}: run 02_train_and_evaluate first"
    )

# COMMAND ----------

# MAGIC %md
# MAGIC ## Score what is pending
# MAGIC Listings without a prediction from this model version, or whose text or image changed
# MAGIC since they were scored. A second run with nothing new scores nothing and commits nothing.

# COMMAND ----------

with nb.step("score pending listings"):
    first_run = run_score(lakehouse, config, model_version)
print(first_run.format())

# COMMAND ----------

# MAGIC %md
# MAGIC ## A nightly delivery
# MAGIC New listings arrive (a generated delivery, with their photos and without labels), and a
# MAGIC seller edits the title of a listing already scored. Ingest and features take only what is
# MAGIC new or changed, and the next scoring run scores exactly those listings.

# COMMAND ----------

edited_productid = None
if nb.params["delivery"] == "sample":
    delivery_dir = Path(config.sample.dir).parent / (Path(config.sample.dir).name + "-delivery")
    if not (delivery_dir / "X.csv").exists():
        generate_from_config(
            config,
            out=str(delivery_dir),
            listings=int(nb.params["new_listings"]),
            seed=config.sample.seed + 1,
        )
    # The edited listing: its current row in bronze, with a new title, as the seller sends it.
    edited = (
        lakehouse.read(BRONZE_LISTINGS)
        .orderBy("productid")
        .select("productid", "imageid", "designation", "description")
        .first()
    )
    edited_productid = edited["productid"]
    edited_csv = delivery_dir / "X_edited.csv"
    with edited_csv.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["", "designation", "description", "productid", "imageid"])
        # Each run of the notebook edits the title again (adds or removes the suffix).
        suffix = " - neuf, garantie 2 ans"
        current = edited["designation"]
        title = current[: -len(suffix)] if current.endswith(suffix) else current + suffix
        description = edited["description"] or ""
        writer.writerow([0, title, description, edited_productid, edited["imageid"]])
    with nb.step("ingest the delivery"):
        ingest = run_ingest(
            nb.spark,
            lakehouse,
            config,
            listings=[str(delivery_dir / "X.csv"), str(edited_csv)],
            images=[str(delivery_dir / "images.zip")],
        )
    print(ingest.format())
    with nb.step("features of the delivery"):
        print(run_features(lakehouse, config).format())
    with nb.step("score the delivery"):
        second_run = run_score(lakehouse, config, model_version)
    print(second_run.format())
    print(f"Edited listing: productid {edited_productid}, new title {title!r}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## The review queue
# MAGIC `needs_review` marks the listings whose fused confidence is under the threshold chosen on
# MAGIC the valid split so that the listings above it reach the configured precision
# MAGIC (`train.fusion.review_precision`). By category first, then the least confident listings.

# COMMAND ----------

views = register_views(lakehouse)
print(f"gold.predictions version {views['current']}, previous run's {views['previous_run']}")
nb.show(run_query(lakehouse, "review_queue_by_category"), "Listings needing review, by category")
nb.show(
    nb.spark.table("current_predictions")
    .where("needs_review")
    .join(nb.spark.table("listings").select("productid", "designation"), "productid")
    .select(
        "productid",
        "designation",
        "prdtypecode",
        "category",
        F.round("confidence", 3).alias("confidence"),
        "top3",
        "modalities",
    )
    .orderBy("confidence"),
    "The least confident listings",
    rows=15,
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Where the text and image models disagree
# MAGIC Listings whose photo says one category and whose text says another: often a wrong photo,
# MAGIC a bundle, or an accessory listed with the product it fits.

# COMMAND ----------

nb.show(
    run_query(lakehouse, "text_image_disagreements"),
    "Text and image models disagree (most confident image first)",
    rows=15,
)
modalities = (
    nb.spark.table("current_predictions").groupBy("modalities").count().orderBy(F.desc("count"))
)
nb.show(modalities, "Listings by the members that were fused")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Time travel: today against the previous run, and one product's history
# MAGIC `gold.predictions` is a Delta table: every scoring run is a commit, and any earlier version
# MAGIC can be read back.

# COMMAND ----------

nb.show(
    run_query(lakehouse, "category_counts_vs_previous_run"),
    "Category counts: previous run, today, change",
    rows=27,
)
history = pd.DataFrame(lakehouse.history(GOLD_PREDICTIONS))
if "timestamp" in history and pd.api.types.is_numeric_dtype(history["timestamp"]):
    history["timestamp"] = pd.to_datetime(history["timestamp"], unit="ms", utc=True)
keep = [c for c in ("version", "timestamp", "operation", "operationMetrics") if c in history]
nb.show(history[keep], "gold.predictions: commits")
if edited_productid is not None:
    nb.show(
        run_query(lakehouse, "product_history", productid=edited_productid),
        f"Product {edited_productid}: its predictions through the table's versions",
    )
if views["previous_run"] is not None:
    before = lakehouse.read(GOLD_PREDICTIONS, views["previous_run"]).count()
    now = lakehouse.read(GOLD_PREDICTIONS).count()
    print(f"Predictions: {before:,} rows at version {views['previous_run']}, {now:,} now")
