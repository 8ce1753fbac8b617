"""The contract every model member follows, in the spirit of Spark ML's ``Estimator.fit ->
Model.transform``.

A *member* is one module under :mod:`catalog_classifier.models.members` holding one subclass
of :class:`Member`, registered by name. It declares:

* ``name`` (its registry name and its key in fusion and in ``gold.predictions.members``),
  ``modality`` (``text`` or ``image``: which listings it can score, and which availability
  groups of the fusion it belongs to) and ``input_tables`` (the Delta tables it reads, recorded
  with each registered version);
* ``labelled_rows``: the labelled rows it trains and is evaluated on;
* ``training_text_kinds``: the kinds of training-only texts (``bronze.training_texts``) its
  training parts add to those rows (never evaluated: :mod:`~catalog_classifier.models.datasets`);
* ``fit``: train on the rows of split ``train``, select on ``valid``, save a self-contained
  folder (its ``model.json`` holds everything needed to use it again, settings included);
* ``fit_fold``: the same training on a cross-validation fold, returning the held-out fold's
  probabilities;
* ``load``: a folder -> a :class:`FittedMember`, which predicts a split for evaluation
  (``predict_rows``) and builds the :class:`BatchPredictor` the scoring UDF calls on each
  pandas batch.

Training, evaluation, cross-validation, fusion and scoring loop over the registered members and
name none of them.
"""

from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pyspark import SparkContext
from pyspark.sql import DataFrame, SparkSession

from catalog_classifier.config import MODEL_NAMES, Config
from catalog_classifier.models.datasets import (
    IMAGE_INPUT_TABLES,
    TEXT_INPUT_TABLES,
    image_rows,
    text_rows,
    training_text_rows,
)
from catalog_classifier.models.metrics import classification_metrics
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.registry import MODEL_META
from catalog_classifier.storage.shipping import ship_folder
from catalog_classifier.storage.tables import TableSpec

Modality = Literal["text", "image"]

# The scoring inputs every batch carries (``stages.score.scoring_inputs``); a member names the
# others it reads in ``scoring_columns``.
SCORING_KEY_COLUMNS = ("productid", "imageid", "has_text", "input_hash")


@dataclass
class MemberFit:
    """What training a member produced, for the registry."""

    mode: str
    params: dict[str, Any]
    metrics: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)


class BatchPredictor(ABC):
    """A fitted member inside the scoring UDF: pickled to the workers, loads its weights there
    on first use (once per Python worker) and predicts each pandas batch."""

    @abstractmethod
    def predict(self, batch: pd.DataFrame, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities (n, n_classes), available (n,) bool) for the batch's listings; rows
        the member cannot score (no text, no usable image) are unavailable."""


class FittedMember(ABC):
    """A member loaded from its saved folder, with its own settings."""

    def __init__(self, folder: Path, meta: dict[str, Any]) -> None:
        self.folder, self.meta = Path(folder), meta
        # Where the executors find the folder (storage.shipping): the folder itself until
        # ``ship`` sends it to a cluster's executors.
        self.worker_folder = str(self.folder)

    def ship(self, spark: SparkSession) -> None:
        """Send what the batch predictor reads to the executors (the folder; a member that
        reads more, such as an encoder outside its folder, ships that too). After this the
        driver's copy of the folder may be removed."""
        self.worker_folder = ship_folder(spark, self.folder)

    @property
    def mode(self) -> str:
        return str(self.meta.get("mode", ""))

    @abstractmethod
    def predict_rows(self, lakehouse: Lakehouse, config: Config, rows: DataFrame) -> pd.DataFrame:
        """Class probabilities for labelled ``rows`` (those of ``labelled_rows``): a frame with
        productid, label and ``probabilities`` (an ndarray per row)."""

    @abstractmethod
    def batch_predictor(self, config: Config, torch_threads: int) -> BatchPredictor:
        """The object the scoring UDF calls on each batch."""

    def prepare_scoring(self, rows: DataFrame, config: Config) -> DataFrame:
        """A chance to add columns in Spark before the UDF (default: none)."""
        return rows

    def scoring_columns(self, config: Config) -> tuple[str, ...]:
        """The scoring input columns the batch predictor reads."""
        return ()

    def release(self) -> None:  # noqa: B027 (optional hook: most members cache nothing)
        """Drop what the driver cached for this folder (called after a run)."""


class Member(ABC):
    """One model member: how it trains, cross-validates and loads (see the module's doc)."""

    name: ClassVar[str]
    modality: ClassVar[Modality]
    description: ClassVar[str] = ""
    # Relative scoring cost per listing it scores (the scoring cascade runs the cheap members
    # first, models/cascade.py); the built-in members' are their shares of the fused scoring
    # time on a CPU (benchmarks/score.py --images, 2026-12-01).
    scoring_cost: ClassVar[float] = 1.0

    @classmethod
    def input_tables(cls) -> tuple[TableSpec, ...]:
        return IMAGE_INPUT_TABLES if cls.modality == "image" else TEXT_INPUT_TABLES

    @classmethod
    def labelled_rows(cls, lakehouse: Lakehouse, config: Config) -> DataFrame:
        """Labelled listings with split, fold and label: those with a usable image for an image
        member, every listing with its cleaned text for a text member."""
        codes = config.label_codes
        if cls.modality == "image":
            return image_rows(lakehouse, codes)
        return text_rows(lakehouse, codes)

    @classmethod
    def training_text_kinds(cls, config: Config) -> tuple[str, ...]:
        """The kinds of ``bronze.training_texts`` this member learns from (default: none; a
        member reading them needs its training to take rows without a productid)."""
        return ()

    @classmethod
    def training_texts(cls, lakehouse: Lakehouse, config: Config) -> DataFrame | None:
        """This member's training texts (:func:`~catalog_classifier.models.datasets.
        training_text_rows`), or None; ``with_training_texts`` adds them to a training part."""
        kinds = cls.training_text_kinds(config)
        if cls.modality != "text" or not kinds:
            return None
        return training_text_rows(lakehouse, config.label_codes, kinds)

    @classmethod
    @abstractmethod
    def fit(
        cls, lakehouse: Lakehouse, config: Config, rows: DataFrame, folder: Path
    ) -> MemberFit:
        """Train on ``rows`` of split train (select on valid) and save into ``folder``. The
        rows of split train may include training texts (origin not ``listing``)."""

    @classmethod
    @abstractmethod
    def fit_fold(
        cls, lakehouse: Lakehouse, config: Config, training: DataFrame, test: DataFrame
    ) -> tuple[list[int], list[int], np.ndarray]:
        """Train on ``training`` (split train/valid) and return the productids, labels and class
        probabilities of ``test``."""

    @classmethod
    def fold_settings(cls, config: Config) -> dict[str, Any]:
        """Every setting a fold's result depends on besides its rows (JSON-able): part of the
        key under which ``evaluate --cv`` keeps a finished fold. The default is on the safe
        side: the whole training section but the list of models, how the work runs (threads,
        Petastorm's reader) and the other models' sections, this member's own section of
        ``members``, the label map. A member narrows it (and adds, e.g., its encoder's weights
        id). Other members' settings are left out so that, e.g., fine-tuning the text member
        does not retrain every other member's folds."""
        train = dataclasses.asdict(config.train)
        # How the work runs, not what it computes.
        for name in ("models", "reader_pool", "reader_workers", "petastorm_cache", "torch_threads"):
            train.pop(name, None)
        for name in MODEL_NAMES:  # the other models' sections (fusion: never a fold's input)
            if name != cls.name:
                train.pop(name, None)
        if "image" in train:  # where the backbones run on a CPU: features equal to 1e-5
            train["image"].pop("cpu_runtime", None)
        return {
            "train": train,
            "members": config.members.get(cls.name, {}),
            "label_codes": list(config.label_codes),
        }

    @classmethod
    @abstractmethod
    def load(cls, folder: Path) -> FittedMember:
        """The fitted member saved in ``folder``."""


# ------------------------------------------------------------------------------- helpers


def write_meta(
    folder: Path, member: str, mode: str, config: Config, extra: dict[str, Any]
) -> None:
    """``model.json``: kind, mode, label map, creation time and the member's own settings."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "kind": member,
        "mode": mode,
        "label_codes": config.label_codes,
        "category_names": {str(k): v for k, v in config.category_names.items()},
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **extra,
    }
    (folder / MODEL_META).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")


def read_meta(folder: Path) -> dict[str, Any]:
    return json.loads((Path(folder) / MODEL_META).read_text(encoding="utf-8"))


def metrics_of(predictions: pd.DataFrame, prefix: str = "") -> dict[str, float]:
    """Weighted F1, macro F1 and accuracy of a frame with ``label`` and ``probabilities``."""
    if predictions.empty:
        return {f"{prefix}weighted_f1": 0.0, f"{prefix}macro_f1": 0.0, f"{prefix}accuracy": 0.0}
    probs = np.stack(predictions["probabilities"].tolist())
    metrics = classification_metrics(predictions["label"].tolist(), probs.argmax(1).tolist())
    return {f"{prefix}{k}": v for k, v in metrics.items()}


def labels_of(rows: DataFrame) -> list[int]:
    return [int(r["label"]) for r in rows.select("label").collect()]


def probabilities_matrix(frame: pd.DataFrame, n_classes: int) -> np.ndarray:
    """The ``probabilities`` column as an (n, n_classes) array."""
    if not len(frame):
        return np.zeros((0, n_classes))
    return np.stack([np.asarray(p, dtype=np.float64) for p in frame["probabilities"]])


def keep_columns(
    rows: DataFrame, wanted: Sequence[str] = ("productid", "imageid", "label")
) -> list[str]:
    return [c for c in wanted if c in rows.columns]


class _Local:
    """``shared``'s stand-in for a broadcast where no Spark context is active."""

    def __init__(self, value: Any) -> None:
        self.value = value


def shared(value: Any) -> Any:
    """``value`` as a Spark broadcast (``.value`` on the workers) when a Spark context is
    active, else a plain holder with the same ``.value``."""
    context = SparkContext._active_spark_context
    return context.broadcast(value) if context is not None else _Local(value)
