"""The train stage: splits, then each asked-for model trained on ``train``, selected on ``valid``,
saved as a self-contained artifact folder and registered with its metrics.

Each model's folder holds ``model.json`` (kind, mode, label map, settings) and its weights:

* tfidf: ``pipeline/`` (a Spark ML PipelineModel);
* text: ``head.safetensors`` + ``encoder.json`` (frozen), plus ``encoder/`` (finetune);
* image: ``head.safetensors`` + ``backbone.json`` (frozen), or ``model.safetensors`` (finetune).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from safetensors.torch import load_file, save_file

from catalog_classifier.config import Config, ImageModelConfig, TextModelConfig
from catalog_classifier.features.splits import run_splits
from catalog_classifier.models import image_encoder as image_model
from catalog_classifier.models import text_encoder as text_model
from catalog_classifier.models.datasets import (
    IMAGE_INPUT_TABLES,
    TEXT_INPUT_TABLES,
    class_weights,
    image_rows,
    text_rows,
)
from catalog_classifier.models.heads import ClassifierHead, load_head, save_head
from catalog_classifier.models.loop import (
    EpochStats,
    FitResult,
    TensorEpochs,
    classification_metrics,
    fit,
    fit_logistic,
    resolve_device,
    seed_everything,
)
from catalog_classifier.models.petastorm_feed import PetastormFeed
from catalog_classifier.models.tfidf import fit_tfidf, load_tfidf, predict_tfidf, save_tfidf
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.registry import MODEL_META, RegisteredModel, Registry
from catalog_classifier.storage.spark import job_step, torch_threads_per_task
from catalog_classifier.storage.tables import (
    SILVER_IMAGE_EMBEDDINGS,
    SILVER_SPLITS,
    SILVER_TEXT_EMBEDDINGS,
)

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


def resolve_mode(mode: str, device: torch.device) -> str:
    if mode == "auto":
        return "finetune" if device.type == "cuda" else "frozen"
    return mode


def write_meta(folder: Path, model: str, mode: str, config: Config, extra: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "kind": model,
        "mode": mode,
        "label_codes": config.label_codes,
        "category_names": {str(k): v for k, v in config.category_names.items()},
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **extra,
    }
    (folder / MODEL_META).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")


def read_meta(folder: Path) -> dict[str, Any]:
    return json.loads((folder / MODEL_META).read_text(encoding="utf-8"))


def _petastorm_cache(lakehouse: Lakehouse, config: Config) -> str:
    return config.train.petastorm_cache or f"{lakehouse.root}/_petastorm"


def _labels(rows: DataFrame) -> list[int]:
    return [int(r["label"]) for r in rows.select("label").collect()]


# --------------------------------------------------------------------------------------- tfidf


def train_tfidf(
    lakehouse: Lakehouse, config: Config, folder: Path, rows: DataFrame | None = None
) -> ModelOutcome:
    started = time.monotonic()
    codes = config.label_codes
    rows = rows if rows is not None else text_rows(lakehouse, codes)
    train = rows.filter(F.col("split") == "train")
    fitted = fit_tfidf(train, config.train.tfidf, len(codes))
    save_tfidf(fitted.model, str(folder / "pipeline"))
    # mode: which solver fit the regression (the featurizer is Spark ML either way)
    mode = f"solver-{fitted.model.solver}"
    write_meta(folder, "tfidf", mode, config, {"settings": asdict(config.train.tfidf)})
    valid = predict_tfidf(fitted.model, rows.filter(F.col("split") == "valid"), keep=["label"])
    metrics = _metrics_of(valid.toPandas(), prefix="valid_")
    metrics.update(train_rows=float(fitted.rows), iterations=float(fitted.iterations))
    return ModelOutcome(
        "tfidf",
        mode,
        folder,
        {**asdict(config.train.tfidf), "vocabularies": fitted.vocabulary_sizes},
        metrics,
        seconds=time.monotonic() - started,
    )


def _metrics_of(predictions: pd.DataFrame, prefix: str = "") -> dict[str, float]:
    if predictions.empty:
        return {f"{prefix}weighted_f1": 0.0, f"{prefix}macro_f1": 0.0, f"{prefix}accuracy": 0.0}
    probs = np.stack(predictions["probabilities"].to_numpy())
    metrics = classification_metrics(predictions["label"].tolist(), probs.argmax(1).tolist())
    return {f"{prefix}{k}": v for k, v in metrics.items()}


# ---------------------------------------------------------------------------------- embeddings


def ensure_text_embeddings(
    lakehouse: Lakehouse, config: Config, rows: DataFrame
) -> tuple[str, str]:
    """Embed the rows (productid, content_sha256, text) not yet embedded by this encoder with
    this content; return (encoder source, encoder id)."""
    cfg = config.train.text
    source = text_model.resolve_encoder_source(cfg)
    encoder_id = text_model.encoder_fingerprint(source)
    lakehouse.ensure(SILVER_TEXT_EMBEDDINGS)
    done = (
        lakehouse.read(SILVER_TEXT_EMBEDDINGS)
        .filter(F.col("encoder") == encoder_id)
        .select("productid", "content_sha256")
    )
    todo = rows.select("productid", "content_sha256", "text").join(
        done, ["productid", "content_sha256"], "left_anti"
    )
    started = time.monotonic()
    computed_at = datetime.now(UTC).replace(microsecond=0)
    result = lakehouse.merge(
        SILVER_TEXT_EMBEDDINGS,
        text_model.text_embeddings(
            todo, source, encoder_id, cfg, computed_at, _worker_threads(lakehouse, config)
        ),
    )
    seconds = time.monotonic() - started
    log.info(
        "text embeddings (%s): %d computed in %.1f s (%.1f texts/s)",
        encoder_id,
        result.rows,
        seconds,
        result.rows / seconds if seconds else 0.0,
    )
    return source, encoder_id


def ensure_image_embeddings(lakehouse: Lakehouse, config: Config, rows: DataFrame) -> str:
    """Embed the images (imageid, productid, sha256, content) not yet embedded by this backbone
    with these bytes; return the backbone id."""
    cfg = config.train.image
    bid = image_model.backbone_id(cfg.backbone, cfg.weights_path, cfg.flip_average)
    lakehouse.ensure(SILVER_IMAGE_EMBEDDINGS)
    done = (
        lakehouse.read(SILVER_IMAGE_EMBEDDINGS)
        .filter(F.col("backbone") == bid)
        .select("imageid", "sha256")
    )
    todo = rows.select("imageid", "productid", "sha256", "content").join(
        done, ["imageid", "sha256"], "left_anti"
    )
    spark = lakehouse.spark
    todo = todo.repartition(2 * spark.sparkContext.defaultParallelism)
    started = time.monotonic()
    computed_at = datetime.now(UTC).replace(microsecond=0)
    result = lakehouse.merge(
        SILVER_IMAGE_EMBEDDINGS,
        image_model.image_embeddings(
            todo, bid, cfg, computed_at, _worker_threads(lakehouse, config)
        ),
    )
    seconds = time.monotonic() - started
    log.info(
        "image embeddings (%s): %d computed in %.1f s (%.1f images/s)",
        bid,
        result.rows,
        seconds,
        result.rows / seconds if seconds else 0.0,
    )
    return bid


def _worker_threads(lakehouse: Lakehouse, config: Config) -> int:
    """Torch threads per Spark task: the cores shared by the tasks running at once."""
    return torch_threads_per_task(lakehouse.spark, config.train.torch_threads)


def embedding_frame(
    lakehouse: Lakehouse, spec_name: str, key: str, model_id: str, rows: DataFrame
) -> pd.DataFrame:
    """Embeddings of ``rows`` (by ``key``) as a pandas frame with an ``embedding`` ndarray."""
    spec = SILVER_TEXT_EMBEDDINGS if spec_name == "text" else SILVER_IMAGE_EMBEDDINGS
    id_column = "encoder" if spec_name == "text" else "backbone"
    embeddings = lakehouse.read(spec).filter(F.col(id_column) == model_id).select(key, "embedding")
    frame = rows.join(embeddings, key).toPandas()
    frame["embedding"] = [text_model.from_blob(b) for b in frame["embedding"]]
    return frame


def _tensors(frame: pd.DataFrame) -> dict[str, torch.Tensor]:
    return {
        "embedding": torch.from_numpy(np.stack(frame["embedding"].to_numpy()).astype(np.float32)),
        "label": torch.tensor(frame["label"].to_numpy(), dtype=torch.long),
    }


def train_head_on_embeddings(
    name: str,
    train: pd.DataFrame | PetastormFeed,
    valid: pd.DataFrame,
    dim: int,
    n_classes: int,
    cfg: TextModelConfig | ImageModelConfig,
    seed: int,
    device: torch.device,
    train_labels: Sequence[int],
    fit_on_valid: bool = False,
) -> tuple[ClassifierHead, FitResult]:
    """A head trained on embeddings from a Petastorm feed (or in-memory frame, for CV).

    ``head_solver: lbfgs`` fits a logistic regression (no early stopping): the valid rows score
    it, or with ``fit_on_valid`` (cross-validation, where they are part of the training folds)
    join its training rows. ``adamw`` trains with early stopping on the valid rows."""
    head = ClassifierHead(dim, n_classes, cfg.hidden, cfg.dropout)
    if cfg.head_solver == "lbfgs":
        return _logistic_head(name, head, train, valid, n_classes, cfg, fit_on_valid)
    if isinstance(train, PetastormFeed):
        feed = train

        def train_epoch(epoch: int):  # type: ignore[no-untyped-def]
            return feed.epoch(cfg.batch_size, shuffle=True, seed=seed + epoch)

        train_rows = feed.rows
        # One streaming pass (row-count checked like every epoch) for the feature statistics.
        total, squares, count = torch.zeros(dim, dtype=torch.float64), torch.zeros(dim), 0
        squares = squares.double()
        with feed.epoch(4096, shuffle=False) as batches:
            for batch in batches:
                x = batch["embedding"].double()
                total += x.sum(0)
                squares += (x * x).sum(0)
                count += len(x)
        mean = total / max(1, count)
        std = (squares / max(1, count) - mean * mean).clamp(min=0).sqrt()
    else:
        train_epoch = TensorEpochs(_tensors(train), cfg.batch_size, shuffle=True, seed=seed)
        train_rows = len(train)
        x = _tensors(train)["embedding"].double()
        mean, std = x.mean(0), x.std(0, unbiased=False)
    head.set_standardization(mean.float(), std.float())
    valid_epoch = TensorEpochs(_tensors(valid), 512, shuffle=False)
    result = fit(
        head,
        train_epoch,
        valid_epoch,
        lambda b: (b["embedding"].float(), b["label"]),
        train_rows=train_rows,
        batch_size=cfg.batch_size,
        epochs=cfg.epochs,
        patience=cfg.patience,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        class_weights=class_weights(train_labels, n_classes),
        device=device,
        seed=seed,
        name=name,
    )
    return head.cpu().eval(), result


def _logistic_head(
    name: str,
    head: ClassifierHead,
    train: pd.DataFrame | PetastormFeed,
    valid: pd.DataFrame,
    n_classes: int,
    cfg: TextModelConfig | ImageModelConfig,
    fit_on_valid: bool,
) -> tuple[ClassifierHead, FitResult]:
    if isinstance(train, PetastormFeed):
        # Full batch: one streaming pass (row-count checked like every epoch) into memory,
        # 4 bytes a feature (85k x 384 text embeddings: 130 MB).
        parts, part_labels = [], []
        with train.epoch(4096, shuffle=False) as batches:
            for batch in batches:
                parts.append(batch["embedding"].float())
                part_labels.append(batch["label"].long())
        tensors = {"embedding": torch.cat(parts), "label": torch.cat(part_labels)}
    else:
        tensors = _tensors(train)
    held_out = _tensors(valid) if len(valid) else None
    if fit_on_valid and held_out is not None:
        tensors = {k: torch.cat([tensors[k], held_out[k]]) for k in tensors}
    x, y = tensors["embedding"], tensors["label"]
    xd = x.double()
    head.set_standardization(xd.mean(0).float(), xd.std(0, unbiased=False).float())
    result = fit_logistic(
        head,
        x,
        y,
        l2=cfg.l2,
        class_weights=class_weights(y.tolist(), n_classes) if cfg.class_weights else None,
        max_iter=cfg.max_iter,
        name=name,
    )
    if held_out is not None and not fit_on_valid:
        with torch.inference_mode():
            logits = head(held_out["embedding"])
        valid_loss = float(torch.nn.functional.cross_entropy(logits, held_out["label"]))
        metrics = classification_metrics(held_out["label"].tolist(), logits.argmax(1).tolist())
        result.best_weighted_f1 = metrics["weighted_f1"]
        # One point (the fit is not by epoch), so the registry logs the valid metrics as before.
        result.history.append(
            EpochStats(
                epoch=1,
                train_loss=result.train_loss,
                train_rows=len(y),
                valid_loss=valid_loss,
                valid_accuracy=metrics["accuracy"],
                valid_weighted_f1=metrics["weighted_f1"],
                valid_macro_f1=metrics["macro_f1"],
                learning_rate=0.0,
                seconds=result.seconds,
            )
        )
        log.info("%s: valid weighted F1 %.4f", name, metrics["weighted_f1"])
    return head.cpu().eval(), result


def _feed_of_embeddings(
    lakehouse: Lakehouse,
    config: Config,
    spec_name: str,
    key: str,
    model_id: str,
    rows: DataFrame,
    name: str,
) -> PetastormFeed:
    spec = SILVER_TEXT_EMBEDDINGS if spec_name == "text" else SILVER_IMAGE_EMBEDDINGS
    id_column = "encoder" if spec_name == "text" else "backbone"
    embeddings = (
        lakehouse.read(spec)
        .filter(F.col(id_column) == model_id)
        .select(key, text_model.blob_to_array("embedding").alias("embedding"))
    )
    data = rows.select(key, "label").join(embeddings, key).select("embedding", "label")
    return PetastormFeed(
        lakehouse.spark,
        data,
        _petastorm_cache(lakehouse, config),
        name,
        config.train.reader_pool,
        config.train.reader_workers,
    )


# ---------------------------------------------------------------------------------------- text


def train_text(
    lakehouse: Lakehouse, config: Config, folder: Path, rows: DataFrame | None = None
) -> ModelOutcome:
    started = time.monotonic()
    cfg = config.train.text
    codes = config.label_codes
    device = resolve_device(config.train.device)
    mode = resolve_mode(cfg.mode, device)
    rows = rows if rows is not None else text_rows(lakehouse, codes)
    rows = rows.cache()
    source, encoder_id = ensure_text_embeddings(lakehouse, config, rows)
    train_labels = _labels(rows.filter(F.col("split") == "train"))
    valid_frame = embedding_frame(
        lakehouse, "text", "productid", encoder_id, rows.filter(F.col("split") == "valid")
    )
    dim = len(valid_frame["embedding"].iloc[0]) if len(valid_frame) else 384
    with _feed_of_embeddings(
        lakehouse,
        config,
        "text",
        "productid",
        encoder_id,
        rows.filter(F.col("split") == "train"),
        "text-train",
    ) as feed:
        head, result = train_head_on_embeddings(
            "text",
            feed,
            valid_frame,
            dim,
            len(codes),
            cfg,
            config.train.seed,
            device,
            train_labels,
        )
    finetuned = None
    if mode == "finetune":
        finetuned, result = finetune_text(
            lakehouse, config, rows, source, head, device, train_labels
        )
        head = finetuned.head
    save_head(head, folder)
    text_model.save_encoder_reference(folder, source, encoder_id, cfg)
    if finetuned is not None:
        _save_finetuned_encoder(finetuned.encoder, folder)
    write_meta(folder, "text", mode, config, {"settings": asdict(cfg), "encoder_id": encoder_id})
    rows.unpersist()
    metrics = {
        "valid_weighted_f1": result.best_weighted_f1,
        "best_epoch": float(result.best_epoch),
        "train_rows": float(len(train_labels)),
    }
    return ModelOutcome(
        "text",
        mode,
        folder,
        {**asdict(cfg), "encoder_id": encoder_id, "device": device.type},
        metrics,
        [asdict(h) for h in result.history],
        seconds=time.monotonic() - started,
    )


def finetune_text(
    lakehouse: Lakehouse,
    config: Config,
    rows: DataFrame,
    source: str,
    head: ClassifierHead,
    device: torch.device,
    train_labels: Sequence[int],
) -> tuple[text_model.TextClassifier, FitResult]:
    """Encoder + head end to end, starting from the head trained on frozen embeddings; fed by
    Petastorm with tokenisation in the TransformSpec."""
    cfg = config.train.text
    tokenize = text_model.Tokenize(source, cfg.max_length, cfg.prefix)
    model = text_model.TextClassifier(text_model.load_encoder_model(source), head)
    cache = _petastorm_cache(lakehouse, config)
    pool, workers = config.train.reader_pool, config.train.reader_workers
    select = rows.select("text", "label")
    spark = lakehouse.spark
    with (
        PetastormFeed(
            spark, select.filter(rows["split"] == "train"), cache, "text-ft-train", pool, workers
        ) as train_feed,
        PetastormFeed(
            spark, select.filter(rows["split"] == "valid"), cache, "text-ft-valid", pool, workers
        ) as valid_feed,
    ):

        def epoch_of(feed: PetastormFeed, shuffle: bool):  # type: ignore[no-untyped-def]
            return lambda e: feed.epoch(
                cfg.batch_size,
                shuffle=shuffle,
                seed=config.train.seed + e,
                transform=tokenize,
                edit_fields=tokenize.edit_fields(),
                removed_fields=["text"],
            )

        result = fit(
            model,
            epoch_of(train_feed, True),
            epoch_of(valid_feed, False),
            lambda b: (
                {"input_ids": b["input_ids"], "attention_mask": b["attention_mask"]},
                b["label"],
            ),
            train_rows=train_feed.rows,
            batch_size=cfg.batch_size,
            epochs=cfg.finetune_epochs,
            patience=cfg.patience,
            learning_rate=cfg.finetune_learning_rate,
            weight_decay=cfg.weight_decay,
            class_weights=class_weights(train_labels, len(config.label_codes)),
            device=device,
            seed=config.train.seed,
            name="text-finetune",
        )
    return model.cpu().eval(), result


def _save_finetuned_encoder(encoder: torch.nn.Module, folder: Path) -> None:
    """The fine-tuned encoder and its tokenizer as a transformers folder (safetensors)."""
    encoder.save_pretrained(folder / "encoder", safe_serialization=True)  # type: ignore[operator]
    info = json.loads((folder / "encoder.json").read_text(encoding="utf-8"))
    text_model._tokenizer(info["source"]).save_pretrained(folder / "encoder")
    info.update(source="encoder", encoder_id=f"finetuned@{info['encoder_id']}")
    (folder / "encoder.json").write_text(json.dumps(info, indent=2), encoding="utf-8")


# --------------------------------------------------------------------------------------- image


def train_image(
    lakehouse: Lakehouse, config: Config, folder: Path, rows: DataFrame | None = None
) -> ModelOutcome:
    started = time.monotonic()
    cfg = config.train.image
    codes = config.label_codes
    device = resolve_device(config.train.device)
    mode = resolve_mode(cfg.mode, device)
    rows = rows if rows is not None else image_rows(lakehouse, codes)
    rows = rows.cache()
    bid = ensure_image_embeddings(lakehouse, config, rows)
    train_rows = rows.filter(F.col("split") == "train")
    train_labels = _labels(train_rows)
    valid_frame = embedding_frame(
        lakehouse, "image", "imageid", bid, rows.filter(F.col("split") == "valid")
    )
    dim = len(valid_frame["embedding"].iloc[0]) if len(valid_frame) else 1280
    augmented = augmented_embeddings(lakehouse, config, train_rows, train_labels)
    spark = lakehouse.spark
    clean = embedding_frame(lakehouse, "image", "imageid", bid, train_rows)[["embedding", "label"]]
    training = pd.concat([clean, augmented[["embedding", "label"]]], ignore_index=True)
    data = spark.createDataFrame(
        pd.DataFrame(
            {"embedding": [v.tolist() for v in training["embedding"]], "label": training["label"]}
        ),
        "embedding array<float>, label int",
    )
    with PetastormFeed(
        spark,
        data,
        _petastorm_cache(lakehouse, config),
        "image-train",
        config.train.reader_pool,
        config.train.reader_workers,
    ) as feed:
        head, result = train_head_on_embeddings(
            "image",
            feed,
            valid_frame,
            dim,
            len(codes),
            cfg,
            config.train.seed,
            device,
            training["label"].tolist(),
        )
    if mode == "finetune":
        finetuned, result = finetune_image(lakehouse, config, rows, head, device, train_labels)
        head = finetuned.head
        folder.mkdir(parents=True, exist_ok=True)
        save_file(
            {k: v.contiguous() for k, v in finetuned.backbone.state_dict().items()},
            folder / "backbone.safetensors",
        )
    save_head(head, folder)
    image_model.save_backbone_reference(
        folder, cfg.backbone, cfg.weights_path, bid, cfg.flip_average
    )
    write_meta(folder, "image", mode, config, {"settings": asdict(cfg), "backbone_id": bid})
    rows.unpersist()
    metrics = {
        "valid_weighted_f1": result.best_weighted_f1,
        "best_epoch": float(result.best_epoch),
        "train_rows": float(len(train_labels)),
        "augmented_rows": float(len(augmented)),
    }
    return ModelOutcome(
        "image",
        mode,
        folder,
        {**asdict(cfg), "backbone_id": bid, "device": device.type},
        metrics,
        [asdict(h) for h in result.history],
        seconds=time.monotonic() - started,
    )


def finetune_image(
    lakehouse: Lakehouse,
    config: Config,
    rows: DataFrame,
    head: ClassifierHead,
    device: torch.device,
    train_labels: Sequence[int],
) -> tuple[Any, FitResult]:
    """Backbone + head end to end (GPU mode), starting from the head trained on frozen
    features; every epoch decodes and augments the training images in Petastorm's
    TransformSpec (minority classes repeated), the valid images with the eval transform."""
    from catalog_classifier.models.image_backbone import ImageClassifier

    cfg = config.train.image
    backbone, _ = image_model.get_backbone(cfg.backbone, cfg.weights_path, "cpu")
    model = ImageClassifier(copy.deepcopy(backbone).train(), head)
    model.freeze_backbone(False)
    counts = pd.Series(list(train_labels)).value_counts().to_dict()
    repeats = image_model.copies_per_class(counts, 1, cfg.minority_extra_copies)
    spark = lakehouse.spark
    repeat_frame = spark.createDataFrame(
        [(int(c), i) for c, n in repeats.items() for i in range(n)], "label int, copy int"
    )
    select = ["imageid", "content", "label"]
    train_data = rows.filter(F.col("split") == "train").select(*select).join(repeat_frame, "label")
    cache = _petastorm_cache(lakehouse, config)
    pool, workers = config.train.reader_pool, config.train.reader_workers
    augment = image_model.DecodeAugment(cfg.backbone, cfg.weights_path, train=True)
    plain = image_model.DecodeAugment(cfg.backbone, cfg.weights_path, train=False)
    with (
        PetastormFeed(
            spark, train_data.select(*select), cache, "image-ft-train", pool, workers
        ) as train_feed,
        PetastormFeed(
            spark,
            rows.filter(F.col("split") == "valid").select(*select),
            cache,
            "image-ft-valid",
            pool,
            workers,
        ) as valid_feed,
    ):

        def epoch_of(feed: PetastormFeed, decode: Any, shuffle: bool):  # type: ignore[no-untyped-def]
            return lambda e: feed.epoch(
                cfg.batch_size,
                shuffle=shuffle,
                seed=config.train.seed + e,
                transform=decode,
                edit_fields=decode.edit_fields(),
                removed_fields=["content"],
            )

        result = fit(
            model,
            epoch_of(train_feed, augment, True),
            epoch_of(valid_feed, plain, False),
            lambda b: (b["pixels"], b["label"]),
            train_rows=train_feed.rows,
            batch_size=cfg.batch_size,
            epochs=cfg.finetune_epochs,
            patience=cfg.patience,
            learning_rate=cfg.finetune_learning_rate,
            weight_decay=cfg.weight_decay,
            class_weights=class_weights(train_labels, len(config.label_codes)),
            device=device,
            seed=config.train.seed,
            name="image-finetune",
        )
    return model.cpu().eval(), result


def augmented_embeddings(
    lakehouse: Lakehouse, config: Config, train_rows: DataFrame, labels: Sequence[int]
) -> pd.DataFrame:
    """Features of augmented copies of the training images (more for minority classes), each
    image decoded and augmented in Petastorm's TransformSpec, then through the frozen backbone."""
    cfg = config.train.image
    counts = pd.Series(list(labels)).value_counts().to_dict()
    copies = image_model.copies_per_class(counts, cfg.augment_copies, cfg.minority_extra_copies)
    if not copies or max(copies.values()) == 0:
        return pd.DataFrame({"imageid": [], "embedding": [], "label": []})
    spark = lakehouse.spark
    copies_frame = spark.createDataFrame(
        [(int(c), i) for c, n in copies.items() for i in range(n)], "label int, copy int"
    )
    data = train_rows.select("imageid", "content", "label").join(copies_frame, "label")
    device = resolve_device(config.train.device)
    backbone, _ = image_model.get_backbone(cfg.backbone, cfg.weights_path, device.type)
    decode = image_model.DecodeAugment(cfg.backbone, cfg.weights_path, train=True)
    out_vectors, out_labels, out_ids = [], [], []
    started = time.monotonic()
    with (
        PetastormFeed(
            spark,
            data.select("imageid", "content", "label"),
            _petastorm_cache(lakehouse, config),
            "image-augment",
            config.train.reader_pool,
            config.train.reader_workers,
        ) as feed,
        feed.epoch(
            cfg.embed_batch_size,
            shuffle=False,
            seed=config.train.seed,
            transform=decode,
            edit_fields=decode.edit_fields(),
            removed_fields=["content"],
        ) as batches,
        torch.inference_mode(),
    ):
        for batch in batches:
            features = backbone(batch["pixels"].to(device))
            out_vectors.extend(features.float().cpu().numpy())
            out_labels.extend(batch["label"].tolist())
            out_ids.extend(batch["imageid"].tolist())
    seconds = time.monotonic() - started
    log.info(
        "image: %d augmented copies embedded in %.1f s (%.1f images/s)",
        len(out_labels),
        seconds,
        len(out_labels) / seconds if seconds else 0.0,
    )
    return pd.DataFrame({"imageid": out_ids, "embedding": out_vectors, "label": out_labels})


# ------------------------------------------------------------------------------- the stage


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


def train_fusion(
    lakehouse: Lakehouse, config: Config, folder: Path, registry: Registry | None = None
) -> ModelOutcome:
    """Late fusion of the latest registered members, fit on their valid-split predictions;
    the review threshold is chosen on the same listings for the configured precision."""
    from catalog_classifier.models import fusion

    started = time.monotonic()
    registry = registry or Registry(config, lakehouse.root)
    cfg = config.train.fusion
    loaded = {}
    for member in fusion.MEMBERS:
        if registry.latest_version(member) is None:
            log.warning("fusion: no registered %s model; fused without it", member)
            continue
        loaded[member] = registry.load(member)
    if not loaded:
        raise LookupError("fusion: no member model is registered: train tfidf, text, image first")
    try:
        members = fusion.member_predictions(
            lakehouse, config, {m: r.folder for m, r in loaded.items()}, "valid"
        )
    finally:
        for registered in loaded.values():
            shutil.rmtree(registered.folder.parent, ignore_errors=True)
    model = fusion.fit_fusion_from_config(
        members.probs,
        members.available,
        members.labels,
        len(config.label_codes),
        cfg,
        config.train.seed,
    )
    model.members = {m: r.version for m, r in loaded.items()}
    fused, used = model.predict(members.probs, members.available)
    confidence = fused.max(1)
    correct = fused.argmax(1) == members.labels
    threshold, precision, share = fusion.review_threshold(confidence, correct, cfg.review_precision)
    model.review_threshold, model.review_precision = threshold, precision
    model.save(folder)
    write_meta(folder, "fusion", model.method, config, {"members": model.members})
    metrics = {
        "valid_weighted_f1": fusion.weighted_f1(members.labels, fused.argmax(1)),
        "valid_accuracy": float(correct.mean()),
        "review_threshold": threshold,
        "review_precision_above": precision,
        "auto_accepted_share": share,
        **{f"valid_{k}": v for k, v in fusion.evaluate_groups(fused, used, members).items()},
    }
    selection = model.selection.get("cv_weighted_f1", {})
    metrics.update({f"cv_{m}_weighted_f1": v for m, v in selection.items()})
    params = {
        "method": model.method,
        "selection": model.selection,
        "members": model.members,
        **asdict(cfg),
    }
    return ModelOutcome(
        "fusion",
        model.method,
        folder,
        params,
        metrics,
        seconds=time.monotonic() - started,
    )


TRAINERS = {"tfidf": train_tfidf, "text": train_text, "image": train_image, "fusion": train_fusion}
INPUT_TABLES = {
    "tfidf": TEXT_INPUT_TABLES,
    "text": TEXT_INPUT_TABLES,
    "image": IMAGE_INPUT_TABLES,
    "fusion": tuple(dict.fromkeys(TEXT_INPUT_TABLES + IMAGE_INPUT_TABLES)),
}


def run_train(
    lakehouse: Lakehouse, config: Config, models: Sequence[str] | None = None
) -> TrainSummary:
    """Splits, then train, save and register each model in ``models`` (default: conf)."""
    started = time.monotonic()
    summary = TrainSummary()
    seed_everything(config.train.seed)
    if config.train.torch_threads:
        torch.set_num_threads(config.train.torch_threads)
    run_splits(lakehouse, config.splits)
    summary.splits = {
        r["split"]: r["count"]
        for r in lakehouse.read(SILVER_SPLITS).groupBy("split").count().collect()
    }
    registry = Registry(config, lakehouse.root)
    for name in models or config.train.models:
        if name not in TRAINERS:
            raise ValueError(f"unknown model {name!r}; known: {sorted(TRAINERS)}")
        versions = lakehouse.versions(INPUT_TABLES[name])
        workdir = Path(tempfile.mkdtemp(prefix=f"train-{name}-"))
        try:
            log.info("train: %s on inputs %s", name, versions)
            with job_step(lakehouse.spark, f"train {name}"):
                if name == "fusion":
                    outcome = train_fusion(lakehouse, config, workdir / "model", registry)
                else:
                    outcome = TRAINERS[name](lakehouse, config, workdir / "model")
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


# ------------------------------------------------------------------------------ prediction


def predict_probabilities(
    lakehouse: Lakehouse, config: Config, folder: Path, rows: DataFrame
) -> pd.DataFrame:
    """Class probabilities of a saved model (its folder) for ``rows``; a frame with productid,
    the rows' other columns kept by the model kind, and ``probabilities`` (ndarray per row).

    rows: text models need productid, content_sha256, text, text_lower; the image model needs
    productid, imageid, sha256, content.
    """
    meta = read_meta(folder)
    kind = meta["kind"]
    keep = [c for c in ("productid", "imageid", "label") if c in rows.columns]
    if kind == "tfidf":
        frame = predict_tfidf(load_tfidf(str(folder / "pipeline")), rows, keep=keep).toPandas()
        frame["probabilities"] = [np.asarray(p) for p in frame["probabilities"]]
        return frame
    head = load_head(folder)
    if kind == "text":
        info = json.loads((folder / "encoder.json").read_text(encoding="utf-8"))
        if meta["mode"] == "finetune":
            return _predict_finetuned_text(folder, info, head, rows, keep)
        _, encoder_id = ensure_text_embeddings(lakehouse, _with_encoder(config, info), rows)
        if encoder_id != info["encoder_id"]:
            raise ValueError(
                f"the model was trained on encoder {info['encoder_id']}, found {encoder_id}"
            )
        frame = embedding_frame(lakehouse, "text", "productid", encoder_id, rows.select(*keep))
    else:
        info = json.loads((folder / "backbone.json").read_text(encoding="utf-8"))
        if meta["mode"] == "finetune":
            return _predict_finetuned_image(folder, info, head, rows, keep)
        bid = ensure_image_embeddings(lakehouse, _with_backbone(config, info), rows)
        if bid != info["backbone_id"]:
            raise ValueError(f"the model was trained on backbone {info['backbone_id']}, not {bid}")
        frame = embedding_frame(lakehouse, "image", "imageid", bid, rows.select(*keep))
    return _apply_head(head, frame)


def _apply_head(head: ClassifierHead, frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        frame["probabilities"] = []
        return frame.drop(columns=["embedding"])
    with torch.inference_mode():
        x = torch.from_numpy(np.stack(frame["embedding"].to_numpy()).astype(np.float32))
        probs = torch.softmax(head(x), dim=1).numpy()
    out = frame.drop(columns=["embedding"])
    out["probabilities"] = list(probs)
    return out


def _with_encoder(config: Config, info: dict[str, Any]) -> Config:
    import dataclasses

    text = dataclasses.replace(
        config.train.text,
        encoder=info["source"],
        max_length=info["max_length"],
        prefix=info["prefix"],
    )
    return dataclasses.replace(config, train=dataclasses.replace(config.train, text=text))


def _with_backbone(config: Config, info: dict[str, Any]) -> Config:
    """``config`` with the image model's own backbone settings (its embeddings' cache key)."""
    import dataclasses

    image = dataclasses.replace(
        config.train.image,
        backbone=info["backbone"],
        weights_path=info["weights_path"],
        flip_average=bool(info.get("flip_average", False)),
    )
    return dataclasses.replace(config, train=dataclasses.replace(config.train, image=image))


def _predict_finetuned_text(
    folder: Path, info: dict[str, Any], head: ClassifierHead, rows: DataFrame, keep: list[str]
) -> pd.DataFrame:
    encoder = text_model.TextEncoder(
        str(folder / "encoder"), info["max_length"], info["prefix"], "cpu"
    )
    frame = rows.select(*keep, "text").toPandas()
    vectors = encoder.embed(frame["text"].fillna("").tolist())
    frame = frame.drop(columns=["text"])
    frame["embedding"] = list(vectors)
    return _apply_head(head, frame)


def _predict_finetuned_image(
    folder: Path, info: dict[str, Any], head: ClassifierHead, rows: DataFrame, keep: list[str]
) -> pd.DataFrame:
    from catalog_classifier.models.image_backbone import extract_features, load_backbone

    backbone, spec = load_backbone(info["backbone"], info["weights_path"])
    backbone.load_state_dict(load_file(folder / "backbone.safetensors"))
    frame = rows.select(*keep, "content").toPandas()
    vectors = extract_features(
        backbone.eval(),
        spec,
        [bytes(c) for c in frame["content"]],
        flip_average=bool(info.get("flip_average", False)),
    )
    frame = frame.drop(columns=["content"])
    frame["embedding"] = list(vectors)
    return _apply_head(head, frame[~np.isnan(vectors).any(axis=1)])


def steps_per_epoch(rows: int, batch_size: int) -> int:
    return max(1, math.ceil(rows / batch_size))


# ----------------------------------------------------------------------- cross-validation


_CV_AUGMENTED: dict[tuple[str, str], pd.DataFrame] = {}


def cross_validation_fold(
    lakehouse: Lakehouse, config: Config, model: str, training: DataFrame, test: DataFrame
) -> tuple[list[int], list[int], np.ndarray]:
    """Train ``model`` on ``training`` (split train/valid) and return the productids, labels and
    class probabilities of ``test``. Embeddings (and augmented image copies) are computed once per
    run and reused by every fold; heads train in memory with the same loop as ``train``."""
    codes = config.label_codes
    device = resolve_device(config.train.device)
    if model == "tfidf":
        fitted = fit_tfidf(training, config.train.tfidf, len(codes))
        frame = predict_tfidf(fitted.model, test, keep=["productid", "label"]).toPandas()
        probs = np.stack(frame["probabilities"].map(np.asarray))
        return frame["productid"].astype(int).tolist(), frame["label"].tolist(), probs
    if model == "text":
        cfg: TextModelConfig | ImageModelConfig = config.train.text
        _, model_id = ensure_text_embeddings(lakehouse, config, training.unionByName(test))
        key, kind = "productid", "text"
        extra = None
    else:
        cfg = config.train.image
        model_id = ensure_image_embeddings(lakehouse, config, training.unionByName(test))
        key, kind = "imageid", "image"
        cache_key = (model_id, lakehouse.root)
        if cache_key not in _CV_AUGMENTED:
            everything = training.unionByName(test)
            _CV_AUGMENTED[cache_key] = augmented_embeddings(
                lakehouse, config, everything, _labels(everything)
            )
        augmented = _CV_AUGMENTED[cache_key]
        train_ids = {int(r["imageid"]) for r in training.select("imageid").collect()}
        extra = augmented[augmented["imageid"].isin(train_ids)][["embedding", "label"]]
    columns = list(dict.fromkeys([key, "productid", "label"]))
    train_frame = embedding_frame(
        lakehouse, kind, key, model_id, training.filter(F.col("split") == "train").select(*columns)
    )[["embedding", "label"]]
    if extra is not None:
        train_frame = pd.concat([train_frame, extra], ignore_index=True)
    valid_frame = embedding_frame(
        lakehouse, kind, key, model_id, training.filter(F.col("split") == "valid").select(*columns)
    )
    test_frame = embedding_frame(lakehouse, kind, key, model_id, test.select(*columns))
    dim = len(train_frame["embedding"].iloc[0])
    head, _ = train_head_on_embeddings(
        f"cv-{model}",
        train_frame,
        valid_frame,
        dim,
        len(codes),
        cfg,
        config.train.seed,
        device,
        train_frame["label"].astype(int).tolist(),
        # The training folds' valid rows stop the AdamW loop early; a logistic regression
        # needs no stopping and trains on them, as the TF-IDF model does.
        fit_on_valid=True,
    )
    scored = _apply_head(head, test_frame)
    return (
        scored["productid"].astype(int).tolist(),
        scored["label"].astype(int).tolist(),
        np.stack(scored["probabilities"].to_numpy()),
    )
