"""The image member: EfficientNet-Lite features (one backbone or several side by side, cached
in ``silver.image_embeddings``) and a classification head trained on them, with augmented
copies of the training images; optionally fine-tuned end to end (GPU).

Folder: ``head.safetensors`` + ``backbone.json`` (backbone, weights, id, flip averaging: the
fitted member's own settings), plus ``backbone.safetensors`` when fine-tuned.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import torch
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from safetensors.torch import load_file, save_file

from catalog_classifier.config import Config, CpuRuntime
from catalog_classifier.models import image_encoder as image_model
from catalog_classifier.models.datasets import class_weights, image_label_rows
from catalog_classifier.models.embedding_heads import (
    apply_head,
    embedding_frame,
    ensure_embeddings,
    petastorm_cache,
    resolve_mode,
    train_head_on_embeddings,
    worker_threads,
)
from catalog_classifier.models.heads import ClassifierHead, load_head, save_head
from catalog_classifier.models.image_backbone import (
    ImageClassifier,
    extract_features,
    load_backbone,
)
from catalog_classifier.models.loop import EpochSource, FitResult, fit, resolve_device
from catalog_classifier.models.member import (
    BatchPredictor,
    FittedMember,
    Member,
    MemberFit,
    keep_columns,
    labels_of,
    read_meta,
    write_meta,
)
from catalog_classifier.models.members.text import fold_with_head
from catalog_classifier.models.petastorm_feed import PetastormFeed
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.shipping import local_path
from catalog_classifier.storage.tables import SILVER_IMAGE_EMBEDDINGS

log = logging.getLogger(__name__)

DEFAULT_DIM = 1280


def ensure_image_embeddings(
    lakehouse: Lakehouse,
    config: Config,
    rows: DataFrame,
    backbone: str | None = None,
    weights_path: str | None = None,
    flip_average: bool | None = None,
    quantization: str | None = None,
) -> str:
    """Embed the images (imageid, productid, sha256, content) not yet embedded by this backbone
    with these bytes; return the backbone id. The backbone, its flip average and quantisation
    default to ``train.image``'s (a fitted model passes its own)."""
    cfg = config.train.image
    if backbone is None:
        backbone, weights_path, flip_average = cfg.backbone, cfg.weights_path, cfg.flip_average
        quantization = cfg.quantization
    flip = bool(flip_average)
    quantized = quantization or "none"
    bid = image_model.backbone_id(backbone, weights_path, flip, quantized)
    threads = worker_threads(lakehouse, config)
    spark = lakehouse.spark

    def embed(todo: DataFrame, computed_at: datetime) -> DataFrame:
        todo = todo.repartition(2 * spark.sparkContext.defaultParallelism)
        return image_model.image_embeddings(
            todo,
            bid,
            backbone,
            weights_path,
            flip,
            cfg.embed_batch_size,
            computed_at,
            threads,
            cfg.cpu_runtime,
            quantized,
        )

    ensure_embeddings(
        lakehouse,
        SILVER_IMAGE_EMBEDDINGS,
        "backbone",
        bid,
        ["imageid", "sha256"],
        ["imageid", "productid", "sha256", "content"],
        rows,
        embed,
        "image embeddings",
    )
    return bid


def image_embedding_frame(lakehouse: Lakehouse, bid: str, rows: DataFrame) -> pd.DataFrame:
    return embedding_frame(lakehouse, SILVER_IMAGE_EMBEDDINGS, "backbone", "imageid", bid, rows)


class ImageMember(Member):
    name = "image"
    modality = "image"
    scoring_cost = 0.253  # share 0.253, listings with an image only (benchmarks/score.py)
    description = "EfficientNet-Lite features + head"

    @classmethod
    def training_texts(cls, lakehouse: Lakehouse, config: Config) -> DataFrame | None:
        """Training-only photos: usable photos labelled by ``bronze.image_labels`` that are
        not the photo of a labelled listing (``datasets.image_label_rows``), added to the
        training parts as the text members' training texts are; never evaluated nor scored."""
        return image_label_rows(lakehouse, config.label_codes)

    @classmethod
    def fit(
        cls, lakehouse: Lakehouse, config: Config, rows: DataFrame, folder: Path
    ) -> MemberFit:
        cfg = config.train.image
        codes = config.label_codes
        device = resolve_device(config.train.device)
        mode = resolve_mode(cfg.mode, device)
        rows = rows.cache()
        bid = ensure_image_embeddings(lakehouse, config, rows)
        train_rows = rows.filter(F.col("split") == "train")
        train_labels = labels_of(train_rows)
        valid_frame = image_embedding_frame(lakehouse, bid, rows.filter(F.col("split") == "valid"))
        dim = len(valid_frame["embedding"].iloc[0]) if len(valid_frame) else DEFAULT_DIM
        augmented = augmented_embeddings(lakehouse, config, train_rows, train_labels)
        spark = lakehouse.spark
        clean = image_embedding_frame(lakehouse, bid, train_rows)[["embedding", "label"]]
        training = pd.concat([clean, augmented[["embedding", "label"]]], ignore_index=True)
        data = spark.createDataFrame(
            pd.DataFrame(
                {
                    "embedding": [v.tolist() for v in training["embedding"]],
                    "label": training["label"],
                }
            ),
            "embedding array<float>, label int",
        )
        with PetastormFeed(
            spark,
            data,
            petastorm_cache(lakehouse, config),
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
            folder,
            cfg.backbone,
            cfg.weights_path,
            bid,
            cfg.flip_average,
            # A fine-tuned backbone is scored in torch, float32.
            "none" if mode == "finetune" else cfg.quantization,
        )
        write_meta(folder, cls.name, mode, config, {"settings": asdict(cfg), "backbone_id": bid})
        rows.unpersist()
        metrics = {
            "valid_weighted_f1": result.best_weighted_f1,
            "best_epoch": float(result.best_epoch),
            "train_rows": float(len(train_labels)),
            "augmented_rows": float(len(augmented)),
        }
        params = {**asdict(cfg), "backbone_id": bid, "device": device.type}
        return MemberFit(mode, params, metrics, [asdict(h) for h in result.history])

    @classmethod
    def fit_fold(
        cls, lakehouse: Lakehouse, config: Config, training: DataFrame, test: DataFrame
    ) -> tuple[list[int], list[int], np.ndarray]:
        """Embeddings and augmented copies are computed once per run (every listing's, then
        each fold takes its training images' copies)."""
        everything = training.unionByName(test)
        bid = ensure_image_embeddings(lakehouse, config, everything)
        augmented = _augmented_for_cv(lakehouse, config, everything, bid)
        train_ids = {int(r["imageid"]) for r in training.select("imageid").collect()}
        extra = augmented[augmented["imageid"].isin(train_ids)][["embedding", "label"]]
        columns = ["imageid", "productid", "label"]
        train = image_embedding_frame(
            lakehouse, bid, training.filter(F.col("split") == "train").select(*columns)
        )[["embedding", "label"]]
        train = pd.concat([train, extra], ignore_index=True)
        valid = image_embedding_frame(
            lakehouse, bid, training.filter(F.col("split") == "valid").select(*columns)
        )
        held_out = image_embedding_frame(lakehouse, bid, test.select(*columns))
        return fold_with_head(config, config.train.image, "cv-image", train, valid, held_out)

    @classmethod
    def load(cls, folder: Path) -> FittedImage:
        return FittedImage(folder, read_meta(folder))


# One cross-validation run's augmented copies, computed on its first fold: keyed by the
# backbone and the lakehouse (a DataFrame argument cannot key functools.cache).
_CV_AUGMENTED: dict[tuple[str, str], pd.DataFrame] = {}


def _augmented_for_cv(
    lakehouse: Lakehouse, config: Config, everything: DataFrame, bid: str
) -> pd.DataFrame:
    key = (bid, lakehouse.root)
    if key not in _CV_AUGMENTED:
        _CV_AUGMENTED[key] = augmented_embeddings(
            lakehouse, config, everything, labels_of(everything)
        )
    return _CV_AUGMENTED[key]


class FittedImage(FittedMember):
    def __init__(self, folder: Path, meta: dict) -> None:
        super().__init__(folder, meta)
        self.backbone = json.loads((self.folder / "backbone.json").read_text(encoding="utf-8"))

    def predict_rows(self, lakehouse: Lakehouse, config: Config, rows: DataFrame) -> pd.DataFrame:
        head = load_head(self.folder)
        info = self.backbone
        flip = bool(info.get("flip_average", False))  # older models: none
        keep = keep_columns(rows)
        if self.mode == "finetune":
            backbone, spec = load_backbone(info["backbone"], info["weights_path"])
            backbone.load_state_dict(load_file(self.folder / "backbone.safetensors"))
            frame = rows.select(*keep, "content").toPandas()
            vectors = extract_features(
                backbone.eval(), spec, [bytes(c) for c in frame["content"]], flip_average=flip
            )
            frame = frame.drop(columns=["content"])
            frame["embedding"] = list(vectors)
            return apply_head(head, frame[~np.isnan(vectors).any(axis=1)])
        bid = ensure_image_embeddings(
            lakehouse,
            config,
            rows,
            info["backbone"],
            info["weights_path"],
            flip,
            info.get("quantization", "none"),  # older models: float32
        )
        if bid != info["backbone_id"]:
            raise ValueError(f"the model was trained on backbone {info['backbone_id']}, not {bid}")
        return apply_head(head, image_embedding_frame(lakehouse, bid, rows.select(*keep)))

    def scoring_columns(self, config: Config) -> tuple[str, ...]:
        return ("content",)

    def batch_predictor(self, config: Config, torch_threads: int) -> BatchPredictor:
        return ImageBatchPredictor(
            self.worker_folder,
            config.scoring.image_batch_size,
            torch_threads,
            config.train.image.cpu_runtime,
        )


class ImageBatchPredictor(BatchPredictor):
    """Listings whose image is usable (``content`` not null) and decodes are available."""

    def __init__(
        self, folder: str, batch_size: int, torch_threads: int, runtime: CpuRuntime = "auto"
    ) -> None:
        self.folder, self.batch_size, self.torch_threads = folder, batch_size, torch_threads
        self.runtime = runtime

    def predict(self, batch: pd.DataFrame, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(batch)
        matrix, decoded = np.zeros((n, n_classes)), np.zeros(n, bool)
        usable = batch["content"].notna().to_numpy()
        if usable.any():
            contents = [bytes(c) for c in batch["content"][usable]]
            predictor = _predictor(self.folder, self.torch_threads, self.runtime)
            image_probs, ok = predictor.predict(contents, self.batch_size)
            matrix[usable], decoded[usable] = image_probs, ok
            if (~ok).any():
                log.warning(
                    "score: %d images failed to decode (scored without image): productids %s",
                    int((~ok).sum()),
                    batch["productid"][usable][~ok].tolist()[:20],
                )
        return matrix, decoded


@functools.cache
def _predictor(
    folder: str, torch_threads: int, runtime: CpuRuntime = "auto"
) -> image_model.ImagePredictor:
    """Once per Python worker (the weights load on first use)."""
    if torch_threads:
        torch.set_num_threads(torch_threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return image_model.ImagePredictor(local_path(folder), device, runtime)


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
    cfg = config.train.image
    backbone, _ = image_model.get_backbone(cfg.backbone, cfg.weights_path, "cpu")
    model = ImageClassifier(copy.deepcopy(backbone).train(), head)
    model.freeze_backbone(False)
    # labels are ints; pandas-stubs types value_counts' keys as any Hashable
    counts = cast(dict[int, int], pd.Series(list(train_labels)).value_counts().to_dict())
    repeats = image_model.copies_per_class(counts, 1, cfg.minority_extra_copies)
    spark = lakehouse.spark
    repeat_frame = spark.createDataFrame(
        [(int(c), i) for c, n in repeats.items() for i in range(n)], "label int, copy int"
    )
    select = ["imageid", "content", "label"]
    train_data = rows.filter(F.col("split") == "train").select(*select).join(repeat_frame, "label")
    cache = petastorm_cache(lakehouse, config)
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

        def epoch_of(feed: PetastormFeed, decode: Any, shuffle: bool) -> EpochSource:
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
    counts = cast(dict[int, int], pd.Series(list(labels)).value_counts().to_dict())  # as above
    copies = image_model.copies_per_class(counts, cfg.augment_copies, cfg.minority_extra_copies)
    if not copies or max(copies.values()) == 0:
        return pd.DataFrame({"imageid": [], "embedding": [], "label": []})
    spark = lakehouse.spark
    copies_frame = spark.createDataFrame(
        [(int(c), i) for c, n in copies.items() for i in range(n)], "label int, copy int"
    )
    data = train_rows.select("imageid", "content", "label").join(copies_frame, "label")
    device = resolve_device(config.train.device)
    backbone, _ = image_model.get_features(
        cfg.backbone, cfg.weights_path, device.type, cfg.cpu_runtime, cfg.quantization
    )
    decode = image_model.DecodeAugment(cfg.backbone, cfg.weights_path, train=True)
    out_vectors, out_labels, out_ids = [], [], []
    started = time.monotonic()
    with (
        PetastormFeed(
            spark,
            data.select("imageid", "content", "label"),
            petastorm_cache(lakehouse, config),
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


