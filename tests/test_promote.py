"""The champion gate: the first fused model becomes champion, a model trained on shuffled labels
is refused while scoring keeps the champion, a good retrain is promoted; each decision is one
row of gold.model_decisions. On a copy of the session's trained lakehouse (its registry keeps
no alias, so the other tests still score the latest version)."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from tests.helpers import copy_lakehouse, rows_of

from catalog_classifier.config import Config
from catalog_classifier.models.members import FUSION, get_member, member_names
from catalog_classifier.stages.promote import (
    FIRST,
    PROMOTED,
    REFUSED,
    UNCHANGED,
    Evidence,
    compare,
    run_promote,
)
from catalog_classifier.stages.score import load_scoring_models, run_score
from catalog_classifier.stages.train import train_fusion, train_member
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.registry import CHALLENGER, CHAMPION, Registry
from catalog_classifier.storage.tables import (
    BRONZE_REVIEW_DECISIONS,
    GOLD_MODEL_DECISIONS,
    GOLD_PREDICTIONS,
    SILVER_SPLITS,
)

CODES = [10, 40, 50]


# ------------------------------------------------------------------------ the decision rule


def _gate(**values: float) -> Config:
    base = Config()
    return dataclasses.replace(base, promotion=dataclasses.replace(base.promotion, **values))


def test_the_rule_refuses_an_f1_drop_or_one_class_losing_recall_and_ignores_rare_classes():
    labels = np.array([0] * 200 + [1] * 40 + [2] * 5)
    champion = labels.copy()
    cfg = _gate(max_f1_drop=0.05, max_class_recall_drop=0.10, min_class_support=20).promotion

    same = compare(Evidence("test_split", labels, champion, champion.copy()), CODES, cfg)
    assert same.passed and same.worst_recall_drop == 0.0
    assert same.candidate_f1 == same.champion_f1 == 1.0

    # Class 40 loses 6 of 40 (recall -0.15) while weighted F1 falls by less than 0.05.
    candidate = champion.copy()
    candidate[200:206] = 0
    worse = compare(Evidence("test_split", labels, champion, candidate), CODES, cfg)
    assert 0 < worse.champion_f1 - worse.candidate_f1 < 0.05
    assert worse.worst_class == 40 and worse.worst_recall_drop == pytest.approx(0.15)
    assert len(worse.failures) == 1 and "class 40" in worse.failures[0]

    # All 5 listings of class 50 lost: under min_class_support, only weighted F1 sees it.
    rare = champion.copy()
    rare[240:] = 0
    judged = compare(Evidence("test_split", labels, champion, rare), CODES, cfg)
    assert 50 not in [r["prdtypecode"] for r in judged.recalls]
    assert judged.passed == (judged.champion_f1 - judged.candidate_f1 <= 0.05)
    strict = compare(Evidence("test_split", labels, champion, rare), CODES, _gate().promotion)
    assert not strict.passed and "weighted F1" in strict.failures[0]

    assert not compare(
        Evidence("test_split", labels[:0], champion[:0], champion[:0]), CODES, cfg
    ).passed


# ---------------------------------------------------------------------- on a trained project


def shuffled(rows: DataFrame, seed: int) -> DataFrame:
    """The rows with their labels permuted among them (same class counts, no signal left)."""
    ids = rows.select("productid", F.row_number().over(Window.orderBy("productid")).alias("i"))
    order = Window.orderBy(F.xxhash64("productid", F.lit(seed)))
    labels = rows.select("label", "prdtypecode", F.row_number().over(order).alias("i"))
    mapping = ids.join(labels, "i").drop("i")
    return rows.drop("label", "prdtypecode").join(mapping, "productid")


def register(registry: Registry, outcome) -> str:
    registered = registry.log_model(
        outcome.model, outcome.folder, outcome.params, outcome.metrics, outcome.history, {}
    )
    return registered.version


def retrain_members(lakehouse: Lakehouse, config: Config, registry: Registry, shuffle: bool):
    for name in member_names():
        member = get_member(name)
        rows = member.labelled_rows(lakehouse, config)
        folder = Path(tempfile.mkdtemp(prefix=f"gate-{name}-")) / "model"
        try:
            outcome = train_member(
                lakehouse, config, name, folder, shuffled(rows, 7) if shuffle else rows
            )
            register(registry, outcome)
        finally:
            shutil.rmtree(folder.parent, ignore_errors=True)


def refit_fusion(lakehouse: Lakehouse, config: Config, registry: Registry) -> str:
    folder = Path(tempfile.mkdtemp(prefix="gate-fusion-")) / "model"
    try:
        return register(registry, train_fusion(lakehouse, config, folder, registry))
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


def decisions(lakehouse: Lakehouse) -> list[dict]:
    rows = lakehouse.read(GOLD_MODEL_DECISIONS).orderBy("decided_at", "decision_id").collect()
    return [r.asDict() for r in rows]


def test_the_gate_over_a_project_s_life(trained, small_config, tmp_path, caplog):
    source, _ = trained
    lakehouse = copy_lakehouse(source, tmp_path / "lakehouse")
    # The generated test split is small: check every class with 3 listings or more.
    config = dataclasses.replace(
        small_config,
        promotion=dataclasses.replace(
            small_config.promotion, min_class_support=3, min_review_rows=5
        ),
    )
    registry = Registry(config, lakehouse.root)
    assert (
        registry.experiment_id
        and str(tmp_path)
        in registry.client.get_experiment(registry.experiment_id).artifact_location
    )
    first_version = registry.latest_version(FUSION)

    # A project trained before the gate: no champion yet, scoring falls back to the latest.
    with caplog.at_level(logging.WARNING, logger="catalog_classifier.stages.score"):
        models = load_scoring_models(registry, config)
    assert models.version == first_version
    assert any("no fused version is marked champion" in r.message for r in caplog.records)
    models.remove_downloads()

    # 1. The first fused model becomes champion, without a comparison.
    first = run_promote(lakehouse, config)
    assert first.decision == FIRST and first.champion_before is None
    assert first.champion_after == first_version
    assert registry.alias_version(FUSION, CHAMPION) == first_version
    assert registry.alias_version(FUSION, CHALLENGER) is None
    # Nothing new: no decision, no row.
    assert run_promote(lakehouse, config).decision == UNCHANGED
    assert [d["decision"] for d in decisions(lakehouse)] == [FIRST]

    # 2. A good retrain (the TF-IDF member retrained, the fusion refit) is promoted.
    folder = Path(tempfile.mkdtemp(prefix="gate-tfidf-")) / "model"
    register(registry, train_member(lakehouse, config, "tfidf", folder))
    shutil.rmtree(folder.parent, ignore_errors=True)
    good = refit_fusion(lakehouse, config, registry)
    promoted = run_promote(lakehouse, config)
    assert promoted.decision == PROMOTED, promoted.reason
    assert promoted.champion_before == first_version and promoted.champion_after == good
    assert registry.alias_version(FUSION, CHAMPION) == good
    assert promoted.candidate_f1 >= promoted.champion_f1 - config.promotion.max_f1_drop

    # 3. Every member trained on shuffled labels, then fused: refused, marked challenger.
    retrain_members(lakehouse, config, registry, shuffle=True)
    bad = refit_fusion(lakehouse, config, registry)
    # Analysts corrected eight listings of the test split in the review app: a second evidence
    # set (their codes are the split's labels). Two more accepted a prediction: a model's own
    # answer, no evidence to judge models by (the evidence stays at the eight corrections).
    confirmed = lakehouse.read(SILVER_SPLITS).where("split = 'test'").orderBy("productid")
    other_code = {
        c: config.label_codes[(i + 1) % len(config.label_codes)]
        for i, c in enumerate(config.label_codes)
    }
    rows_of(
        lakehouse,
        BRONZE_REVIEW_DECISIONS,
        [
            {
                "decision_id": str(uuid.uuid4()),
                "productid": r["productid"],
                "predicted_code": other_code[r["prdtypecode"]] if i < 8 else r["prdtypecode"],
                "decision": "corrected" if i < 8 else "accepted",
                "prdtypecode": r["prdtypecode"],
            }
            for i, r in enumerate(confirmed.limit(10).collect())
        ],
    )
    refused = run_promote(lakehouse, config)
    assert refused.decision == REFUSED
    assert refused.candidate_version == bad and refused.champion_after == good
    assert refused.champion_f1 - refused.candidate_f1 > config.promotion.max_f1_drop
    assert registry.alias_version(FUSION, CHAMPION) == good
    assert registry.alias_version(FUSION, CHALLENGER) == bad

    rows = decisions(lakehouse)
    assert [r["decision"] for r in rows] == [FIRST, PROMOTED, REFUSED]
    last = rows[-1]
    assert (last["candidate_version"], last["champion_version_before"]) == (bad, good)
    assert last["champion_version_after"] == good and last["split"] == "test"
    assert last["candidate_weighted_f1"] == pytest.approx(refused.candidate_f1)
    assert last["champion_weighted_f1"] == pytest.approx(refused.champion_f1)
    assert last["max_f1_drop"] == config.promotion.max_f1_drop
    assert last["min_class_support"] == 3 and "weighted F1" in last["reason"]
    evidence = json.loads(last["evidence"])
    assert evidence["test_split"]["passed"] is False
    review = evidence["review_corrections"]
    assert review["rows"] == 8 and "note" not in review  # judged: min_review_rows is 5
    assert review["candidate_weighted_f1"] <= review["champion_weighted_f1"]
    assert "no listing of test" in json.loads(rows[1]["evidence"])["review_corrections"]["note"]
    if last["worst_class"] is not None:
        assert last["worst_class"] in config.label_codes
    assert rows[0]["champion_weighted_f1"] is None and rows[0]["champion_version_before"] is None

    # The nightly keeps scoring with the champion; --model still forces a version.
    summary = run_score(lakehouse, config, registry=registry)
    assert summary.model_version == good and summary.scored > 0
    versions = {
        r[0] for r in lakehouse.read(GOLD_PREDICTIONS).select("model_version").distinct().collect()
    }
    assert versions == {good}
    forced = load_scoring_models(registry, config, bad)
    assert forced.version == bad
    forced.remove_downloads()
