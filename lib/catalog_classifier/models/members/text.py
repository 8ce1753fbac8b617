"""The text-encoder member: multilingual e5-small embeddings (cached in
``silver.text_embeddings``) and a classification head; optionally fine-tuned end to end.

Folder: ``head.safetensors`` + ``encoder.json`` (the encoder's source, id, max length, prefix
and quantisation: the fitted member's own settings), plus ``encoder/`` when fine-tuned.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from catalog_classifier.config import Config, ImageModelConfig, TextModelConfig
from catalog_classifier.models import text_encoder as text_model
from catalog_classifier.models.datasets import TEXT_INPUT_TABLES, class_weights, listings_only
from catalog_classifier.models.embedding_heads import (
    apply_head,
    ensure_embeddings,
    feed_of_embeddings,
    petastorm_cache,
    resolve_mode,
    side_by_side_frame,
    train_head_on_embeddings,
    worker_threads,
)
from catalog_classifier.models.heads import ClassifierHead, load_head, save_head
from catalog_classifier.models.loop import (
    EpochSource,
    FitResult,
    cpu_has_bf16,
    fit,
    predict_logits,
    resolve_device,
)
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
from catalog_classifier.models.petastorm_feed import PetastormFeed
from catalog_classifier.models.training_text_embeddings import (
    ensure_training_text_embeddings,
    training_part_frame,
    training_texts_of,
)
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.shipping import local_path
from catalog_classifier.storage.tables import (
    BRONZE_LISTINGS,
    BRONZE_TRAINING_TEXTS,
    SILVER_TEXT_EMBEDDINGS,
    TableSpec,
)

log = logging.getLogger(__name__)

DEFAULT_DIM = 384
# The encoder id of the title-only embeddings: ``<encoder id>:title``.
TITLE_SUFFIX = ":title"


def ensure_text_embeddings(
    lakehouse: Lakehouse,
    config: Config,
    rows: DataFrame,
    source: str | None = None,
    max_length: int | None = None,
    prefix: str | None = None,
    title: bool | None = None,
    quantization: str | None = None,
    layers: tuple[int, ...] | None = None,
) -> tuple[str, str]:
    """Embed the rows (productid, content_sha256, text; and title with ``title``) not yet
    embedded by this encoder with this content; return (encoder source, encoder id). The
    encoder, its max length, prefix, title setting, quantisation and pooled layers default to
    ``train.text``'s (a fitted model passes its own). Title-only embeddings go under
    ``<encoder id>:title``. Training texts among the rows (origin not ``listing``) are embedded
    by content into ``silver.training_text_embeddings``, under the encoder id (their title is
    their text: one embedding serves both)."""
    cfg = config.train.text
    source = source or text_model.resolve_encoder_source(cfg)
    max_length = max_length if max_length is not None else cfg.max_length
    prefix = prefix if prefix is not None else cfg.prefix
    title = cfg.title_embedding if title is None else title
    quantization = quantization or cfg.quantization
    layers = frozen_layers(config) if layers is None else layers
    encoder_id = text_model.encoder_id(source, quantization, max_length, prefix, layers)
    threads = worker_threads(lakehouse, config)
    worker_source = text_model.ship_encoder(lakehouse.spark, source)
    listings = listings_only(rows)
    inputs = [(encoder_id, listings.select("productid", "content_sha256", "text"))]
    if title:
        titles = listings.select("productid", "content_sha256", F.col("title").alias("text"))
        inputs.append((encoder_id + TITLE_SUFFIX, titles))
    for model_id, texts in inputs:

        def embed(todo: DataFrame, computed_at: datetime, model_id: str = model_id) -> DataFrame:
            return text_model.text_embeddings(
                todo, worker_source, model_id, max_length, prefix, cfg.embed_batch_size,
                computed_at, threads, quantization, layers,
            )

        ensure_embeddings(
            lakehouse,
            SILVER_TEXT_EMBEDDINGS,
            "encoder",
            model_id,
            ["productid", "content_sha256"],
            ["productid", "content_sha256", "text"],
            texts,
            embed,
            "text embeddings",
        )

    def embed_texts(todo: DataFrame, computed_at: datetime) -> DataFrame:
        return text_model.text_embeddings(
            todo, worker_source, encoder_id, max_length, prefix, cfg.embed_batch_size, computed_at,
            threads, quantization, layers,
        )

    columns = ["text", "title"] if title else ["text"]
    ensure_training_text_embeddings(
        lakehouse, encoder_id, rows, columns, embed_texts, "text embeddings"
    )
    return source, encoder_id


def text_embedding_frame(
    lakehouse: Lakehouse, encoder_id: str, rows: DataFrame, title: bool = False
) -> pd.DataFrame:
    """The rows (listings) with their embedding: the full text's, and the title's after it with
    ``title`` (one vector of twice the encoder's width)."""
    ids = [encoder_id, encoder_id + TITLE_SUFFIX] if title else [encoder_id]
    return side_by_side_frame(lakehouse, SILVER_TEXT_EMBEDDINGS, "encoder", "productid", ids, rows)


def text_training_frame(
    lakehouse: Lakehouse, encoder_id: str, rows: DataFrame, title: bool = False
) -> pd.DataFrame:
    """``embedding`` and label of a training part's rows: its listings', then its training
    texts' (cached by content)."""
    ids = [encoder_id, encoder_id + TITLE_SUFFIX] if title else [encoder_id]
    return training_part_frame(lakehouse, ids, ["text", "title"][: len(ids)], rows)


class TextMember(Member):
    name = "text"
    modality = "text"
    scoring_cost = 0.571  # share 0.571 (benchmarks/score.py --images)
    description = "multilingual e5-small + head"

    @classmethod
    def input_tables(cls) -> tuple[TableSpec, ...]:
        # Its training texts too, and the listings they follow (by source_row), as TF-IDF's.
        return (*TEXT_INPUT_TABLES, BRONZE_LISTINGS, BRONZE_TRAINING_TEXTS)

    @classmethod
    def training_text_kinds(cls, config: Config) -> tuple[str, ...]:
        return tuple(config.train.text.extra_texts)

    @classmethod
    def fit(
        cls, lakehouse: Lakehouse, config: Config, rows: DataFrame, folder: Path
    ) -> MemberFit:
        cfg = config.train.text
        codes = config.label_codes
        device = resolve_device(config.train.device)
        mode = text_mode(cfg, device)
        rows = rows.cache()
        layers = frozen_layers(config)
        source, encoder_id = ensure_text_embeddings(lakehouse, config, rows, layers=layers)
        train_labels = labels_of(rows.filter(F.col("split") == "train"))
        valid_frame = text_embedding_frame(
            lakehouse, encoder_id, rows.filter(F.col("split") == "valid"), cfg.title_embedding
        )
        # Without valid rows to read it from: e5-small's width, per pooled layer and per text.
        blocks = max(1, len(layers)) * (2 if cfg.title_embedding else 1)
        dim = len(valid_frame["embedding"].iloc[0]) if len(valid_frame) else DEFAULT_DIM * blocks
        train_rows = rows.filter(F.col("split") == "train")
        # Two embeddings side by side, or training texts (cached by content) beside the
        # listings, are joined in memory (as cross-validation does); one embedding of listings
        # alone streams from the cache table through Petastorm.
        source_of_train = (
            nullcontext(
                text_training_frame(lakehouse, encoder_id, train_rows, cfg.title_embedding)
            )
            if cfg.title_embedding or training_texts_of(train_rows) is not None
            else feed_of_embeddings(
                lakehouse,
                config,
                SILVER_TEXT_EMBEDDINGS,
                "encoder",
                "productid",
                encoder_id,
                train_rows,
                "text-train",
            )
        )
        with source_of_train as feed:
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
        text_model.save_encoder_reference(folder, source, encoder_id, cfg, layers)
        if finetuned is not None:
            _save_finetuned_encoder(finetuned.encoder, folder)
        extra = {"settings": asdict(cfg), "encoder_id": encoder_id}
        write_meta(folder, cls.name, mode, config, extra)
        rows.unpersist()
        metrics = {
            "valid_weighted_f1": result.best_weighted_f1,
            "best_epoch": float(result.best_epoch),
            "train_rows": float(len(train_labels)),
        }
        params = {**asdict(cfg), "encoder_id": encoder_id, "device": device.type}
        return MemberFit(mode, params, metrics, [asdict(h) for h in result.history])

    @classmethod
    def fit_fold(
        cls, lakehouse: Lakehouse, config: Config, training: DataFrame, test: DataFrame
    ) -> tuple[list[int], list[int], np.ndarray]:
        cfg = config.train.text
        if text_mode(cfg, resolve_device(config.train.device)) == "finetune":
            return finetune_fold(lakehouse, config, training, test)
        _, encoder_id = ensure_text_embeddings(lakehouse, config, training.unionByName(test))
        columns = ["productid", "label"]
        title = config.train.text.title_embedding
        # The fold's training part: its listings and the training texts it may learn from
        # (with_training_texts left out those of the held-out listings).
        train = text_training_frame(
            lakehouse, encoder_id, training.filter(F.col("split") == "train"), title
        )
        valid = text_embedding_frame(
            lakehouse,
            encoder_id,
            training.filter(F.col("split") == "valid").select(*columns),
            title,
        )
        held_out = text_embedding_frame(lakehouse, encoder_id, test.select(*columns), title)
        return fold_with_head(config, config.train.text, "cv-text", train, valid, held_out)

    @classmethod
    def fold_settings(cls, config: Config) -> dict[str, Any]:
        """The text settings, the resolved mode and device, and the encoder's weights id."""
        cfg = config.train.text
        device = resolve_device(config.train.device)
        source = text_model.resolve_encoder_source(cfg)
        return {
            "text": asdict(cfg),
            "mode": resolve_mode(cfg.mode, device),
            "device": device.type,
            "encoder_id": text_model.encoder_id(
                source, cfg.quantization, cfg.max_length, cfg.prefix, frozen_layers(config)
            ),
            "seed": config.train.seed,
            "label_codes": list(config.label_codes),
        }

    @classmethod
    def load(cls, folder: Path) -> FittedText:
        return FittedText(folder, read_meta(folder))


def frozen_layers(config: Config) -> tuple[int, ...]:
    """The hidden states the frozen embeddings pool (``train.text.pool_layers``); fine-tuning
    pools the last layer, and its starting head is fit on that layer's embeddings."""
    cfg = config.train.text
    finetune = text_mode(cfg, resolve_device(config.train.device)) == "finetune"
    return () if finetune else tuple(cfg.pool_layers)


def text_mode(cfg: TextModelConfig, device: torch.device) -> str:
    """The text model's resolved mode (frozen or finetune) on ``device``; the title embedding
    exists only for frozen embeddings."""
    mode = resolve_mode(cfg.mode, device)
    if mode == "finetune" and cfg.title_embedding:
        raise ValueError("train.text.title_embedding is for frozen embeddings (mode: frozen)")
    return mode


def finetune_settings(
    config: Config, train_labels: Sequence[int], device: torch.device, seed: int
) -> dict[str, Any]:
    """The fine-tuning loop's settings (``models.loop.fit``'s keywords), the same for a
    registered model and a cross-validation fold."""
    cfg = config.train.text
    return {
        "batch_size": cfg.finetune_batch_size,
        "epochs": cfg.finetune_epochs,
        "patience": cfg.finetune_patience,
        "learning_rate": cfg.finetune_learning_rate,
        "weight_decay": cfg.weight_decay,
        "class_weights": class_weights(train_labels, len(config.label_codes)),
        "device": device,
        "seed": seed,
        "cpu_bf16": cfg.finetune_cpu_bf16 and cpu_has_bf16(),
    }


def finetune_fold(
    lakehouse: Lakehouse, config: Config, training: DataFrame, test: DataFrame
) -> tuple[list[int], list[int], np.ndarray]:
    """A cross-validation fold fine-tuned: the head first fit on the frozen embeddings of the
    fold's train rows, then encoder + head end to end on those rows (in memory, dynamic
    padding), early stopping on the training folds' valid rows, and the held-out fold
    predicted by the best epoch's weights."""
    cfg = config.train.text
    seed = config.train.seed
    device = resolve_device(config.train.device)
    source, encoder_id = ensure_text_embeddings(lakehouse, config, training.unionByName(test))
    columns = ["productid", "label"]
    train_rows = training.filter(F.col("split") == "train")
    valid_rows = training.filter(F.col("split") == "valid")
    # The starting head sees the train rows only: the valid rows are kept for early stopping.
    probe_train = text_training_frame(lakehouse, encoder_id, train_rows)
    probe_valid = text_embedding_frame(lakehouse, encoder_id, valid_rows.select(*columns))
    train_labels = probe_train["label"].astype(int).tolist()
    head, _ = train_head_on_embeddings(
        "cv-text-probe",
        probe_train[["embedding", "label"]],
        probe_valid,
        len(probe_train["embedding"].iloc[0]) if len(probe_train) else DEFAULT_DIM,
        len(config.label_codes),
        cfg,
        seed,
        device,
        train_labels,
    )
    frames = {
        name: rows.select("productid", "text", "label").toPandas().sort_values("productid")
        for name, rows in (("train", train_rows), ("valid", valid_rows), ("test", test))
    }
    pad = text_model.pad_token_id(source)

    def buckets(frame: pd.DataFrame, shuffle: bool) -> text_model.LengthBuckets:
        tokens = text_model.tokenize_unpadded(
            source, frame["text"].fillna("").tolist(), cfg.max_length, cfg.prefix
        )
        labels = frame["label"].astype(int).tolist()
        return text_model.LengthBuckets(tokens, labels, cfg.finetune_batch_size, pad, shuffle, seed)

    train_epochs = buckets(frames["train"], True)
    model = text_model.finetune_classifier(source, head, cfg, seed)
    settings = finetune_settings(config, train_labels, device, seed)
    result = fit(
        model,
        train_epochs,
        buckets(frames["valid"], False),
        _token_inputs,
        train_rows=train_epochs.rows,
        name="cv-text-finetune",
        **settings,
    )
    log.info(
        "cv text fine-tuning: best epoch %d of %d (valid weighted F1 %.4f), %.0f s",
        result.best_epoch,
        len(result.history),
        result.best_weighted_f1,
        result.seconds,
    )
    held_out = buckets(frames["test"], False)
    with held_out(0) as batches:
        logits, _ = predict_logits(model, batches, _token_inputs, device, settings["cpu_bf16"])
    probs = np.zeros((held_out.rows, len(config.label_codes)))
    probs[held_out.order] = torch.softmax(logits, dim=1).double().numpy()
    test_frame = frames["test"]
    return (
        test_frame["productid"].astype(int).tolist(),
        test_frame["label"].astype(int).tolist(),
        probs,
    )


def _token_inputs(batch: dict[str, Any]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}, batch[
        "label"
    ]


def fold_with_head(
    config: Config,
    cfg: TextModelConfig | ImageModelConfig,
    name: str,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    test: pd.DataFrame,
) -> tuple[list[int], list[int], np.ndarray]:
    """A head trained in memory on a fold's embeddings, applied to the held-out fold."""
    head, _ = train_head_on_embeddings(
        name,
        train,
        valid,
        len(train["embedding"].iloc[0]),
        len(config.label_codes),
        cfg,
        config.train.seed,
        resolve_device(config.train.device),
        train["label"].astype(int).tolist(),
        # The training folds' valid rows stop the AdamW loop early; a logistic regression
        # needs no stopping and trains on them, as the TF-IDF model does.
        fit_on_valid=True,
    )
    scored = apply_head(head, test)
    return (
        scored["productid"].astype(int).tolist(),
        scored["label"].astype(int).tolist(),
        np.stack(scored["probabilities"].tolist()),
    )


class FittedText(FittedMember):
    def __init__(self, folder: Path, meta: dict) -> None:
        super().__init__(folder, meta)
        self.encoder = json.loads((self.folder / "encoder.json").read_text(encoding="utf-8"))
        self.worker_encoder: str | None = None  # set by ship: the encoder folder's worker path

    def predict_rows(self, lakehouse: Lakehouse, config: Config, rows: DataFrame) -> pd.DataFrame:
        head = load_head(self.folder)
        info = self.encoder
        keep = keep_columns(rows)
        if self.mode == "finetune":
            encoder = text_model.TextEncoder(
                str(self.folder / "encoder"), info["max_length"], info["prefix"], "cpu"
            )
            frame = rows.select(*keep, "text").toPandas()
            vectors = encoder.embed(frame["text"].fillna("").tolist())
            frame = frame.drop(columns=["text"])
            frame["embedding"] = list(vectors)
            return apply_head(head, frame)
        title = bool(info.get("title", False))
        _, encoder_id = ensure_text_embeddings(
            lakehouse,
            config,
            rows,
            info["source"],
            info["max_length"],
            info["prefix"],
            title,
            # Models saved before quantisation existed were trained on float32 embeddings.
            info.get("quantization", "none"),
            # ... and those before pooled layers on the last layer's.
            tuple(info.get("pool_layers", ())),
        )
        if encoder_id != info["encoder_id"]:
            raise ValueError(
                f"the model was trained on encoder {info['encoder_id']}, found {encoder_id}"
            )
        frame = text_embedding_frame(lakehouse, encoder_id, rows.select(*keep), title)
        return apply_head(head, frame)

    def scoring_columns(self, config: Config) -> tuple[str, ...]:
        return ("text", "title") if self.encoder.get("title") else ("text",)

    def ship(self, spark: SparkSession) -> None:
        """The folder, and a frozen model's encoder folder, which lies outside it."""
        super().ship(spark)
        if self.mode != "finetune":
            self.worker_encoder = text_model.ship_encoder(spark, self.encoder["source"])

    def batch_predictor(self, config: Config, torch_threads: int) -> BatchPredictor:
        return TextBatchPredictor(
            self.worker_folder, config.scoring.text_batch_size, torch_threads, self.worker_encoder
        )


class TextBatchPredictor(BatchPredictor):
    def __init__(
        self, folder: str, batch_size: int, torch_threads: int, encoder: str | None = None
    ) -> None:
        """``folder`` and ``encoder`` (the frozen encoder's folder when shipped apart from
        where the model's encoder.json says) are worker paths (storage.shipping)."""
        self.folder, self.batch_size, self.torch_threads = folder, batch_size, torch_threads
        self.encoder = encoder

    def predict(self, batch: pd.DataFrame, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
        has_text = batch["has_text"].to_numpy(bool)
        matrix = np.zeros((len(batch), n_classes))
        if has_text.any():
            predictor = _predictor(self.folder, self.torch_threads, self.encoder)
            titles = batch["title"][has_text].tolist() if "title" in batch else None
            matrix[has_text] = predictor.predict(
                batch["text"][has_text].tolist(), self.batch_size, titles
            )
        return matrix, has_text.copy()


@functools.cache
def _predictor(
    folder: str, torch_threads: int, encoder: str | None = None
) -> text_model.TextPredictor:
    """Once per Python worker (the weights load on first use)."""
    if torch_threads:
        torch.set_num_threads(torch_threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return text_model.TextPredictor(
        local_path(folder), device, local_path(encoder) if encoder else None
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
    model = text_model.finetune_classifier(source, head, cfg, config.train.seed)
    cache = petastorm_cache(lakehouse, config)
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

        def epoch_of(feed: PetastormFeed, shuffle: bool) -> EpochSource:
            return lambda e: feed.epoch(
                cfg.finetune_batch_size,
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
            _token_inputs,
            train_rows=train_feed.rows,
            name="text-finetune",
            **finetune_settings(config, train_labels, device, config.train.seed),
        )
    return model.cpu().eval(), result


def _save_finetuned_encoder(encoder: torch.nn.Module, folder: Path) -> None:
    """The fine-tuned encoder and its tokenizer as a transformers folder (safetensors)."""
    encoder.save_pretrained(folder / "encoder", safe_serialization=True)  # type: ignore[operator]
    info = json.loads((folder / "encoder.json").read_text(encoding="utf-8"))
    text_model._tokenizer(info["source"]).save_pretrained(folder / "encoder")
    # The fine-tuned encoder is scored in torch, float32.
    info.update(
        source="encoder", encoder_id=f"finetuned@{info['encoder_id']}", quantization="none"
    )
    (folder / "encoder.json").write_text(json.dumps(info, indent=2), encoding="utf-8")


