"""Image-only cross-validation (``evaluate --cv K --image-only``): the image member on K folds
over every labelled photo, the photos of labelled listings and those labelled by
``bronze.image_labels`` alike.

The default cross-validation (``evaluate --cv``) folds the labelled listings, so that every
member and the fusion score the same listings; photos without a listing only train there. This
one measures the image member on all the photos it can be measured on. Folds are over
products: within each class, products are ranked by the salted hash of their productid
(features/splits.py's) and dealt round-robin, so the folds are stratified and deterministic and
every photo of a product is in the same fold. Within the training folds, the photos whose hash
split is ``valid`` stop the head's training early, as in the default cross-validation. Folds
are not checkpointed (a run takes minutes: the embeddings are cached in the lakehouse).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from catalog_classifier.config import Config, SplitsConfig
from catalog_classifier.features.splits import hash_unit_column, run_splits
from catalog_classifier.models.datasets import LISTING, image_label_rows, image_rows
from catalog_classifier.models.members import get_member
from catalog_classifier.models.metrics import weighted_f1
from catalog_classifier.reports.evaluation import model_section, plot_confusion, write_page
from catalog_classifier.stages.evaluate import (
    EvaluateSummary,
    evaluate_predictions,
    evaluation_row,
    most_confused_pairs,
    write_evaluations,
)
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.spark import job_step

log = logging.getLogger(__name__)

IMAGE = "image"


def labelled_photos(lakehouse: Lakehouse, codes: list[int]) -> DataFrame:
    """Every usable labelled photo: the photos of labelled listings (origin ``listing``, their
    listing's label) and the photos labelled by ``bronze.image_labels`` (origin
    ``image_label``), in :func:`~catalog_classifier.models.datasets.image_rows`' columns."""
    listed = image_rows(lakehouse, codes)
    extra = image_label_rows(lakehouse, codes)
    if extra is None:
        return listed
    return listed.unionByName(extra.select(*listed.columns))


def photo_folds(photos: DataFrame, k: int, config: SplitsConfig) -> DataFrame:
    """``photos`` with ``fold`` (0..k-1) and ``split`` (``valid`` where the productid's hash
    split is valid, else ``train``): products dealt round-robin within their class by hash, so
    the photos of a product share a fold."""
    unit = hash_unit_column(F.col("productid"), config.salt)
    products = photos.groupBy("productid").agg(F.min("prdtypecode").alias("_class"))
    by_class = Window.partitionBy("_class").orderBy("_unit", "productid")
    dealt = (
        products.withColumn("_unit", unit)
        .withColumn("fold", ((F.row_number().over(by_class) - 1) % k).cast("int"))
        .select("productid", "fold", "_unit")
    )
    is_valid = (F.col("_unit") >= config.train) & (F.col("_unit") < config.train + config.valid)
    return (
        photos.drop("fold", "split")
        .join(dealt, "productid")
        .withColumn("split", F.when(is_valid, F.lit("valid")).otherwise(F.lit("train")))
        .drop("_unit")
    )


def run_image_cv(
    lakehouse: Lakehouse,
    config: Config,
    folds: int | None = None,
    out_dir: str = "report/evaluation",
) -> EvaluateSummary:
    """K-fold cross-validation of the image member over every labelled photo: weighted F1 per
    fold and their mean, and the same on the photos of labelled listings alone; one row in
    ``gold.evaluations`` (split ``cv<K>-photos``) and a page ``cv_photos.html``."""
    started = time.monotonic()
    if config.train.torch_threads:  # as training does: the driver fits the folds
        torch.set_num_threads(config.train.torch_threads)
    k = folds or config.splits.cv_folds
    run_splits(lakehouse, config.splits)  # the labelled listings of image_rows
    names, codes = config.category_names, config.label_codes
    member = get_member(IMAGE)
    rows = photo_folds(labelled_photos(lakehouse, codes), k, config.splits).cache()
    assignment = rows.select("productid", "imageid", "label", "fold", "origin").toPandas()
    if assignment.empty:
        raise ValueError("no labelled photo to cross-validate")
    by_origin = assignment.groupby("origin").size().to_dict()
    log.info("cv image-only: %d photos (%s), %d folds", len(assignment), by_origin, k)
    origin_of = dict(zip(assignment["productid"], assignment["origin"], strict=True))
    versions = lakehouse.versions(member.input_tables())
    run_id = "cvp" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    all_ids: list[int] = []
    all_labels: list[int] = []
    all_probs: list[np.ndarray] = []
    fold_scores: list[float] = []
    listing_scores: list[float] = []
    for fold in range(k):
        fold_started = time.monotonic()
        held_out = F.col("fold") == fold
        with job_step(lakehouse.spark, f"cv image-only fold {fold + 1}/{k}"):
            ids, labels, probs = member.fit_fold(
                lakehouse, config, rows.filter(~held_out), rows.filter(held_out)
            )
        predicted = probs.argmax(1)
        score = weighted_f1(labels, predicted)
        listed = np.array([origin_of.get(i) == LISTING for i in ids], bool)
        listing_score = (
            weighted_f1(np.asarray(labels)[listed], predicted[listed]) if listed.any() else None
        )
        fold_scores.append(score)
        if listing_score is not None:
            listing_scores.append(listing_score)
        all_ids += ids
        all_labels += labels
        all_probs.append(probs)
        log.info(
            "cv image-only fold %d/%d: weighted F1 %.4f (%d photos; %s on the %d of labelled "
            "listings; %.0f s)",
            fold + 1,
            k,
            score,
            len(labels),
            "-" if listing_score is None else f"{listing_score:.4f}",
            int(listed.sum()),
            time.monotonic() - fold_started,
        )
    rows.unpersist()
    probs_all = np.concatenate(all_probs)
    evaluation = evaluate_predictions(
        IMAGE, f"cv{k}-photos", None, all_labels, probs_all, codes, names
    )
    evaluation.fold_scores = fold_scores
    evaluation.metrics["weighted_f1"] = float(np.mean(fold_scores))
    if listing_scores:
        evaluation.metrics["listing_photos_weighted_f1"] = float(np.mean(listing_scores))
        evaluation.metrics["listing_photos_weighted_f1_std"] = float(np.std(listing_scores))
    for origin, count in by_origin.items():
        evaluation.metrics[f"photos_{origin}"] = float(count)
    at = datetime.now(UTC).replace(microsecond=0)
    write_evaluations(lakehouse, [evaluation_row(evaluation, run_id, versions, at)])
    figure = plot_confusion(evaluation, names, out / "figures" / "confusion_cv_photos_image.png")
    section = model_section(evaluation, figure, most_confused_pairs(evaluation, config))
    page = write_page(
        out,
        f"{k}-fold image-only cross-validation over every labelled photo",
        [evaluation],
        [section],
        run_id,
        name="cv_photos.html",
    )
    summary = EvaluateSummary(
        run_id, f"cv{k}-photos", [evaluation], page, time.monotonic() - started
    )
    log.info("image-only cross-validation done: %s", json.dumps(summary.as_dict()))
    return summary
