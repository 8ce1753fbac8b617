"""Run-to-run monitoring: one ``gold.run_metrics`` row per scoring run, with named alerts.

``run_monitor`` (the last step of the nightly, after ``score``) reads the predictions that the
fused version scored last (or one given) wrote since the previous monitor run, the listings'
text and image features, the previous ``gold.run_metrics`` row and the train split's labels,
and measures

* inputs: listings scored, share without a description, share without a usable image (missing,
  invalid or blank), language mix;
* predictions: category shares, mean confidence, review share, and the text-image agreement
  (share of the listings both the ``text`` and ``image`` members scored where they agree);
* drift: the population stability index (PSI) of the category shares against the previous run
  and against the training labels, and of the language mix against the previous run.

The conf's ``monitoring`` thresholds raise named alerts (:data:`ALERTS`), logged as warnings and
written in the row; ``monitoring.fail_on_alert`` makes the job exit 1 when one is raised.

The measures are pure functions of pandas frames (:func:`measure`, :func:`psi`,
:func:`raise_alerts`); only the columns they need are collected from Spark, one row per scored
listing (a few tens of bytes each).
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import functions as F

from catalog_classifier.config import Config, MonitoringConfig
from catalog_classifier.reports.monitoring import build_monitoring_page
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.spark import job_step
from catalog_classifier.storage.tables import (
    BRONZE_LISTINGS,
    GOLD_PREDICTIONS,
    GOLD_RUN_METRICS,
    SILVER_IMAGE_FEATURES,
    SILVER_SPLITS,
    SILVER_TEXT_FEATURES,
)

log = logging.getLogger(__name__)

CATEGORY_SHIFT = "category_shift"
LANGUAGE_SHIFT = "language_shift"
EMPTY_DESCRIPTIONS = "empty_descriptions"
MISSING_IMAGES = "missing_images"
LOW_AGREEMENT = "low_agreement"
REVIEW_SHARE_HIGH = "review_share_high"
ALERTS = (
    CATEGORY_SHIFT,
    LANGUAGE_SHIFT,
    EMPTY_DESCRIPTIONS,
    MISSING_IMAGES,
    LOW_AGREEMENT,
    REVIEW_SHARE_HIGH,
)
UNKNOWN_LANGUAGE = "unknown"
# Floor of a share in the PSI: a category absent on one side would make it infinite.
PSI_FLOOR = 1e-4
MONITOR_TABLES = (
    GOLD_PREDICTIONS,
    SILVER_TEXT_FEATURES,
    SILVER_IMAGE_FEATURES,
    BRONZE_LISTINGS,
    SILVER_SPLITS,
    GOLD_RUN_METRICS,
)


@dataclass(frozen=True)
class Alert:
    name: str
    message: str


@dataclass
class RunMeasures:
    """What one scoring run looked like (before any comparison)."""

    listings_scored: int
    no_description_share: float
    no_image_share: float
    language_mix: dict[str, float]
    category_shares: dict[str, float]
    mean_confidence: float
    review_share: float
    agreement: float | None
    agreement_listings: int


@dataclass
class MonitorSummary:
    run_id: str
    model_version: str | None
    measures: RunMeasures | None
    category_psi_previous: float | None = None
    language_psi_previous: float | None = None
    category_psi_training: float | None = None
    alerts: list[Alert] = field(default_factory=list)
    # The monitoring page written after the run (run_monitor's page_dir), if any.
    page: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model_version": self.model_version,
            "measures": None if self.measures is None else asdict(self.measures),
            "category_psi_previous": self.category_psi_previous,
            "language_psi_previous": self.language_psi_previous,
            "category_psi_training": self.category_psi_training,
            "alerts": [asdict(a) for a in self.alerts],
            "page": self.page,
        }

    def format(self) -> str:
        page = [] if self.page is None else [f"  monitoring page: {self.page}"]
        if self.measures is None:
            return "\n".join(
                ["Monitor: no listing scored since the last monitor run; nothing written", *page]
            )
        m = self.measures
        agreement = "n/a" if m.agreement is None else f"{m.agreement:.3f}"
        lines = [
            f"Monitor: fused version {self.model_version}, {m.listings_scored} listings scored; "
            f"no description {m.no_description_share:.3f}, no usable image "
            f"{m.no_image_share:.3f}, mean confidence {m.mean_confidence:.3f}, review share "
            f"{m.review_share:.3f}, text-image agreement {agreement}",
            f"  category PSI: previous run {_fmt(self.category_psi_previous)}, training "
            f"{_fmt(self.category_psi_training)}; language PSI: previous run "
            f"{_fmt(self.language_psi_previous)}",
        ]
        if self.alerts:
            lines += [f"  ALERT {a.name}: {a.message}" for a in self.alerts]
        else:
            lines.append("  no alert")
        return "\n".join(lines + page)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def shares(values: pd.Series) -> dict[str, float]:
    """Share of each distinct value (keys as strings, so the JSON round-trips), sorted by key."""
    if len(values) == 0:
        return {}
    counts = values.astype(str).value_counts(normalize=True)
    return {str(k): float(v) for k, v in sorted(counts.items())}


def psi(current: Mapping[str, float], reference: Mapping[str, float]) -> float | None:
    """Population stability index sum((a - e) * ln(a / e)) over the union of the keys, each
    share floored at :data:`PSI_FLOOR`; None when either side is empty."""
    if not current or not reference:
        return None
    total = 0.0
    for key in set(current) | set(reference):
        a = max(float(current.get(key, 0.0)), PSI_FLOOR)
        e = max(float(reference.get(key, 0.0)), PSI_FLOOR)
        total += (a - e) * math.log(a / e)
    return total


def _member_code(members: str, member: str) -> int | None:
    try:
        opinion = json.loads(members).get(member)
    except (ValueError, AttributeError):
        return None
    if not isinstance(opinion, dict) or opinion.get("prdtypecode") is None:
        return None
    return int(opinion["prdtypecode"])


def agreement(members: pd.Series) -> tuple[float | None, int]:
    """Share of the listings both the text and image members scored where they agree, and how
    many listings that is (members: the JSON column of gold.predictions)."""
    text = members.map(lambda m: _member_code(m, "text"))
    image = members.map(lambda m: _member_code(m, "image"))
    both = text.notna() & image.notna()
    count = int(both.sum())
    if count == 0:
        return None, 0
    return float((text[both] == image[both]).mean()), count


def measure(predictions: pd.DataFrame, text: pd.DataFrame, images: pd.DataFrame) -> RunMeasures:
    """The run's measures.

    predictions: productid, imageid, prdtypecode, confidence, needs_review, members (one row per
    scored listing); text: productid, has_description, language; images: imageid, is_valid,
    is_blank. A listing missing from text counts as without description and of unknown
    language; one whose image is missing from images has no usable image.
    """
    n = len(predictions)
    if n == 0:
        raise ValueError("monitor: no scored listing to measure")
    listing = predictions[["productid", "imageid"]].merge(
        text[["productid", "has_description", "language"]], on="productid", how="left"
    )
    has_description = listing["has_description"].astype("boolean").fillna(False).astype(bool)
    language = listing["language"].where(listing["language"].notna(), UNKNOWN_LANGUAGE)
    usable = images.loc[
        images["is_valid"].astype(bool) & ~images["is_blank"].astype("boolean").fillna(False),
        "imageid",
    ]
    has_image = listing["imageid"].isin(set(usable.tolist()))
    rate, both = agreement(predictions["members"])
    return RunMeasures(
        listings_scored=n,
        no_description_share=float((~has_description).mean()),
        no_image_share=float((~has_image).mean()),
        language_mix=shares(language),
        category_shares=shares(predictions["prdtypecode"].astype(int)),
        mean_confidence=float(predictions["confidence"].astype(float).mean()),
        review_share=float(predictions["needs_review"].astype(bool).mean()),
        agreement=rate,
        agreement_listings=both,
    )


def raise_alerts(
    measures: RunMeasures,
    cfg: MonitoringConfig,
    category_psi_previous: float | None,
    language_psi_previous: float | None,
    category_psi_training: float | None,
) -> list[Alert]:
    """The named alerts the thresholds raise, each at most once, in :data:`ALERTS` order."""
    alerts: list[Alert] = []
    shifts = [
        f"{against} PSI {value:.4f} > {cfg.max_category_psi}"
        for against, value in (
            ("previous run", category_psi_previous),
            ("training labels", category_psi_training),
        )
        if value is not None and value > cfg.max_category_psi
    ]
    if shifts:
        alerts.append(Alert(CATEGORY_SHIFT, "category shares shifted: " + "; ".join(shifts)))
    if language_psi_previous is not None and language_psi_previous > cfg.max_language_psi:
        alerts.append(
            Alert(
                LANGUAGE_SHIFT,
                f"language mix shifted: previous run PSI {language_psi_previous:.4f} > "
                f"{cfg.max_language_psi}",
            )
        )
    m = measures
    if m.no_description_share > cfg.max_no_description_share:
        alerts.append(
            Alert(
                EMPTY_DESCRIPTIONS,
                f"{m.no_description_share:.3f} of the listings have no description "
                f"(> {cfg.max_no_description_share})",
            )
        )
    if m.no_image_share > cfg.max_no_image_share:
        alerts.append(
            Alert(
                MISSING_IMAGES,
                f"{m.no_image_share:.3f} of the listings have no usable image "
                f"(> {cfg.max_no_image_share})",
            )
        )
    if m.agreement is not None and m.agreement < cfg.min_agreement:
        alerts.append(
            Alert(
                LOW_AGREEMENT,
                f"text and image members agree on {m.agreement:.3f} of {m.agreement_listings} "
                f"listings (< {cfg.min_agreement})",
            )
        )
    if m.review_share > cfg.max_review_share:
        alerts.append(
            Alert(
                REVIEW_SHARE_HIGH,
                f"{m.review_share:.3f} of the listings need review (> {cfg.max_review_share})",
            )
        )
    return alerts


def _latest_version(lakehouse: Lakehouse) -> str | None:
    row = (
        lakehouse.read(GOLD_PREDICTIONS)
        .orderBy(F.col("scored_at").desc(), F.col("model_version").desc())
        .select("model_version")
        .first()
    )
    return None if row is None else str(row[0])


def _previous_row(lakehouse: Lakehouse) -> dict[str, Any] | None:
    if not lakehouse.exists(GOLD_RUN_METRICS):
        return None
    row = lakehouse.read(GOLD_RUN_METRICS).orderBy(F.col("monitored_at").desc()).first()
    return None if row is None else row.asDict()


def _training_shares(lakehouse: Lakehouse) -> dict[str, float]:
    if not lakehouse.exists(SILVER_SPLITS):
        return {}
    labels = (
        lakehouse.read(SILVER_SPLITS).where(F.col("split") == "train").select("prdtypecode")
    ).toPandas()
    return shares(labels["prdtypecode"].astype(int))


def run_monitor(
    lakehouse: Lakehouse,
    config: Config,
    model_version: str | None = None,
    page_dir: str | Path | None = None,
) -> MonitorSummary:
    """Measure the predictions of ``model_version`` (default: the version scored last), compare
    them with the previous run and the training labels, raise the alerts and append the row;
    then, with ``page_dir``, draw the monitoring page of the last runs there."""
    # The train split's category shares: the drift reference and the page's (read once).
    training = _training_shares(lakehouse)
    summary = _measure_and_write(lakehouse, config, model_version, training)
    if page_dir is not None:
        page = build_monitoring_page(lakehouse, config, page_dir, training)
        summary.page = str(page.html_path)
    return summary


def _measure_and_write(
    lakehouse: Lakehouse,
    config: Config,
    model_version: str | None,
    training: dict[str, float],
) -> MonitorSummary:
    cfg = config.monitoring
    run_id = uuid.uuid4().hex
    if not lakehouse.exists(GOLD_PREDICTIONS):
        return MonitorSummary(run_id, None, None)
    version = model_version or _latest_version(lakehouse)
    if version is None:
        return MonitorSummary(run_id, None, None)
    input_versions = lakehouse.versions(MONITOR_TABLES)
    with job_step(lakehouse.spark, f"monitor: measures of fused version {version}"):
        previous = _previous_row(lakehouse)
        # This scoring run's rows: those scored since the previous monitor run (every row of
        # the version at the first run). A rescoring by a new version is all new rows.
        since = None if previous is None else previous["monitored_at"]
        predictions = lakehouse.read(GOLD_PREDICTIONS).where(F.col("model_version") == version)
        if since is not None:
            predictions = predictions.where(F.col("scored_at") > F.lit(since))
        predictions = predictions.select(
            "productid", "imageid", "prdtypecode", "confidence", "needs_review", "members"
        )
        scored = predictions.select("productid")
        # Only the current listings of bronze count (a listing gone from bronze is not scored
        # input any more); text and image features of those listings alone are collected.
        listings = lakehouse.read(BRONZE_LISTINGS).select("productid").join(scored, "productid")
        predictions = predictions.join(listings, "productid")
        text = (
            lakehouse.read(SILVER_TEXT_FEATURES)
            .select("productid", "has_description", "language")
            .join(listings, "productid")
        )
        images = (
            lakehouse.read(SILVER_IMAGE_FEATURES)
            .select("imageid", "is_valid", "is_blank")
            .join(predictions.select("imageid").distinct(), "imageid")
        )
        predictions_pd = predictions.toPandas()
        if predictions_pd.empty:
            log.info(
                "monitor: no listing scored by version %s since %s: nothing to measure",
                version,
                since,
            )
            return MonitorSummary(run_id, version, None)
        measures = measure(predictions_pd, text.toPandas(), images.toPandas())
    summary = MonitorSummary(run_id, version, measures)
    if previous is not None:
        summary.category_psi_previous = psi(
            measures.category_shares, json.loads(previous["category_shares"])
        )
        summary.language_psi_previous = psi(
            measures.language_mix, json.loads(previous["language_mix"])
        )
    summary.category_psi_training = psi(measures.category_shares, training)
    summary.alerts = raise_alerts(
        measures,
        cfg,
        summary.category_psi_previous,
        summary.language_psi_previous,
        summary.category_psi_training,
    )
    for alert in summary.alerts:
        log.warning("monitor: alert %s: %s", alert.name, alert.message)
    write_metrics(lakehouse, cfg, summary, input_versions)
    return summary


def metrics_row(
    cfg: MonitoringConfig,
    summary: MonitorSummary,
    input_versions: Mapping[str, int | None],
    at: datetime,
) -> dict[str, Any]:
    m = summary.measures
    if m is None or summary.model_version is None:
        raise ValueError("monitor: a row needs measures")
    return {
        "run_id": summary.run_id,
        "monitored_at": at,
        "model_version": summary.model_version,
        "listings_scored": m.listings_scored,
        "no_description_share": m.no_description_share,
        "no_image_share": m.no_image_share,
        "language_mix": json.dumps(m.language_mix),
        "category_shares": json.dumps(m.category_shares),
        "mean_confidence": m.mean_confidence,
        "review_share": m.review_share,
        "agreement": m.agreement,
        "agreement_listings": m.agreement_listings,
        "category_psi_previous": summary.category_psi_previous,
        "language_psi_previous": summary.language_psi_previous,
        "category_psi_training": summary.category_psi_training,
        "alerts": json.dumps([asdict(a) for a in summary.alerts]),
        "thresholds": json.dumps(asdict(cfg)),
        "input_versions": json.dumps(dict(input_versions)),
    }


def write_metrics(
    lakehouse: Lakehouse,
    cfg: MonitoringConfig,
    summary: MonitorSummary,
    input_versions: Mapping[str, int | None],
) -> None:
    row = metrics_row(cfg, summary, input_versions, datetime.now(UTC))
    values = [tuple(row[name] for name in GOLD_RUN_METRICS.column_names)]
    frame = lakehouse.spark.createDataFrame(values, GOLD_RUN_METRICS.spark_schema())
    lakehouse.append(GOLD_RUN_METRICS, frame)
