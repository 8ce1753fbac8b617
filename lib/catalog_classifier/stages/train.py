"""The train stage: splits, then each asked-for member trained on ``train``, selected on
``valid``, saved as a self-contained folder and registered with its metrics; then the late
fusion of the latest registered members.

Every member follows :class:`~catalog_classifier.models.member.Member`; this stage loops over
the names in ``train.models`` and names none of them.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from catalog_classifier.config import Config
from catalog_classifier.features.splits import run_splits
from catalog_classifier.models import cascade, fusion
from catalog_classifier.models.datasets import listings_only, text_rows, with_training_texts
from catalog_classifier.models.loop import seed_everything
from catalog_classifier.models.member import read_meta, write_meta
from catalog_classifier.models.members import FUSION, get_member, member_names, modalities
from catalog_classifier.models.metrics import weighted_f1
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.registry import RegisteredModel, Registry
from catalog_classifier.storage.shipping import needs_shipping
from catalog_classifier.storage.spark import job_step
from catalog_classifier.storage.tables import SILVER_SPLITS, TableSpec

log = logging.getLogger(__name__)


@dataclass
class ModelOutcome:
    model: str
    mode: str
    folder: Path
    params: dict[str, Any]
    metrics: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)
    input_versions: dict[str, int | None] = field(default_factory=dict)
    seconds: float = 0.0
    registered: RegisteredModel | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "seconds": round(self.seconds, 1),
            "version": self.registered.version if self.registered else None,
            **{k: round(v, 4) for k, v in self.metrics.items()},
        }


@dataclass
class TrainSummary:
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def format(self) -> str:
        lines = [f"Training finished in {self.seconds:.1f} s; splits {self.splits}"]
        for name, info in self.models.items():
            lines.append(
                f"  {name:6} {info.get('mode', ''):9} valid weighted F1 "
                f"{info.get('valid_weighted_f1', float('nan')):.4f}  version {info.get('version')}"
                f"  ({info.get('seconds', 0):.0f} s)"
            )
        return "\n".join(lines)


def input_tables(name: str) -> tuple[TableSpec, ...]:
    """The Delta tables a model (a member or the fusion) reads."""
    if name == FUSION:
        tables: list[TableSpec] = []
        for member in member_names():
            tables += [t for t in get_member(member).input_tables() if t not in tables]
        return tuple(tables)
    return get_member(name).input_tables()


def train_member(
    lakehouse: Lakehouse, config: Config, name: str, folder: Path, rows: DataFrame | None = None
) -> ModelOutcome:
    """Train, select and save one member into ``folder`` (not registered)."""
    started = time.monotonic()
    member = get_member(name)
    rows = rows if rows is not None else member.labelled_rows(lakehouse, config)
    # The one place the train stage adds training texts: to the rows of split train only.
    rows = with_training_texts(listings_only(rows), member.training_texts(lakehouse, config))
    fitted = member.fit(lakehouse, config, rows, folder)
    return ModelOutcome(
        name,
        fitted.mode,
        folder,
        fitted.params,
        fitted.metrics,
        fitted.history,
        seconds=time.monotonic() - started,
    )


# ------------------------------------------------------------------------------ fusion


def member_predictions(
    lakehouse: Lakehouse, config: Config, folders: Mapping[str, Path], split: str
) -> fusion.MemberPredictions:
    """Each member's class probabilities for the labelled listings of ``split``.

    The listings are every labelled one (by its cleaned text); a member covers those it can
    score: text members the listings whose text is not empty, image members those with a
    usable image. Missing rows get zeros and ``available`` false.
    """
    codes = config.label_codes
    texts = text_rows(lakehouse, codes).filter(F.col("split") == split)
    base = texts.select("productid", "label")
    frame = base.toPandas().sort_values("productid").reset_index(drop=True)
    index = {int(p): i for i, p in enumerate(frame["productid"])}
    n, k = len(frame), len(codes)
    probs: dict[str, np.ndarray] = {}
    available: dict[str, np.ndarray] = {}
    for name in [m for m in member_names() if m in folders]:
        member = get_member(name)
        rows = listings_only(member.labelled_rows(lakehouse, config)).filter(
            F.col("split") == split
        )
        if member.modality == "text":
            rows = rows.filter(F.length(F.trim("text")) > 0)
        predicted = member.load(Path(folders[name])).predict_rows(lakehouse, config, rows)
        matrix, mask = np.zeros((n, k)), np.zeros(n, bool)
        for productid, p in zip(predicted["productid"], predicted["probabilities"], strict=True):
            at = index.get(int(productid))
            if at is not None:
                matrix[at], mask[at] = np.asarray(p), True
        probs[name], available[name] = matrix, mask
    return fusion.MemberPredictions(
        frame["productid"].to_numpy(np.int64), frame["label"].to_numpy(int), probs, available
    )


def train_fusion(
    lakehouse: Lakehouse, config: Config, folder: Path, registry: Registry | None = None
) -> ModelOutcome:
    """Late fusion of the latest registered members, fit on their valid-split predictions;
    the review threshold is chosen on the same listings for the configured precision."""
    started = time.monotonic()
    registry = registry or Registry(config, lakehouse.root)
    cfg = config.train.fusion
    loaded: dict[str, RegisteredModel] = {}
    try:
        for member in member_names():
            if registry.latest_version(member) is None:
                log.warning("fusion: no registered %s model; fused without it", member)
                continue
            loaded[member] = registry.load(member)
        if not loaded:
            raise LookupError(
                f"fusion: no member model is registered: train {', '.join(member_names())} first"
            )
        members = member_predictions(
            lakehouse, config, {m: r.folder for m, r in loaded.items()}, "valid"
        )
    finally:
        # Those loaded before a failing load go too.
        for registered in loaded.values():
            registered.remove_download()
    model = fusion.fit_fusion_from_config(
        members.probs,
        members.available,
        members.labels,
        len(config.label_codes),
        modalities(),
        cfg,
        config.train.seed,
    )
    model.members = {m: r.version for m, r in loaded.items()}
    fused, used = model.predict(members.probs, members.available)
    confidence = fused.max(1)
    correct = fused.argmax(1) == members.labels
    threshold, precision, share = fusion.review_threshold(
        confidence, correct, cfg.review_precision, cfg.min_review_share
    )
    model.review_threshold, model.review_precision = threshold, precision
    model.save(folder)
    # The scoring cascade's thresholds, chosen on the same valid rows, saved beside the weights.
    chosen_cascade = cascade.fit_cascade(
        members.probs,
        members.available,
        members.labels,
        model,
        modalities(),
        {m: get_member(m).scoring_cost for m in members.probs},
        cfg.cascade_max_f1_drop,
        folds=cfg.cv_folds,
        seed=config.train.seed,
        settings=fusion.fusion_settings(cfg),
    )
    if chosen_cascade is not None:
        chosen_cascade.save(folder)
    write_meta(folder, FUSION, model.method, config, {"members": model.members})
    groups = fusion.evaluate_groups(fused, used, members, modalities())
    metrics = {
        "valid_weighted_f1": weighted_f1(members.labels, fused.argmax(1)),
        "valid_accuracy": float(correct.mean()),
        "review_threshold": threshold,
        "review_precision_above": precision,
        "auto_accepted_share": share,
        **{f"valid_{k}": v for k, v in groups.items()},
    }
    if chosen_cascade is not None:
        figures = chosen_cascade.selection
        metrics["cascade_valid_oof_weighted_f1"] = figures["valid_oof_cascade_weighted_f1"]
        metrics["cascade_valid_oof_full_weighted_f1"] = figures["valid_oof_full_weighted_f1"]
        metrics["cascade_valid_cost_share"] = figures["valid_cost_share"]
    selection = model.selection.get("cv_weighted_f1", {})
    metrics.update({f"cv_{m}_weighted_f1": v for m, v in selection.items()})
    params = {
        "method": model.method,
        "selection": model.selection,
        "members": model.members,
        "cascade": {
            "order": chosen_cascade.order,
            "thresholds": chosen_cascade.thresholds,
        }
        if chosen_cascade is not None
        else None,
        **asdict(cfg),
    }
    return ModelOutcome(
        FUSION, model.method, folder, params, metrics, seconds=time.monotonic() - started
    )


# ------------------------------------------------------------------------------- the stage


def work_root(lakehouse: Lakehouse) -> Path | None:
    """Where a model is written before it is registered: the driver's temporary folder, or on
    a cluster ``<lakehouse>/_scratch``. Spark ML saves a pipeline with executor tasks, which on
    another machine would write into their own temporary folder; the lakehouse is on storage
    every node mounts (conf/cluster.yaml, conf/databricks.yaml)."""
    if not needs_shipping(lakehouse.spark) or "://" in lakehouse.root:
        return None
    folder = Path(lakehouse.root) / "_scratch"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_train(
    lakehouse: Lakehouse, config: Config, models: Sequence[str] | None = None
) -> TrainSummary:
    """Splits, then train, save and register each model in ``models`` (default: conf)."""
    started = time.monotonic()
    summary = TrainSummary()
    seed_everything(config.train.seed)
    if config.train.torch_threads:
        torch.set_num_threads(config.train.torch_threads)
    names = list(models or config.train.models)
    for name in names:
        if name != FUSION:
            get_member(name)  # an unknown name fails before any work
    run_splits(lakehouse, config.splits)
    summary.splits = {
        r["split"]: r["count"]
        for r in lakehouse.read(SILVER_SPLITS).groupBy("split").count().collect()
    }
    registry = Registry(config, lakehouse.root)
    for name in names:
        versions = lakehouse.versions(input_tables(name))
        workdir = Path(tempfile.mkdtemp(prefix=f"train-{name}-", dir=work_root(lakehouse)))
        try:
            log.info("train: %s on inputs %s", name, versions)
            with job_step(lakehouse.spark, f"train {name}"):
                if name == FUSION:
                    outcome = train_fusion(lakehouse, config, workdir / "model", registry)
                else:
                    outcome = train_member(lakehouse, config, name, workdir / "model")
            outcome.input_versions = versions
            outcome.registered = registry.log_model(
                name,
                outcome.folder,
                outcome.params,
                outcome.metrics,
                outcome.history,
                versions,
                {"mode": outcome.mode},
            )
            summary.models[name] = outcome.summary()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    summary.seconds = time.monotonic() - started
    log.info("train done: %s", json.dumps(summary.models))
    return summary


def predict_probabilities(
    lakehouse: Lakehouse, config: Config, folder: Path, rows: DataFrame
) -> pd.DataFrame:
    """Class probabilities of a saved member (its folder) for its labelled ``rows``: a frame
    with productid, the rows' imageid and label where present, and ``probabilities``."""
    member = get_member(read_meta(folder)["kind"])
    return member.load(Path(folder)).predict_rows(lakehouse, config, rows)

