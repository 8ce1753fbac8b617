"""Adding a member is one module, one registry entry and one conf section: a small extra
member (tests/length_member.py) goes through train -> evaluate -> cross-validation -> fusion ->
scoring on the built-in sample with no other edit."""

from __future__ import annotations

import dataclasses
import json

import pytest
from pyspark.sql import functions as F
from tests.helpers import featured_lakehouse
from tests.length_member import LengthMember

from catalog_classifier.models import members
from catalog_classifier.stages.evaluate import run_cross_validation, run_evaluate
from catalog_classifier.stages.score import run_score
from catalog_classifier.stages.train import run_train
from catalog_classifier.storage.registry import Registry
from catalog_classifier.storage.tables import BRONZE_LISTINGS, GOLD_EVALUATIONS, GOLD_PREDICTIONS


@pytest.fixture()
def length_member():
    members.register(LengthMember)  # the one registry entry
    yield LengthMember
    members.unregister(LengthMember.name)


def test_a_new_member_trains_evaluates_fuses_and_scores(
    length_member, spark, small_config, small_sample, tmp_path
):
    # The one conf section.
    config = dataclasses.replace(small_config, members={"length": {"smoothing": 0.5}})
    lakehouse = featured_lakehouse(spark, config, small_sample, tmp_path)

    trained = run_train(lakehouse, config, ["length", "fusion"])
    assert trained.models["length"]["version"] == "1"
    # A weak member (26 valid rows here): the plumbing is under test, not its accuracy.
    assert 0.0 <= trained.models["length"]["valid_weighted_f1"] <= 1.0
    registry = Registry(config, lakehouse.root)
    fused = registry.load("fusion")
    fused.remove_download()  # its meta is read below
    assert fused.meta["members"] == {"length": "1"}

    evaluated = run_evaluate(lakehouse, config, "test", str(tmp_path / "eval"))
    assert [e.model for e in evaluated.evaluations] == ["length", "fusion"]
    cv = run_cross_validation(
        lakehouse, config, 3, str(tmp_path / "cv"), models=["length", "fusion"]
    )
    assert [e.model for e in cv.evaluations] == ["length", "fusion"]
    assert len(cv.evaluations[0].fold_scores) == 3
    gold = lakehouse.read(GOLD_EVALUATIONS).select("model").distinct().toPandas()
    assert set(gold["model"]) == {"length", "fusion"}

    scored = run_score(lakehouse, config)
    listings = lakehouse.read(BRONZE_LISTINGS).count()
    assert scored.scored == listings
    rows = (
        lakehouse.read(GOLD_PREDICTIONS)
        .filter(F.col("model_version") == scored.model_version)
        .select("modalities", "members", "prdtypecode")
        .toPandas()
    )
    opinions = rows["members"].map(json.loads)
    with_text = rows["modalities"] == "length"
    assert with_text.sum() > 0.9 * len(rows)
    assert all(set(o) == {"length"} for o in opinions[with_text])
    assert set(rows["prdtypecode"]) <= set(config.label_codes)


def test_a_member_name_is_registered_once_and_fusion_is_reserved(length_member):
    assert "length" in members.member_names()
    assert members.modalities()["length"] == "text"

    class Clash(LengthMember):
        pass

    with pytest.raises(ValueError, match="already registered"):
        members.register(Clash)

    class Fusion(LengthMember):
        name = "fusion"

    with pytest.raises(ValueError, match="reserved"):
        members.register(Fusion)
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        members.get_member("nope")
