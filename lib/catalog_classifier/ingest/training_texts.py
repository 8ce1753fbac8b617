"""Training-only texts (``bronze.training_texts``): processed copies of original X_train rows
(translated, merged, folded), read from CSVs with ``row_index`` and ``text`` columns.

They are labelled here from the labels CSV by row index of the same ingest run, looked up by
``row_index``, never from a column of the processed file: a copy's label must be the one the
project holds for the original row. Pure functions from DataFrame to DataFrame that split the
rows read into valid ones and quarantine rows, each with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from catalog_classifier.config import TRAINING_TEXT_KINDS, IngestConfig
from catalog_classifier.ingest.records import CORRUPT, ID_PATTERN, IngestInputError, trimmed_long
from catalog_classifier.ingest.validation import quarantine_rows, raw_text
from catalog_classifier.storage.tables import BRONZE_TRAINING_TEXTS

RECORD_KIND = "training_text"
# The columns a training texts CSV must have (others, e.g. its provenance, are ignored).
REQUIRED_COLUMNS = ("row_index", "text")
# File-name fragments that name a kind: the processed files of data/rakuten/SOURCES.md.
_KIND_IN_NAME = {
    "translated_en": ("en_translated", "translated_en"),
    "merged_fr": ("fr_merged", "merged_fr"),
    "folded_fr": ("fr_folded", "folded_fr"),
}


def training_text_source(value: str) -> tuple[str, str]:
    """(kind, path) of a ``--training-texts`` value: ``KIND=PATH``, or a path whose file name
    names the kind (``X_train_en_translated.csv`` -> translated_en)."""
    prefix, sep, rest = value.partition("=")
    if sep and prefix in TRAINING_TEXT_KINDS:
        return prefix, rest
    name = Path(value).name.lower()
    found = [kind for kind, parts in _KIND_IN_NAME.items() if any(p in name for p in parts)]
    if len(found) != 1:
        raise IngestInputError(
            f"{value}: cannot tell the kind of training texts from the file name; give "
            f"KIND=PATH with KIND one of {', '.join(TRAINING_TEXT_KINDS)}",
            "unexpected_header",
        )
    return found[0], value


def raw_schema(path: str, header: Sequence[str]) -> T.StructType:
    """Every column of the header as a string, and the parser's corrupt-record column."""
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise IngestInputError(
            f"{path}: header {list(header)} lacks {', '.join(missing)} (a training texts CSV "
            "has row_index and text)",
            "unexpected_header",
        )
    return T.StructType([T.StructField(n, T.StringType()) for n in (*header, CORRUPT)])


def with_source_row(raw: DataFrame) -> DataFrame:
    """``raw`` with ``source_row``: the record's 0-based position in its file. Spark's CSV
    reader gives no line numbers; one file read whole (multiLine) keeps its order, so the
    position in the RDD is the position in the file."""
    schema = T.StructType([*raw.schema.fields, T.StructField("source_row", T.LongType(), False)])
    numbered = raw.rdd.zipWithIndex().map(lambda pair: (*pair[0], pair[1]))
    return raw.sparkSession.createDataFrame(numbered, schema)


def labels_by_row(raw_labels: Sequence[DataFrame]) -> DataFrame | None:
    """row_index -> prdtypecode from raw labels CSVs by row index (their well-formed rows),
    with ``codes``: how many distinct codes the run's files give that row (over 1: conflict)."""
    frames = [
        raw.filter(
            F.col(CORRUPT).isNull()
            & F.trim("row_index").rlike(ID_PATTERN)
            & F.trim("prdtypecode").rlike(r"^[0-9]{1,9}$")
        ).select(
            trimmed_long("row_index").alias("row_index"),
            F.trim("prdtypecode").cast("int").alias("prdtypecode"),
        )
        for raw in raw_labels
    ]
    if not frames:
        return None
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    return union.groupBy("row_index").agg(
        F.min("prdtypecode").alias("prdtypecode"),
        F.countDistinct("prdtypecode").alias("codes"),
    )


def _content_hash() -> Column:
    return F.sha2(
        F.concat_ws(
            "\u001f", "kind", F.col("row_index").cast("string"), "text", F.col("prdtypecode")
        ),
        256,
    )


def validate_training_texts(
    raw: DataFrame,
    kind: str,
    labels: DataFrame,
    codes: Sequence[int],
    ingested_at: datetime,
    cfg: IngestConfig,
) -> tuple[DataFrame, DataFrame]:
    """Split one file's raw rows (with ``source_row``) into (rows in ``bronze.training_texts``'
    schema, quarantine rows). ``labels``: row_index, prdtypecode, codes (:func:`labels_by_row`).

    Reasons, first that applies: ``unparsable_row``, ``missing_row_index`` /
    ``non_numeric_row_index`` / ``id_out_of_range_row_index``, ``empty_text``,
    ``training_text_without_label`` (no label at that row index), ``conflicting_labels`` (the
    run's labels files disagree), ``unknown_prdtypecode`` (a code outside the categories)."""
    row_index = F.trim("row_index")
    checked = raw.withColumn(
        "problem",
        F.when(F.col(CORRUPT).isNotNull(), F.lit("unparsable_row"))
        .when(row_index.isNull() | (row_index == ""), F.lit("missing_row_index"))
        .when(~row_index.rlike(ID_PATTERN), F.lit("non_numeric_row_index"))
        .when(trimmed_long("row_index").isNull(), F.lit("id_out_of_range_row_index"))
        .when(F.col("text").isNull() | (F.trim("text") == ""), F.lit("empty_text")),
    ).withColumn("_row_index", F.when(F.col("problem").isNull(), trimmed_long("row_index")))
    labelled = (
        checked.join(
            labels.withColumnRenamed("row_index", "_row_index")
            .withColumnRenamed("prdtypecode", "_code")
            .withColumnRenamed("codes", "_codes"),
            "_row_index",
            "left",
        )
        .withColumn(
            "problem",
            F.coalesce(
                F.col("problem"),
                F.when(F.col("_code").isNull(), F.lit("training_text_without_label"))
                .when(F.col("_codes") > 1, F.lit("conflicting_labels"))
                .when(~F.col("_code").isin(list(codes)), F.lit("unknown_prdtypecode")),
            ),
        )
    )
    valid = (
        labelled.filter(F.col("problem").isNull())
        .select(
            F.lit(kind).alias("kind"),
            F.col("_row_index").alias("row_index"),
            "text",
            F.col("_code").alias("prdtypecode"),
            "source_file",
            "source_row",
        )
        .withColumn("content_sha256", _content_hash())
        .withColumn("ingested_at", F.lit(ingested_at).cast("timestamp"))
        .select(*BRONZE_TRAINING_TEXTS.column_names)
    )
    details = {
        "unparsable_row": "the CSV parser cannot split the row into its columns",
        "empty_text": "the text is empty",
        "training_text_without_label": "the labels CSV has no code at this row index",
        "conflicting_labels": "the run's labels CSVs give this row index several codes",
        "unknown_prdtypecode": "the code at this row index is not a configured category",
    }
    detail = F.create_map(*[F.lit(x) for pair in details.items() for x in pair])[F.col("problem")]
    rejected = quarantine_rows(
        labelled.filter(F.col("problem").isNotNull()),
        RECORD_KIND,
        F.col("problem"),
        F.coalesce(detail, F.concat(F.lit("training text rejected: "), F.col("problem"))),
        raw_text(("row_index", "text"), cfg.quarantine_raw_chars),
        F.concat(F.lit(f"{kind} row "), F.col("source_row").cast("string")),
        ingested_at,
    )
    return valid, rejected


def dedupe_training_texts(
    rows: DataFrame, ingested_at: datetime, cfg: IngestConfig
) -> tuple[DataFrame, DataFrame]:
    """One row per (kind, row_index) across the run's files: the first by file and position
    is kept, the others quarantined as ``duplicate_training_text``."""
    ordered = Window.partitionBy("kind", "row_index").orderBy("source_file", "source_row")
    ranked = rows.withColumn("_rank", F.row_number().over(ordered))
    kept = ranked.filter(F.col("_rank") == 1).drop("_rank")
    repeats = ranked.filter(F.col("_rank") > 1).withColumn(CORRUPT, F.lit(None).cast("string"))
    quarantine = quarantine_rows(
        repeats,
        RECORD_KIND,
        F.lit("duplicate_training_text"),
        F.lit("this kind already has a text for the row index (first file and row kept)"),
        raw_text(("row_index", "text"), cfg.quarantine_raw_chars),
        F.concat(F.col("kind"), F.lit(" row "), F.col("source_row").cast("string")),
        ingested_at,
    )
    return kept, quarantine
