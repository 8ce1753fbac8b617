"""The champion gate: the newest fused version replaces the ``champion`` only if it is not worse.

``run_promote`` (after ``evaluate`` in the weekly retraining) scores the candidate (the newest
registered fused version, or one given) and the current champion (the MLflow alias ``champion``
on the fusion's registered model) on the same labelled listings, with the member versions each
fused version recorded, through the evaluation's code (``stages.evaluate.fused_predictions``).
The candidate is promoted when, on every evidence set,

* its weighted F1 is at most ``promotion.max_f1_drop`` below the champion's, and
* no class with at least ``promotion.min_class_support`` listings in the set loses more than
  ``promotion.max_class_recall_drop`` of recall;

otherwise it is refused and marked ``challenger``. A project's first fused model becomes
champion without a comparison. Every decision is one row of ``gold.model_decisions``.

Evidence sets: the test split, and the analysts' review decisions that fall in it
(``review_corrections``: the listings of the split an analyst accepted or corrected in the review
app, whose labels are then the analysts' codes, see ``features/splits.py``). The second set is
judged by the same :func:`compare` once it holds ``promotion.min_review_rows`` listings; below
that its figures are recorded in the decision's ``evidence`` JSON without deciding.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pyspark.sql import functions as F

from catalog_classifier.config import Config, PromotionConfig
from catalog_classifier.features.splits import latest_reviews
from catalog_classifier.models.members import FUSION
from catalog_classifier.models.metrics import weighted_f1
from catalog_classifier.stages.evaluate import FUSION_TABLES, MemberCache, fused_predictions
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.registry import CHALLENGER, CHAMPION, Registry
from catalog_classifier.storage.spark import job_step
from catalog_classifier.storage.tables import (
    BRONZE_REVIEW_DECISIONS,
    GOLD_MODEL_DECISIONS,
    REVIEW_CORRECTED,
)

log = logging.getLogger(__name__)

PROMOTED, REFUSED, FIRST, UNCHANGED = "promoted", "refused", "first", "unchanged"
TEST_SPLIT_EVIDENCE = "test_split"
REVIEW_EVIDENCE = "review_corrections"


@dataclass(frozen=True)
class Evidence:
    """Labelled listings on which both versions are judged: the true class indices and each
    version's predicted class indices, row for row."""

    name: str
    labels: np.ndarray
    champion: np.ndarray
    candidate: np.ndarray


@dataclass
class Comparison:
    """The figures of one evidence set and whether the candidate passes on it."""

    evidence: str
    rows: int
    candidate_f1: float
    champion_f1: float
    worst_recall_drop: float | None
    worst_class: int | None
    recalls: list[dict[str, Any]]
    failures: list[str]
    # Why the set did not decide (too few listings), when it did not.
    note: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "candidate_weighted_f1": round(self.candidate_f1, 6),
            "champion_weighted_f1": round(self.champion_f1, 6),
            "f1_drop": round(self.champion_f1 - self.candidate_f1, 6),
            "worst_class_recall_drop": None
            if self.worst_recall_drop is None
            else round(self.worst_recall_drop, 6),
            "worst_class": self.worst_class,
            "passed": self.passed,
            "failures": self.failures,
            **({"note": self.note} if self.note else {}),
            "class_recalls": self.recalls,
        }


def reviewed_listings(lakehouse: Lakehouse) -> np.ndarray:
    """Listings whose latest review decision corrected their label: an analyst's own code. An
    accepted prediction is a model's answer confirmed, not evidence to judge models by (such
    listings never reach the test split: features/splits.py)."""
    if not lakehouse.exists(BRONZE_REVIEW_DECISIONS):
        return np.array([], dtype=np.int64)
    latest = latest_reviews(lakehouse.read(BRONZE_REVIEW_DECISIONS))
    rows = latest.where(F.col("decision") == REVIEW_CORRECTED).select("productid").collect()
    return np.array([int(r["productid"]) for r in rows], dtype=np.int64)


def class_recalls(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Recall of each class index (NaN where the class has no listing)."""
    support = np.bincount(labels, minlength=n_classes).astype(float)
    hits = np.bincount(labels[predicted == labels], minlength=n_classes).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, hits / support, np.nan)


def compare(evidence: Evidence, codes: Sequence[int], cfg: PromotionConfig) -> Comparison:
    """Judge the candidate against the champion on one evidence set."""
    labels = np.asarray(evidence.labels, int)
    n_classes = len(codes)
    candidate_f1 = weighted_f1(labels, evidence.candidate)
    champion_f1 = weighted_f1(labels, evidence.champion)
    support = np.bincount(labels, minlength=n_classes)
    before = class_recalls(labels, np.asarray(evidence.champion, int), n_classes)
    after = class_recalls(labels, np.asarray(evidence.candidate, int), n_classes)
    checked = np.flatnonzero(support >= cfg.min_class_support)
    recalls = [
        {
            "prdtypecode": int(codes[i]),
            "support": int(support[i]),
            "champion_recall": round(float(before[i]), 6),
            "candidate_recall": round(float(after[i]), 6),
        }
        for i in checked
    ]
    worst_drop: float | None = None
    worst_class: int | None = None
    if len(checked):
        drops = before[checked] - after[checked]
        at = int(np.argmax(drops))
        worst_drop, worst_class = float(drops[at]), int(codes[checked[at]])
    failures = []
    if len(labels) == 0:
        failures.append(f"{evidence.name}: no labelled listing to judge on")
    f1_drop = champion_f1 - candidate_f1
    if f1_drop > cfg.max_f1_drop:
        failures.append(
            f"{evidence.name}: weighted F1 {candidate_f1:.4f} is {f1_drop:.4f} below the "
            f"champion's {champion_f1:.4f} (allowed {cfg.max_f1_drop:.4f})"
        )
    if worst_drop is not None and worst_drop > cfg.max_class_recall_drop:
        failures.append(
            f"{evidence.name}: recall of class {worst_class} fell by {worst_drop:.4f} "
            f"(allowed {cfg.max_class_recall_drop:.4f})"
        )
    return Comparison(
        evidence.name,
        len(labels),
        candidate_f1,
        champion_f1,
        worst_drop,
        worst_class,
        recalls,
        failures,
    )


@dataclass
class PromoteSummary:
    decision: str  # promoted | refused | first | unchanged
    candidate_version: str
    champion_before: str | None
    champion_after: str
    reason: str
    candidate_f1: float | None = None
    champion_f1: float | None = None
    comparisons: list[Comparison] = field(default_factory=list)
    decision_id: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "decision": self.decision,
            "candidate_version": self.candidate_version,
            "champion_before": self.champion_before,
            "champion_after": self.champion_after,
            "candidate_weighted_f1": self.candidate_f1,
            "champion_weighted_f1": self.champion_f1,
            "reason": self.reason,
            "evidence": {c.evidence: c.as_dict() for c in self.comparisons},
            "seconds": round(self.seconds, 1),
        }

    def format(self) -> str:
        lines = [
            f"Champion gate: fused version {self.candidate_version} {self.decision}; champion "
            f"{self.champion_before or '(none)'} -> {self.champion_after} ({self.seconds:.1f} s)",
            f"  {self.reason}",
        ]
        for c in self.comparisons:
            worst = (
                "no class with enough listings"
                if c.worst_recall_drop is None
                else f"worst class recall drop {c.worst_recall_drop:+.4f} (class {c.worst_class})"
            )
            lines.append(
                f"  {c.evidence}: {c.rows} listings, weighted F1 {c.candidate_f1:.4f} vs "
                f"champion {c.champion_f1:.4f}; {worst}"
            )
        return "\n".join(lines)


def run_promote(
    lakehouse: Lakehouse,
    config: Config,
    candidate: str | None = None,
    split: str = "test",
    registry: Registry | None = None,
) -> PromoteSummary:
    """Judge the newest fused version (or ``candidate``) against the champion; move the
    aliases and write the decision to ``gold.model_decisions``."""
    started = time.monotonic()
    cfg = config.promotion
    registry = registry or Registry(config, lakehouse.root)
    candidate = candidate or registry.latest_version(FUSION)
    if candidate is None:
        raise LookupError("promote: no fused model is registered: train the fusion first")
    champion = registry.alias_version(FUSION, CHAMPION)
    if champion == str(candidate):
        reason = f"fused version {candidate} already is the champion: nothing to decide"
        log.info("promote: %s", reason)
        return PromoteSummary(
            UNCHANGED,
            str(candidate),
            champion,
            champion,
            reason,
            seconds=time.monotonic() - started,
        )
    input_versions = lakehouse.versions(FUSION_TABLES)
    cache: MemberCache = {}
    with job_step(lakehouse.spark, f"promote: fused version {candidate} on {split}"):
        challenger = fused_predictions(lakehouse, config, registry, split, candidate, cache)
    labels = challenger.members.labels
    candidate_pred = challenger.fused.argmax(1)
    candidate_f1 = weighted_f1(labels, candidate_pred)
    comparisons: list[Comparison] = []
    if champion is None:
        decision = FIRST
        reason = (
            f"first fused model of the project: version {candidate} becomes champion without a "
            f"comparison (weighted F1 {candidate_f1:.4f} on {split}, {len(labels)} listings)"
        )
        champion_f1 = None
    else:
        with job_step(lakehouse.spark, f"promote: champion version {champion} on {split}"):
            current = fused_predictions(lakehouse, config, registry, split, champion, cache)
        if not np.array_equal(current.members.productids, challenger.members.productids):
            raise RuntimeError("promote: the two versions were not scored on the same listings")
        champion_pred = current.fused.argmax(1)
        comparisons = [
            compare(
                Evidence(TEST_SPLIT_EVIDENCE, labels, champion_pred, candidate_pred),
                config.label_codes,
                cfg,
            )
        ]
        reviewed = np.isin(challenger.members.productids, reviewed_listings(lakehouse))
        if reviewed.any():
            review = compare(
                Evidence(
                    REVIEW_EVIDENCE,
                    labels[reviewed],
                    champion_pred[reviewed],
                    candidate_pred[reviewed],
                ),
                config.label_codes,
                cfg,
            )
            if review.rows < cfg.min_review_rows:
                review.note = (
                    f"{review.rows} reviewed listings in {split}: fewer than "
                    f"promotion.min_review_rows ({cfg.min_review_rows}), recorded, not judged"
                )
                review.failures = []
            comparisons.append(review)
        champion_f1 = comparisons[0].champion_f1
        failures = [f for c in comparisons for f in c.failures]
        decision = REFUSED if failures else PROMOTED
        if failures:
            reason = "; ".join(failures)
        else:
            reason = (
                f"not worse than champion {champion} beyond the tolerances: weighted F1 "
                f"{candidate_f1:.4f} vs {champion_f1:.4f}"
            )
    champion_after = champion if decision == REFUSED else str(candidate)
    if decision == REFUSED:
        registry.set_alias(FUSION, CHALLENGER, str(candidate))
    else:
        registry.set_alias(FUSION, CHAMPION, str(candidate))
        if registry.alias_version(FUSION, CHALLENGER) == str(candidate):
            # A once-refused version now promoted (e.g. looser tolerances) is no challenger.
            registry.client.delete_registered_model_alias(
                registry.registered_name(FUSION), CHALLENGER
            )
    assert champion_after is not None
    summary = PromoteSummary(
        decision,
        str(candidate),
        champion,
        champion_after,
        reason,
        candidate_f1,
        champion_f1,
        comparisons,
        decision_id=datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6],
    )
    name = registry.registered_name(FUSION)
    write_decision(lakehouse, config, summary, name, split, len(labels), input_versions)
    summary.seconds = time.monotonic() - started
    log.info("promote done: %s", json.dumps(summary.as_dict()))
    if decision == REFUSED:
        log.warning("promote: fused version %s refused: %s", candidate, reason)
    return summary


def decision_row(
    config: Config,
    summary: PromoteSummary,
    registered_model: str,
    split: str,
    rows: int,
    input_versions: dict[str, int | None],
    at: datetime,
) -> dict[str, Any]:
    """The ``gold.model_decisions`` row of a decision."""
    cfg = config.promotion
    main = summary.comparisons[0] if summary.comparisons else None
    evidence: dict[str, Any] = {c.evidence: c.as_dict() for c in summary.comparisons}
    if main is None:
        evidence[TEST_SPLIT_EVIDENCE] = {
            "rows": rows,
            "candidate_weighted_f1": summary.candidate_f1,
            "note": "no champion to compare with",
        }
    evidence.setdefault(
        REVIEW_EVIDENCE,
        {"rows": 0, "note": f"no listing of {split} has an analyst's decision yet"},
    )
    return {
        "decision_id": summary.decision_id,
        "decided_at": at,
        "registered_model": registered_model,
        "candidate_version": summary.candidate_version,
        "champion_version_before": summary.champion_before,
        "champion_version_after": summary.champion_after,
        "decision": summary.decision,
        "reason": summary.reason,
        "split": split,
        "rows": int(rows),
        "candidate_weighted_f1": float(summary.candidate_f1 or 0.0),
        "champion_weighted_f1": summary.champion_f1,
        "worst_class_recall_drop": main.worst_recall_drop if main else None,
        "worst_class": main.worst_class if main else None,
        "max_f1_drop": float(cfg.max_f1_drop),
        "max_class_recall_drop": float(cfg.max_class_recall_drop),
        "min_class_support": int(cfg.min_class_support),
        "evidence": json.dumps(evidence),
        "input_versions": json.dumps(input_versions),
    }


def write_decision(
    lakehouse: Lakehouse,
    config: Config,
    summary: PromoteSummary,
    registered_model: str,
    split: str,
    rows: int,
    input_versions: dict[str, int | None],
) -> None:
    at = datetime.now(UTC).replace(microsecond=0)
    row = decision_row(config, summary, registered_model, split, rows, input_versions, at)
    values = [tuple(row[c] for c in GOLD_MODEL_DECISIONS.column_names)]
    frame = lakehouse.spark.createDataFrame(values, GOLD_MODEL_DECISIONS.spark_schema())
    lakehouse.append(GOLD_MODEL_DECISIONS, frame)
