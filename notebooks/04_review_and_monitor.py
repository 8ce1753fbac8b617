# Databricks notebook source
# MAGIC %md
# MAGIC # 04 · Review, promote and monitor
# MAGIC
# MAGIC The catalog team's daily loop after the nightly scoring: work through the review queue
# MAGIC (here in the notebook, as the review app does it: `make review` locally, a Databricks App
# MAGIC on the workspace), see how the analysts' decisions become the next training's labels, read
# MAGIC the champion gate's decisions, and monitor the scoring runs for drift.
# MAGIC
# MAGIC Run `01` to `03` first (same lakehouse).
# MAGIC **Parameters**: `analyst` (who decides), `decisions` = how many listings of the queue to
# MAGIC decide here for the demonstration (the least confident one accepted, the next corrected to
# MAGIC the fused model's second choice; `0` on real data: decide in the app), `report_dir` (where
# MAGIC the monitoring page goes); plus `conf`, `lakehouse` and `overrides`.

# COMMAND ----------

import json
import sys
import uuid
from pathlib import Path

try:
    import catalog_classifier  # noqa: F401
except ImportError:  # a Databricks Git folder without the package installed: use the checkout
    sys.path.insert(0, str(Path.cwd().parent / "lib"))

from pyspark.sql import functions as F

from catalog_classifier.features.splits import run_splits
from catalog_classifier.notebook import notebook_context
from catalog_classifier.review.store import ReviewStore, queue_by_category
from catalog_classifier.stages.monitor import run_monitor
from catalog_classifier.stages.promote import run_promote
from catalog_classifier.storage.tables import (
    BRONZE_REVIEW_DECISIONS,
    GOLD_MODEL_DECISIONS,
    GOLD_PREDICTIONS,
    GOLD_RUN_METRICS,
    REVIEW_ACCEPTED,
    REVIEW_CORRECTED,
    SILVER_SPLITS,
)

nb = notebook_context(
    globals(),
    "04_review_and_monitor",
    {"analyst": "notebook analyst", "decisions": "2", "report_dir": "report"},
)
lakehouse, config = nb.lakehouse, nb.config
if not lakehouse.exists(GOLD_PREDICTIONS):
    raise RuntimeError(f"no predictions in {lakehouse.root}: run 03_score_and_review first")

# COMMAND ----------

# MAGIC %md
# MAGIC ## The review queue
# MAGIC The listings the nightly flagged `needs_review` (fused confidence under the threshold chosen
# MAGIC on the valid split) that no analyst has decided on yet, by predicted category. The review
# MAGIC app reads the same queue through delta-rs, without Spark.

# COMMAND ----------

store = ReviewStore(lakehouse.root, config)
queue = store.queue()
print(f"Review queue: {len(queue)} listings of fused version {store.version()}")
nb.show(queue_by_category(queue, config.category_names), "Listings to review, by category")
nb.show(
    queue[["productid", "prdtypecode", "category", "confidence", "top3"]],
    "The least confident first",
    rows=10,
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Deciding
# MAGIC Each decision is one row of `bronze.review_decisions`: the prediction accepted, corrected to
# MAGIC another code, or the listing marked unclassifiable. A decided listing leaves the queue.

# COMMAND ----------

decided_here = []
for index, row in queue.head(int(nb.params["decisions"])).iterrows():
    top3 = json.loads(row["top3"])
    correct = index % 2 == 1 and len(top3) > 1
    store.decide(
        decision_id=str(uuid.uuid4()),
        productid=int(row["productid"]),
        decision=REVIEW_CORRECTED if correct else REVIEW_ACCEPTED,
        corrected_code=int(top3[1]["prdtypecode"]) if correct else None,
        analyst=nb.params["analyst"],
    )
    decided_here.append(int(row["productid"]))
print(f"{len(decided_here)} decisions recorded; {len(store.queue())} listings left to review")
nb.show(
    lakehouse.read(BRONZE_REVIEW_DECISIONS).orderBy(F.col("decided_at").desc()),
    "bronze.review_decisions, latest first",
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## The next training's labels
# MAGIC The latest decision of a listing overrides its supplier label (or labels a listing that had
# MAGIC none); an unclassifiable listing leaves the training data. `train` and `evaluate` refresh
# MAGIC `silver.splits` this way first; here it is refreshed by hand to show it.

# COMMAND ----------

with nb.step("refresh the labels"):
    run_splits(lakehouse, config.splits)
if decided_here:
    nb.show(
        lakehouse.read(SILVER_SPLITS).where(F.col("productid").isin(decided_here)),
        "silver.splits: the decided listings, with the analysts' codes",
    )

# COMMAND ----------

# MAGIC %md
# MAGIC ## The champion gate
# MAGIC After each retraining, `promote` compares the newest fused version with the champion on
# MAGIC the test split and on the analysts' decisions in it, and moves the MLflow alias `champion`
# MAGIC only when the new one is not worse beyond the conf's tolerances. The nightly scores with
# MAGIC the champion.

# COMMAND ----------

with nb.step("champion gate"):
    gate = run_promote(lakehouse, config)
print(gate.format())
if lakehouse.exists(GOLD_MODEL_DECISIONS):
    nb.show(
        lakehouse.read(GOLD_MODEL_DECISIONS)
        .orderBy(F.col("decided_at").desc())
        .select("decided_at", "candidate_version", "decision", "champion_version_after", "reason"),
        "gold.model_decisions, latest first",
    )

# COMMAND ----------

# MAGIC %md
# MAGIC ## Monitoring the scoring runs
# MAGIC `monitor` (the nightly's last step) measures the last scoring run, compares it with the
# MAGIC previous run and the training labels, raises the conf's named alerts, and draws the page of
# MAGIC the last runs.

# COMMAND ----------

with nb.step("monitor"):
    monitoring = run_monitor(
        lakehouse, config, page_dir=Path(nb.params["report_dir"]) / "monitoring"
    )
print(monitoring.format())
nb.show(
    lakehouse.read(GOLD_RUN_METRICS)
    .orderBy(F.col("monitored_at").desc())
    .select(
        "monitored_at",
        "model_version",
        "listings_scored",
        "no_description_share",
        "review_share",
        "agreement",
        "category_psi_previous",
        "alerts",
    ),
    "gold.run_metrics, latest first",
)
for name in ("inputs", "predictions", "drift"):
    figure = Path(nb.params["report_dir"]) / "monitoring" / "figures" / f"{name}.png"
    if figure.is_file():
        nb.show_image(figure, f"monitoring: {name}")
