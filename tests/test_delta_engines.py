"""The two Delta engines on the same tables: a table written, MERGEd and time-travelled by one is
read identically by the other, and either can go on writing it (a local run on delta-rs, then
the nightly job on the connector, share one lakehouse)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pandas as pd
import pytest
from pyspark.sql import functions as F

from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import BRONZE_LABELS, BRONZE_LISTINGS

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
DIRECTIONS = [("delta-spark", "delta-rs"), ("delta-rs", "delta-spark")]


def labels(spark, rows, source="Y.csv"):
    return spark.createDataFrame(
        [(pid, code, source, i, NOW) for i, (pid, code) in enumerate(rows)],
        BRONZE_LABELS.spark_schema(),
    )


def snapshot(lakehouse: Lakehouse, version: int | None = None) -> list[tuple]:
    rows = lakehouse.read(BRONZE_LABELS, version).orderBy("productid").collect()
    return [tuple(row) for row in rows]


@pytest.mark.parametrize(("writer_engine", "reader_engine"), DIRECTIONS)
def test_a_table_written_merged_and_time_travelled_by_one_engine_reads_the_same_with_the_other(
    spark, tmp_path, writer_engine, reader_engine
):
    root = str(tmp_path / "lakehouse")
    writer = Lakehouse(spark, root, writer_engine)
    writer.append(BRONZE_LABELS, labels(spark, [(1, 10), (2, 40), (3, 60)]))
    merged = writer.merge(BRONZE_LABELS, labels(spark, [(2, 50), (4, 1140)], source="Y2.csv"))
    assert (merged.version, merged.rows, merged.inserted, merged.updated) == (2, 2, 1, 1)
    flags = spark.createDataFrame([(3, 2522), (99, 10)], "productid long, prdtypecode int")
    partial = writer.merge(BRONZE_LABELS, flags, update_columns=["prdtypecode"], insert=False)
    assert (partial.version, partial.inserted, partial.updated) == (3, 0, 1)

    reader = Lakehouse(spark, root, reader_engine)
    assert reader.engine.name == reader_engine
    assert reader.version(BRONZE_LABELS) == writer.version(BRONZE_LABELS) == 3
    reader.ensure(BRONZE_LABELS)  # the stored schema passes the reader's check
    assert reader.engine.stored_types(reader.path(BRONZE_LABELS)) == (
        writer.engine.stored_types(writer.path(BRONZE_LABELS))
    )
    # Names, order and types agree. Nullability does not: the connector's reads keep the table's
    # NOT NULL flags, delta-rs' (a parquet read) mark every column nullable. Both engines
    # enforce NOT NULL on write, so code must accept either (the stage tests run on both).
    read_schemas = {
        lh.engine.name: lh.read(BRONZE_LABELS).schema for lh in (writer, reader)
    }
    names_types = {
        engine: [(f.name, f.dataType) for f in schema] for engine, schema in read_schemas.items()
    }
    assert names_types["delta-spark"] == names_types["delta-rs"]
    assert all(f.nullable for f in read_schemas["delta-rs"])
    assert [f.nullable for f in read_schemas["delta-spark"]] == [
        f.nullable for f in BRONZE_LABELS.spark_schema()
    ]
    for version in (0, 1, 2, 3):
        assert snapshot(reader, version) == snapshot(writer, version), f"version {version}"
    assert {r[0]: (r[1], r[2]) for r in snapshot(reader)} == {
        1: (10, "Y.csv"),
        2: (50, "Y2.csv"),
        3: (2522, "Y.csv"),
        4: (1140, "Y2.csv"),
    }
    first = [(1, 10), (2, 40), (3, 60)]
    naive = NOW.replace(tzinfo=None)  # Spark collects timestamps as naive local times (UTC here)
    assert snapshot(reader, 1) == [(p, c, "Y.csv", i, naive) for i, (p, c) in enumerate(first)]

    # The history: the same commits, in the same order (newest first), UTC times.
    writer_history = writer.history(BRONZE_LABELS)
    reader_history = reader.history(BRONZE_LABELS)
    assert [int(c["version"]) for c in reader_history] == [3, 2, 1, 0]
    assert [int(c["version"]) for c in writer_history] == [3, 2, 1, 0]
    assert [c["operation"] for c in reader_history] == [c["operation"] for c in writer_history]
    assert all(c["timestamp"].tzinfo is not None for c in reader_history + writer_history)

    # The reader writes on: the writer reads its commits back.
    again = reader.merge(BRONZE_LABELS, labels(spark, [(1, 2583), (5, 2905)], source="Y3.csv"))
    assert (again.version, again.inserted, again.updated) == (4, 1, 1)
    assert writer.version(BRONZE_LABELS) == 4
    assert snapshot(writer) == snapshot(reader)
    assert snapshot(writer, 3) == snapshot(reader, 3)
    assert [r[1] for r in snapshot(writer)] == [2583, 50, 2522, 1140, 2905]


@pytest.mark.parametrize(("writer_engine", "reader_engine"), DIRECTIONS)
def test_the_other_engine_refuses_what_the_first_refused(
    spark, tmp_path, writer_engine, reader_engine
):
    # A NOT NULL column declared by one engine is enforced by the other.
    root = str(tmp_path / "lakehouse")
    Lakehouse(spark, root, writer_engine).append(BRONZE_LABELS, labels(spark, [(1, 10)]))
    reader = Lakehouse(spark, root, reader_engine)
    schema = BRONZE_LABELS.spark_schema()
    nullable = type(schema)([type(f)(f.name, f.dataType, True) for f in schema.fields])
    rows = spark.createDataFrame([(2, 40, None, 0, NOW)], nullable)
    with pytest.raises(Exception, match="null value in NOT NULL column source_file"):
        reader.merge(BRONZE_LABELS, rows)
    assert reader.version(BRONZE_LABELS) == 1
    assert [r[0] for r in snapshot(reader)] == [1]


@pytest.mark.parametrize(("writer_engine", "reader_engine"), DIRECTIONS)
def test_nulls_unicode_booleans_and_timestamps_read_the_same(
    spark, tmp_path, writer_engine, reader_engine
):
    root = str(tmp_path / "lakehouse")
    rows = [
        (7, 70, "Café « été » 日本", None, "a" * 64, True, "X.csv", 1, NOW),
        (8, 80, "", "<b>desc</b>\n\ttabs", "b" * 64, False, "X.csv", 2, NOW),
    ]
    df = spark.createDataFrame(rows, BRONZE_LISTINGS.spark_schema())
    writer = Lakehouse(spark, root, writer_engine)
    writer.append(BRONZE_LISTINGS, df)
    reader = Lakehouse(spark, root, reader_engine)
    left = [tuple(r) for r in writer.read(BRONZE_LISTINGS).orderBy("productid").collect()]
    right = [tuple(r) for r in reader.read(BRONZE_LISTINGS).orderBy("productid").collect()]
    assert left == right == [(*row[:8], NOW.replace(tzinfo=None)) for row in rows]
    assert reader.read(BRONZE_LISTINGS).filter(F.col("description").isNull()).count() == 1


def test_scoring_and_the_queries_give_the_same_results_on_both_engines(
    spark, trained, small_config, tmp_path
):
    # The trained lakehouse (written by delta-rs) copied once per engine, then scored by each:
    # the connector reads delta-rs' tables and MERGEs gold.predictions, as on Databricks. The
    # copies' MLflow stores point at the original's artifacts (absolute URIs), read-only here.
    from catalog_classifier.stages.score import run_score
    from catalog_classifier.storage.queries import QUERIES, register_views, run_query
    from catalog_classifier.storage.tables import GOLD_PREDICTIONS

    source, _ = trained
    results = {}
    for engine in ("delta-rs", "delta-spark"):
        root = tmp_path / engine
        shutil.copytree(source.root, root)
        lakehouse = Lakehouse(spark, str(root), engine)
        summary = run_score(lakehouse, small_config)
        assert summary.scored > 0 and summary.inserted == summary.scored
        version = lakehouse.version(GOLD_PREDICTIONS)
        again = run_score(lakehouse, small_config)  # nothing new: no commit
        assert (again.scored, lakehouse.version(GOLD_PREDICTIONS)) == (0, version)
        predictions = (
            lakehouse.read(GOLD_PREDICTIONS).drop("scored_at").orderBy("productid").toPandas()
        )
        register_views(lakehouse)
        productid = int(predictions["productid"].iloc[0])
        queries = {
            name: run_query(lakehouse, name, productid=productid).drop(
                columns=["scored_at"], errors="ignore"
            )
            for name in QUERIES
        }
        results[engine] = (summary, version, predictions, queries)

    rs, connector = results["delta-rs"], results["delta-spark"]
    assert connector[0].per_category == rs[0].per_category
    assert connector[1] == rs[1]
    pd.testing.assert_frame_equal(connector[2], rs[2])
    for name in QUERIES:
        pd.testing.assert_frame_equal(connector[3][name], rs[3][name], obj=name)
