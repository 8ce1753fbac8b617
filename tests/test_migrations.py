"""An old-layout gold.predictions (two columns per member) becomes the members-JSON layout on
the next scoring run, on either Delta engine, with the old table kept for rollback."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from catalog_classifier.storage import migrations
from catalog_classifier.storage.tables import GOLD_PREDICTIONS


def _old_rows() -> pd.DataFrame:
    at = datetime(2026, 11, 20, tzinfo=UTC).replace(tzinfo=None)
    common = {
        "model_version": ["3", "3"],
        "prdtypecode": [10, 2583],
        "category": ["books", "pool"],
        "confidence": [0.9, 0.6],
        "top3": ["[]", "[]"],
        "needs_review": [False, True],
        "review_threshold": [0.7, 0.7],
        "input_hash": ["a", "b"],
        "input_versions": ["{}", "{}"],
        "scored_at": [at, at],
    }
    return pd.DataFrame(
        {
            "productid": [1, 2],
            **common,
            "modalities": ["tfidf+text+image", "tfidf+text"],
            "tfidf_prdtypecode": pd.array([10, 2583], dtype="Int32"),
            "tfidf_probability": pd.array([0.8, 0.55], dtype="Float64"),
            "text_prdtypecode": pd.array([10, 2583], dtype="Int32"),
            "text_probability": pd.array([0.7, 0.5], dtype="Float64"),
            "image_prdtypecode": pd.array([40, None], dtype="Int32"),
            "image_probability": pd.array([0.3333333333, None], dtype="Float64"),
            "imageid": pd.array([11, None], dtype="Int64"),
        }
    )


def test_an_old_predictions_table_is_migrated_once(lakehouse):
    legacy = migrations._LEGACY_PREDICTIONS
    lakehouse.ensure(legacy)
    spark = lakehouse.spark
    old = _old_rows()[legacy.column_names]
    lakehouse.merge(legacy, spark.createDataFrame(old, legacy.spark_schema()))
    lakehouse._ensured.clear()  # the same table name, now expected in the new layout

    assert migrations.migrate_predictions(lakehouse) is True
    rows = lakehouse.read(GOLD_PREDICTIONS).toPandas().set_index("productid")
    assert json.loads(rows.loc[1, "members"]) == {
        "tfidf": {"prdtypecode": 10, "probability": 0.8},
        "text": {"prdtypecode": 10, "probability": 0.7},
        "image": {"prdtypecode": 40, "probability": 0.333333},
    }
    assert set(json.loads(rows.loc[2, "members"])) == {"tfidf", "text"}
    assert rows.loc[2, "confidence"] == 0.6 and rows.loc[1, "modalities"] == "tfidf+text+image"
    kept = list((Path(lakehouse.root) / "_migrated").iterdir())
    assert len(kept) == 1 and (kept[0] / "_delta_log").is_dir()
    # The new layout is left alone.
    assert migrations.migrate_predictions(lakehouse) is False


def test_a_predictions_table_without_members_scored_gets_the_column(lakehouse):
    before = migrations._BEFORE_MEMBERS_SCORED
    lakehouse.ensure(before)
    rows = _old_rows()
    rows["members"] = ['{"tfidf": {"prdtypecode": 10, "probability": 0.8}}', "{}"]
    lakehouse.merge(
        before, lakehouse.spark.createDataFrame(rows[before.column_names], before.spark_schema())
    )
    lakehouse._ensured.clear()

    assert migrations.migrate_predictions(lakehouse) is True
    migrated = lakehouse.read(GOLD_PREDICTIONS).toPandas().set_index("productid")
    # Who scored the rows before the cascade is not known: null, every other value kept.
    assert migrated["members_scored"].isna().all()
    assert migrated.loc[1, "members"] == rows.loc[0, "members"]
    assert list(migrated.sort_index()["confidence"]) == [0.9, 0.6]
    assert migrations.migrate_predictions(lakehouse) is False
