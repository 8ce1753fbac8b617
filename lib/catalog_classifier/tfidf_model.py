"""TF-IDF + multinomial logistic regression: the cheap text baseline, featurised in Spark ML.

Word 1..n-grams after French, German and English stop words, and character n-grams of the
lowercased cleaned text, each counted (binary by default) over a vocabulary fitted on the
training rows, weighted by IDF, concatenated and L2-normalised; a class-weighted multinomial
logistic regression on top gives a probability for every class of the label map.

The featurizer is always a Spark ML pipeline (saved with Spark ML's writer: JSON metadata and
parquet, no pickle). The logistic regression is solved either on the driver by scikit-learn
(``solver: driver``, the default: seconds instead of minutes; its weights saved as
safetensors and applied in the executors by a pandas UDF) or by Spark ML's distributed LR
(``solver: spark``, for training sets too large for the driver).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import (
    IDF,
    CountVectorizer,
    NGram,
    Normalizer,
    RegexTokenizer,
    StopWordsRemover,
    VectorAssembler,
)
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from catalog_classifier.config import TfidfConfig
from catalog_classifier.datasets import class_weights

log = logging.getLogger(__name__)

STOP_WORD_LANGUAGES = ("french", "german", "english")
# Letters and digits of any script make words; everything else separates them.
WORD_PATTERN = r"[^\p{L}\p{N}]+"


@dataclass
class TfidfModel:
    """The fitted model: a Spark ML featurizer and, with the ``driver`` solver, the linear
    softmax layer applied next to it (else the featurizer pipeline ends with Spark's LR)."""

    pipeline: PipelineModel
    coef: np.ndarray | None = None  # (classes, features) float32
    intercept: np.ndarray | None = None  # (classes,)

    @property
    def solver(self) -> str:
        return "spark" if self.coef is None else "driver"


@dataclass
class TfidfFit:
    model: TfidfModel
    seconds: float
    rows: int
    iterations: int
    vocabulary_sizes: dict[str, int]


def build_pipeline(config: TfidfConfig, n_classes: int) -> Pipeline:
    """The unfitted pipeline: ``text_lower`` (+ ``label``, ``weight``) -> ``probability``."""
    stop_words: list[str] = []
    for language in STOP_WORD_LANGUAGES:
        stop_words += StopWordsRemover.loadDefaultStopWords(language)
    stages: list = [
        RegexTokenizer(inputCol="text_lower", outputCol="tok_words", pattern=WORD_PATTERN),
        StopWordsRemover(inputCol="tok_words", outputCol="tok_words_1", stopWords=stop_words),
    ]
    tf_columns: list[tuple[str, int]] = [("tok_words_1", 1)]
    for n in range(2, config.word_ngrams + 1):
        stages.append(NGram(n=n, inputCol="tok_words_1", outputCol=f"tok_words_{n}"))
        tf_columns.append((f"tok_words_{n}", config.min_doc_freq))
    if config.char_ngrams:
        # An empty pattern with gaps splits the text into its characters (spaces included, so
        # n-grams span word boundaries as char_wb-style features do).
        stages.append(
            RegexTokenizer(
                inputCol="text_lower",
                outputCol="tok_chars",
                pattern="",
                gaps=True,
                minTokenLength=1,
                toLowercase=False,
            )
        )
        for n in config.char_ngrams:
            stages.append(NGram(n=n, inputCol="tok_chars", outputCol=f"tok_chars_{n}"))
            tf_columns.append((f"tok_chars_{n}", config.min_doc_freq))
    tfidf_columns = []
    for column, min_df in tf_columns:
        stages.append(
            CountVectorizer(
                inputCol=column,
                outputCol=f"{column}_tf",
                minDF=float(min_df),
                vocabSize=config.vocab_size,
                binary=config.binary,
            )
        )
        stages.append(IDF(inputCol=f"{column}_tf", outputCol=f"{column}_tfidf"))
        tfidf_columns.append(f"{column}_tfidf")
    stages += [
        VectorAssembler(inputCols=tfidf_columns, outputCol="tfidf_raw"),
        Normalizer(inputCol="tfidf_raw", outputCol="features", p=2.0),
        LogisticRegression(
            featuresCol="features",
            labelCol="label",
            weightCol="weight",
            family="multinomial",
            regParam=config.reg_param,
            elasticNetParam=config.elastic_net,
            maxIter=config.max_iter,
            standardization=False,
        ),
    ]
    del n_classes  # the label column's metadata carries it (see with_label_metadata)
    return Pipeline(stages=stages)


def with_label_metadata(rows: DataFrame, n_classes: int) -> DataFrame:
    """Declare the label nominal with ``n_classes`` values, so the model outputs a probability
    for every class of the label map even when the largest indices have no training rows."""
    metadata = {"ml_attr": {"type": "nominal", "num_vals": n_classes, "name": "label"}}
    return rows.withColumn("label", F.col("label").cast("double").alias("label", metadata=metadata))


def fit_tfidf(train: DataFrame, config: TfidfConfig, n_classes: int) -> TfidfFit:
    """Fit on rows with ``text_lower`` and ``label`` (class index)."""
    started = time.monotonic()
    labels = [r["label"] for r in train.select("label").collect()]
    weights = class_weights(labels, n_classes) if config.class_weights else [1.0] * n_classes
    weight_of = F.array(*[F.lit(w) for w in weights])[F.col("label").cast("int")]
    rows = with_label_metadata(train.select("text_lower", "label"), n_classes).withColumn(
        "weight", weight_of
    )
    log.info(
        "tfidf: fitting on %d listings (%d classes, %s solver)",
        len(labels),
        n_classes,
        config.solver,
    )
    stages = build_pipeline(config, n_classes).getStages()
    featurizer = Pipeline(stages=stages[:-1]).fit(rows)
    # Features materialised with a cut lineage: the solver's passes do not recompute the
    # tokenisers and vocabularies.
    features = (
        featurizer.transform(rows).select("features", "label", "weight").localCheckpoint(eager=True)
    )
    try:
        if config.solver == "spark":
            lr_model = stages[-1].fit(features)
            model = TfidfModel(PipelineModel(stages=[*featurizer.stages, lr_model]))
            iterations = lr_model.summary.totalIterations if lr_model.hasSummary else -1
        else:
            coef, intercept, iterations = _fit_on_driver(features, config, n_classes)
            model = TfidfModel(featurizer, coef, intercept)
    finally:
        features.unpersist()
    vocabularies = {
        s.getOutputCol(): len(s.vocabulary)
        for s in featurizer.stages
        if s.__class__.__name__ == "CountVectorizerModel"
    }
    fit = TfidfFit(model, time.monotonic() - started, len(labels), iterations, vocabularies)
    log.info(
        "tfidf: fitted in %.1f s (%d solver iterations; vocabularies %s)",
        fit.seconds,
        fit.iterations,
        vocabularies,
    )
    return fit


def _fit_on_driver(
    features: DataFrame, config: TfidfConfig, n_classes: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """The same objective as Spark's LR (weighted mean log-loss + reg/2 ||W||^2), solved by
    scikit-learn's L-BFGS on the sparse features collected to the driver.

    Spark ML's LR on 2 cores took about 20 s an iteration at 141k features x 27 classes (the
    dense coefficient and gradient arrays travel every iteration); this takes seconds. The
    driver holds the training features: about 1 GB for the 85k listings of the challenge.
    """
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    indptr, indices, values, labels, weights = [0], [], [], [], []
    size = 0
    for row in features.toLocalIterator():
        vector = row["features"]
        size = vector.size
        indices.append(np.asarray(vector.indices, dtype=np.int32))
        values.append(np.asarray(vector.values, dtype=np.float64))
        indptr.append(indptr[-1] + len(vector.indices))
        labels.append(int(row["label"]))
        weights.append(float(row["weight"]))
    matrix = csr_matrix(
        (
            np.concatenate(values) if values else np.zeros(0),
            np.concatenate(indices) if indices else np.zeros(0, np.int32),
            np.asarray(indptr),
        ),
        shape=(len(labels), size),
    )
    sample_weight = np.asarray(weights)
    if config.elastic_net:
        raise ValueError("train.tfidf.elastic_net needs solver: spark (L1 is not supported here)")
    # Spark: (1/sum w) sum w_i loss_i + reg/2 ||W||^2  ==  sklearn: C sum w_i loss_i + 1/2 ||W||^2
    c = 1.0 / (config.reg_param * sample_weight.sum()) if config.reg_param else 1e6
    model = LogisticRegression(C=c, max_iter=config.max_iter, tol=1e-6)
    model.fit(matrix, np.asarray(labels), sample_weight=sample_weight)
    coef = np.zeros((n_classes, size), dtype=np.float32)
    intercept = np.full(n_classes, -1e4, dtype=np.float32)  # classes never seen: probability 0
    if len(model.classes_) == 2:  # sklearn keeps one row for two classes
        coef[model.classes_[1]], intercept[model.classes_[1]] = model.coef_[0], model.intercept_[0]
        coef[model.classes_[0]], intercept[model.classes_[0]] = 0.0, 0.0
    else:
        coef[model.classes_] = model.coef_
        intercept[model.classes_] = model.intercept_
    return coef, intercept, int(np.max(model.n_iter_))


class _LinearSoftmax:
    """``mapInPandas`` function: rows with Spark ML sparse ``features`` (arriving as dicts of
    indices and values) -> class probabilities, with the coefficients from a broadcast."""

    def __init__(self, coef: Any, intercept: Any, keep: Sequence[str]) -> None:
        self.coef, self.intercept, self.keep = coef, intercept, list(keep)

    def __call__(self, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        coef, intercept = self.coef.value, self.intercept.value
        for batch in batches:
            margins = np.tile(intercept.astype(np.float64), (len(batch), 1))
            for i, vector in enumerate(batch["features"]):
                if vector is None:
                    continue
                idx = np.asarray(vector["indices"], dtype=np.int64)
                if vector["type"] == 1:  # dense
                    idx = np.arange(len(vector["values"]))
                margins[i] += coef[:, idx] @ np.asarray(vector["values"], dtype=np.float64)
            margins -= margins.max(axis=1, keepdims=True)
            probs = np.exp(margins)
            probs /= probs.sum(axis=1, keepdims=True)
            out = batch[self.keep].copy()
            out["probabilities"] = list(probs)
            yield out


def predict_tfidf(model: TfidfModel, rows: DataFrame, keep: Sequence[str] = ()) -> DataFrame:
    """Rows with ``text_lower`` -> ``keep`` columns + ``probabilities`` (array<double>)."""
    keep = list(dict.fromkeys(keep))
    out = model.pipeline.transform(rows.select(*dict.fromkeys([*keep, "text_lower"])))
    if model.coef is None:
        return out.select(*keep, vector_to_array("probability").alias("probabilities"))
    spark = rows.sparkSession
    scorer = _LinearSoftmax(
        spark.sparkContext.broadcast(model.coef),
        spark.sparkContext.broadcast(model.intercept),
        keep,
    )
    fields = [out.schema[c] for c in keep]
    schema = T.StructType([*fields, T.StructField("probabilities", T.ArrayType(T.DoubleType()))])
    return out.select(*keep, "features").mapInPandas(scorer, schema)


LINEAR_FILE = "linear.safetensors"


def save_tfidf(model: TfidfModel, path: str) -> None:
    """The Spark ML pipeline at ``path``; the driver solver's layer beside it (safetensors)."""
    model.pipeline.write().overwrite().save(path)
    if model.coef is not None:
        from safetensors.numpy import save_file

        save_file(
            {"coef": model.coef, "intercept": np.asarray(model.intercept, dtype=np.float32)},
            str(Path(path).parent / LINEAR_FILE),
        )


def load_tfidf(path: str) -> TfidfModel:
    pipeline = PipelineModel.load(path)
    linear = Path(path).parent / LINEAR_FILE
    if not linear.exists():
        return TfidfModel(pipeline)
    from safetensors.numpy import load_file

    tensors = load_file(str(linear))
    return TfidfModel(pipeline, tensors["coef"], tensors["intercept"])
