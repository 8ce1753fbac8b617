"""The TF-IDF member: Spark ML's featurizer (words and character n-grams) with a linear layer.

Folder: ``pipeline/`` (the Spark ML PipelineModel), the driver solver's ``linear.safetensors``
and, when :class:`~catalog_classifier.models.tfidf.TfidfScorer` reproduces the pipeline, the
scorer's files, which let scoring apply it in the UDF without reading the Spark ML pipeline.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from catalog_classifier.config import Config
from catalog_classifier.models.datasets import TEXT_INPUT_TABLES, listings_only
from catalog_classifier.models.member import (
    BatchPredictor,
    FittedMember,
    Member,
    MemberFit,
    keep_columns,
    metrics_of,
    read_meta,
    shared,
    write_meta,
)
from catalog_classifier.models.tfidf import (
    TfidfModel,
    fit_tfidf,
    load_tfidf,
    predict_tfidf,
    predict_with_scorer,
    save_tfidf,
)
from catalog_classifier.models.tfidf_scorer import TfidfScorer, load_tfidf_scorer, tfidf_scorer
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import BRONZE_LISTINGS, BRONZE_TRAINING_TEXTS, TableSpec

log = logging.getLogger(__name__)

# The column the Spark ML path adds before the UDF when the scorer does not apply.
SPARK_PROBABILITIES = "p_tfidf"


class TfidfMember(Member):
    name = "tfidf"
    modality = "text"
    scoring_cost = 0.005  # share 0.005 of the fused scoring time (benchmarks/score.py --images)
    description = "TF-IDF (Spark ML) + linear layer"

    @classmethod
    def input_tables(cls) -> tuple[TableSpec, ...]:
        # Its training texts too, and the listings they follow (by source_row): recorded with
        # each registered version, so that the rows it learnt from can be traced.
        return (*TEXT_INPUT_TABLES, BRONZE_LISTINGS, BRONZE_TRAINING_TEXTS)

    @classmethod
    def training_text_kinds(cls, config: Config) -> tuple[str, ...]:
        return tuple(config.train.tfidf.extra_texts)

    @classmethod
    def fit(
        cls, lakehouse: Lakehouse, config: Config, rows: DataFrame, folder: Path
    ) -> MemberFit:
        codes = config.label_codes
        fitted = fit_tfidf(rows.filter(F.col("split") == "train"), config.train.tfidf, len(codes))
        save_tfidf(fitted.model, str(folder / "pipeline"))
        # mode: which solver fit the regression (the featurizer is Spark ML either way)
        mode = f"solver-{fitted.model.solver}"
        write_meta(folder, cls.name, mode, config, {"settings": asdict(config.train.tfidf)})
        valid_rows = listings_only(rows.filter(F.col("split") == "valid"))
        valid = predict_tfidf(fitted.model, valid_rows, ["label"])
        metrics = metrics_of(valid.toPandas(), prefix="valid_")
        metrics.update(train_rows=float(fitted.rows), iterations=float(fitted.iterations))
        params = {**asdict(config.train.tfidf), "vocabularies": fitted.vocabulary_sizes}
        return MemberFit(mode, params, metrics)

    @classmethod
    def fit_fold(
        cls, lakehouse: Lakehouse, config: Config, training: DataFrame, test: DataFrame
    ) -> tuple[list[int], list[int], np.ndarray]:
        fitted = fit_tfidf(training, config.train.tfidf, len(config.label_codes))
        frame = predict_tfidf(fitted.model, test, keep=["productid", "label"]).toPandas()
        probs = np.stack(frame["probabilities"].map(np.asarray).tolist())
        return frame["productid"].astype(int).tolist(), frame["label"].tolist(), probs

    @classmethod
    def load(cls, folder: Path) -> FittedTfidf:
        return FittedTfidf(folder, read_meta(folder))


class FittedTfidf(FittedMember):
    def predict_rows(self, lakehouse: Lakehouse, config: Config, rows: DataFrame) -> pd.DataFrame:
        # The scorer saved beside the pipeline when it reproduces it: read by the driver alone
        # (a Spark ML load runs jobs whose executors read the folder, which on a cluster is
        # the driver's download) and in about a second instead of 8-14.
        scorer = load_tfidf_scorer(self.folder)
        keep = keep_columns(rows)
        if scorer is not None:
            predicted = predict_with_scorer(scorer, rows, keep)
        else:
            predicted = predict_tfidf(load_tfidf(str(self.folder / "pipeline")), rows, keep=keep)
        frame = predicted.toPandas()
        # pandas-stubs types a column set from a list as scalars only; arrays make an object column
        frame["probabilities"] = [np.asarray(p) for p in frame["probabilities"]]  # type: ignore[assignment]
        return frame

    def _engine(self, config: Config) -> tuple[TfidfModel | None, TfidfScorer | None]:
        return _loaded(str(self.folder), config.scoring.tfidf_engine == "python")

    def prepare_scoring(self, rows: DataFrame, config: Config) -> DataFrame:
        pipeline, scorer = self._engine(config)
        if scorer is not None or pipeline is None:
            return rows
        return predict_tfidf(pipeline, rows, keep=rows.columns).withColumnRenamed(
            "probabilities", SPARK_PROBABILITIES
        )

    def scoring_columns(self, config: Config) -> tuple[str, ...]:
        _, scorer = self._engine(config)
        return (scorer.input_col,) if scorer is not None else (SPARK_PROBABILITIES,)

    def batch_predictor(self, config: Config, torch_threads: int) -> BatchPredictor:
        _, scorer = self._engine(config)
        return TfidfBatchPredictor(scorer)

    def release(self) -> None:
        _loaded.cache_clear()


@functools.cache
def _loaded(folder: str, python: bool) -> tuple[TfidfModel | None, TfidfScorer | None]:
    """(the Spark ML model or None, the ``TfidfScorer`` when ``python`` and the pipeline
    allows), once per run. The scorer saved at training time loads in about a second; reading
    the Spark ML pipeline runs a Spark job per stage (8-14 s here), done only for the spark
    engine or a model saved without the scorer's files."""
    scorer = load_tfidf_scorer(Path(folder)) if python else None
    if scorer is not None:
        return None, scorer
    model = load_tfidf(str(Path(folder) / "pipeline"))
    return model, (tfidf_scorer(model) if python else None)


class TfidfBatchPredictor(BatchPredictor):
    """In the UDF: the scorer on ``text_lower`` (hand-written numpy/Arrow kernels reproducing
    Spark ML's features, checked equal to them in tests), or the probabilities Spark ML added
    before the UDF. Listings without text are unavailable."""

    def __init__(self, scorer: TfidfScorer | None) -> None:
        # Broadcast once (the vocabularies weigh tens of MB) rather than pickled into each task.
        self.scorer = shared(scorer) if scorer is not None else None

    def predict(self, batch: pd.DataFrame, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
        available = batch["has_text"].to_numpy(bool)
        if self.scorer is not None:
            scorer = self.scorer.value
            return scorer.predict(batch[scorer.input_col].tolist()), available
        if not len(batch):
            return np.zeros((0, n_classes)), available
        probs = np.stack([np.asarray(p, dtype=np.float64) for p in batch[SPARK_PROBABILITIES]])
        return probs, available
