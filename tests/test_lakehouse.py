"""The Delta lakehouse module: both engines' contract, each test run on both (the `lakehouse`
fixture); tables shared between the engines are in test_delta_engines.py."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from tests.conftest import REPO

from catalog_classifier.storage.lakehouse import (
    DeltaRsEngine,
    DeltaSparkEngine,
    Lakehouse,
    LakehouseError,
    SchemaMismatchError,
    choose_engine,
    delta_connector_available,
)
from catalog_classifier.storage.tables import BRONZE_LABELS, Column, TableSpec

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def labels_df(spark, rows):
    return spark.createDataFrame(
        [(pid, code, "Y.csv", i, NOW) for i, (pid, code) in enumerate(rows)],
        BRONZE_LABELS.spark_schema(),
    )


def test_auto_engine_is_the_connector_where_make_install_fetched_its_jars(spark, tmp_path):
    # `make install` puts the connector's jars in the venv; build_spark loads them from there.
    assert delta_connector_available(spark)
    assert isinstance(choose_engine(spark, str(tmp_path), "auto"), DeltaSparkEngine)
    assert isinstance(choose_engine(spark, str(tmp_path), "delta-rs"), DeltaRsEngine)


def test_create_append_merge_read_history(spark, lakehouse):
    lakehouse.ensure(BRONZE_LABELS)
    assert lakehouse.version(BRONZE_LABELS) == 0
    assert lakehouse.read(BRONZE_LABELS).count() == 0

    lakehouse.append(BRONZE_LABELS, labels_df(spark, [(1, 10), (2, 40)]))
    assert lakehouse.version(BRONZE_LABELS) == 1
    result = lakehouse.merge(BRONZE_LABELS, labels_df(spark, [(2, 50), (3, 60)]))
    assert (result.version, result.rows) == (2, 2)

    current = {r.productid: r.prdtypecode for r in lakehouse.read(BRONZE_LABELS).collect()}
    assert current == {1: 10, 2: 50, 3: 60}
    # Spark reads parquet columns as nullable; names, order and types are the table's.
    read_schema = lakehouse.read(BRONZE_LABELS).schema
    assert [(f.name, f.dataType) for f in read_schema] == [
        (f.name, f.dataType) for f in BRONZE_LABELS.spark_schema()
    ]
    operations = [h["operation"] for h in lakehouse.history(BRONZE_LABELS)]
    assert operations[0] == "MERGE" and "CREATE TABLE" in operations[-1]


def test_the_connector_reads_a_tables_version_from_its_log(spark, tmp_path, monkeypatch):
    """DeltaSparkEngine.version lists the log's commit files instead of running a history
    query: the history's newest version, past a checkpoint too; with a folder of staged
    (coordinated) commits, whose newest the log's files do not show, it asks the history."""
    lakehouse = Lakehouse(spark, str(tmp_path / "lakehouse"), "delta-spark")
    lakehouse.ensure(BRONZE_LABELS)
    path = lakehouse.path(BRONZE_LABELS)
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('delta.checkpointInterval' = '2')")
    for productid in range(3):
        lakehouse.append(BRONZE_LABELS, labels_df(spark, [(productid, 10)]))
    newest = max(commit["version"] for commit in lakehouse.history(BRONZE_LABELS))
    assert newest == 4  # create, the property, three appends
    log_dir = Path(path) / "_delta_log"
    assert any(name.endswith(".checkpoint.parquet") for name in os.listdir(log_dir))

    engine = lakehouse.engine
    history_queries = []
    real_table = engine._table
    monkeypatch.setattr(engine, "_table", lambda p: history_queries.append(p) or real_table(p))
    assert lakehouse.version(BRONZE_LABELS) == newest
    assert history_queries == []
    # A commit staged for the catalog to ratify (the name Delta gives one).
    staged = log_dir / "_staged_commits"
    staged.mkdir(exist_ok=True)  # Delta 4 makes it empty on every table
    (staged / f"{newest + 1:020d}.8a4f9b0e-0c51-4c57-9d2e-6b1f0e5d7c3a.json").write_text("{}\n")
    assert lakehouse.version(BRONZE_LABELS) == newest
    assert history_queries == [path]


def test_spark_reads_an_older_version_exactly_after_a_merge(spark, lakehouse):
    lakehouse.append(BRONZE_LABELS, labels_df(spark, [(1, 10), (2, 40), (3, 60)]))
    lakehouse.merge(BRONZE_LABELS, labels_df(spark, [(2, 50), (4, 1140)]))

    v1 = {r.productid: r.prdtypecode for r in lakehouse.read(BRONZE_LABELS, version=1).collect()}
    v2 = {r.productid: r.prdtypecode for r in lakehouse.read(BRONZE_LABELS, version=2).collect()}
    assert v1 == {1: 10, 2: 40, 3: 60}
    assert v2 == {1: 10, 2: 50, 3: 60, 4: 1140}
    # The trap the engine avoids: the folder read as plain parquet still holds the file the
    # MERGE removed, so product 2 shows twice.
    naive = spark.read.parquet(lakehouse.path(BRONZE_LABELS))
    assert naive.filter(F.col("productid") == 2).count() == 2


def test_first_merge_into_an_empty_table_inserts_in_one_commit(spark, lakehouse):
    lakehouse.ensure(BRONZE_LABELS)
    result = lakehouse.merge(BRONZE_LABELS, labels_df(spark, [(1, 10), (2, 40)]))
    assert (result.version, result.rows, result.inserted, result.updated) == (1, 2, 2, 0)
    assert [h["operation"] for h in lakehouse.history(BRONZE_LABELS)][0] == "MERGE"
    # The next MERGE finds rows and updates them.
    result = lakehouse.merge(BRONZE_LABELS, labels_df(spark, [(2, 50), (3, 60)]))
    assert (result.inserted, result.updated) == (1, 1)


def test_merge_partial_update_touches_only_given_columns(spark, lakehouse):
    lakehouse.append(BRONZE_LABELS, labels_df(spark, [(1, 10), (2, 40)]))
    update = spark.createDataFrame([(2, 1280), (9, 10)], "productid long, prdtypecode int")
    lakehouse.merge(BRONZE_LABELS, update, update_columns=["prdtypecode"], insert=False)
    rows = {
        r.productid: (r.prdtypecode, r.source_file) for r in lakehouse.read(BRONZE_LABELS).collect()
    }
    assert rows == {1: (10, "Y.csv"), 2: (1280, "Y.csv")}


def test_empty_write_makes_no_commit(spark, lakehouse):
    lakehouse.append(BRONZE_LABELS, labels_df(spark, [(1, 10)]))
    result = lakehouse.merge(BRONZE_LABELS, labels_df(spark, []))
    assert result.version is None and lakehouse.version(BRONZE_LABELS) == 1


def test_wrong_schema_fails_clearly_and_leaves_the_table_intact(spark, lakehouse):
    lakehouse.append(BRONZE_LABELS, labels_df(spark, [(1, 10)]))
    wrong = labels_df(spark, [(2, 40)]).withColumn(
        "prdtypecode", F.col("prdtypecode").cast("string")
    )
    with pytest.raises(SchemaMismatchError, match="prdtypecode is string, expected integer"):
        lakehouse.merge(BRONZE_LABELS, wrong)
    extra = labels_df(spark, [(2, 40)]).withColumn("surprise", F.lit(1))
    with pytest.raises(SchemaMismatchError, match="unexpected column surprise"):
        lakehouse.append(BRONZE_LABELS, extra)
    missing = labels_df(spark, [(2, 40)]).drop("source_file")
    with pytest.raises(SchemaMismatchError, match="missing column source_file"):
        lakehouse.append(BRONZE_LABELS, missing)
    assert lakehouse.version(BRONZE_LABELS) == 1
    assert [r.productid for r in lakehouse.read(BRONZE_LABELS).collect()] == [1]


def test_null_in_a_not_null_column_fails_without_a_commit(spark, lakehouse):
    lakehouse.append(BRONZE_LABELS, labels_df(spark, [(1, 10)]))
    rows = [(i, 10, None if i == 1500 else "Y.csv", i, NOW) for i in range(2, 3000)]
    schema = BRONZE_LABELS.spark_schema()
    nullable = type(schema)([type(f)(f.name, f.dataType, True) for f in schema.fields])
    with pytest.raises(Exception, match="NOT NULL column source_file"):
        lakehouse.append(BRONZE_LABELS, spark.createDataFrame(rows, nullable))
    assert lakehouse.version(BRONZE_LABELS) == 1
    assert lakehouse.read(BRONZE_LABELS).count() == 1


def test_merge_refuses_duplicate_source_keys(spark, lakehouse):
    with pytest.raises(LakehouseError, match="duplicate keys"):
        lakehouse.merge(BRONZE_LABELS, labels_df(spark, [(1, 10), (1, 40)]))
    assert lakehouse.version(BRONZE_LABELS) == 0


def test_stored_table_with_another_schema_is_refused(spark, lakehouse):
    other = TableSpec(
        layer=BRONZE_LABELS.layer,
        name=BRONZE_LABELS.name,
        keys=("productid",),
        columns=(Column("productid", "long", False, ""), Column("code", "string", True, "")),
        doc="",
        writer="test",
        growth="",
    )
    lakehouse.ensure(other)
    with pytest.raises(SchemaMismatchError, match="missing column prdtypecode"):
        Lakehouse(spark, lakehouse.root, lakehouse.engine).ensure(BRONZE_LABELS)


def test_auto_engine_falls_back_to_delta_rs_without_the_jars(tmp_path):
    # A session without the project's jars (CATALOG_CLASSIFIER_JARS empty), in its own process
    # since a JVM's classpath is fixed when it starts.
    script = f"""
from catalog_classifier.config import load_config
from catalog_classifier.storage.lakehouse import Lakehouse, LakehouseError, choose_engine
from catalog_classifier.storage.spark import build_spark
from catalog_classifier.storage.tables import BRONZE_LABELS
config = load_config({str(REPO / "conf" / "local.yaml")!r}, ["spark.master=local[1]"])
spark = build_spark(config, "no jars")
lakehouse = Lakehouse(spark, {str(tmp_path / "lh")!r}, "auto")
lakehouse.ensure(BRONZE_LABELS)
print("engine", lakehouse.engine.name, lakehouse.version(BRONZE_LABELS))
try:
    choose_engine(spark, {str(tmp_path)!r}, "delta-spark")
except LakehouseError as exc:
    print("refused", exc)
"""
    env = {**os.environ, "CATALOG_CLASSIFIER_JARS": ""}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "engine delta-rs 0" in done.stdout
    assert "refused delta_engine is delta-spark but the Delta Lake connector" in done.stdout


def test_a_table_folder_left_without_a_commit_is_created_again(lakehouse):
    """A run that died creating a table (a full disk, a kill) leaves a _delta_log without a
    commit: read as a table being created, it stopped every later run. Old enough, it is
    abandoned and the table is created."""
    import time

    log_dir = Path(lakehouse.path(BRONZE_LABELS)) / "_delta_log"
    log_dir.mkdir(parents=True)
    (log_dir / "_commits").mkdir()  # what the connector leaves before its first commit
    long_ago = time.time() - 120
    os.utime(log_dir, (long_ago, long_ago))
    lakehouse.ensure(BRONZE_LABELS)
    assert lakehouse.read(BRONZE_LABELS).count() == 0
    assert any(log_dir.glob("*.json"))
