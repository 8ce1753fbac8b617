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
from collections.abc import Iterable, Iterator, Sequence
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
    CountVectorizerModel,
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
from catalog_classifier.models.calibration import fit_temperature, softmax
from catalog_classifier.models.datasets import class_weights
from catalog_classifier.models.sparknlp_text import require_spark_nlp, word_token_stages
from catalog_classifier.models.tfidf_scorer import (
    LINEAR_FILE,
    WORD_PATTERN,
    TfidfScorer,
    _PythonTfidf,
    tfidf_scorer,
)

log = logging.getLogger(__name__)

STOP_WORD_LANGUAGES = ("french", "german", "english")


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


def _token_block(
    config: TfidfConfig, input_col: str, prefix: str
) -> tuple[list, list[tuple[str, int]]]:
    """Word 1..n-grams (after stop words, unless ``keep_stop_words``) and character n-grams of
    one lowercase text column: the stages and the (column, min doc freq) to count."""
    stop_words: list[str] = []
    if not config.keep_stop_words:
        for language in STOP_WORD_LANGUAGES:
            stop_words += StopWordsRemover.loadDefaultStopWords(language)
    stages: list
    if config.word_tokenizer == "spark_nlp":
        stages = word_token_stages(input_col, f"{prefix}tok_words_1", stop_words, prefix)
    else:
        stages = [
            RegexTokenizer(
                inputCol=input_col, outputCol=f"{prefix}tok_words", pattern=WORD_PATTERN
            ),
            StopWordsRemover(
                inputCol=f"{prefix}tok_words",
                outputCol=f"{prefix}tok_words_1",
                stopWords=stop_words,
            ),
        ]
    tf_columns: list[tuple[str, int]] = [(f"{prefix}tok_words_1", 1)]
    for n in range(2, config.word_ngrams + 1):
        stages.append(
            NGram(n=n, inputCol=f"{prefix}tok_words_1", outputCol=f"{prefix}tok_words_{n}")
        )
        tf_columns.append((f"{prefix}tok_words_{n}", config.min_doc_freq))
    if config.char_ngrams:
        # An empty pattern with gaps splits the text into its characters (spaces included, so
        # n-grams span word boundaries as char_wb-style features do).
        stages.append(
            RegexTokenizer(
                inputCol=input_col,
                outputCol=f"{prefix}tok_chars",
                pattern="",
                gaps=True,
                minTokenLength=1,
                toLowercase=False,
            )
        )
        for n in config.char_ngrams:
            stages.append(
                NGram(n=n, inputCol=f"{prefix}tok_chars", outputCol=f"{prefix}tok_chars_{n}")
            )
            tf_columns.append((f"{prefix}tok_chars_{n}", config.min_doc_freq))
    return stages, tf_columns


def input_columns(config: TfidfConfig) -> list[str]:
    """The text columns the featurizer reads: ``text_lower``, and ``title_lower`` with the
    title block."""
    return ["text_lower", "title_lower"] if config.title_block else ["text_lower"]


def build_pipeline(config: TfidfConfig, n_classes: int) -> Pipeline:
    """The unfitted pipeline: ``text_lower`` (and ``title_lower`` with ``title_block``; +
    ``label``, ``weight``) -> ``probability``."""
    stages, tf_columns = _token_block(config, "text_lower", "")
    if config.title_block:
        # The same n-grams of the title alone, in their own vocabularies: a word in the title
        # weighs apart from the same word in the description.
        title_stages, title_columns = _token_block(config, "title_lower", "title_")
        stages += title_stages
        tf_columns += title_columns
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
    rows = with_label_metadata(train.select(*input_columns(config), "label"), n_classes).withColumn(
        "weight", weight_of
    )
    log.info(
        "tfidf: fitting on %d rows (%d classes, %s solver)",
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
            estimator = stages[-1]
            assert isinstance(estimator, LogisticRegression)  # build_pipeline's last stage
            lr_model = estimator.fit(features)
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
        if isinstance(s, CountVectorizerModel)
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
    if config.loss == "hinge":
        return fit_hinge(matrix, np.asarray(labels), sample_weight, config, n_classes)
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


def fit_hinge(
    matrix: Any, labels: np.ndarray, sample_weight: np.ndarray, config: TfidfConfig, n_classes: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """A linear SVM (one-vs-rest, squared hinge, scikit-learn's liblinear) whose margins become
    probabilities through a softmax at a fitted temperature: still one linear softmax layer.

    The temperature minimises the log-loss of out-of-fold margins (``calibration_folds``
    stratified folds of the training rows), so the probabilities the fusion combines are
    calibrated rather than the SVM's raw margins; 1 when a class has too few rows to split.
    """
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import LinearSVC

    def svm() -> Any:
        return LinearSVC(C=config.svm_c, max_iter=max(1000, config.max_iter), tol=1e-4)

    def margins_of(model: Any, rows: Any) -> np.ndarray:
        out = np.full((rows.shape[0], n_classes), -1e4)
        scores = model.decision_function(rows)
        if scores.ndim == 1:
            out[:, model.classes_[1]], out[:, model.classes_[0]] = scores, 0.0
        else:
            out[:, model.classes_] = scores
        return out

    model = svm().fit(matrix, labels, sample_weight=sample_weight)
    coef = np.zeros((n_classes, matrix.shape[1]), dtype=np.float64)
    intercept = np.full(n_classes, -1e4)  # classes never seen: probability 0
    if len(model.classes_) == 2:
        coef[model.classes_[1]], intercept[model.classes_[1]] = model.coef_[0], model.intercept_[0]
        coef[model.classes_[0]], intercept[model.classes_[0]] = 0.0, 0.0
    else:
        coef[model.classes_], intercept[model.classes_] = model.coef_, model.intercept_
    temperature = 1.0
    folds, counts = config.calibration_folds, np.bincount(labels)
    if folds >= 2 and counts[counts > 0].min() >= folds:
        margins = np.zeros((len(labels), n_classes))
        splitter = StratifiedKFold(folds, shuffle=True, random_state=0)
        for fit_rows, held_rows in splitter.split(np.zeros(len(labels)), labels):
            part = svm().fit(
                matrix[fit_rows], labels[fit_rows], sample_weight=sample_weight[fit_rows]
            )
            margins[held_rows] = margins_of(part, matrix[held_rows])
        # The margins' scale: 1 / the temperature of softmax(margins / T).
        temperature = 1.0 / fit_temperature(margins, labels, sample_weight, log_bounds=(-5.0, 3.0))
    log.info("tfidf: linear SVM, softmax temperature %.3f", temperature)
    return (
        (coef * temperature).astype(np.float32),
        np.where(intercept > -1e4, intercept * temperature, -1e4).astype(np.float32),
        int(np.max(model.n_iter_)),
    )


class _LinearSoftmax:
    """``mapInPandas`` function: rows with Spark ML ``features`` (arriving as dicts of type,
    size, indices and values) -> class probabilities, with the coefficients from a broadcast.

    Vectorised: a batch's vectors become one CSR matrix, multiplied once by the coefficients.
    """

    def __init__(self, coef: Any, intercept: Any, keep: Sequence[str]) -> None:
        self.coef, self.intercept, self.keep = coef, intercept, list(keep)

    def __call__(self, batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from scipy.sparse import csr_matrix

        weights = np.ascontiguousarray(self.coef.value.T, dtype=np.float64)  # (features, classes)
        intercept = np.asarray(self.intercept.value, dtype=np.float64)
        for batch in batches:
            indptr, indices, values = [0], [], []
            for vector in batch["features"]:
                idx: np.ndarray  # float when empty, else integer positions
                values_: np.ndarray
                if vector is None:
                    idx = values_ = np.zeros(0)
                elif vector["type"] == 1:  # dense
                    values_ = np.asarray(vector["values"], dtype=np.float64)
                    idx = np.arange(len(values_))
                else:
                    idx, values_ = vector["indices"], vector["values"]
                indices.append(np.asarray(idx, dtype=np.int64))
                values.append(np.asarray(values_, dtype=np.float64))
                indptr.append(indptr[-1] + len(values_))
            matrix = csr_matrix(
                (_concat(values, np.float64), _concat(indices, np.int64), np.asarray(indptr)),
                shape=(len(batch), weights.shape[0]),
            )
            out = batch[self.keep].copy()
            out["probabilities"] = list(softmax(matrix @ weights + intercept))
            yield out


def _concat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


def predict_with_scorer(scorer: TfidfScorer, rows: DataFrame, keep: Sequence[str]) -> DataFrame:
    """Rows with the scorer's text column -> ``keep`` + ``probabilities``, in a pandas UDF:
    the scorer travels to the executors as a broadcast, so no executor reads a model file."""
    keep = list(dict.fromkeys(keep))
    source = rows.select(*dict.fromkeys([*keep, scorer.input_col]))
    schema = T.StructType(
        [
            *[source.schema[c] for c in keep],
            T.StructField("probabilities", T.ArrayType(T.DoubleType())),
        ]
    )
    udf = _PythonTfidf(rows.sparkSession.sparkContext.broadcast(scorer), keep)
    return source.mapInPandas(udf, schema)


def predict_tfidf(
    model: TfidfModel, rows: DataFrame, keep: Sequence[str] = (), engine: str = "spark"
) -> DataFrame:
    """Rows with ``text_lower`` -> ``keep`` columns + ``probabilities`` (array<double>).

    ``engine``: ``spark`` runs the Spark ML featurizer; ``python`` the same features and layer
    in a pandas UDF (``TfidfScorer``: several times faster; Spark ML where it does not apply).
    """
    keep = list(dict.fromkeys(keep))
    spark = rows.sparkSession
    if engine == "python":
        scorer = tfidf_scorer(model)
        if scorer is not None:
            return predict_with_scorer(scorer, rows, keep)
        log.info("tfidf: the Python apply path does not cover this pipeline; using Spark ML")
    elif engine != "spark":
        raise ValueError(f"tfidf engine must be spark or python, got {engine!r}")
    reads = ["text_lower", *(["title_lower"] if "title_lower" in rows.columns else [])]
    out = model.pipeline.transform(rows.select(*dict.fromkeys([*keep, *reads])))
    if model.coef is None:
        return out.select(*keep, vector_to_array(F.col("probability")).alias("probabilities"))
    linear = _LinearSoftmax(
        spark.sparkContext.broadcast(model.coef),
        spark.sparkContext.broadcast(model.intercept),
        keep,
    )
    fields = [out.schema[c] for c in keep]
    schema = T.StructType([*fields, T.StructField("probabilities", T.ArrayType(T.DoubleType()))])
    return out.select(*keep, "features").mapInPandas(linear, schema)


def save_tfidf(model: TfidfModel, path: str) -> None:
    """The Spark ML pipeline at ``path``; beside it the driver solver's layer (safetensors)
    and, when the pipeline is one :class:`TfidfScorer` reproduces, the scorer's files."""
    model.pipeline.write().overwrite().save(path)
    folder = Path(path).parent
    if model.coef is not None:
        from safetensors.numpy import save_file

        save_file(
            {"coef": model.coef, "intercept": np.asarray(model.intercept, dtype=np.float32)},
            str(folder / LINEAR_FILE),
        )
    scorer = tfidf_scorer(model)
    if scorer is not None:
        scorer.save(folder, with_layer=model.coef is None)


def load_tfidf(path: str) -> TfidfModel:
    # Spark ML's reader finds a stage's Python class by its Java name: Spark NLP's annotators
    # are found only once ``sparknlp`` is imported (it registers their module names).
    if any(
        "com.johnsnowlabs" in f.read_text() for f in Path(path).glob("stages/*/metadata/part-*")
    ):
        require_spark_nlp()
    pipeline = PipelineModel.load(path)
    linear = Path(path).parent / LINEAR_FILE
    if not linear.exists():
        return TfidfModel(pipeline)
    from safetensors.numpy import load_file

    tensors = load_file(str(linear))
    return TfidfModel(pipeline, tensors["coef"], tensors["intercept"])
