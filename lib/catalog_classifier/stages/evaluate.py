"""Evaluating the models: metrics, per-class report, confusion matrix, examples, Grad-CAM.

``run_evaluate`` scores the latest registered version of each model on a split (test by
default); ``run_cross_validation`` trains and scores each model on K stratified folds of the
labelled listings (``evaluate --cv 5``). Both write one row per model to ``gold.evaluations`` and
an HTML page with PNG figures, readable offline, beside the data-quality report.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from markupsafe import Markup
from pyspark.sql import functions as F
from sklearn.metrics import confusion_matrix

from catalog_classifier.config import Config, FusionConfig
from catalog_classifier.crashpoints import crash_point
from catalog_classifier.features.splits import run_splits
from catalog_classifier.models import fusion
from catalog_classifier.models.datasets import listings_only, with_training_texts
from catalog_classifier.models.members import FUSION, get_member, member_names, modalities
from catalog_classifier.models.metrics import (
    GainInterval,
    classification_metrics,
    paired_bootstrap_gain,
    weighted_f1,
)
from catalog_classifier.reports.confusions import (
    confusion_pairs,
    image_contribution,
    per_class_report,
    with_member_f1,
)
from catalog_classifier.reports.evaluation import (
    fusion_cv_note,
    fusion_note,
    fusion_section,
    gradcam_section,
    image_contribution_section,
    misclassified_examples,
    model_section,
    plot_confusion,
    plot_reliability,
    write_page,
)
from catalog_classifier.stages.fold_checkpoints import (
    CHECKPOINT_DIR,
    FoldCheckpoints,
    fingerprint_columns,
    fold_key,
    rows_fingerprint,
)
from catalog_classifier.stages.train import input_tables, member_predictions
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.registry import Registry
from catalog_classifier.storage.spark import job_step
from catalog_classifier.storage.tables import (
    BRONZE_LISTINGS,
    GOLD_EVALUATIONS,
    SILVER_IMAGE_FEATURES,
    SILVER_SPLITS,
    SILVER_TEXT_FEATURES,
)

log = logging.getLogger(__name__)

FUSION_TABLES = (SILVER_SPLITS, SILVER_TEXT_FEATURES, BRONZE_LISTINGS, SILVER_IMAGE_FEATURES)


@dataclass
class Evaluation:
    model: str
    split: str
    version: str | None
    rows: int
    metrics: dict[str, float]
    per_class: pd.DataFrame
    confusion: np.ndarray
    codes: list[int]
    fold_scores: list[float] = field(default_factory=list)

    @property
    def weighted_f1_std(self) -> float | None:
        return float(np.std(self.fold_scores)) if self.fold_scores else None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "split": self.split,
            "version": self.version,
            "rows": self.rows,
            **{k: round(v, 4) for k, v in self.metrics.items()},
        }
        if self.fold_scores:
            out["weighted_f1_folds"] = [round(s, 4) for s in self.fold_scores]
            out["weighted_f1_std"] = round(self.weighted_f1_std or 0.0, 4)
        return out


def evaluate_predictions(
    model: str,
    split: str,
    version: str | None,
    labels: Sequence[int],
    probabilities: np.ndarray,
    codes: Sequence[int],
    names: dict[int, str],
) -> Evaluation:
    """Scores of class-index predictions against class-index labels."""
    labels = [int(v) for v in labels]
    predicted = probabilities.argmax(1).tolist() if len(labels) else []
    metrics = classification_metrics(labels, predicted)
    per_class = per_class_report(labels, predicted, codes, names)
    confusion = confusion_matrix(labels, predicted, labels=list(range(len(codes))))
    return Evaluation(
        model, split, version, len(labels), metrics, per_class, confusion, list(codes)
    )


def most_confused_pairs(
    evaluation: Evaluation, config: Config, without_image: np.ndarray | None = None
) -> pd.DataFrame:
    """The evaluation's most frequent confusions and the conf's watched pairs; with each pair's
    count in ``without_image`` too (the confusion matrix without the image members)."""
    settings = config.evaluation
    return confusion_pairs(
        evaluation.confusion,
        evaluation.codes,
        config.category_names,
        settings.confused_pairs,
        settings.watched_pairs,
        without_image,
    )


def evaluation_row(
    evaluation: Evaluation, run_id: str, input_versions: dict[str, int | None], at: datetime
) -> dict[str, Any]:
    per_class = evaluation.per_class.to_dict(orient="records")
    return {
        "evaluation_id": f"{run_id}.{evaluation.model}.{evaluation.split}",
        "run_id": run_id,
        "model": evaluation.model,
        "model_version": evaluation.version,
        "split": evaluation.split,
        "rows": int(evaluation.rows),
        "weighted_f1": float(evaluation.metrics["weighted_f1"]),
        "macro_f1": float(evaluation.metrics["macro_f1"]),
        "accuracy": float(evaluation.metrics["accuracy"]),
        "weighted_f1_std": evaluation.weighted_f1_std,
        "per_class": json.dumps(per_class, default=float),
        "confusion": json.dumps(
            {"codes": evaluation.codes, "matrix": evaluation.confusion.tolist()}
        ),
        "input_versions": json.dumps(input_versions),
        "evaluated_at": at,
    }


def write_evaluations(lakehouse: Lakehouse, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    spark = lakehouse.spark
    frame = spark.createDataFrame(pd.DataFrame(rows), GOLD_EVALUATIONS.spark_schema())
    lakehouse.merge(GOLD_EVALUATIONS, frame)


# ------------------------------------------------------------------------------ rows to score


def _probabilities(frame: pd.DataFrame) -> np.ndarray:
    return np.stack(frame["probabilities"].tolist()) if len(frame) else np.zeros((0, 1))


@dataclass
class EvaluateSummary:
    run_id: str
    split: str
    evaluations: list[Evaluation]
    html_path: Path | None
    seconds: float = 0.0

    def format(self) -> str:
        lines = [f"Evaluation {self.run_id} on {self.split} in {self.seconds:.1f} s"]
        for e in self.evaluations:
            spread = f" ± {e.weighted_f1_std:.4f}" if e.fold_scores else ""
            lines.append(
                f"  {e.model:6} weighted F1 {e.metrics['weighted_f1']:.4f}{spread}  macro F1 "
                f"{e.metrics['macro_f1']:.4f}  accuracy {e.metrics['accuracy']:.4f}  "
                f"({e.rows} listings, version {e.version})"
            )
        if self.html_path:
            lines.append(f"  page: {self.html_path}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "split": self.split,
            "models": {e.model: e.as_dict() for e in self.evaluations},
            "page": str(self.html_path) if self.html_path else None,
            "seconds": round(self.seconds, 1),
        }


def run_evaluate(
    lakehouse: Lakehouse,
    config: Config,
    split: str = "test",
    out_dir: str = "report/evaluation",
    models: Sequence[str] | None = None,
) -> EvaluateSummary:
    """Score the latest registered version of each model on ``split``; page + gold rows."""
    started = time.monotonic()
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    registry = Registry(config, lakehouse.root)
    names = config.category_names
    codes = config.label_codes
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    evaluations, sections, gold = [], [], []
    at = datetime.now(UTC).replace(microsecond=0)
    requested = list(models or (*member_names(), FUSION))
    for model in [m for m in requested if m != FUSION]:
        member = get_member(model)
        if registry.latest_version(model) is None:
            log.warning("evaluate: no registered %s model; skipped", model)
            continue
        registered = registry.load(model)
        try:
            rows = listings_only(member.labelled_rows(lakehouse, config)).filter(
                F.col("split") == split
            )
            versions = lakehouse.versions(input_tables(model))
            with job_step(lakehouse.spark, f"evaluate {model} on {split}"):
                fitted = member.load(registered.folder)
                frame = fitted.predict_rows(lakehouse, config, rows)
            probs = _probabilities(frame)
            evaluation = evaluate_predictions(
                model, split, registered.version, frame["label"].tolist(), probs, codes, names
            )
            evaluations.append(evaluation)
            gold.append(evaluation_row(evaluation, run_id, versions, at))
            figure = plot_confusion(evaluation, names, out / "figures" / f"confusion_{model}.png")
            examples = misclassified_examples(
                lakehouse, config, frame, probs, config.evaluation.misclassified_examples
            )
            gradcams = (
                gradcam_section(lakehouse, config, registered.folder, frame, probs, out)
                # Grad-CAM explains an image model's CNN (its folder names the backbone).
                if member.modality == "image" and (registered.folder / "backbone.json").exists()
                else None
            )
            pairs = most_confused_pairs(evaluation, config)
            sections.append(model_section(evaluation, figure, pairs, examples, gradcams))
        finally:
            registered.remove_download()
    if FUSION in requested and registry.latest_version(FUSION) is not None:
        evaluation, section = evaluate_fusion(lakehouse, config, registry, split, out)
        evaluations.append(evaluation)
        gold.append(evaluation_row(evaluation, run_id, lakehouse.versions(FUSION_TABLES), at))
        sections.append(section)
    write_evaluations(lakehouse, gold)
    page = write_page(out, f"Model evaluation on the {split} split", evaluations, sections, run_id)
    summary = EvaluateSummary(run_id, split, evaluations, page, time.monotonic() - started)
    log.info("evaluate done: %s", json.dumps(summary.as_dict()))
    return summary


def run_cross_validation(
    lakehouse: Lakehouse,
    config: Config,
    folds: int | None = None,
    out_dir: str = "report/evaluation",
    models: Sequence[str] | None = None,
    resume: bool = True,
) -> EvaluateSummary:
    """K-fold stratified cross-validation of each model; mean and spread of each metric.

    Each fold's model trains on the other folds (early stopping on the rows of those folds
    whose hash split is ``valid``) and predicts the held-out fold. Text and image embeddings are
    computed once and reused across folds; the heads train in memory with the same loop.

    Each finished fold is saved under ``<out_dir>/checkpoints`` (:mod:`.fold_checkpoints`);
    with ``resume`` a re-run with the same rows and settings loads the finished folds instead
    of training them again (without, every fold trains and its checkpoint is rewritten).
    """
    started = time.monotonic()
    if config.train.torch_threads:  # as training does: the driver fits the folds
        torch.set_num_threads(config.train.torch_threads)
    k = folds or config.splits.cv_folds
    splits_config = dataclasses.replace(config.splits, cv_folds=k)
    config = dataclasses.replace(config, splits=splits_config)
    run_splits(lakehouse, splits_config)
    stored = lakehouse.read(SILVER_SPLITS).agg(F.max("fold")).first()
    assert stored is not None  # a global aggregate has exactly one row
    stored_folds = stored[0]
    if stored_folds is not None and stored_folds + 1 != k:
        raise ValueError(f"silver.splits holds {stored_folds + 1} folds, not {k}")
    run_id = "cv" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    names, codes = config.category_names, config.label_codes
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    evaluations, sections, gold = [], [], []
    at = datetime.now(UTC).replace(microsecond=0)
    requested = list(models or config.train.models)
    out_of_fold: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    for model in [m for m in requested if m != FUSION]:
        member = get_member(model)
        rows = listings_only(member.labelled_rows(lakehouse, config)).cache()
        # Training-only texts: added to each fold's training part, never to its test part.
        texts = member.training_texts(lakehouse, config)
        texts = texts.cache() if texts is not None else None
        versions = lakehouse.versions(input_tables(model))
        assignment = rows.select(*fingerprint_columns(rows.columns)).toPandas()
        fingerprint = rows_fingerprint(assignment)
        if texts is not None:  # a new, changed or moved training text trains the folds again
            texts_assignment = texts.select("content_sha256", "split").toPandas()
            fingerprint += "+" + rows_fingerprint(texts_assignment)
            log.info("cv %s: %d training texts beside the listings", model, len(texts_assignment))
        key = fold_key(model, k, fingerprint, member.fold_settings(config))
        checkpoints = FoldCheckpoints(out / CHECKPOINT_DIR, model, key)
        all_ids: list[int] = []
        all_labels: list[int] = []
        all_folds: list[int] = []
        all_probs: list[np.ndarray] = []
        fold_scores = []
        for fold in range(k):
            fold_started = time.monotonic()
            held_out = F.col("fold") == fold
            # Within the training folds: hash-valid rows for early stopping, the rest to train.
            training = with_training_texts(
                rows.filter(~held_out).withColumn(
                    "split", F.when(F.col("split") == "valid", "valid").otherwise("train")
                ),
                texts,
                fold,
            )
            test = rows.filter(held_out)
            in_fold = assignment[assignment["fold"] == fold]
            saved = (
                checkpoints.load(
                    fold, in_fold["productid"].tolist(), in_fold["label"].tolist(), len(codes)
                )
                if resume
                else None
            )
            if saved is not None:
                ids, labels, probs = saved.productids, saved.labels, saved.probabilities
                log.info(
                    "cv %s fold %d/%d: finished before, loaded from %s (not trained again)",
                    model,
                    fold + 1,
                    k,
                    checkpoints.path(fold),
                )
            else:
                with job_step(lakehouse.spark, f"cv {model} fold {fold + 1}/{k}"):
                    ids, labels, probs = member.fit_fold(lakehouse, config, training, test)
                checkpoints.save(fold, ids, labels, probs)
            score = classification_metrics(labels, probs.argmax(1).tolist())["weighted_f1"]
            fold_scores.append(score)
            all_ids += ids
            all_labels += labels
            all_folds += [fold] * len(ids)
            all_probs.append(probs)
            log.info(
                "cv %s fold %d/%d: weighted F1 %.4f (%d listings, %.0f s)",
                model,
                fold + 1,
                k,
                score,
                len(labels),
                time.monotonic() - fold_started,
            )
            crash_point("cv:after_fold")
        rows.unpersist()
        if texts is not None:
            texts.unpersist()
        out_of_fold[model] = (
            np.asarray(all_ids, np.int64),
            np.asarray(all_labels, int),
            np.asarray(all_folds, int),
            np.concatenate(all_probs),
        )
        evaluation = evaluate_predictions(
            model, f"cv{k}", None, all_labels, np.concatenate(all_probs), codes, names
        )
        evaluation.fold_scores = fold_scores
        evaluation.metrics["weighted_f1"] = float(np.mean(fold_scores))
        evaluations.append(evaluation)
        gold.append(evaluation_row(evaluation, run_id, versions, at))
        figure = plot_confusion(evaluation, names, out / "figures" / f"confusion_cv_{model}.png")
        sections.append(model_section(evaluation, figure, most_confused_pairs(evaluation, config)))
    if FUSION in requested and out_of_fold:
        evaluation, section = cross_validate_fusion(config, out_of_fold, k, out)
        evaluations.append(evaluation)
        gold.append(evaluation_row(evaluation, run_id, lakehouse.versions(FUSION_TABLES), at))
        sections.append(section)
    write_evaluations(lakehouse, gold)
    page = write_page(
        out, f"{k}-fold cross-validation", evaluations, sections, run_id, name="cv.html"
    )
    summary = EvaluateSummary(run_id, f"cv{k}", evaluations, page, time.monotonic() - started)
    log.info("cross-validation done: %s", json.dumps(summary.as_dict()))
    return summary


# ------------------------------------------------------------------------------ fusion


@dataclass
class FusedPredictions:
    """A registered fused version applied to the labelled listings of a split."""

    version: str
    model: fusion.FusionModel
    members: fusion.MemberPredictions
    fused: np.ndarray  # fused class probabilities, one row per members.productids
    used: np.ndarray  # the availability group that fused each row


# Member predictions on a split, per (member, version, split): two fused versions that share a
# member version (a fusion refit, or one member retrained) score that member once.
MemberCache = dict[tuple[str, str, str], fusion.MemberPredictions]


def fused_predictions(
    lakehouse: Lakehouse,
    config: Config,
    registry: Registry,
    split: str,
    version: str | None = None,
    cache: MemberCache | None = None,
) -> FusedPredictions:
    """A fused version (the latest by default) and the member versions it was fit on, applied
    to the labelled listings of ``split``."""
    cache = {} if cache is None else cache
    registered = registry.load(FUSION, version)
    try:
        model = fusion.FusionModel.load(registered.folder)
    finally:
        registered.remove_download()
    for member, member_version in model.members.items():
        key = (member, str(member_version), split)
        if key in cache:
            continue
        loaded = registry.load(member, member_version)
        try:
            cache[key] = member_predictions(lakehouse, config, {member: loaded.folder}, split)
        finally:
            loaded.remove_download()
    parts = [cache[(m, str(v), split)] for m, v in model.members.items()]
    if not parts:
        raise LookupError(f"fused version {registered.version} records no member")
    first = parts[0]
    for part in parts[1:]:
        # member_predictions orders every member's rows by productid over the same listings.
        if not np.array_equal(part.productids, first.productids):
            raise RuntimeError(f"member predictions on {split} are not over the same listings")
    members = fusion.MemberPredictions(
        first.productids,
        first.labels,
        {m: p.probs[m] for m, p in zip(model.members, parts, strict=True)},
        {m: p.available[m] for m, p in zip(model.members, parts, strict=True)},
    )
    fused, used = model.predict(members.probs, members.available)
    return FusedPredictions(registered.version, model, members, fused, used)


def evaluate_fusion(
    lakehouse: Lakehouse, config: Config, registry: Registry, split: str, out: Path
) -> tuple[Evaluation, Markup]:
    """The latest fused model and the member versions it was fit on, scored on ``split``."""
    scored = fused_predictions(lakehouse, config, registry, split)
    model, members, fused, used = scored.model, scored.members, scored.fused, scored.used
    names, codes = config.category_names, config.label_codes
    evaluation = evaluate_predictions(
        FUSION, split, scored.version, members.labels.tolist(), fused, codes, names
    )
    groups = fusion.evaluate_groups(fused, used, members, modalities())
    evaluation.metrics.update(groups)
    confidence, correct = fused.max(1), fused.argmax(1) == members.labels
    reliability, ece = plot_reliability(
        confidence, correct, out / "figures" / "reliability_fusion.png", f"{split} split"
    )
    evaluation.metrics["expected_calibration_error"] = ece
    review = confidence < model.review_threshold
    evaluation.metrics["needs_review_share"] = float(review.mean()) if len(review) else 0.0
    evaluation.metrics["auto_accepted_share"] = float((~review).mean()) if len(review) else 0.0
    evaluation.metrics["review_threshold"] = model.review_threshold
    evaluation.metrics["review_precision_target"] = config.train.fusion.review_precision
    if (~review).any():
        evaluation.metrics["precision_not_reviewed"] = float(correct[~review].mean())
    figure = plot_confusion(evaluation, names, out / "figures" / "confusion_fusion.png")
    note = fusion_note(
        model.method,
        model.members,
        model.selection,
        model.review_threshold,
        config.train.fusion.review_precision,
        evaluation.metrics,
    )
    without_image, _ = model.predict(
        members.probs, fusion.without_members(members.available, image_members(members.probs))
    )
    against = fusion_section(groups, reliability, ece, note, list(members.probs))
    section = fusion_report(config, evaluation, members, fused, without_image, figure, against)
    return evaluation, section


def image_members(names: Iterable[str]) -> list[str]:
    """The image members among ``names``."""
    kinds = modalities()
    return [m for m in names if kinds[m] == "image"]


def fusion_report(
    config: Config,
    evaluation: Evaluation,
    members: fusion.MemberPredictions,
    fused: np.ndarray,
    without_image: np.ndarray,
    figure: Path,
    against_members: Markup,
) -> Markup:
    """The fused model's section: its scores, confusion pairs and per-class report beside each
    member's F1, ``against_members`` (the :func:`fusion_section`), then what the image members
    add on the listings with an image (``without_image``: the same fusion without them)."""
    labels = members.labels
    predictions = {m: (p.argmax(1), members.available[m]) for m, p in members.probs.items()}
    per_class = with_member_f1(evaluation.per_class, labels, predictions, evaluation.codes)
    has_image = fusion.with_image(members, modalities())
    contribution = image_contribution(
        labels, fused, without_image, has_image, evaluation.codes, config.category_names
    )
    evaluation.metrics.update(contribution.metrics())
    classes = list(range(len(evaluation.codes)))
    confusion = confusion_matrix(labels, without_image.argmax(1), labels=classes)
    pairs = most_confused_pairs(evaluation, config, confusion)
    section = model_section(evaluation, figure, pairs, per_class=per_class)
    added = image_contribution_section(contribution, image_members(members.probs))
    return section + against_members + added


def cross_validate_fusion(
    config: Config,
    out_of_fold: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    k: int,
    out: Path,
) -> tuple[Evaluation, Markup]:
    """Fusion by K-fold over the members' out-of-fold probabilities: each fold's combiner is fit
    on the other folds' listings, as the registered one is fit on the valid split."""
    cfg = config.train.fusion
    kinds = modalities()
    # The text members' out-of-fold rows are every labelled listing (an image member's are
    # those with a usable image); with no text member, the image members' listings.
    text_member = next((m for m in out_of_fold if kinds[m] == "text"), next(iter(out_of_fold)))
    ids, labels, folds, _ = out_of_fold[text_member]
    order = np.argsort(ids)
    ids, labels, folds = ids[order], labels[order], folds[order]
    at = {int(p): i for i, p in enumerate(ids)}
    n, n_classes = len(ids), len(config.label_codes)
    probs, available = {}, {}
    for member, (m_ids, _, _, m_probs) in out_of_fold.items():
        matrix, mask = np.zeros((n, n_classes)), np.zeros(n, bool)
        for productid, p in zip(m_ids, m_probs, strict=True):
            if int(productid) in at:
                matrix[at[int(productid)]], mask[at[int(productid)]] = p, True
        probs[member], available[member] = matrix, mask
    fused = np.zeros((n, n_classes))
    used = np.full(n, "none", dtype=object)
    without_image = np.zeros((n, n_classes))
    dropped = image_members(probs)

    def fit_fold(fold: int, settings: FusionConfig) -> tuple[fusion.FusionModel, np.ndarray]:
        """The combiner fit on the other folds, and the rows of ``fold``."""
        train, test = folds != fold, folds == fold
        model = fusion.fit_fusion_from_config(
            {m: p[train] for m, p in probs.items()},
            {m: a[train] for m, a in available.items()},
            labels[train],
            n_classes,
            kinds,
            settings,
            config.train.seed,
        )
        return model, test

    def predict(
        model: fusion.FusionModel, test: np.ndarray, without: Sequence[str] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        """``model`` on the rows of ``test``, the members ``without`` taken as absent."""
        masks = fusion.without_members({m: a[test] for m, a in available.items()}, without)
        return model.predict({m: p[test] for m, p in probs.items()}, masks)

    fold_scores, chosen = [], []
    for fold in range(k):
        model, test = fit_fold(fold, cfg)
        chosen.append(model.method)
        fused[test], used[test] = predict(model, test)
        without_image[test], _ = predict(model, test, dropped)
        fold_scores.append(weighted_f1(labels[test], fused[test].argmax(1)))
    # Every combiner on the same outer folds, each fixed (what auto chose from is then
    # measured too, not only the inner selection): mean, spread and fold figures.
    by_method: dict[str, list[float]] = {}
    for method in fusion.FUSION_CANDIDATES:
        # Each combiner as it is, without the fall-back to the best member (measured below).
        fixed = dataclasses.replace(cfg, method=method, fallback_to_best_member=False)
        for fold in range(k):
            model, test = fit_fold(fold, fixed)
            predicted, _ = predict(model, test)
            by_method.setdefault(method, []).append(weighted_f1(labels[test], predicted.argmax(1)))
        log.info(
            "cv fusion %s: weighted F1 %.4f ± %.4f (%s)",
            method,
            np.mean(by_method[method]),
            np.std(by_method[method]),
            " ".join(f"{s:.4f}" for s in by_method[method]),
        )
    np.savez_compressed(
        out / "out_of_fold.npz",
        productid=ids,
        label=labels,
        fold=folds,
        **{f"probs_{m}": p for m, p in probs.items()},
        **{f"available_{m}": a for m, a in available.items()},
    )
    members = fusion.MemberPredictions(ids, labels, probs, available)
    groups = fusion.evaluate_groups(fused, used, members, kinds)
    names, codes = config.category_names, config.label_codes
    evaluation = evaluate_predictions(FUSION, f"cv{k}", None, labels.tolist(), fused, codes, names)
    evaluation.fold_scores = fold_scores
    evaluation.metrics["weighted_f1"] = float(np.mean(fold_scores))
    for name, scores in by_method.items():
        evaluation.metrics[f"method_{name}_weighted_f1"] = float(np.mean(scores))
        evaluation.metrics[f"method_{name}_weighted_f1_std"] = float(np.std(scores))
        for fold, score in enumerate(scores):
            evaluation.metrics[f"method_{name}_fold{fold + 1}_weighted_f1"] = float(score)
    with_image = fusion.with_image(members, kinds)
    has_text_member = any(kinds[m] == "text" for m in probs)
    gains = []
    for fold in range(k):
        rows = (folds == fold) & with_image
        if rows.sum() and has_text_member:
            best = max(
                weighted_f1(labels[rows], probs[m][rows].argmax(1))
                for m in probs
                if available[m][rows].all()
            )
            gains.append(weighted_f1(labels[rows], fused[rows].argmax(1)) - best)
    evaluation.metrics.update({k_: float(v) for k_, v in groups.items()})
    if gains:
        evaluation.metrics["with_image_gain_over_best_member"] = float(np.mean(gains))
        evaluation.metrics["with_image_gain_std"] = float(np.std(gains))
    best_member, interval = gain_over_best_member(labels, fused, probs, available, cfg, config)
    if interval is not None:
        evaluation.metrics.update(
            {
                "gain_over_best_member": interval.gain,
                "gain_over_best_member_low": interval.low,
                "gain_over_best_member_high": interval.high,
            }
        )
        log.info(
            "cv fusion: gain over %s alone %+.4f, %.0f%% paired bootstrap interval %+.4f to %+.4f",
            best_member,
            interval.gain,
            100 * interval.confidence,
            interval.low,
            interval.high,
        )
    evaluation.metrics.update(cross_validated_review_load(fused, labels, folds, cfg))
    figure = plot_confusion(evaluation, names, out / "figures" / "confusion_cv_fusion.png")
    confidence = fused.max(1)
    correct = fused.argmax(1) == labels
    reliability, ece = plot_reliability(
        confidence, correct, out / "figures" / "reliability_cv_fusion.png", f"{k}-fold CV"
    )
    evaluation.metrics["expected_calibration_error"] = ece
    note = fusion_cv_note(chosen, gains, evaluation.metrics)
    against = fusion_section(groups, reliability, ece, note, list(probs))
    section = fusion_report(config, evaluation, members, fused, without_image, figure, against)
    return evaluation, section


def gain_over_best_member(
    labels: np.ndarray,
    fused: np.ndarray,
    probs: Mapping[str, np.ndarray],
    available: Mapping[str, np.ndarray],
    cfg: FusionConfig,
    config: Config,
) -> tuple[str | None, GainInterval | None]:
    """The best single member over every listing (of those that score every listing) and the
    fused model's weighted F1 gain over it, with its paired bootstrap interval."""
    complete = [m for m in probs if available[m].all()]
    if not complete:
        return None, None
    best = max(complete, key=lambda m: weighted_f1(labels, probs[m].argmax(1)))
    interval = paired_bootstrap_gain(
        labels,
        fused.argmax(1),
        probs[best].argmax(1),
        cfg.bootstrap_samples,
        cfg.gain_confidence,
        config.train.seed,
    )
    return best, interval


def cross_validated_review_load(
    fused: np.ndarray, labels: np.ndarray, folds: np.ndarray, cfg: FusionConfig
) -> dict[str, float]:
    """The review load as the scoring job would set it, measured on listings no choice saw:
    each fold's review threshold is chosen on the other folds' out-of-fold fused predictions
    (for ``cfg.review_precision``) and applied to the fold. Returns the share auto-accepted
    (confidence at or above the threshold), their precision, and the mean threshold."""
    confidence, correct = fused.max(1), fused.argmax(1) == labels
    accepted = np.zeros(len(labels), bool)
    thresholds = []
    for fold in np.unique(folds):
        test = folds == fold
        threshold, _, _ = fusion.review_threshold(
            confidence[~test], correct[~test], cfg.review_precision, cfg.min_review_share
        )
        thresholds.append(threshold)
        accepted[test] = confidence[test] >= threshold
    return {
        "auto_accepted_share": float(accepted.mean()) if len(accepted) else 0.0,
        "auto_accepted_precision": float(correct[accepted].mean()) if accepted.any() else 0.0,
        "review_threshold": float(np.mean(thresholds)) if thresholds else 0.0,
        "review_precision_target": cfg.review_precision,
    }


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="evaluate-"))
