"""A deliberately small extra model member, used by tests/test_extra_member.py to prove that a
new member is one module, one registry entry and one conf section.

``length``: the class distribution of listings whose cleaned text has about the same length
(log2-spaced bins of the character count), with additive smoothing ``members.length.smoothing``
from the conf. Weak but real: text length differs a lot between categories (books vs games).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from catalog_classifier.config import Config
from catalog_classifier.models.member import (
    BatchPredictor,
    FittedMember,
    Member,
    MemberFit,
    keep_columns,
    metrics_of,
    read_meta,
    write_meta,
)
from catalog_classifier.storage.lakehouse import Lakehouse

BINS = 16
TABLE_FILE = "length_table.json"


def length_bins(texts: pd.Series) -> np.ndarray:
    lengths = texts.fillna("").str.len().to_numpy()
    return np.minimum(BINS - 1, np.log2(lengths + 1).astype(int))


def _table(rows: pd.DataFrame, n_classes: int, smoothing: float) -> np.ndarray:
    counts = np.full((BINS, n_classes), float(smoothing))
    np.add.at(counts, (length_bins(rows["text"]), rows["label"].to_numpy(int)), 1.0)
    return counts / counts.sum(1, keepdims=True)


def _smoothing(config: Config) -> float:
    return float(config.members.get("length", {}).get("smoothing", 1.0))


class LengthMember(Member):
    name = "length"
    modality = "text"
    description = "class frequencies by text length (a test member)"

    @classmethod
    def fit(
        cls, lakehouse: Lakehouse, config: Config, rows: DataFrame, folder: Path
    ) -> MemberFit:
        n = len(config.label_codes)
        frame = rows.select("split", "text", "label").toPandas()
        table = _table(frame[frame["split"] == "train"], n, _smoothing(config))
        write_meta(folder, cls.name, "counts", config, {"smoothing": _smoothing(config)})
        (folder / TABLE_FILE).write_text(json.dumps(table.tolist()), encoding="utf-8")
        valid = frame[frame["split"] == "valid"].copy()
        valid["probabilities"] = list(table[length_bins(valid["text"])])
        metrics = metrics_of(valid, prefix="valid_")
        return MemberFit("counts", {"smoothing": _smoothing(config), "bins": BINS}, metrics)

    @classmethod
    def fit_fold(
        cls, lakehouse: Lakehouse, config: Config, training: DataFrame, test: DataFrame
    ) -> tuple[list[int], list[int], np.ndarray]:
        n = len(config.label_codes)
        table = _table(training.select("text", "label").toPandas(), n, _smoothing(config))
        held_out = test.select("productid", "text", "label").toPandas()
        probs = table[length_bins(held_out["text"])]
        return held_out["productid"].astype(int).tolist(), held_out["label"].tolist(), probs

    @classmethod
    def load(cls, folder: Path) -> FittedLength:
        return FittedLength(folder, read_meta(folder))


class FittedLength(FittedMember):
    def __init__(self, folder: Path, meta: dict) -> None:
        super().__init__(folder, meta)
        self.table = np.asarray(json.loads((self.folder / TABLE_FILE).read_text(encoding="utf-8")))

    def predict_rows(self, lakehouse: Lakehouse, config: Config, rows: DataFrame) -> pd.DataFrame:
        frame = rows.select(*keep_columns(rows), F.col("text")).toPandas()
        frame["probabilities"] = list(self.table[length_bins(frame["text"])])
        return frame.drop(columns=["text"])

    def scoring_columns(self, config: Config) -> tuple[str, ...]:
        return ("text",)

    def batch_predictor(self, config: Config, torch_threads: int) -> BatchPredictor:
        return LengthBatchPredictor(self.table)


class LengthBatchPredictor(BatchPredictor):
    def __init__(self, table: np.ndarray) -> None:
        self.table = table

    def predict(self, batch: pd.DataFrame, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
        has_text = batch["has_text"].to_numpy(bool)
        return self.table[length_bins(batch["text"])], has_text

