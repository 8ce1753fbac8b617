"""The Delta lakehouse: tables at ``<root>/<layer>/<table>``, behind one small interface.

Two engines implement it:

* ``delta-spark``: the Delta Lake connector for Spark, used where its classes are on the
  classpath (Databricks, clusters that can fetch ``io.delta:delta-spark_2.13``).
* ``delta-rs``: the embedded default (the ``deltalake`` package, no JVM). Spark writes the rows
  to a staging folder in parallel; the driver streams them in Arrow batches into a delta-rs
  commit; Spark reads a table by reading exactly the data files of the requested version
  (reading the folder as plain parquet would include files a MERGE or overwrite removed).

Both write the same Delta protocol, so a table written by one is read by the other. Schemas are
enforced against :mod:`catalog_classifier.storage.tables`; a failed write leaves the table at its
previous version (a Delta commit is atomic, and nothing is committed before every row was checked).
"""

from __future__ import annotations

import logging
import os
import random
import re
import shutil
import time
import urllib.parse
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from catalog_classifier.crashpoints import crash_point
from catalog_classifier.logs import describe_error, note_step
from catalog_classifier.storage.spark import DELTA_EXTENSION
from catalog_classifier.storage.tables import TableSpec, spark_type_name

log = logging.getLogger(__name__)

T = TypeVar("T")
# A Delta log's commit file: the version, zero-padded to 20 digits.
_COMMIT_FILE = re.compile(r"\d{20}\.json")
# Where coordinated commits wait before they are written into the log (Delta 3: _commits).
_STAGED_COMMIT_DIRS = frozenset({"_staged_commits", "_commits"})


class LakehouseError(RuntimeError):
    """A table operation that cannot be done; the table is left as it was."""


class SchemaMismatchError(LakehouseError, ValueError):
    """Rows or a stored table whose schema differs from the table's declared schema."""

    def __init__(self, table: str, problems: Sequence[str]) -> None:
        self.table = table
        self.problems = list(problems)
        super().__init__(f"schema of {table} does not match its definition: " + "; ".join(problems))


@dataclass(frozen=True)
class WriteResult:
    table: str
    operation: str
    version: int | None  # None when nothing was written (no rows)
    rows: int  # source rows
    inserted: int = 0
    updated: int = 0


def check_schema(spec: TableSpec, actual: dict[str, str], what: str) -> None:
    """Raise :class:`SchemaMismatchError` unless ``actual`` (name -> type) matches ``spec``."""
    expected = spec.delta_types()
    problems = [
        f"missing column {name} ({typ})" for name, typ in expected.items() if name not in actual
    ]
    problems += [
        f"unexpected column {name} ({typ})" for name, typ in actual.items() if name not in expected
    ]
    problems += [
        f"column {name} is {actual[name]}, expected {typ}"
        for name, typ in expected.items()
        if name in actual and actual[name] != typ
    ]
    if problems:
        raise SchemaMismatchError(f"{spec.qualified_name} ({what})", problems)


def conform(spec: TableSpec, df: DataFrame) -> DataFrame:
    """Check a DataFrame's columns against the table and put them in the table's order."""
    check_schema(spec, {f.name: spark_type_name(f.dataType) for f in df.schema.fields}, "rows")
    return df.select(*spec.column_names)


class DeltaEngine(ABC):
    name: str

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def create(self, path: str, spec: TableSpec) -> None: ...

    @abstractmethod
    def stored_types(self, path: str) -> dict[str, str]: ...

    @abstractmethod
    def version(self, path: str) -> int: ...

    @abstractmethod
    def read(self, path: str, spec: TableSpec, version: int | None) -> DataFrame: ...

    @abstractmethod
    def append(self, path: str, spec: TableSpec, df: DataFrame) -> int:
        """Append the rows in one commit (none if there are no rows); return the row count."""

    @abstractmethod
    def merge(
        self,
        path: str,
        spec: TableSpec,
        df: DataFrame,
        update_columns: Sequence[str] | None,
        insert: bool,
        update: bool = True,
        counted: int | None = None,
    ) -> tuple[int, int, int]:
        """Upsert on the keys in one commit (none if there are no rows); ``update=False``
        inserts the rows whose key is absent and leaves the matched rows alone.

        Returns (source rows, rows inserted, rows updated). Raises before committing anything if
        the source repeats a key. ``counted``: the caller's row count of ``df``, whose keys it
        found unique and which is cheap to evaluate again (persisted): no staging needed.
        """

    @abstractmethod
    def delete(self, path: str, predicate: str) -> None:
        """Delete the rows matching the SQL ``predicate`` in one commit."""

    @abstractmethod
    def history(self, path: str) -> list[dict[str, Any]]: ...


class DeltaRsEngine(DeltaEngine):
    """delta-rs (``deltalake``) commits; Spark reads the files of the requested version."""

    name = "delta-rs"

    def __init__(self, spark: SparkSession, staging_root: str) -> None:
        super().__init__(spark)
        self.staging_root = Path(staging_root)

    def _table(self, path: str, version: int | None = None) -> Any:
        from deltalake import DeltaTable

        return DeltaTable(path, version=version) if version is not None else DeltaTable(path)

    def exists(self, path: str) -> bool:
        from deltalake import DeltaTable

        return DeltaTable.is_deltatable(path)

    def create(self, path: str, spec: TableSpec) -> None:
        create_with_delta_rs(path, spec)

    def stored_types(self, path: str) -> dict[str, str]:
        return {f.name: f.type.type for f in self._table(path).schema().fields}

    def version(self, path: str) -> int:
        return int(self._table(path).version())

    def read(self, path: str, spec: TableSpec, version: int | None) -> DataFrame:
        files = self._table(path, version).file_uris()
        if not files:
            return self.spark.createDataFrame([], spec.spark_schema())
        return self.spark.read.schema(spec.spark_schema()).parquet(*files)

    def append(self, path: str, spec: TableSpec, df: DataFrame) -> int:
        from deltalake import write_deltalake

        with _StagedRows(self._staging_folder(spec), spec, df) as staged:
            if staged.rows:
                write_deltalake(path, staged.reader(), mode="append")
            return staged.rows

    def merge(
        self,
        path: str,
        spec: TableSpec,
        df: DataFrame,
        update_columns: Sequence[str] | None,
        insert: bool,
        update: bool = True,
        counted: int | None = None,
    ) -> tuple[int, int, int]:
        # delta-rs reads the source from the staged files whatever ``counted`` says.
        predicate = " AND ".join(f"t.{key} = s.{key}" for key in spec.keys)
        columns = update_columns or [c for c in spec.column_names if c not in spec.keys]
        partial = update_columns is not None and not insert
        with _StagedRows(self._staging_folder(spec), spec, df, partial=partial) as staged:
            if not staged.rows:
                return 0, 0, 0
            staged.check_unique_keys()
            crash_point(f"before_commit:{spec.qualified_name}")

            def commit() -> dict[str, Any]:
                merger = self._table(path).merge(
                    source=staged.reader(), predicate=predicate, source_alias="s", target_alias="t"
                )
                if update:
                    merger = merger.when_matched_update(updates={c: f"s.{c}" for c in columns})
                if insert:
                    merger = merger.when_not_matched_insert_all()
                return dict(merger.execute())

            metrics = _retry_on_conflict(spec, commit)
        return (
            staged.rows,
            int(metrics.get("num_target_rows_inserted", 0)),
            int(metrics.get("num_target_rows_updated", 0)),
        )

    def delete(self, path: str, predicate: str) -> None:
        self._table(path).delete(predicate)

    def _staging_folder(self, spec: TableSpec) -> Path:
        return self.staging_root / f"{spec.layer}_{spec.name}_{uuid.uuid4().hex}"

    def history(self, path: str) -> list[dict[str, Any]]:
        return [_utc_commit(commit) for commit in self._table(path).history()]


class _StagedRows:
    """Spark writes the rows to a staging folder; the driver streams them back as Arrow batches.

    Only one batch at a time is in the driver, so writes of any size run in bounded memory. The
    row count comes from the parquet footers, and key uniqueness from the key columns alone, so
    neither costs another Spark job. Rows violating a NOT NULL column raise before delta-rs can
    commit anything.
    """

    def __init__(self, folder: Path, spec: TableSpec, df: DataFrame, partial: bool = False) -> None:
        self.folder = folder
        self.spec = spec
        self.df = df
        names = df.columns
        # A partial update (keys + some columns) streams only those columns.
        full = spec.arrow_schema()
        self.schema = pa.schema([full.field(n) for n in names]) if partial else full
        self.rows = 0
        self.dataset: pads.Dataset | None = None

    def __enter__(self) -> _StagedRows:
        try:
            self.df.write.mode("overwrite").parquet(str(self.folder))
        except BaseException:
            # __exit__ runs only after __enter__ returned: the part written (a full disk stops
            # the write half-way) must not stay behind, holding the space that ran out.
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        self.dataset = pads.dataset(str(self.folder), format="parquet")
        self.rows = sum(f.metadata.num_rows for f in self.dataset.get_fragments())
        return self

    def check_unique_keys(self) -> None:
        assert self.dataset is not None
        keys = self.dataset.to_table(columns=list(self.spec.keys))
        counts = keys.group_by(list(self.spec.keys)).aggregate([([], "count_all")])
        repeated = counts.filter(pc.greater(counts["count_all"], 1))
        if repeated.num_rows:
            raise LakehouseError(
                f"merge into {self.spec.qualified_name}: source has duplicate keys, e.g. "
                + str(repeated.slice(0, 3).to_pylist())
            )

    def reader(self) -> pa.RecordBatchReader:
        assert self.dataset is not None
        return pa.RecordBatchReader.from_batches(self.schema, self._batches(self.dataset))

    def _batches(self, dataset: pads.Dataset) -> Iterator[pa.RecordBatch]:
        not_null = [f.name for f in self.schema if not f.nullable]
        for batch in dataset.to_batches(columns=self.schema.names, batch_size=4096):
            for name in not_null:
                if batch.column(name).null_count:
                    raise SchemaMismatchError(
                        self.spec.qualified_name, [f"null value in NOT NULL column {name}"]
                    )
            arrays = [batch.column(f.name).cast(f.type) for f in self.schema]
            yield pa.RecordBatch.from_arrays(arrays, schema=self.schema)
            # delta-rs has this batch and asks for the next: its data files are being written,
            # the commit is not made yet.
            crash_point(f"during_commit:{self.spec.qualified_name}")

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class DeltaSparkEngine(DeltaEngine):
    """The Delta Lake connector for Spark (Databricks, or a session with its jars).

    It behaves as :class:`DeltaRsEngine` does: the rows are computed once, into a staging folder
    (a MERGE's source is otherwise evaluated once per pass, and a count or key check costs one
    more run of whatever UDF made the rows); an empty write makes no commit; a source repeating a
    key, or a null in a NOT NULL column, raises before anything is committed, with the same
    messages; history timestamps are UTC datetimes.
    """

    name = "delta-spark"

    def __init__(self, spark: SparkSession, staging_root: str) -> None:
        super().__init__(spark)
        self.staging_root = staging_root.rstrip("/")

    def _table(self, path: str) -> Any:
        from delta.tables import DeltaTable

        return DeltaTable.forPath(self.spark, path)

    def exists(self, path: str) -> bool:
        from delta.tables import DeltaTable

        return bool(DeltaTable.isDeltaTable(self.spark, path))

    def create(self, path: str, spec: TableSpec) -> None:
        from delta.tables import DeltaTable

        builder = DeltaTable.createIfNotExists(self.spark).location(path).comment(spec.doc)
        builder.addColumns(spec.spark_schema()).execute()

    def stored_types(self, path: str) -> dict[str, str]:
        schema = self._table(path).toDF().schema
        return {f.name: spark_type_name(f.dataType) for f in schema.fields}

    def version(self, path: str) -> int:
        """The newest commit's number. A local table's log is listed by the driver (see
        :func:`_newest_local_commit`; ``Lakehouse.version`` then takes 13 ms here), where
        ``history(1)`` builds and runs a query (395 ms, the same 2 loaded cores), and every
        write and every ingest asks for versions (14 in one ingest); remote tables are asked
        through their history."""
        newest = _newest_local_commit(path)
        if newest is not None:
            return newest
        return int(self._table(path).history(1).select("version").first()[0])

    def read(self, path: str, spec: TableSpec, version: int | None) -> DataFrame:
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.load(path)

    def append(self, path: str, spec: TableSpec, df: DataFrame) -> int:
        with self._staged(spec, df) as (staged, rows, _):
            if rows:
                with _not_null_errors(spec):
                    staged.write.format("delta").mode("append").save(path)
            return rows

    def merge(
        self,
        path: str,
        spec: TableSpec,
        df: DataFrame,
        update_columns: Sequence[str] | None,
        insert: bool,
        update: bool = True,
        counted: int | None = None,
    ) -> tuple[int, int, int]:
        with self._staged(spec, df, counted) as (staged, rows, repeated):
            if not rows:
                return 0, 0, 0
            if repeated:
                raise LakehouseError(
                    f"merge into {spec.qualified_name}: source has duplicate keys, e.g. "
                    + str(repeated)
                )
            crash_point(f"before_commit:{spec.qualified_name}")
            condition = " AND ".join(f"t.{key} = s.{key}" for key in spec.keys)
            columns = update_columns or [c for c in spec.column_names if c not in spec.keys]

            # SQL's MERGE, not DeltaTable.merge: its result is the metrics of this MERGE itself
            # on both Spark lines (the Python builder returns them from Delta 4.0 on only, and
            # history(1) could be another writer's commit).
            target = "delta.`" + path.replace("`", "``") + "`"
            clauses = ""
            if update:
                # Without it Delta runs an insert-only MERGE: one pass (an anti join), not a
                # pass to find the touched files and another to rewrite them.
                clauses += " WHEN MATCHED THEN UPDATE SET " + ", ".join(
                    f"t.`{c}` = s.`{c}`" for c in columns
                )
            if insert:
                clauses += " WHEN NOT MATCHED THEN INSERT *"

            def commit() -> Any:
                view = f"merge_source_{uuid.uuid4().hex}"
                staged.createOrReplaceTempView(view)
                try:
                    with _not_null_errors(spec):
                        return self.spark.sql(
                            f"MERGE INTO {target} AS t USING {view} AS s ON {condition}{clauses}"
                        ).first()
                finally:
                    self.spark.catalog.dropTempView(view)

            metrics = _retry_on_conflict(spec, commit)
        return rows, int(metrics["num_inserted_rows"]), int(metrics["num_updated_rows"])

    def delete(self, path: str, predicate: str) -> None:
        self._table(path).delete(predicate)

    @contextmanager
    def _staged(
        self, spec: TableSpec, df: DataFrame, counted: int | None = None
    ) -> Iterator[tuple[DataFrame, int, list[dict[str, Any]]]]:
        """Write the rows once to a staging folder; yield them read back, their count and up to
        three repeated keys (one small job over the key columns), then delete the folder.
        Rows the caller ``counted`` (persisted, keys checked) are yielded as they are: staging
        them cost a write of every row and two jobs (three of a MERGE's fifteen)."""
        if counted is not None:
            yield df, counted, []
            return
        folder = f"{self.staging_root}/{spec.layer}_{spec.name}_{uuid.uuid4().hex}"
        try:
            df.write.mode("overwrite").parquet(folder)
            staged = self.spark.read.schema(df.schema).parquet(folder)
            counts = staged.groupBy(*spec.keys).count()
            summary = counts.agg(
                F.sum("count").alias("rows"),
                F.max("count").alias("most"),
            ).first()
            assert summary is not None  # a global aggregate has exactly one row
            rows = int(summary["rows"] or 0)
            repeated: list[dict[str, Any]] = []
            if (summary["most"] or 0) > 1:
                examples = counts.filter("count > 1").limit(3).collect()
                repeated = [row.asDict() for row in examples]
            yield staged, rows, repeated
        finally:
            _delete(self.spark, folder)

    def history(self, path: str) -> list[dict[str, Any]]:
        # Milliseconds since the epoch, as delta-rs gives them: a collected Spark timestamp is a
        # naive datetime in the Python process's time zone.
        history = self._table(path).history()
        rows = history.withColumn("timestamp", F.expr("unix_millis(timestamp)")).collect()
        return [_utc_commit(row.asDict(recursive=True)) for row in rows]


# Commits lost to a concurrent writer are retried this many times in all (another ingest or
# scoring run committing to the same table between this run's read and its commit).
COMMIT_ATTEMPTS = 6


def _is_commit_conflict(exc: BaseException) -> bool:
    """A commit refused because another writer committed first (delta-rs' CommitFailedError,
    the connector's Concurrent*Exception): the same MERGE, re-run, can succeed."""
    names = " ".join(cls.__name__ for cls in type(exc).__mro__)
    conflict = r"(Concurrent\w*|ProtocolChanged|MetadataChanged)Exception|CommitFailedError"
    # The connector's exceptions arrive as Py4JJavaError: their Java class is in the message.
    return bool(
        re.search(conflict, names) or re.search(rf"io\.delta\.exceptions\.(?:{conflict})", str(exc))
    )


def _being_created(exc: BaseException) -> bool:
    """Whether ``exc`` says a table's folder holds no commit yet (its creator's first commit
    is under way): the connector's DELTA_TABLE_NOT_FOUND / DELTA_MISSING_DELTA_TABLE, delta-rs'
    TableNotFoundError."""
    text = f"{type(exc).__name__}: {exc}"
    markers = ("DELTA_TABLE_NOT_FOUND", "DELTA_MISSING_DELTA_TABLE", "TableNotFoundError")
    return any(marker in text for marker in markers)


# A table folder whose _delta_log has held no commit for this long was left by a run that died
# while creating it (a concurrent creator commits within a second or two).
ABANDONED_CREATION_SECONDS = 60.0


def _uncommitted_log(path: str, older_than: float = 0.0) -> Path | None:
    """The ``_delta_log`` of a local table folder that holds no commit (no ``*.json``) and was
    last changed ``older_than`` seconds ago or more, else None (remote paths: None)."""
    parsed = urllib.parse.urlparse(path)
    if parsed.scheme not in ("", "file"):
        return None
    log_dir = Path(parsed.path if parsed.scheme == "file" else path) / "_delta_log"
    try:
        if any(log_dir.glob("*.json")):
            return None
        age = time.time() - log_dir.stat().st_mtime
    except OSError:  # no folder (nothing to heal), or it went meanwhile
        return None
    return log_dir if age >= older_than else None


def _remove_uncommitted_log(spec: TableSpec, path: str, older_than: float, why: str) -> None:
    """Remove a table folder's commit-less ``_delta_log`` (see :func:`_uncommitted_log`), so
    the table can be created again instead of read as one being created forever."""
    log_dir = _uncommitted_log(path, older_than)
    if log_dir is not None:
        log.warning("%s: its _delta_log holds no commit (%s): removed", spec.qualified_name, why)
        shutil.rmtree(log_dir, ignore_errors=True)


def _retry_on_conflict(spec: TableSpec, commit: Callable[[], T]) -> T:
    """``commit()``, re-run when a concurrent writer won the race. A MERGE on the table's keys
    re-run on the same staged rows gives the same table whichever writer went first: rows the
    other run inserted meanwhile are matched (updated), not inserted twice."""
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        try:
            return commit()
        except Exception as exc:
            if attempt == COMMIT_ATTEMPTS or not _is_commit_conflict(exc):
                raise
            log.warning(
                "merge into %s: a concurrent commit came first (%s); retrying (%d of %d)",
                spec.qualified_name,
                describe_error(exc)[:300],
                attempt + 1,
                COMMIT_ATTEMPTS,
            )
            time.sleep(0.2 * attempt + random.random() * 0.3)
    raise AssertionError("unreachable")


def _newest_local_commit(path: str) -> int | None:
    """The version of the newest ``<version>.json`` in a local table's log, or None where the
    driver cannot tell: a remote URI (listing it through the JVM costs a round trip a file, 1 s
    for a 2,000-commit log), no commit file, or commits staged for a catalog or coordinator to
    ratify, which may be newer than the log's files."""
    if urllib.parse.urlparse(path).scheme:
        return None
    log_dir = Path(path) / "_delta_log"
    try:
        names = os.listdir(log_dir)
        # Delta 4 makes an empty staged-commits folder on every table: only files in it count.
        staged = any(os.listdir(log_dir / name) for name in _STAGED_COMMIT_DIRS if name in names)
    except OSError:
        return None
    commits = [int(name[: -len(".json")]) for name in names if _COMMIT_FILE.fullmatch(name)]
    return None if staged or not commits else max(commits)


def _utc_commit(commit: dict[str, Any]) -> dict[str, Any]:
    stamp = commit.get("timestamp")
    if isinstance(stamp, int | float):
        commit["timestamp"] = datetime.fromtimestamp(stamp / 1000.0, tz=UTC)
    return commit


@contextmanager
def _not_null_errors(spec: TableSpec) -> Iterator[None]:
    """The connector's NOT NULL violation raised as delta-rs' path raises it."""
    try:
        yield
    except Exception as exc:
        found = re.search(r"NOT NULL constraint violated for column: ([\w.`]+?)\.?\s", str(exc))
        if found is None:
            raise
        column = found.group(1).strip("`")
        raise SchemaMismatchError(
            spec.qualified_name, [f"null value in NOT NULL column {column}"]
        ) from None


@contextmanager
def _writing(spec: TableSpec, what: str = "writing") -> Iterator[None]:
    """A failure inside names the table being written (the job's error line shows it)."""
    try:
        yield
    except BaseException as exc:
        note_step(exc, f"{what} {spec.qualified_name}")
        raise


def _delete(spark: SparkSession, path: str) -> None:
    """Delete a folder on whatever file system holds it (local, HDFS, S3, DBFS)."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None, "a classic Spark session has a JVM gateway"
    target = jvm.org.apache.hadoop.fs.Path(path)
    try:
        target.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(target, True)
    except Exception as exc:  # noqa: BLE001 - a left-over staging folder is not worth a failure
        log.warning("could not delete the staging folder %s: %s", path, exc)


def delta_connector_available(spark: SparkSession) -> bool:
    """True where the Delta Lake connector's classes are on the driver's classpath and the
    session has its SQL extension (its MERGE refuses to run without it)."""
    try:
        from pyspark.sql.utils import is_remote

        if is_remote():  # Spark Connect (Databricks serverless): Delta is built in.
            return True
        from py4j.java_gateway import JavaClass

        jvm = spark.sparkContext._jvm
        if jvm is None or not isinstance(jvm.io.delta.tables.DeltaTable, JavaClass):
            return False
    except Exception:  # noqa: BLE001 - any failure to look means "not available"
        return False
    extensions = spark.conf.get("spark.sql.extensions", "") or ""
    # Databricks runtimes build Delta in without listing the extension.
    return DELTA_EXTENSION in extensions.split(",") or "DATABRICKS_RUNTIME_VERSION" in os.environ


def choose_engine(spark: SparkSession, root: str, requested: str = "auto") -> DeltaEngine:
    """The engine for ``requested``: "delta-spark", "delta-rs", or "auto" (the connector where
    the session has it, as `make install` sets up locally; delta-rs otherwise)."""
    staging = f"{root.rstrip('/')}/_staging"
    if requested == "delta-rs":
        return DeltaRsEngine(spark, staging)
    available = delta_connector_available(spark)
    if requested == "delta-spark":
        if not available:
            raise LakehouseError(
                "delta_engine is delta-spark but the Delta Lake connector is not on the classpath "
                "with its SQL extension (run `make install`, which fetches its jars into the "
                "venv's jars/ folder, or use delta_engine: auto)"
            )
        return DeltaSparkEngine(spark, staging)
    if available:
        return DeltaSparkEngine(spark, staging)
    log.info("the Delta Lake connector is not in this Spark session: tables written by delta-rs")
    return DeltaRsEngine(spark, staging)


def table_path(root: str, spec: TableSpec) -> str:
    """Where the table ``spec`` lives under the lakehouse ``root`` (the one layout rule)."""
    return f"{root}/{spec.layer}/{spec.name}"


def create_with_delta_rs(path: str, spec: TableSpec) -> None:
    """Create the empty table ``spec`` at ``path`` with delta-rs (nothing if it exists)."""
    from deltalake import DeltaTable, Field, Schema
    from deltalake.schema import PrimitiveType

    schema = Schema(
        [Field(c.name, PrimitiveType(c.type), nullable=c.nullable) for c in spec.columns]
    )
    if "://" not in path:
        Path(path).mkdir(parents=True, exist_ok=True)
    DeltaTable.create(path, schema=schema, mode="ignore", name=spec.name, description=spec.doc)


class Lakehouse:
    """The project's Delta tables under one root folder, with schema checks on every write."""

    def __init__(self, spark: SparkSession, root: str, engine: str | DeltaEngine = "auto") -> None:
        self.spark = spark
        self.root = str(Path(root).absolute()) if "://" not in root else root
        self.engine = (
            engine if isinstance(engine, DeltaEngine) else choose_engine(spark, self.root, engine)
        )
        self._ensured: set[str] = set()

    def path(self, spec: TableSpec) -> str:
        return table_path(self.root, spec)

    def exists(self, spec: TableSpec) -> bool:
        return self.engine.exists(self.path(spec))

    def ensure(self, spec: TableSpec) -> None:
        """Create the table if it is missing; check its stored schema if it is there."""
        if spec.qualified_name in self._ensured:
            return
        path = self.path(spec)
        _remove_uncommitted_log(
            spec, path, ABANDONED_CREATION_SECONDS, "left by a run that failed creating it"
        )
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            if not self.engine.exists(path):
                log.info(
                    "creating Delta table %s at %s (%s)",
                    spec.qualified_name,
                    path,
                    self.engine.name,
                )
                with _writing(spec, "creating"):
                    self._create(path, spec)
            try:
                stored = self.engine.stored_types(path)
                break
            except Exception as exc:
                # Another run creating the table has made its folder and _delta_log but not
                # yet its first commit: the connector calls it a Delta table (the folder is
                # there) yet finds no table. Its commit is a moment away.
                if not _being_created(exc) or attempt == COMMIT_ATTEMPTS:
                    raise
                log.info("%s is being created by a concurrent run: waiting", spec.qualified_name)
                time.sleep(0.2 * attempt + random.random() * 0.3)
        check_schema(spec, stored, "stored table")
        self._ensured.add(spec.qualified_name)

    def _create(self, path: str, spec: TableSpec) -> None:
        """Create the table; another run creating it at the same moment is no failure (the
        stored schema is then checked like any table's)."""
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                self.engine.create(path, spec)
                return
            except Exception as exc:
                # The connector refuses a folder the other run's first commit is filling, or
                # finds its _delta_log without a commit yet.
                racing = (
                    _is_commit_conflict(exc)
                    or "NON_EMPTY_LOCATION" in str(exc)
                    or _being_created(exc)
                )
                if not racing or attempt == COMMIT_ATTEMPTS:
                    # Our creation failed (a full disk): a _delta_log without a commit would
                    # read as a table being created, and stop every later run.
                    # One line: the connector's message carries its Java stack (the job's
                    # error line names the failure; the trace goes to the log file).
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                    _remove_uncommitted_log(spec, path, 0.0, f"its creation failed: {first}")
                    raise
                time.sleep(0.2 * attempt + random.random() * 0.3)
                if self.engine.exists(path):
                    log.info("%s was created by a concurrent run", spec.qualified_name)
                    return

    def version(self, spec: TableSpec) -> int | None:
        return self.engine.version(self.path(spec)) if self.exists(spec) else None

    def versions(self, specs: Sequence[TableSpec]) -> dict[str, int | None]:
        return {spec.qualified_name: self.version(spec) for spec in specs}

    def read(self, spec: TableSpec, version: int | None = None) -> DataFrame:
        """The table at its current version, or at ``version`` (Delta time travel)."""
        self.ensure(spec)
        return self.engine.read(self.path(spec), spec, version).select(*spec.column_names)

    def append(self, spec: TableSpec, df: DataFrame) -> WriteResult:
        self.ensure(spec)
        with _writing(spec):
            rows = self.engine.append(self.path(spec), spec, conform(spec, df))
        version = self.version(spec) if rows else None
        return WriteResult(spec.qualified_name, "append", version, rows, inserted=rows)

    def merge(
        self,
        spec: TableSpec,
        df: DataFrame,
        update_columns: Sequence[str] | None = None,
        insert: bool = True,
        *,
        update: bool = True,
        counted: int | None = None,
    ) -> WriteResult:
        """Upsert ``df`` on the table's keys in one commit.

        Matched rows get ``update_columns`` (all non-key columns by default) unless ``update``
        is false (the caller found no stored key among the rows: a concurrent writer's row then
        stays); unmatched rows are inserted unless ``insert`` is false. The caller passes only
        new or changed rows, so an empty ``df`` makes no commit and re-running on the same input
        changes nothing. ``counted``: the caller's row count of ``df``, persisted and with keys
        it checked unique (the connector then merges it without staging it first).
        """
        self.ensure(spec)
        if update_columns is not None:
            unknown = set(update_columns) - set(spec.column_names)
            if unknown:
                raise SchemaMismatchError(
                    spec.qualified_name, [f"unknown columns {sorted(unknown)}"]
                )
        if update_columns is None or insert:
            rows = conform(spec, df)
        else:  # a partial update (e.g. a flag) needs only the keys and the updated columns
            rows = df.select(*spec.keys, *update_columns)
        with _writing(spec):
            count, inserted, updated = self.engine.merge(
                self.path(spec), spec, rows, update_columns, insert, update, counted
            )
        version = self.version(spec) if count else None
        log.info(
            "merge into %s: %d source rows, %d inserted, %d updated (version %s)",
            spec.qualified_name,
            count,
            inserted,
            updated,
            version,
        )
        return WriteResult(spec.qualified_name, "merge", version, count, inserted, updated)

    def delete_keys(self, spec: TableSpec, keys: Sequence[int]) -> int:
        """Delete the rows whose (single, integer) key is in ``keys``, in one commit; none when
        no row matches. Returns the rows deleted."""
        if len(spec.keys) != 1:
            raise LakehouseError(f"delete_keys: {spec.qualified_name} has a composite key")
        if not keys:
            return 0
        key = spec.keys[0]
        values = sorted({int(k) for k in keys})  # integers only: nothing to quote or inject
        matching = self.read(spec).where(F.col(key).isin(values)).count()
        if matching:
            predicate = f"{key} IN ({', '.join(str(v) for v in values)})"
            self.engine.delete(self.path(spec), predicate)
            log.info("delete from %s: %d rows (version %s)", spec.qualified_name, matching,
                     self.version(spec))
        return matching

    def merge_changes(
        self,
        spec: TableSpec,
        df: DataFrame,
        update_columns: Sequence[str] | None = None,
        insert: bool = True,
    ) -> WriteResult:
        """:meth:`merge` for a source cheap to evaluate twice (joins and windows over tables or
        persisted rows, no UDF): an empty one writes nothing at all, not even a staging folder,
        so a run with nothing to change leaves the lakehouse untouched (a read-only one too)."""
        self.ensure(spec)
        if df.isEmpty():
            log.info("merge into %s: nothing new or changed, nothing written", spec.qualified_name)
            return WriteResult(spec.qualified_name, "merge", None, 0)
        return self.merge(spec, df, update_columns, insert)

    def history(self, spec: TableSpec) -> list[dict[str, Any]]:
        return self.engine.history(self.path(spec))
