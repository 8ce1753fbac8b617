"""Fused batch scoring into ``gold.predictions``: the nightly job catalog teams rely on.

Plan of one run:

1. ``scoring_inputs``: every listing with its cleaned text and, when it has one, its image and
   whether the image is usable (decoded, not blank), plus ``input_hash`` over what is scored.
2. ``pending_inputs``: the listings with no prediction from this fused model version, or whose
   ``input_hash`` changed since (``--full``: all).
3. In chunks of ``scoring.chunk_rows`` listings (one MERGE commit each, so a crash loses at
   most one chunk and the next run resumes where it stopped): one iterator-of-batches pandas
   UDF (``mapInPandas``) calls each member's batch predictor (the TF-IDF member's numpy/Arrow
   scorer, the text encoder, the image model: each loaded once per Python worker and reused
   across batches, images decoded in the workers, the GPU used when the executor has one) and
   fuses the members' probabilities. A member may add columns in Spark before the UDF
   (``FittedMember.prepare_scoring``: the TF-IDF member's Spark ML engine does). With
   ``scoring.cascade`` and a cascade saved with the fused model (models/cascade.py), the
   members run cheapest first and a listing leaves as soon as those run so far are confident
   enough: the expensive members score only the rest, in the same pass.
4. MERGE on (productid, model_version); ``members`` holds each member's opinion as JSON,
   ``members_scored`` which members scored the listing.

Nothing is collected to the driver: the rows stream from the Delta inputs through the UDF into
the staged MERGE.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from catalog_classifier.config import Config
from catalog_classifier.crashpoints import crash_point
from catalog_classifier.logs import worker_logger
from catalog_classifier.models import cascade as scoring_cascade
from catalog_classifier.models.fusion import FusionModel
from catalog_classifier.models.member import SCORING_KEY_COLUMNS, BatchPredictor, FittedMember
from catalog_classifier.models.members import FUSION, get_member, member_names
from catalog_classifier.storage.incremental import missing_rows
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.migrations import migrate_predictions
from catalog_classifier.storage.registry import CHAMPION, Registry, remove_download
from catalog_classifier.storage.shipping import local_path, needs_shipping, ship_folder
from catalog_classifier.storage.spark import job_step, torch_threads_per_task
from catalog_classifier.storage.tables import (
    BRONZE_IMAGES,
    BRONZE_LISTINGS,
    GOLD_PREDICTIONS,
    SILVER_IMAGE_FEATURES,
    SILVER_TEXT_FEATURES,
)

log = logging.getLogger(__name__)

SCORING_INPUT_TABLES = (BRONZE_LISTINGS, SILVER_TEXT_FEATURES, BRONZE_IMAGES, SILVER_IMAGE_FEATURES)


@dataclass(frozen=True)
class ScoringModels:
    """A registered fused model and its members: the driver's downloads, or (``shipped``) the
    worker paths of their copies on the executors."""

    version: str
    fusion_folder: str
    member_folders: dict[str, str]
    member_versions: dict[str, str]
    label_codes: tuple[int, ...]
    category_names: dict[int, str]
    review_threshold: float

    def fitted(self) -> dict[str, FittedMember]:
        """The members, loaded from their folders, in the registry's order."""
        return {
            name: get_member(name).load(Path(self.member_folders[name]))
            for name in member_names()
            if name in self.member_folders
        }

    def remove_downloads(self) -> None:
        """Remove the local copies the registry downloaded (each run makes its own)."""
        for folder in [self.fusion_folder, *self.member_folders.values()]:
            remove_download(folder)

    def shipped(self, spark: SparkSession, fitted: dict[str, FittedMember]) -> ScoringModels:
        """These models with their folders shipped to the executors (storage.shipping): the
        fused model's folder and, through each fitted member's ``ship``, what the members'
        batch predictors read. The returned object's folders are worker paths."""
        for member in fitted.values():
            member.ship(spark)
        return dataclasses.replace(
            self,
            fusion_folder=ship_folder(spark, self.fusion_folder),
            member_folders={name: m.worker_folder for name, m in fitted.items()},
        )


def load_scoring_models(
    registry: Registry, config: Config, version: str | None = None
) -> ScoringModels:
    """Download the fused model (the ``champion``, or ``version``) and the member versions it
    was fit on.

    Without a version: the version the champion gate (``promote``) marked ``champion``; in a
    project trained before the gate existed (no alias yet), the latest version, with a warning.
    The folders are local to the driver: in local mode the workers read them directly; on a
    cluster ``run_score`` ships them to the executors (:meth:`ScoringModels.shipped`).
    """
    if version is None:
        version = registry.alias_version(FUSION, CHAMPION)
        if version is None:
            log.warning(
                "score: no fused version is marked %s (run promote after evaluate); "
                "scoring with the latest version",
                CHAMPION,
            )
        else:
            log.info("score: fused version %s is the %s", version, CHAMPION)
    fused = registry.load(FUSION, version)
    folders: dict[str, str] = {}
    versions: dict[str, str] = {}
    try:
        model = FusionModel.load(fused.folder)
        for member, member_version in model.members.items():
            get_member(member)  # a fused model whose member is no longer registered fails here
            loaded = registry.load(member, member_version)
            folders[member], versions[member] = str(loaded.folder), loaded.version
    except BaseException:
        for folder in [str(fused.folder), *folders.values()]:
            remove_download(folder)
        raise
    codes = tuple(int(c) for c in fused.meta["label_codes"])
    names = {int(k): v for k, v in fused.meta["category_names"].items()}
    if list(codes) != config.label_codes:
        log.warning("score: the fused model's categories differ from conf; using the model's")
    return ScoringModels(
        fused.version,
        str(fused.folder),
        folders,
        versions,
        codes,
        names,
        model.review_threshold,
    )


def scoring_inputs(lakehouse: Lakehouse) -> DataFrame:
    """Every listing: productid, imageid, text, text_lower, title (the cleaned designation),
    title_lower, has_text, content (the image's bytes when it is usable, else null),
    image_state, input_hash."""
    listings = lakehouse.read(BRONZE_LISTINGS).select("productid", "imageid")
    text = lakehouse.read(SILVER_TEXT_FEATURES).select(
        "productid", "text", "text_lower", F.col("designation_clean").alias("title")
    )
    images = lakehouse.read(BRONZE_IMAGES).select("imageid", "productid", "sha256", "content")
    quality = lakehouse.read(SILVER_IMAGE_FEATURES).select(
        "imageid", "productid", "is_valid", "is_blank"
    )
    rows = (
        listings.join(text, "productid", "left")
        .join(images, ["imageid", "productid"], "left")
        .join(quality, ["imageid", "productid"], "left")
    )
    image_state = (
        F.when(F.col("sha256").isNull(), "missing")
        .when(F.col("is_valid").isNull(), "not_featured")
        .when(~F.col("is_valid"), "invalid")
        .when(F.coalesce(F.col("is_blank"), F.lit(False)), "blank")
        .otherwise("usable")
    )
    text_col = F.coalesce(F.col("text"), F.lit(""))
    return rows.select(
        "productid",
        "imageid",
        text_col.alias("text"),
        F.coalesce(F.col("text_lower"), F.lit("")).alias("text_lower"),
        F.coalesce(F.col("title"), F.lit("")).alias("title"),
        F.lower(F.coalesce(F.col("title"), F.lit(""))).alias("title_lower"),
        (F.length(F.trim(text_col)) > 0).alias("has_text"),
        image_state.alias("image_state"),
        F.when(image_state == "usable", F.col("content")).alias("content"),
        F.sha2(
            F.concat_ws("\u0001", text_col, F.coalesce(F.col("sha256"), F.lit("")), image_state),
            256,
        ).alias("input_hash"),
    )


def pending_inputs(
    lakehouse: Lakehouse, inputs: DataFrame, model_version: str, full: bool = False
) -> DataFrame:
    """Listings without a prediction from ``model_version`` for their current inputs."""
    if full or not lakehouse.exists(GOLD_PREDICTIONS):
        return inputs
    done = lakehouse.read(GOLD_PREDICTIONS).filter(F.col("model_version") == model_version)
    return missing_rows(inputs, done, ["productid", "input_hash"])


# ----------------------------------------------------------------------------- the UDF


@dataclass
class FusedScorer:
    """``mapInPandas`` function: batches of scoring inputs -> rows of ``gold.predictions``.
    Each member's batch predictor loads its weights once per Python worker."""

    models: ScoringModels
    input_versions: str
    scored_at: datetime
    predictors: dict[str, BatchPredictor]
    stats: dict[str, int] = field(default_factory=dict)
    # scoring.cascade: use the cascade saved with the fused model (if it has one).
    cascade: bool = True

    def __call__(self, batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        logger = worker_logger("catalog_classifier.stages.score")
        fusion = _fusion_model(self.models.fusion_folder)
        started, done = time.monotonic(), 0
        for batch in batches:
            yield self.score_batch(batch, fusion)
            done += len(batch)
            logger.info(
                "score: %d listings in this task (%.1f listings/s)",
                done,
                done / max(time.monotonic() - started, 1e-9),
            )

    def score_batch(self, batch: pd.DataFrame, fusion: FusionModel) -> pd.DataFrame:
        cascade = _cascade(self.models.fusion_folder) if self.cascade else None
        scored = scoring_cascade.cascade_batch(
            batch, self.predictors, fusion, cascade, len(self.models.label_codes)
        )
        out = self.rows(batch, scored.fused, scored.used, scored.probs, scored.available)
        out["members_scored"] = _members_scored(list(self.predictors), scored.scored, len(batch))
        return out

    def rows(
        self,
        batch: pd.DataFrame,
        fused: np.ndarray,
        used: np.ndarray,
        probs: dict[str, np.ndarray],
        available: dict[str, np.ndarray],
    ) -> pd.DataFrame:
        codes = np.asarray(self.models.label_codes)
        names = self.models.category_names
        best = fused.argmax(1)
        confidence = fused[np.arange(len(fused)), best]
        top = np.argsort(-fused, axis=1)[:, :3]
        out = pd.DataFrame(
            {
                "productid": batch["productid"].astype("int64").to_numpy(),
                "model_version": self.models.version,
                "prdtypecode": codes[best].astype("int32"),
                "category": np.asarray([names.get(int(c), str(c)) for c in codes], object)[best],
                "confidence": confidence.astype("float64"),
                "top3": _top_json(codes[top], fused[np.arange(len(fused))[:, None], top]),
                "needs_review": confidence < self.models.review_threshold,
                "review_threshold": float(self.models.review_threshold),
                "modalities": used.astype(str),
            }
        )
        out["members"] = _members_json(codes, probs, available, len(batch))
        out["members_scored"] = "+".join(probs)  # every member (score_batch: the cascade's)
        # pandas-stubs' pd.array overloads take no Series, which pandas accepts as any sequence
        out["imageid"] = pd.array(batch["imageid"], dtype="Int64")  # type: ignore[call-overload]
        out["input_hash"] = batch["input_hash"].to_numpy()
        out["input_versions"] = self.input_versions
        out["scored_at"] = pd.Timestamp(self.scored_at)
        return out[GOLD_PREDICTIONS.column_names]


def _top_json(codes: np.ndarray, probabilities: np.ndarray) -> list[str]:
    """Per row, the JSON list ``[{"prdtypecode": c, "probability": p}, ...]`` (p rounded to 6
    decimals): the text ``json.dumps`` gives, formatted from one template (7x faster)."""
    item = '{"prdtypecode": %d, "probability": %r}'
    template = "[" + ", ".join([item] * codes.shape[1]) + "]"
    rounded = [[round(p, 6) for p in row] for row in probabilities.tolist()]
    return [
        template % tuple(value for pair in zip(c, p, strict=True) for value in pair)
        for c, p in zip(codes.astype(np.int64).tolist(), rounded, strict=True)
    ]


def _members_json(
    codes: np.ndarray,
    probs: dict[str, np.ndarray],
    available: dict[str, np.ndarray],
    n: int,
) -> list[str]:
    """Per row, ``{member: {"prdtypecode": c, "probability": p}}`` for the members available
    on it (p rounded to 6 decimals, as in ``top3``)."""
    opinions: list[dict[str, dict[str, float | int]]] = [{} for _ in range(n)]
    for member, matrix in probs.items():
        best = matrix.argmax(1)
        chosen = matrix[np.arange(n), best]
        for row in np.flatnonzero(available[member]):
            opinions[row][member] = {
                "prdtypecode": int(codes[best[row]]),
                "probability": round(float(chosen[row]), 6),
            }
    return [json.dumps(o) for o in opinions]


def _members_scored(names: list[str], scored: dict[str, np.ndarray], n: int) -> list[str]:
    """Per row, the members that scored it joined by '+', in the registry's order."""
    masks = [(m, scored[m]) for m in names if m in scored]
    return ["+".join(m for m, mask in masks if mask[row]) for row in range(n)]


@functools.cache
def _cascade(folder: str) -> scoring_cascade.Cascade | None:
    """Once per Python worker: the fused model's cascade, None if it has none."""
    return scoring_cascade.Cascade.load(Path(local_path(folder)))


@functools.cache
def _fusion_model(folder: str) -> FusionModel:
    """Once per Python worker."""
    return FusionModel.load(Path(local_path(folder)))


def score_frame(
    spark_rows: DataFrame,
    models: ScoringModels,
    fitted: dict[str, FittedMember],
    config: Config,
    input_versions: dict[str, int | None],
    scored_at: datetime,
    torch_threads: int = 1,
) -> DataFrame:
    """Scoring inputs -> ``gold.predictions`` rows (lazy: runs when written)."""
    rows = spark_rows
    # Only the columns the members read cross to Python: for a TF-IDF-only model neither
    # the original text nor the image bytes.
    keep = list(SCORING_KEY_COLUMNS)
    for member in fitted.values():
        rows = member.prepare_scoring(rows, config)
        keep += member.scoring_columns(config)
    scorer = FusedScorer(
        models,
        json.dumps(input_versions, sort_keys=True),
        scored_at,
        {name: m.batch_predictor(config, torch_threads) for name, m in fitted.items()},
        cascade=config.scoring.cascade,
    )
    return rows.select(*dict.fromkeys(keep)).mapInPandas(scorer, GOLD_PREDICTIONS.spark_schema())


# ------------------------------------------------------------------------------- the run


@dataclass
class ScoreSummary:
    model_version: str
    pending: int = 0
    scored: int = 0
    chunks: int = 0
    inserted: int = 0
    updated: int = 0
    seconds: float = 0.0
    per_category: dict[str, int] = field(default_factory=dict)
    needs_review_share: float = 0.0
    predictions_version: int | None = None
    # Seconds per step of the run: load_models, load_members (e.g. the TF-IDF member's scorer,
    # or its Spark ML pipeline), pending, chunks (scoring + MERGE), summary.
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def listings_per_s(self) -> float:
        return self.scored / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "pending": self.pending,
            "scored": self.scored,
            "chunks": self.chunks,
            "inserted": self.inserted,
            "updated": self.updated,
            "seconds": round(self.seconds, 2),
            "listings_per_s": round(self.listings_per_s, 1),
            "needs_review_share": round(self.needs_review_share, 4),
            "per_category": self.per_category,
            "predictions_version": self.predictions_version,
            "steps": self.steps,
        }

    def format(self) -> str:
        lines = [
            f"scored {self.scored} listings with fused model version {self.model_version} "
            f"in {self.seconds:.1f} s ({self.listings_per_s:.0f} listings/s), "
            f"{self.chunks} commit(s): {self.inserted} new, {self.updated} updated",
            f"needing review: {self.needs_review_share:.1%}",
        ]
        top = sorted(self.per_category.items(), key=lambda kv: -kv[1])[:10]
        lines += [f"  {count:>7}  {name}" for name, count in top]
        return "\n".join(lines)


def run_score(
    lakehouse: Lakehouse,
    config: Config,
    model_version: str | None = None,
    full: bool = False,
    registry: Registry | None = None,
) -> ScoreSummary:
    """Score the pending listings with the fused model, chunk by chunk, into gold.predictions."""
    started = mark = time.monotonic()
    registry = registry or Registry(config, lakehouse.root)
    models = load_scoring_models(registry, config, model_version)
    fitted: dict[str, FittedMember] = {}
    try:
        summary = ScoreSummary(models.version)

        def step(name: str) -> None:
            nonlocal mark
            now = time.monotonic()
            summary.steps[name] = round(summary.steps.get(name, 0.0) + now - mark, 2)
            mark = now

        step("load_models")
        fitted.update(models.fitted())
        for member in fitted.values():
            # A fixed cost (the TF-IDF member: ~1 s for its saved scorer, 8-14 s for a Spark ML
            # pipeline): timed apart from the chunks, whose seconds then grow with the listings.
            member.scoring_columns(config)
        spark = lakehouse.spark
        scoring = models
        if needs_shipping(spark):
            # A cluster's executors cannot read the driver's downloads: the folders go the way
            # Spark ships files, and the downloads are removed at once, so a step that still
            # read a driver path fails (tests/test_jobs.py) instead of working by chance
            # where the driver and an executor share a disk.
            scoring = models.shipped(spark, fitted)
            models.remove_downloads()
        step("load_members")
        spark.conf.set(
            "spark.sql.execution.arrow.maxRecordsPerBatch", config.scoring.arrow_batch_rows
        )
        versions = lakehouse.versions(SCORING_INPUT_TABLES)
        log.info(
            "score: fused model version %s (members %s) on inputs %s",
            models.version,
            models.member_versions,
            versions,
        )
        migrate_predictions(lakehouse)
        lakehouse.ensure(GOLD_PREDICTIONS)
        inputs = scoring_inputs(lakehouse)
        # Only the keys are materialised (the images stay in Delta until their chunk reads them).
        pending = (
            pending_inputs(lakehouse, inputs, models.version, full)
            .select("productid", "input_hash", F.xxhash64("productid").alias("chunk_key"))
            .localCheckpoint(eager=True)
        )
        summary.pending = pending.count()
        step("pending")
        chunks = max(1, math.ceil(summary.pending / max(1, config.scoring.chunk_rows)))
        log.info("score: %d listings to score, in %d chunk(s)", summary.pending, chunks)
        threads = torch_threads_per_task(spark, config.scoring.torch_threads)
        partitions = config.scoring.partitions or 2 * spark.sparkContext.defaultParallelism
        scored_at = datetime.now(UTC).replace(microsecond=0)
        for chunk in range(chunks if summary.pending else 0):
            chunk_started = time.monotonic()
            keys = pending.filter(F.pmod(F.col("chunk_key"), F.lit(chunks)) == chunk)
            # Delta reads of a few files give a partition or two: spread the chunk over every core
            # (the UDFs' cost is per row, the shuffle's small beside it).
            part = inputs.join(keys.drop("chunk_key"), ["productid", "input_hash"]).repartition(
                partitions, "productid"
            )
            with job_step(spark, f"score chunk {chunk + 1}/{chunks}"):
                predictions = score_frame(
                    part, scoring, fitted, config, versions, scored_at, threads
                )
                result = lakehouse.merge(GOLD_PREDICTIONS, predictions)
            summary.chunks += 1
            summary.scored += result.rows
            summary.inserted += result.inserted
            summary.updated += result.updated
            summary.predictions_version = result.version
            crash_point("score:after_chunk")
            step("chunks")
            elapsed = time.monotonic() - started
            log.info(
                "score: chunk %d/%d: %d listings in %.1f s; %d of %d done (%.1f listings/s)",
                chunk + 1,
                chunks,
                result.rows,
                time.monotonic() - chunk_started,
                summary.scored,
                summary.pending,
                summary.scored / max(elapsed, 1e-9),
            )
        pending.unpersist()
        current = lakehouse.read(GOLD_PREDICTIONS).filter(F.col("model_version") == models.version)
        # One job for both figures (per category, and how many need review).
        counts = (
            current.groupBy("category")
            .agg(F.count(F.lit(1)).alias("count"), F.sum(F.col("needs_review").cast("long")))
            .collect()
        )
        summary.per_category = {r["category"]: int(r["count"]) for r in counts}
        total = sum(summary.per_category.values())
        review = sum(int(r[2] or 0) for r in counts)
        summary.needs_review_share = review / total if total else 0.0
        step("summary")
    finally:
        # The downloaded model folders go whatever happens: a failed run must not leave a
        # copy of every model in the temporary folder (nightly, that fills the disk).
        _cleanup(models, fitted)
    summary.seconds = time.monotonic() - started
    log.info("score done: %s", json.dumps(summary.as_dict()))
    return summary


def _cleanup(models: ScoringModels, fitted: dict[str, FittedMember]) -> None:
    for member in fitted.values():
        member.release()
    models.remove_downloads()

