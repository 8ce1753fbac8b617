"""Feeding PyTorch from Spark DataFrames through Petastorm, with every epoch's rows counted.

``make_spark_converter`` materialises a DataFrame once as parquet under a cache folder;
``make_torch_dataloader`` then reads it for each epoch. Petastorm's default thread pool silently
returned no rows in some epochs (STACK.md), so the pool is a process or dummy pool, and each epoch
must see exactly as many rows as the DataFrame had: a short epoch raises
:class:`RowCountError` instead of training on part of the data.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

CACHE_DIR_CONF = "petastorm.spark.converter.parentCacheDirUrl"

# petastorm 0.13.1 on pyarrow 14 warns about pyarrow's deprecated APIs on every piece it reads
# (hundreds of lines per epoch, nothing a user can act on): silenced at their source.
for _module in ("petastorm", r"petastorm\..*"):
    warnings.filterwarnings("ignore", category=FutureWarning, module=_module)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=_module)

# What petastorm logs about each feed it builds and reads, five lines a feed that say nothing a
# user can act on (the float32 conversion is asked for; the parquet files are small because the
# data sets are; the row groups are read from the footers, as they must be for parquet that
# petastorm did not write): dropped at their loggers. Its other messages still show, and
# ``PetastormFeed`` logs the rows it materialised.
PETASTORM_NOISE = {
    "petastorm.spark.spark_dataset_converter": (
        "Converting floating-point columns to",
        "Materialize dataframe to url",
        "The median size",
    ),
    "petastorm.etl.dataset_metadata": (
        "Failed loading Unischema from metadata",
        "Recovering rowgroup information",
    ),
}


class _DropMessages(logging.Filter):
    """Drops a logger's records whose message (before formatting) starts with a prefix."""

    def __init__(self, prefixes: Sequence[str]) -> None:
        super().__init__()
        self.prefixes = tuple(prefixes)

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefixes)


for _logger_name, _prefixes in PETASTORM_NOISE.items():
    logging.getLogger(_logger_name).addFilter(_DropMessages(_prefixes))


class RowCountError(RuntimeError):
    """An epoch read a different number of rows than the data set holds."""


def _cache_url(path: str) -> str:
    return path if "://" in path else Path(path).absolute().as_uri()


class PetastormFeed:
    """A DataFrame materialised once for Petastorm; one checked torch loader per epoch."""

    def __init__(
        self,
        spark: SparkSession,
        df: DataFrame,
        cache_dir: str,
        name: str,
        reader_pool: str = "dummy",
        workers: int = 2,
    ) -> None:
        if reader_pool not in ("process", "dummy"):
            raise ValueError("reader_pool must be process or dummy: the thread pool loses rows")
        from petastorm.spark import make_spark_converter

        spark.conf.set(CACHE_DIR_CONF, _cache_url(cache_dir))
        self.name = name
        self.reader_pool = reader_pool
        self.workers = workers
        # float64 columns become float32: what torch trains on.
        self.converter = make_spark_converter(df, dtype="float32")
        self.rows = len(self.converter)
        self.epochs_read = 0
        log.info("petastorm feed %s: %d rows materialised", name, self.rows)

    @contextmanager
    def epoch(
        self,
        batch_size: int,
        shuffle: bool = True,
        seed: int | None = None,
        transform: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
        edit_fields: Sequence[tuple[str, Any, tuple[int | None, ...], bool]] | None = None,
        removed_fields: list[str] | None = None,
    ) -> Iterator[Iterator[dict[str, Any]]]:
        """Yield an iterator of batches (dicts of tensors) over exactly one epoch.

        ``transform`` runs in Petastorm's workers on each pandas batch (decoding, augmentation);
        ``edit_fields`` declares the columns it adds or changes, as Petastorm's TransformSpec
        wants them: (name, numpy dtype, shape, nullable).
        """
        from petastorm import TransformSpec

        spec = (
            TransformSpec(transform, edit_fields=edit_fields or [], removed_fields=removed_fields)
            if transform is not None or removed_fields
            else None
        )
        kwargs: dict[str, Any] = {
            "batch_size": batch_size,
            "num_epochs": 1,
            "reader_pool_type": self.reader_pool,
            "shuffle_row_groups": shuffle,
            "seed": seed,
            "transform_spec": spec,
            # Rows are shuffled across row groups in a buffer as large as the data set (capped).
            "shuffling_queue_capacity": min(self.rows, 20_000) if shuffle else 0,
        }
        if self.reader_pool == "process":
            kwargs["workers_count"] = self.workers
        with self.converter.make_torch_dataloader(**kwargs) as loader:
            yield self._counted(loader)

    def _counted(self, loader: Any) -> Iterator[dict[str, Any]]:
        seen = 0
        for batch in loader:
            first = next(iter(batch.values()))
            seen += len(first)
            yield batch
        self.epochs_read += 1
        if seen != self.rows:
            raise RowCountError(
                f"petastorm feed {self.name}: epoch {self.epochs_read} read {seen} rows, "
                f"expected {self.rows}"
            )

    def delete(self) -> None:
        """Remove the materialised parquet files."""
        try:
            self.converter.delete()
        except Exception as exc:  # noqa: BLE001 - a leftover cache folder is not worth failing on
            log.warning("petastorm feed %s: cache not deleted: %s", self.name, exc)

    def __enter__(self) -> PetastormFeed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.delete()
