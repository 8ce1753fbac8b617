"""The features stage: bronze listings and images -> silver text and image features.

Incremental by default: a listing is computed when its ``content_sha256`` differs from the one
its silver row was computed from (or it has none), an image likewise by ``sha256``. ``full``
recomputes everything. Text and images are computed at the same time (two Spark jobs submitted
from two driver threads share the executors), each in one Spark job that writes Delta.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from catalog_classifier.config import Config
from catalog_classifier.crashpoints import crash_point
from catalog_classifier.features.image import changed_duplicate_groups, image_features
from catalog_classifier.features.text import text_features
from catalog_classifier.storage.incremental import missing_rows
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.spark import job_step
from catalog_classifier.storage.tables import (
    BRONZE_IMAGES,
    BRONZE_LISTINGS,
    FEATURE_TABLES,
    SILVER_IMAGE_FEATURES,
    SILVER_TEXT_FEATURES,
)

log = logging.getLogger(__name__)

ARROW_BATCH_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"


@dataclass
class StepSummary:
    computed: int = 0
    inserted: int = 0
    updated: int = 0
    seconds: float = 0.0
    # Rows of the table with a problem, by kind (text: cleaning failed; images: not valid).
    problems: dict[str, int] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        return self.computed / self.seconds if self.seconds else 0.0


@dataclass
class FeaturesSummary:
    full: bool
    text: StepSummary = field(default_factory=StepSummary)
    images: StepSummary = field(default_factory=StepSummary)
    duplicate_rows_updated: int = 0
    table_versions: dict[str, int | None] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for step in ("text", "images"):
            out[step]["rows_per_s"] = round(getattr(self, step).rows_per_s, 1)
        out["seconds"] = round(self.seconds, 2)
        return out

    def format(self) -> str:
        mode = "full recompute" if self.full else "incremental"
        lines = [f"Features finished in {self.seconds:.1f} s ({mode})"]
        for name, step in (("text", self.text), ("images", self.images)):
            lines.append(
                f"  {name:7} {step.computed:>9,} computed ({step.inserted:,} new, "
                f"{step.updated:,} updated) in {step.seconds:.1f} s, {step.rows_per_s:,.0f} rows/s"
            )
            for problem, count in sorted(step.problems.items()):
                lines.append(f"          {problem:28} {count:>9,}")
        lines.append(f"  duplicate groups: {self.duplicate_rows_updated:,} image rows updated")
        lines.append(
            "  table versions: " + ", ".join(f"{k}={v}" for k, v in self.table_versions.items())
        )
        return "\n".join(lines)


def listings_to_compute(listings: DataFrame, text: DataFrame | None) -> DataFrame:
    """Listings with no text features yet, or whose content changed since they were computed."""
    return missing_rows(listings, text, ["productid", "content_sha256"])


def images_to_compute(images: DataFrame, features: DataFrame | None) -> DataFrame:
    """Images with no features yet, or whose bytes changed since they were computed."""
    return missing_rows(images, features, ["imageid", "sha256"])


def _problem_counts(lakehouse: Lakehouse, column: str) -> dict[str, int]:
    """Rows of the table with a problem, by kind (``problem`` or ``invalid_reason``)."""
    spec = SILVER_TEXT_FEATURES if column == "problem" else SILVER_IMAGE_FEATURES
    rows = (
        lakehouse.read(spec)
        .filter(F.col(column).isNotNull())
        .groupBy(F.regexp_extract(column, r"^[a-z_]+", 0).alias("problem"))
        .count()
        .collect()
    )
    return {r["problem"]: r["count"] for r in rows}


def _spread_over_cores(todo: DataFrame, lakehouse: Lakehouse) -> DataFrame:
    """``todo`` in at least twice as many partitions as the executors have cores.

    Bronze tables come in few large files (one per ingest batch or MERGE), read as one
    partition each: a full recompute would run the features on one core. Twice the cores lets a
    core that finishes early take another share.
    """
    parallelism = lakehouse.spark.sparkContext.defaultParallelism
    if todo.rdd.getNumPartitions() < parallelism:
        return todo.repartition(2 * parallelism)
    return todo


def run_text_features(
    lakehouse: Lakehouse, config: Config, computed_at: datetime, full: bool
) -> StepSummary:
    started = time.monotonic()
    listings = lakehouse.read(BRONZE_LISTINGS)
    existing = (
        None
        if full or not lakehouse.exists(SILVER_TEXT_FEATURES)
        else lakehouse.read(SILVER_TEXT_FEATURES)
    )
    pending = listings_to_compute(listings, existing)
    # A join, cheap; without it the merge would stage its (no) rows: a run with nothing to
    # compute writes nothing at all, and so passes on a read-only lakehouse.
    if pending.isEmpty():
        log.info("text features: no new or changed listing")
        return StepSummary(seconds=time.monotonic() - started)
    todo = _spread_over_cores(pending, lakehouse)
    log.info("text features: computing %s listings", "all" if existing is None else "new/changed")
    # Into a table with no row yet (absent, or at version 0: only its creation) nothing can
    # match: an insert-only MERGE, one pass, not one to find the touched files and one to
    # rewrite them (200,000 listings: see docs/experiments.md). Told by the log's newest
    # commit, not by a query, so a nightly run pays nothing for it. A concurrent first run is
    # still merged on the key, so no listing gets two rows.
    fresh = lakehouse.version(SILVER_TEXT_FEATURES) in (None, 0)
    result = lakehouse.merge(
        SILVER_TEXT_FEATURES,
        text_features(todo, computed_at, config.features.languages),
        update=not fresh,
    )
    step = StepSummary(result.rows, result.inserted, result.updated, time.monotonic() - started)
    log.info(
        "text features: %d listings in %.1f s (%.0f listings/s)",
        step.computed,
        step.seconds,
        step.rows_per_s,
    )
    return step


def run_image_features(
    lakehouse: Lakehouse, config: Config, computed_at: datetime, full: bool
) -> StepSummary:
    started = time.monotonic()
    images = lakehouse.read(BRONZE_IMAGES)
    existing = (
        None
        if full or not lakehouse.exists(SILVER_IMAGE_FEATURES)
        else lakehouse.read(SILVER_IMAGE_FEATURES)
    )
    pending = images_to_compute(images, existing)
    if pending.isEmpty():  # as for the text: nothing to compute writes nothing
        log.info("image features: no new or changed image")
        return StepSummary(seconds=time.monotonic() - started)
    todo = _spread_over_cores(pending, lakehouse)
    log.info("image features: computing %s images", "all" if existing is None else "new/changed")
    features = image_features(
        todo, computed_at, config.ingest.max_image_pixels, config.features.blank_max_spread
    )
    result = lakehouse.merge(SILVER_IMAGE_FEATURES, features)
    step = StepSummary(result.rows, result.inserted, result.updated, time.monotonic() - started)
    log.info(
        "image features: %d images in %.1f s (%.0f images/s)",
        step.computed,
        step.seconds,
        step.rows_per_s,
    )
    return step


def refresh_duplicate_groups(lakehouse: Lakehouse) -> int:
    """Recompute which images share a perceptual hash, over the whole table; write changes."""
    features = lakehouse.read(SILVER_IMAGE_FEATURES)
    result = lakehouse.merge_changes(
        SILVER_IMAGE_FEATURES,
        changed_duplicate_groups(features),
        update_columns=["duplicate_group", "duplicate_count"],
        insert=False,
    )
    return result.updated


def run_features(lakehouse: Lakehouse, config: Config, full: bool = False) -> FeaturesSummary:
    """Compute the silver feature tables from bronze; return what was done."""
    started = time.monotonic()
    summary = FeaturesSummary(full=full)
    computed_at = datetime.now(UTC).replace(microsecond=0)
    for spec in (BRONZE_LISTINGS, BRONZE_IMAGES, *FEATURE_TABLES):
        lakehouse.ensure(spec)
    spark = lakehouse.spark
    previous_batch = spark.conf.get(ARROW_BATCH_CONF, None)
    # Image rows are large: small Arrow batches bound the Python workers' memory.
    spark.conf.set(ARROW_BATCH_CONF, str(config.features.image_batch_rows))
    try:

        def text_step() -> StepSummary:
            with job_step(spark, "features: text"):
                return run_text_features(lakehouse, config, computed_at, full)

        def image_step() -> StepSummary:
            with job_step(spark, "features: images"):
                return run_image_features(lakehouse, config, computed_at, full)

        # Each thread names its own Spark jobs (job descriptions are per thread).
        steps: dict[str, Callable[[], StepSummary]] = {"text": text_step, "images": image_step}
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="features") as pool:
            futures = {name: pool.submit(step) for name, step in steps.items()}
            summary.text = futures["text"].result()
            summary.images = futures["images"].result()
    finally:
        if previous_batch is None:
            spark.conf.unset(ARROW_BATCH_CONF)
        else:
            spark.conf.set(ARROW_BATCH_CONF, previous_batch)
    if summary.text.computed:
        summary.text.problems = _problem_counts(lakehouse, "problem")
    if summary.images.computed:
        summary.images.problems = _problem_counts(lakehouse, "invalid_reason")
    crash_point("features:before_duplicate_groups")
    # Every run, not only those that computed images: a run killed between its image MERGE and
    # this refresh left the groups stale, and the next run (with nothing new to compute) must
    # heal them. It writes only the rows whose group changed (none: no commit).
    summary.duplicate_rows_updated = refresh_duplicate_groups(lakehouse)
    summary.table_versions = lakehouse.versions(FEATURE_TABLES)
    summary.seconds = time.monotonic() - started
    log.info("features done: %s", summary.as_dict())
    return summary
