"""Fused batch scoring into gold.predictions: completeness, missing modalities, idempotence,
incremental runs, MERGE keys, and a run killed mid-way then completed."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from tests.conftest import REPO
from tests.helpers import SMALL_TRAINING, copy_lakehouse, jpeg, write_listings, write_zip

from catalog_classifier.models.members import get_member
from catalog_classifier.stages.features import run_features
from catalog_classifier.stages.ingest import run_ingest
from catalog_classifier.stages.score import run_score, scoring_inputs
from catalog_classifier.stages.train import train_fusion
from catalog_classifier.storage.queries import QUERIES, register_views, run_query
from catalog_classifier.storage.registry import Registry
from catalog_classifier.storage.tables import BRONZE_LISTINGS, GOLD_PREDICTIONS


@pytest.fixture(scope="module")
def full_config(small_config):
    """The full fusion (scoring.cascade off): these tests check what every member says about
    each listing; the cascade's rows are checked apart (the last test)."""
    return dataclasses.replace(
        small_config, scoring=dataclasses.replace(small_config.scoring, cascade=False)
    )


@pytest.fixture(scope="module")
def scored(trained, full_config, tmp_path_factory):
    """A copy of the trained project, scored once: these tests add listings, models and
    predictions, which the other modules sharing ``trained`` must not see."""
    source, _ = trained
    lakehouse = copy_lakehouse(source, tmp_path_factory.mktemp("scoring") / "lakehouse")
    first = run_score(lakehouse, full_config)
    return lakehouse, first


def _predictions(lakehouse, version: str):
    return lakehouse.read(GOLD_PREDICTIONS).filter(F.col("model_version") == version)


def test_every_listing_gets_one_prediction_with_its_modalities(scored, full_config):
    lakehouse, first = scored
    listings = lakehouse.read(BRONZE_LISTINGS).count()
    assert first.scored == first.pending == listings and first.chunks == 1
    frame = _predictions(lakehouse, first.model_version).toPandas()
    assert len(frame) == frame["productid"].nunique() == listings
    assert set(frame["prdtypecode"]) <= set(full_config.label_codes)
    assert frame["confidence"].between(0, 1).all()
    assert (frame["needs_review"] == (frame["confidence"] < frame["review_threshold"])).all()
    top3 = json.loads(frame["top3"].iloc[0])
    assert len(top3) == 3 and top3[0]["prdtypecode"] == frame["prdtypecode"].iloc[0]
    assert top3[0]["probability"] == pytest.approx(frame["confidence"].iloc[0], abs=1e-6)
    # Missing modalities: listings whose image is usable are fused with it; the others (no
    # image, invalid or blank) from the text members only, with no image columns.
    states = scoring_inputs(lakehouse).select("productid", "image_state").toPandas()
    merged = frame.merge(states, on="productid")
    with_image = merged["image_state"] == "usable"
    assert (merged.loc[with_image, "modalities"] == "tfidf+text+image").mean() > 0.95
    assert (merged.loc[~with_image, "modalities"] == "tfidf+text").all()
    opinions = merged["members"].map(json.loads)
    assert not any("image" in o for o in opinions[~with_image])
    assert all({"tfidf", "text"} <= set(o) for o in opinions[merged["modalities"] != "image"])
    for o in opinions[with_image & (merged["modalities"] == "tfidf+text+image")]:
        assert set(o) == {"tfidf", "text", "image"}
        assert all(set(v) == {"prdtypecode", "probability"} for v in o.values())
    assert (~with_image).sum() > 0 and with_image.sum() > 0
    assert sum(first.per_category.values()) == listings


def test_a_second_run_with_the_same_model_and_inputs_changes_nothing(scored, full_config):
    lakehouse, first = scored
    before = lakehouse.version(GOLD_PREDICTIONS)
    again = run_score(lakehouse, full_config)
    assert again.pending == again.scored == 0
    assert lakehouse.version(GOLD_PREDICTIONS) == before


def test_only_new_and_changed_listings_are_scored(scored, full_config, spark, tmp_path):
    lakehouse, first = scored
    old = _predictions(lakehouse, first.model_version).toPandas().set_index("productid")
    listing = lakehouse.read(BRONZE_LISTINGS).orderBy("productid").first()
    rows = [
        # a changed listing: same productid and image, new title
        [
            900001,
            "Piscine tubulaire ronde 3,66 m avec pompe",
            "",
            listing["productid"],
            listing["imageid"],
        ],
        # two new listings, one with a new image
        [900002, "Lot de 3 cahiers grands carreaux 96 pages", "", 77000001, 88000001],
        [900003, "Figurine Star Wars Dark Vador 30 cm", "Edition collector", 77000002, 88000002],
    ]
    listings = write_listings(tmp_path / "X_new.csv", rows)
    images = write_zip(tmp_path / "new.zip", {"image_88000002_product_77000002.jpg": jpeg()})
    run_ingest(spark, lakehouse, full_config, [str(listings)], [], [str(images)])
    run_features(lakehouse, full_config)
    summary = run_score(lakehouse, full_config)
    assert summary.scored == 3 and summary.inserted == 2 and summary.updated == 1
    now = _predictions(lakehouse, first.model_version).toPandas().set_index("productid")
    assert len(now) == len(old) + 2
    changed = now.loc[listing["productid"]]
    assert changed["input_hash"] != old.loc[listing["productid"], "input_hash"]
    assert now.loc[77000001, "modalities"] == "tfidf+text"  # its image never arrived
    assert now.loc[77000002, "modalities"] == "tfidf+text+image"
    untouched = old.index.difference([listing["productid"]])
    assert (now.loc[untouched, "scored_at"] == old.loc[untouched, "scored_at"]).all()


def test_a_killed_run_resumes_and_versions_are_separate_merge_keys(scored, full_config, tmp_path):
    lakehouse, first = scored
    registry = Registry(full_config, lakehouse.root)
    outcome = train_fusion(lakehouse, full_config, tmp_path / "fusion", registry)
    v2 = registry.log_model(
        "fusion", outcome.folder, outcome.params, outcome.metrics, [], {}, {"mode": outcome.mode}
    ).version
    log_dir = Path(lakehouse.path(GOLD_PREDICTIONS)) / "_delta_log"
    commits_before = len(list(log_dir.glob("*.json")))
    overrides = [*SMALL_TRAINING, f"train.text.encoder={full_config.train.text.encoder}"]
    command = [sys.executable, str(REPO / "jobs" / "score.py"), "--lakehouse", lakehouse.root]
    command += ["--config", str(REPO / "conf" / "local.yaml")]
    command += ["--model", v2, "--set", "scoring.chunk_rows=40", "--set", "spark.master=local[2]"]
    for setting in overrides:
        command += ["--set", setting]
    job_log = (tmp_path / "score.log").open("w")
    process = subprocess.Popen(
        command, cwd=tmp_path, start_new_session=True, stdout=job_log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 300
    try:
        while len(list(log_dir.glob("*.json"))) == commits_before:
            if process.poll() is not None:
                log_tail = (tmp_path / "score.log").read_text()[-3000:]
                pytest.fail(f"the scoring run ended before its first commit:\n{log_tail}")
            assert time.monotonic() < deadline, "no commit within 5 minutes"
            time.sleep(0.5)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        job_log.close()
    total = lakehouse.read(BRONZE_LISTINGS).count()
    committed = _predictions(lakehouse, v2).count()
    assert 0 < committed < total  # killed between chunk commits: some work is kept
    resumed = run_score(lakehouse, full_config, model_version=v2)
    assert resumed.pending == total - committed and resumed.inserted == total - committed
    keys = lakehouse.read(GOLD_PREDICTIONS).groupBy("productid", "model_version").count()
    assert keys.filter(F.col("count") > 1).count() == 0
    assert (
        _predictions(lakehouse, v2).count() == _predictions(lakehouse, first.model_version).count()
    )


def test_the_catalog_team_queries_run(scored, full_config):
    lakehouse, first = scored
    register_views(lakehouse)
    for name in QUERIES:
        frame = run_query(
            lakehouse,
            name,
            productid=int(_predictions(lakehouse, first.model_version).first()["productid"]),
        )
        assert frame is not None, name
    review = run_query(lakehouse, "review_queue_by_category")
    # The queue shows the newest model version's predictions: the resume test may have scored
    # a second version (refit fusion, its own review flags) before this one runs.
    newest = (
        lakehouse.read(GOLD_PREDICTIONS).agg(F.max(F.col("model_version").cast("long"))).first()[0]
    )
    expected = _predictions(lakehouse, str(newest)).filter("needs_review").count()
    assert int(review["listings"].sum()) == expected
    history = run_query(
        lakehouse,
        "product_history",
        productid=int(_predictions(lakehouse, first.model_version).first()["productid"]),
    )
    assert len(history) >= 1


def test_the_python_tfidf_path_gives_spark_mls_features_and_probabilities(
    scored, full_config, spark, request
):
    """Scoring applies the TF-IDF member in plain Python (scoring.tfidf_engine: python); it
    must reproduce the Spark ML pipeline, Java's tokenising quirks included."""
    import numpy as np

    from catalog_classifier.models.tfidf import load_tfidf, predict_tfidf
    from catalog_classifier.models.tfidf_scorer import load_tfidf_scorer, tfidf_scorer

    lakehouse, first = scored
    registry = Registry(full_config, lakehouse.root)
    loaded = registry.load("tfidf")
    request.addfinalizer(loaded.remove_download)
    model = load_tfidf(str(Path(loaded.folder) / "pipeline"))
    scorer = tfidf_scorer(model)
    assert scorer is not None
    texts = [r["text_lower"] for r in scoring_inputs(lakehouse).select("text_lower").collect()]
    texts += [
        "a😀b c'est l'été 😀😀 smile",  # code points above U+FFFF: two Java chars, each '?'
        "x𝐀y z İstanbul ß ΟΔΟΣ _a_b 12½ co-op 3x4cm",
        "",
        "   ",
        "le la les de the und",  # stop words only
        "??? !!! ...",
        "ÉCOLE Straße naïve " * 20,
    ]
    rows = spark.createDataFrame(list(enumerate(texts)), "productid long, text_lower string")
    expected = [
        r["features"].toArray()
        for r in model.pipeline.transform(rows).orderBy("productid").select("features").collect()
    ]
    np.testing.assert_allclose(scorer.features(texts).toarray(), np.stack(expected), atol=1e-12)
    # Scoring loads the scorer saved at training time (no Spark ML read): the same features.
    saved = load_tfidf_scorer(Path(loaded.folder))
    assert saved is not None
    np.testing.assert_array_equal(saved.features(texts).toarray(), scorer.features(texts).toarray())
    by_spark = predict_tfidf(model, rows, keep=["productid"]).orderBy("productid").toPandas()
    by_python = (
        predict_tfidf(model, rows, keep=["productid"], engine="python")
        .orderBy("productid")
        .toPandas()
    )
    np.testing.assert_allclose(
        np.stack(by_python["probabilities"]), np.stack(by_spark["probabilities"]), atol=1e-9
    )
    np.testing.assert_allclose(
        scorer.predict(texts), np.stack(by_spark["probabilities"]), atol=1e-9
    )


def test_a_failed_run_leaves_no_model_download_behind(scored, full_config, tmp_path, monkeypatch):
    """Each run downloads the fused model and its members into temporary folders: they go when
    the run fails too (a nightly job failing on bad data would otherwise fill the disk)."""
    import tempfile

    import catalog_classifier.stages.score as score_stage

    lakehouse, _ = scored
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(downloads))

    def failing(*args, **kwargs):
        raise RuntimeError("a member failed on a chunk")

    monkeypatch.setattr(score_stage, "score_frame", failing)
    with pytest.raises(RuntimeError, match="a member failed"):
        run_score(lakehouse, full_config, full=True)
    # A download's folder is named after the registered version (catalog-classifier-text-v3-...).
    assert not [p.name for p in downloads.iterdir() if re.search(r"-v\d+-", p.name)]


def test_the_cascade_writes_which_members_scored_each_listing(
    trained, full_config, small_config, tmp_path
):
    """scoring.cascade on (the default): every row says which members scored it, cheapest
    first; a listing the cascade let go early has no opinion from the later members, and one
    that went through every member gets exactly the full fusion's answer (cascade off)."""
    assert small_config.scoring.cascade and not full_config.scoring.cascade
    source, _ = trained
    lakehouse = copy_lakehouse(source, tmp_path / "lakehouse")
    whole = run_score(lakehouse, full_config)
    full_rows = _predictions(lakehouse, whole.model_version).toPandas().set_index("productid")
    summary = run_score(lakehouse, small_config, full=True)
    assert summary.model_version == whole.model_version
    rows = _predictions(lakehouse, summary.model_version).toPandas().set_index("productid")
    registry = Registry(small_config, lakehouse.root)
    fused = registry.load("fusion", summary.model_version)
    fused.remove_download()
    members = list(fused.meta["members"])
    order = sorted(members, key=lambda m: get_member(m).scoring_cost)
    assert order[0] == "tfidf"
    assert (full_rows["members_scored"] == "+".join(members)).all()
    scored_by = rows["members_scored"].str.split("+")
    # Always a prefix of the cost order, written in the registry's order.
    for names in scored_by:
        assert set(names) == set(order[: len(names)]) and names == sorted(names, key=members.index)
    for names, opinion in zip(scored_by, rows["members"].map(json.loads), strict=True):
        assert set(opinion) <= set(names)
    everyone = scored_by.map(len) == len(members)
    same = full_rows.loc[rows.index[everyone]]
    assert (same["prdtypecode"] == rows.loc[everyone, "prdtypecode"]).all()
    # Not bit for bit: e5 sees a smaller batch (other padding lengths), 1.8e-6 measured.
    assert (same["confidence"] - rows.loc[everyone, "confidence"]).abs().max() < 1e-4
    assert (~everyone).any(), "the small sample's cascade let no listing leave early"
