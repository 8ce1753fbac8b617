# Databricks notebook source
# MAGIC %md
# MAGIC # 02 · Train and evaluate the models
# MAGIC
# MAGIC Trains the three models on the train split of the labelled listings (selection on the valid
# MAGIC split) and their late fusion, registers each in MLflow with its metrics and the Delta
# MAGIC versions it read, then evaluates them on the held-out test split: a comparison table, the
# MAGIC per-class report, the confusion matrix, the most confused pairs, Grad-CAM overlays of the
# MAGIC image model, the fusion's reliability curve, and the MLflow runs.
# MAGIC
# MAGIC 1. **TF-IDF** (Spark ML): word and character n-grams, IDF, a class-weighted linear SVM
# MAGIC    whose margins go through a fitted softmax (or a multinomial logistic regression).
# MAGIC 2. **Text encoder** (PyTorch + transformers): multilingual-e5-small with a classification
# MAGIC    head; frozen embeddings + head on a CPU, the whole encoder fine-tuned on a GPU.
# MAGIC 3. **Image model** (PyTorch): EfficientNet-Lite0+1+2 features side by side (the demo
# MAGIC    conf: Lite0 alone), frozen features + head on a CPU, fine-tuned on a GPU.
# MAGIC 4. **Fusion**: a weighted soft vote or a stacking model on the members' probabilities.
# MAGIC
# MAGIC Run `01_explore_catalog` first (it fills the tables this one reads). **Parameters**:
# MAGIC `models` (comma-separated, empty: the conf's list), `split` (`test`), `evaluation_dir`
# MAGIC (where the evaluation page and figures go), plus `conf`, `lakehouse` and `overrides`.

# COMMAND ----------

import sys
from pathlib import Path

try:
    import catalog_classifier  # noqa: F401
except ImportError:  # a Databricks Git folder without the package installed: use the checkout
    sys.path.insert(0, str(Path.cwd().parent / "lib"))

import pandas as pd

from catalog_classifier.notebook import notebook_context
from catalog_classifier.stages.evaluate import most_confused_pairs, run_evaluate
from catalog_classifier.stages.train import run_train
from catalog_classifier.storage.registry import Registry
from catalog_classifier.storage.tables import GOLD_EVALUATIONS, SILVER_TEXT_FEATURES

nb = notebook_context(
    globals(),
    "02_train_and_evaluate",
    {"models": "", "split": "test", "evaluation_dir": "report/evaluation"},
)
lakehouse, config = nb.lakehouse, nb.config
if not lakehouse.exists(SILVER_TEXT_FEATURES):
    raise RuntimeError(
        f"no silver tables under {lakehouse.root}: run 01_explore_catalog first (same lakehouse)"
    )
models = [m.strip() for m in nb.params["models"].split(",") if m.strip()] or None
names = config.category_names

# COMMAND ----------

# MAGIC %md
# MAGIC ## Train
# MAGIC Each model trains on the train split and keeps its best epoch on the valid split; the
# MAGIC text and image models read their rows from the Delta tables through Petastorm, which checks
# MAGIC every epoch's row count. Each model is registered as a new version in MLflow.

# COMMAND ----------

with nb.step("train"):
    training = run_train(lakehouse, config, models)
print(training.format())
nb.show(
    pd.DataFrame.from_dict(training.models, orient="index").rename_axis("model").reset_index(),
    "Trained and registered",
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Evaluate on the test split
# MAGIC Weighted F1 is the challenge's metric; macro F1 weighs the small categories as much as the
# MAGIC large ones. The rows also land in `gold.evaluations`.

# COMMAND ----------

evaluation_dir = Path(nb.params["evaluation_dir"])
with nb.step(f"evaluate on {nb.params['split']}"):
    evaluation = run_evaluate(lakehouse, config, nb.params["split"], str(evaluation_dir), models)
print(evaluation.format())
comparison = pd.DataFrame(
    [
        {
            "model": e.model,
            "version": e.version,
            "listings": e.rows,
            "weighted_f1": round(e.metrics["weighted_f1"], 4),
            "macro_f1": round(e.metrics["macro_f1"], 4),
            "accuracy": round(e.metrics["accuracy"], 4),
        }
        for e in evaluation.evaluations
    ]
).sort_values("weighted_f1", ascending=False)
nb.show(comparison, "Models on the test split")
best = max(evaluation.evaluations, key=lambda e: e.metrics["weighted_f1"])
print(f"Best: {best.model} (weighted F1 {best.metrics['weighted_f1']:.4f})")

# COMMAND ----------

# MAGIC %md
# MAGIC ### The best model, class by class
# MAGIC The weakest categories first, then the confusion matrix (each true category's row sums to
# MAGIC 1) and the pairs of categories it confuses most.

# COMMAND ----------

nb.show(best.per_class.sort_values("f1").round(3), f"{best.model}: per-class report", rows=27)
nb.show_image(
    evaluation_dir / "figures" / f"confusion_{best.model}.png",
    f"Normalised confusion matrix of {best.model} on {nb.params['split']}",
)
nb.show(most_confused_pairs(best, config), "Most confused pairs (and the watched ones)")

# COMMAND ----------

# MAGIC %md
# MAGIC ### Grad-CAM and calibration
# MAGIC Where the image model looks, for a sample of correct and wrong predictions; and whether
# MAGIC the fused probabilities mean what they say (a calibrated model's points lie on the
# MAGIC diagonal).

# COMMAND ----------

gradcams = sorted((evaluation_dir / "figures").glob("gradcam_*.png"))
print(f"{len(gradcams)} Grad-CAM overlays (true and predicted category in each title)")
for path in gradcams[:6]:
    nb.show_image(path, path.stem)
reliability = evaluation_dir / "figures" / "reliability_fusion.png"
if reliability.exists():
    nb.show_image(reliability, "Reliability of the fused probabilities")
print(f"Evaluation page: {evaluation.html_path}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## MLflow: runs and registered versions
# MAGIC Every training run with its parameters, final metrics and the Delta versions it read; on
# MAGIC Databricks the same runs appear in the workspace's experiment page.

# COMMAND ----------

registry = Registry(config, lakehouse.root)
newest_first = ["attributes.start_time DESC"]
runs = registry.client.search_runs([registry.experiment_id], order_by=newest_first)
nb.show(
    pd.DataFrame(
        [
            {
                "run": run.info.run_name,
                "model": run.data.tags.get("model"),
                "mode": run.data.tags.get("mode"),
                "started": pd.Timestamp(run.info.start_time, unit="ms"),
                **{k: round(v, 4) for k, v in run.data.metrics.items() if k.startswith("valid_")},
                **{k: v for k, v in run.data.tags.items() if k.startswith("delta.")},
            }
            for run in runs
        ]
    ),
    "MLflow runs, newest first",
)
nb.show(
    pd.DataFrame(
        [
            {"registered model": registry.registered_name(m), "latest version": v}
            for m in ("tfidf", "text", "image", "fusion")
            if (v := registry.latest_version(m)) is not None
        ]
    ),
    "Registered models",
)
nb.show(
    lakehouse.read(GOLD_EVALUATIONS).select(
        "run_id", "model", "split", "model_version", "weighted_f1", "macro_f1", "accuracy"
    ),
    "gold.evaluations",
)
