"""Members built as a frozen encoder + a classification head: the embedding caches' reads, the
head's training (full-batch logistic regression, or AdamW mini-batches fed by Petastorm) and its
application. Shared by the text and image members.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import torch
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from catalog_classifier.config import Config, ImageModelConfig, TextModelConfig
from catalog_classifier.models.datasets import class_weights
from catalog_classifier.models.heads import ClassifierHead
from catalog_classifier.models.loop import (
    Batch,
    EpochStats,
    FitResult,
    TensorEpochs,
    fit,
    fit_logistic,
)
from catalog_classifier.models.metrics import classification_metrics
from catalog_classifier.models.petastorm_feed import PetastormFeed
from catalog_classifier.models.text_encoder import blob_to_array, from_blob
from catalog_classifier.storage.incremental import compute_missing
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.spark import torch_threads_per_task
from catalog_classifier.storage.tables import TableSpec

log = logging.getLogger(__name__)


def petastorm_cache(lakehouse: Lakehouse, config: Config) -> str:
    return config.train.petastorm_cache or f"{lakehouse.root}/_petastorm"


def worker_threads(lakehouse: Lakehouse, config: Config) -> int:
    """Torch threads per Spark task: the cores shared by the tasks running at once."""
    return torch_threads_per_task(lakehouse.spark, config.train.torch_threads)


def resolve_mode(mode: str, device: torch.device) -> str:
    if mode == "auto":
        return "finetune" if device.type == "cuda" else "frozen"
    return mode


def ensure_embeddings(
    lakehouse: Lakehouse,
    spec: TableSpec,
    id_column: str,
    model_id: str,
    keys: Sequence[str],
    todo_columns: Sequence[str],
    rows: DataFrame,
    embed: Callable[[DataFrame, datetime], DataFrame],
    what: str,
) -> None:
    """Embed the rows not yet embedded by ``model_id`` with this content (``keys`` include the
    content hash), into the cache table ``spec``."""
    lakehouse.ensure(spec)
    done = lakehouse.read(spec).filter(F.col(id_column) == model_id).select(*keys)
    computed_at = datetime.now(UTC).replace(microsecond=0)
    compute_missing(
        lakehouse,
        spec,
        rows.select(*todo_columns),
        keys,
        lambda todo: embed(todo, computed_at),
        f"{what} ({model_id})",
        done=done,
    )


def embedding_frame(
    lakehouse: Lakehouse,
    spec: TableSpec,
    id_column: str,
    key: str,
    model_id: str,
    rows: DataFrame,
) -> pd.DataFrame:
    """Embeddings of ``rows`` (by ``key``) as a pandas frame with an ``embedding`` ndarray."""
    embeddings = lakehouse.read(spec).filter(F.col(id_column) == model_id).select(key, "embedding")
    frame = rows.join(embeddings, key).toPandas()
    # pandas-stubs types a column set from a list as scalars only; arrays make an object column
    frame["embedding"] = [from_blob(b) for b in frame["embedding"]]  # type: ignore[assignment]
    return frame


def side_by_side_frame(
    lakehouse: Lakehouse,
    spec: TableSpec,
    id_column: str,
    key: str,
    model_ids: Sequence[str],
    rows: DataFrame,
) -> pd.DataFrame:
    """``embedding_frame`` of the first id, with the embeddings of the others (same rows)
    appended to each vector in order, sorted by ``key``: e.g. a full-text and a title-only
    embedding read as one vector."""
    frame = embedding_frame(lakehouse, spec, id_column, key, model_ids[0], rows)
    for model_id in model_ids[1:]:
        more = embedding_frame(lakehouse, spec, id_column, key, model_id, rows.select(key))
        frame = frame.merge(more.rename(columns={"embedding": "_more"}), on=key, how="inner")
        frame["embedding"] = [
            np.concatenate([a, b]) for a, b in zip(frame["embedding"], frame["_more"], strict=True)
        ]
        frame = frame.drop(columns=["_more"])
    return frame.sort_values(key, kind="stable").reset_index(drop=True)


def feed_of_embeddings(
    lakehouse: Lakehouse,
    config: Config,
    spec: TableSpec,
    id_column: str,
    key: str,
    model_id: str,
    rows: DataFrame,
    name: str,
) -> PetastormFeed:
    embeddings = (
        lakehouse.read(spec)
        .filter(F.col(id_column) == model_id)
        .select(key, blob_to_array("embedding").alias("embedding"))
    )
    data = rows.select(key, "label").join(embeddings, key).select("embedding", "label")
    return PetastormFeed(
        lakehouse.spark,
        data,
        petastorm_cache(lakehouse, config),
        name,
        config.train.reader_pool,
        config.train.reader_workers,
    )


def to_tensors(frame: pd.DataFrame) -> dict[str, torch.Tensor]:
    return {
        "embedding": torch.from_numpy(np.stack(frame["embedding"].tolist()).astype(np.float32)),
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

        def train_epoch(epoch: int) -> AbstractContextManager[Iterator[Batch]]:
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
        train_epoch = TensorEpochs(to_tensors(train), cfg.batch_size, shuffle=True, seed=seed)
        train_rows = len(train)
        x = to_tensors(train)["embedding"].double()
        mean, std = x.mean(0), x.std(0, unbiased=False)
    head.set_standardization(mean.float(), std.float())
    valid_epoch = TensorEpochs(to_tensors(valid), 512, shuffle=False)
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
        tensors = to_tensors(train)
    held_out = to_tensors(valid) if len(valid) else None
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


def apply_head(head: ClassifierHead, frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        frame["probabilities"] = []
        return frame.drop(columns=["embedding"])
    with torch.inference_mode():
        x = torch.from_numpy(np.stack(frame["embedding"].tolist()).astype(np.float32))
        probs = torch.softmax(head(x), dim=1).numpy()
    out = frame.drop(columns=["embedding"])
    out["probabilities"] = list(probs)
    return out


