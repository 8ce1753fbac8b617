"""TF-IDF + multinomial logistic regression, in Spark ML: the native, cheap text baseline.

Word 1..n-grams after French, German and English stop words, and character n-grams of the
lowercased cleaned text, each counted (binary by default) over a vocabulary fitted on the
training rows, weighted by IDF, concatenated and L2-normalised; a class-weighted multinomial
logistic regression on top gives a probability for every class of the label map. The fitted
pipeline is saved with Spark ML's own writer (JSON metadata and parquet, no pickle).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

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

from catalog_classifier.config import TfidfConfig
from catalog_classifier.datasets import class_weights

log = logging.getLogger(__name__)

STOP_WORD_LANGUAGES = ("french", "german", "english")
# Letters and digits of any script make words; everything else separates them.
WORD_PATTERN = r"[^\p{L}\p{N}]+"


@dataclass
class TfidfFit:
    model: PipelineModel
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
    log.info("tfidf: fitting on %d listings (%d classes)", len(labels), n_classes)
    stages = build_pipeline(config, n_classes).getStages()
    featurizer = Pipeline(stages=stages[:-1]).fit(rows)
    # The L-BFGS loop runs one Spark job per iteration: on features materialised with a cut
    # lineage, each job ships a small task instead of every vocabulary (11 MB a task on the real
    # sample, 3 s an iteration, before this).
    features = (
        featurizer.transform(rows).select("features", "label", "weight").localCheckpoint(eager=True)
    )
    try:
        lr_model = stages[-1].fit(features)
    finally:
        features.unpersist()
    model = PipelineModel(stages=[*featurizer.stages, lr_model])
    vocabularies = {
        s.getOutputCol(): len(s.vocabulary)
        for s in model.stages
        if s.__class__.__name__ == "CountVectorizerModel"
    }
    fit = TfidfFit(
        model,
        time.monotonic() - started,
        len(labels),
        lr_model.summary.totalIterations if lr_model.hasSummary else -1,
        vocabularies,
    )
    log.info(
        "tfidf: fitted in %.1f s (%d L-BFGS iterations; vocabularies %s)",
        fit.seconds,
        fit.iterations,
        vocabularies,
    )
    return fit


def predict_tfidf(model: PipelineModel, rows: DataFrame, keep: Sequence[str] = ()) -> DataFrame:
    """Rows with ``text_lower`` -> ``keep`` columns + ``probabilities`` (array<double>)."""
    out = model.transform(rows.select(*dict.fromkeys([*keep, "text_lower"])))
    return out.select(*keep, vector_to_array("probability").alias("probabilities"))


def save_tfidf(model: PipelineModel, path: str) -> None:
    model.write().overwrite().save(path)


def load_tfidf(path: str) -> PipelineModel:
    return PipelineModel.load(path)
