"""Ingest: listings and labels CSVs and image folders or zip archives into the bronze tables.

Everything is idempotent: rows are compared with what the tables hold (by key and content hash)
and only new or changed rows are merged, so running twice on the same files changes nothing.
Bad input goes to ``bronze.quarantine`` with a reason, or is flagged on the row it belongs to
(``listings.has_image``, ``images.has_listing``, ``images.problem``); the batch goes on.

The validation steps are pure functions from DataFrame to DataFrame; :func:`run_ingest` reads
the files and writes the tables.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import os
import re
import stat
import time
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from catalog_classifier.config import Config, IngestConfig
from catalog_classifier.features.imaging import check_image_bytes
from catalog_classifier.logs import Progress, describe_error
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import (
    BRONZE_IMAGES,
    BRONZE_LABELS,
    BRONZE_LISTINGS,
    BRONZE_QUARANTINE,
    BRONZE_TABLES,
)

log = logging.getLogger(__name__)

CORRUPT = "_corrupt_record"
LISTING_FIELDS = ("row_index", "designation", "description", "productid", "imageid")
# Spark's CSV parser marks a row with more or fewer fields than the schema as malformed and keeps
# its text in _corrupt_record (the schema must not have spare columns, or every row is malformed).
RAW_LISTINGS_SCHEMA = T.StructType(
    [T.StructField(name, T.StringType()) for name in (*LISTING_FIELDS, CORRUPT)]
)
LABELS_BY_INDEX_SCHEMA = T.StructType(
    [T.StructField(n, T.StringType()) for n in ("row_index", "prdtypecode", CORRUPT)]
)
LABELS_BY_PRODUCT_SCHEMA = T.StructType(
    [T.StructField(n, T.StringType()) for n in ("productid", "prdtypecode", CORRUPT)]
)
# Ids are non-negative integers of ASCII digits ([0-9], not \d: Java's and Python's \d may take
# other scripts' digits) that fit a Delta long (signed 64-bit); the range is checked apart.
ID_PATTERN = r"^[0-9]+$"
MAX_ID = 2**63 - 1


def id_problem(text: str) -> str | None:
    """Why ``text`` is not an id (ASCII digits, at most ``MAX_ID``), or None when it is one."""
    if not (text.isascii() and text.isdigit()):
        return "not ASCII digits"
    if int(text) > MAX_ID:
        return f"{text} does not fit a signed 64-bit integer"
    return None


class IngestInputError(ValueError):
    """An input file that cannot be ingested at all (its records are not read)."""

    def __init__(self, message: str, reason: str = "unreadable_csv") -> None:
        super().__init__(message)
        self.reason = reason  # the quarantine reason of the whole file


# --------------------------------------------------------------------------------------------
# CSV reading

# Valid UTF-8 multi-byte sequences: in a file that is not UTF-8 they say it mixes encodings.
_UTF8_SEQUENCE = re.compile(
    rb"[\xC2-\xDF][\x80-\xBF]|[\xE0-\xEF][\x80-\xBF]{2}|[\xF0-\xF4][\x80-\xBF]{3}"
)
_CHUNK = 1 << 20


def _local_file(path: str) -> bool:
    """Whether the driver can open ``path`` itself (a URI such as s3a://... it cannot)."""
    return "://" not in path and os.path.isfile(path)


def detect_text_encoding(path: str, fallback: str) -> str:
    """The Python codec ``path`` decodes with (see :func:`scan_text`)."""
    return scan_text(path, fallback).encoding


@dataclass(frozen=True)
class TextScan:
    encoding: str  # the Python codec the file decodes with
    longest_record: int = 0  # bytes (0 when not UTF-8: not measured)
    carriage_returns: bool = False  # any "\r" (not measured when not UTF-8)


def scan_text(path: str, fallback: str) -> TextScan:
    """The Python codec ``path`` decodes with, its longest CSV record in bytes and whether it
    holds carriage returns. One streamed pass; memory stays at one chunk.

    The codec is ``"utf-8"`` when the file is strict UTF-8, else ``fallback`` when that decodes
    it strictly and the file does not look like UTF-8 with a few stray bytes. Raises
    :class:`IngestInputError` (``undecodable_text``) otherwise, so no text is ever stored with
    replacement characters. Files the driver cannot open (URIs) are taken as UTF-8 unchecked.
    """
    if not _local_file(path):
        return TextScan("utf-8")
    decoder: codecs.IncrementalDecoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset, bad = 0, None
    longest, record, quotes, returns = 0, 0, 0, False
    with open(path, "rb") as handle:
        while piece := handle.readline(_CHUNK):
            if b"\x00" in piece:
                raise IngestInputError(
                    f"{path}: NUL byte at offset {offset + piece.index(0):,}: binary, not CSV text",
                    "undecodable_text",
                )
            try:
                decoder.decode(piece)
            except UnicodeDecodeError as exc:
                bad = offset + exc.start
                break
            offset += len(piece)
            # A record ends at a line end after an even number of quotes (quotes are doubled
            # inside quoted fields); no field is longer than its record.
            record += len(piece)
            quotes += piece.count(b'"')
            returns = returns or b"\r" in piece
            if piece.endswith(b"\n") and quotes % 2 == 0:
                longest, record, quotes = max(longest, record), 0, 0
        else:
            try:
                decoder.decode(b"", final=True)
                return TextScan("utf-8", max(longest, record), returns)
            except UnicodeDecodeError:
                bad = offset - len(decoder.getstate()[0])  # a sequence cut by the file's end
    not_utf8 = f"not UTF-8 (byte {bad:,})"
    if not fallback:
        raise IngestInputError(
            f"{path}: {not_utf8}; no ingest.fallback_encoding", "undecodable_text"
        )
    decoder = codecs.getincrementaldecoder(fallback)("strict")
    offset, high_bytes, utf8_bytes = 0, 0, 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            high_bytes += len(chunk) - len(chunk.translate(None, bytes(range(128, 256))))
            utf8_bytes += sum(len(m) for m in _UTF8_SEQUENCE.findall(chunk))
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise IngestInputError(
                    f"{path}: {not_utf8}, nor {fallback} (byte {offset + exc.start:,})",
                    "undecodable_text",
                ) from None
            offset += len(chunk)
    # A real cp1252/Latin-1 text has almost no byte pairs that happen to form UTF-8; a UTF-8
    # file with a few pasted Latin-1 lines is mostly such sequences: decoding it whole with
    # the fallback would turn every accent of its UTF-8 part into mojibake.
    if utf8_bytes * 2 >= high_bytes:
        raise IngestInputError(
            f"{path}: {not_utf8}, yet {utf8_bytes:,} of its {high_bytes:,} non-ASCII bytes are "
            "UTF-8: mixed encodings",
            "undecodable_text",
        )
    return TextScan(codecs.lookup(fallback).name)


def read_csv_header(spark: SparkSession, path: str, encoding: str = "utf-8") -> list[str]:
    if _local_file(path):
        with open(path, encoding=encoding, newline="") as handle:
            line = handle.readline(_CHUNK)
        first = [line.rstrip("\r\n")] if line else []
    else:
        first = [row[0] for row in spark.read.text(path).limit(1).collect()]
    if not first:
        raise IngestInputError(f"{path}: empty file", "empty_file")
    names = [name.strip().strip('"') for name in first[0].split(",")]
    names[0] = names[0].lstrip("\ufeff")  # a byte order mark is not part of the first name
    return names


def _csv_layout(path: str, header: list[str], record_kind: str) -> tuple[T.StructType, str]:
    """The raw schema of a listings or labels CSV from its header, and how labels join."""
    if record_kind == "listing":
        if header[1:] != ["designation", "description", "productid", "imageid"]:
            raise IngestInputError(
                f"{path}: header {header} is not [index],designation,description,productid,imageid",
                "unexpected_header",
            )
        return RAW_LISTINGS_SCHEMA, "row_index"
    if header == ["productid", "prdtypecode"]:
        return LABELS_BY_PRODUCT_SCHEMA, "productid"
    if len(header) == 2 and header[1] == "prdtypecode":
        return LABELS_BY_INDEX_SCHEMA, "row_index"
    raise IngestInputError(
        f"{path}: header {header} is not [index],prdtypecode or productid,prdtypecode",
        "unexpected_header",
    )


def _read_csv(spark: SparkSession, path: str, schema: T.StructType, cfg: IngestConfig) -> DataFrame:
    """Raw rows as strings. Quoted fields may hold commas, doubled quotes and newlines; rows the
    parser cannot split into the schema's columns keep their text in ``_corrupt_record``."""
    return (
        spark.read.schema(schema)
        .option("header", True)
        .option("multiLine", True)
        .option("quote", '"')
        .option("escape", '"')
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .option("maxCharsPerColumn", cfg.csv_max_chars_per_column)
        .option("encoding", "UTF-8")
        .csv(path)
        .withColumn("source_file", F.lit(path))
    )


def _field_too_large(exc: BaseException) -> bool:
    text = str(exc) + describe_error(exc)
    return "exceeds the maximum number of characters" in text or "maxCharsPerColumn" in text


def _csv_records(handle: Any, cap: int, keep: int) -> Iterator[tuple[str, bool]]:
    """The records of a CSV text stream (a quoted field may span lines) as (text, oversized).

    Quotes are doubled inside quoted fields, so a record ends at the first line end after an
    even number of quotes. A record over ``cap`` characters is not held: its first ``keep``
    characters come back with ``oversized`` set (memory stays at one record of ``cap``).
    """
    parts: list[str] = []
    size, quotes, oversized = 0, 0, False
    while piece := handle.readline(_CHUNK):
        quotes += piece.count('"')
        if not oversized:
            parts.append(piece)
            size += len(piece)
            if size > cap:
                oversized = True
                parts = ["".join(parts)[:keep]]
        if piece.endswith(("\n", "\r")) and quotes % 2 == 0:
            yield "".join(parts), oversized
            parts, size, quotes, oversized = [], 0, 0, False
    if parts:
        yield "".join(parts), oversized


def parse_csv_in_python(
    path: str, encoding: str, schema: T.StructType, cfg: IngestConfig, record_kind: str
) -> tuple[pd.DataFrame, list[Rejection]]:
    """Raw rows of a CSV Spark cannot read: not UTF-8 (Spark 4 decodes few charsets), or with a
    record longer than ``csv_max_chars_per_column`` (Spark's parser gives up on the whole file
    at such a field). The same columns as Spark's reader, read with Python's csv module record
    by record; each record with an oversized field is set apart as a ``field_too_large``
    rejection.

    Only for those rare files: it runs on the driver and holds the file's rows in memory.
    """
    names = [f.name for f in schema.fields if f.name != CORRUPT]
    limit = cfg.csv_max_chars_per_column
    # A record's text is at most its fields (quotes doubled), their quotes and separators.
    cap = len(names) * (2 * limit + 3)
    csv.field_size_limit(max(csv.field_size_limit(), cap))
    rows: list[dict[str, str | None]] = []
    rejected: list[Rejection] = []
    with open(path, encoding=encoding, newline="") as handle:
        for number, (text, oversized) in enumerate(_csv_records(handle, cap, 200)):
            if number == 0 or not text.strip():
                continue  # the header; blank lines, as Spark's parser skips them
            fields = None if oversized else list(csv.reader(io.StringIO(text, newline="")))
            if oversized or any(len(v) > limit for row in fields or [] for v in row):
                rejected.append(
                    Rejection(
                        path,
                        text.split(",", 1)[0][:40],
                        "field_too_large",
                        f"a field longer than ingest.csv_max_chars_per_column ({limit:,} chars)",
                        record_kind,
                    )
                )
                continue
            values = fields[0] if fields and len(fields) == 1 else []
            row: dict[str, str | None] = {
                name: (values[i] or None) if i < len(values) else None
                for i, name in enumerate(names)
            }
            # As Spark's PERMISSIVE mode: a record with another number of fields is malformed.
            row[CORRUPT] = None if len(values) == len(names) else text.rstrip("\r\n")
            rows.append(row)
    return pd.DataFrame(rows, columns=[*names, CORRUPT]), rejected


@dataclass
class CsvFile:
    """One listings or labels CSV as read: its raw rows (persisted) or why it was not read."""

    path: str
    raw: DataFrame | None = None
    join_on: str = "row_index"
    rows: int = 0  # records read, those quarantined as a whole record included
    encoding: str = "utf-8"
    rejections: list[Rejection] = field(default_factory=list)


def load_csv(spark: SparkSession, path: str, record_kind: str, cfg: IngestConfig) -> CsvFile:
    """Read one listings (``record_kind="listing"``) or labels (``"label"``) CSV; never raises.

    Anything that goes wrong with the file becomes a ``file`` rejection naming it and the
    reason, so the other files of the run still land.
    """
    loaded = CsvFile(path)
    raw = None
    try:
        scan = scan_text(path, cfg.fallback_encoding)
        loaded.encoding = scan.encoding
        if loaded.encoding != "utf-8":
            log.warning("%s is not UTF-8: decoded as %s", path, loaded.encoding)
        header = read_csv_header(spark, path, loaded.encoding)
        schema, loaded.join_on = _csv_layout(path, header, record_kind)
        # Files Spark's reader gets wrong are read here: Spark 4 decodes only UTF-8/16/32, ASCII
        # and Latin-1; it gives up on the whole file at a field over maxCharsPerColumn (and logs
        # all of it); after a "\r\n" or "\r" it turns line ends inside quotes into "\n" and
        # merges the rows of a file whose line ends are mixed.
        why = (
            f"not UTF-8: {loaded.encoding}"
            if loaded.encoding != "utf-8"
            else "a record over csv_max_chars_per_column"
            if scan.longest_record > cfg.csv_max_chars_per_column
            else "carriage returns"
            if scan.carriage_returns
            else None
        )
        if why and _local_file(path):
            log.warning("%s: read on the driver (%s)", path, why)
            rows, loaded.rejections = parse_csv_in_python(
                path, loaded.encoding, schema, cfg, record_kind
            )
            raw = spark.createDataFrame(rows, schema).withColumn("source_file", F.lit(path))
            raw = raw.persist(StorageLevel.MEMORY_AND_DISK)
            loaded.rows = raw.count() + len(loaded.rejections)
        else:
            raw = _read_csv(spark, path, schema, cfg)
            raw = raw.persist(StorageLevel.MEMORY_AND_DISK)
            loaded.rows = raw.count()  # the parse runs here: its failures are this file's
        loaded.raw = raw
    except IngestInputError as exc:
        log.error("%s file %s not ingested: %s", record_kind, path, exc)
        loaded.rejections = [Rejection(path, "", exc.reason, str(exc)[:500], "file")]
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
        reason = "field_too_large" if _field_too_large(exc) else "unreadable_csv"
        log.error(
            "%s file %s not ingested (%s): %s", record_kind, path, reason, describe_error(exc)
        )
        log.debug("%s: full error", path, exc_info=True)
        if raw is not None:
            raw.unpersist()
        loaded.raw = None
        loaded.rejections = [Rejection(path, "", reason, describe_error(exc), "file")]
    return loaded


# --------------------------------------------------------------------------------------------
# Validation (pure DataFrame -> DataFrame)


def _id_problem(column: str) -> Column:
    value = F.col(column)
    return (
        F.when(value.isNull() | (F.trim(value) == ""), F.lit(f"missing_{column}"))
        .when(~F.trim(value).rlike(ID_PATTERN), F.lit(f"non_numeric_{column}"))
        # try_cast: a plain cast of an out-of-range number fails the query under ANSI mode.
        .when(F.trim(value).try_cast("long").isNull(), F.lit(f"id_out_of_range_{column}"))
    )


def _first_problem(*problems: Column) -> Column:
    return F.coalesce(*problems)


def _raw_text(fields: Sequence[str], max_chars: int) -> Column:
    as_csv = F.to_csv(F.struct(*[F.col(f) for f in fields]))
    return F.substring(F.coalesce(F.col(CORRUPT), as_csv), 1, max_chars)


def quarantine_rows(
    df: DataFrame,
    record_kind: str | Column,
    reason: Column,
    detail: Column,
    raw: Column,
    locator: Column,
    ingested_at: datetime,
) -> DataFrame:
    """Rows in the quarantine table's schema, keyed by a hash of what makes them unique."""
    out = df.select(
        F.col("source_file").alias("source"),
        locator.cast("string").alias("locator"),
        (F.lit(record_kind) if isinstance(record_kind, str) else record_kind).alias("record_kind"),
        reason.alias("reason"),
        detail.alias("detail"),
        raw.alias("raw_record"),
    )
    key = F.sha2(
        F.concat_ws("\u001f", "source", "locator", "reason", F.coalesce("raw_record", F.lit(""))),
        256,
    )
    return out.select(
        key.alias("quarantine_id"),
        "*",
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
    ).select(*BRONZE_QUARANTINE.column_names)


def validate_listings(
    raw: DataFrame, ingested_at: datetime, cfg: IngestConfig
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """Split raw listing rows into (listing rows, quarantine rows, row index -> productid).

    Listing rows are in ``bronze.listings``' schema (``has_image`` still false). Within the
    batch, repeated productids with identical content keep their first row (the others are
    quarantined as ``duplicate_listing``); with different content none is kept
    (``conflicting_duplicate_productid``), since nothing says which is right.
    """
    description = F.when(F.col("description") == "", None).otherwise(F.col("description"))
    checked = raw.withColumn(
        "problem",
        _first_problem(
            F.when(F.col(CORRUPT).isNotNull(), F.lit("unparsable_row")),
            _id_problem("row_index"),
            _id_problem("productid"),
            _id_problem("imageid"),
            F.when(
                F.col("designation").isNull() | (F.trim("designation") == ""),
                F.lit("missing_designation"),
            ),
        ),
    ).withColumn("description", description)
    parsed = checked.filter(F.col("problem").isNull()).select(
        F.trim("productid").cast("long").alias("productid"),
        F.trim("imageid").cast("long").alias("imageid"),
        "designation",
        "description",
        "source_file",
        F.trim("row_index").cast("long").alias("source_row"),
    )
    parsed = parsed.withColumn(
        "content_sha256",
        F.sha2(
            F.concat_ws(
                "\u001f",
                F.col("imageid").cast("string"),
                "designation",
                F.coalesce("description", F.lit("\u0000")),
            ),
            256,
        ),
    )
    by_product = Window.partitionBy("productid")
    ordered = by_product.orderBy("source_file", "source_row")
    ranked = (
        parsed.withColumn("versions", F.size(F.collect_set("content_sha256").over(by_product)))
        .withColumn("rank", F.row_number().over(ordered))
        .withColumn("first_row", F.first("source_row").over(ordered))
    )
    duplicate_reason = F.when(F.col("versions") > 1, F.lit("conflicting_duplicate_productid")).when(
        F.col("rank") > 1, F.lit("duplicate_listing")
    )
    ranked = ranked.withColumn("duplicate_reason", duplicate_reason)
    listings = ranked.filter(F.col("duplicate_reason").isNull()).select(
        "productid",
        "imageid",
        "designation",
        "description",
        "content_sha256",
        F.lit(False).alias("has_image"),
        "source_file",
        "source_row",
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
    )
    bad_rows = quarantine_rows(
        checked.filter(F.col("problem").isNotNull()),
        "listing",
        F.col("problem"),
        F.concat(F.lit("listing row rejected: "), F.col("problem")),
        _raw_text(LISTING_FIELDS, cfg.quarantine_raw_chars),
        F.coalesce(F.col("row_index"), F.lit("?")),
        ingested_at,
    )
    duplicates = quarantine_rows(
        ranked.filter(F.col("duplicate_reason").isNotNull()).withColumn(CORRUPT, F.lit(None)),
        "listing",
        F.col("duplicate_reason"),
        F.when(
            F.col("duplicate_reason") == "duplicate_listing",
            F.concat(F.lit("same content as row "), F.col("first_row").cast("string")),
        ).otherwise(
            F.concat(
                F.lit("productid "),
                F.col("productid").cast("string"),
                F.lit(" has different content in several rows; none kept"),
            )
        ),
        _raw_text(
            ("source_row", "designation", "description", "productid", "imageid"),
            cfg.quarantine_raw_chars,
        ),
        F.col("source_row"),
        ingested_at,
    )
    row_products = ranked.filter(F.col("versions") == 1).select(
        "source_file", F.col("source_row").alias("row_index"), "productid"
    )
    return listings, bad_rows.unionByName(duplicates), row_products


def validate_labels(
    raw: DataFrame,
    join_on: str,
    row_products: DataFrame,
    known_products: DataFrame,
    codes: Sequence[int],
    ingested_at: datetime,
    cfg: IngestConfig,
) -> tuple[DataFrame, DataFrame]:
    """Split raw label rows into (label rows, quarantine rows).

    ``join_on="row_index"``: a label belongs to the listing at the same row index of the paired
    listings CSV (``row_products``: source_file, row_index, productid). ``"productid"``: the
    label names its product, which must be in ``known_products`` (productid).
    """
    locator = "row_index" if join_on == "row_index" else "productid"
    checked = raw.withColumn(
        "problem",
        _first_problem(
            F.when(F.col(CORRUPT).isNotNull(), F.lit("unparsable_row")),
            _id_problem(locator),
            F.when(
                F.col("prdtypecode").isNull() | ~F.trim("prdtypecode").rlike(r"^[0-9]{1,9}$"),
                F.lit("non_numeric_prdtypecode"),
            ).when(
                ~F.trim("prdtypecode").cast("int").isin(list(codes)), F.lit("unknown_prdtypecode")
            ),
        ),
    )
    valid = checked.filter(F.col("problem").isNull()).select(
        F.trim(locator).cast("long").alias(locator),
        F.trim(locator).alias("locator_value"),
        F.trim("prdtypecode").cast("int").alias("prdtypecode"),
        "source_file",
        (F.col(locator) if join_on == "row_index" else F.lit(None))
        .cast("long")
        .alias("source_row"),
    )
    if join_on == "row_index":
        joined = valid.join(row_products.drop("source_file"), "row_index", "left")
    else:
        known = known_products.select("productid", F.lit(True).alias("_known")).distinct()
        joined = valid.join(known, "productid", "left").withColumn(
            "productid", F.when(F.col("_known"), F.col("productid"))
        )
    by_product = Window.partitionBy("productid")
    ordered = by_product.orderBy("source_row", "locator_value")
    ranked = (
        joined.withColumn("codes", F.size(F.collect_set("prdtypecode").over(by_product)))
        .withColumn("rank", F.row_number().over(ordered))
        .withColumn(
            "problem",
            F.when(F.col("productid").isNull(), F.lit("label_without_listing"))
            .when(F.col("codes") > 1, F.lit("conflicting_labels"))
            .when(F.col("rank") > 1, F.lit("duplicate_label")),
        )
    )
    labels = ranked.filter(F.col("problem").isNull()).select(
        "productid",
        "prdtypecode",
        "source_file",
        "source_row",
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
    )
    rejected = quarantine_rows(
        checked.filter(F.col("problem").isNotNull()),
        "label",
        F.col("problem"),
        F.concat(F.lit("label row rejected: "), F.col("problem")),
        _raw_text((locator, "prdtypecode"), cfg.quarantine_raw_chars),
        F.coalesce(F.col(locator), F.lit("?")),
        ingested_at,
    )
    unmatched = quarantine_rows(
        ranked.filter(F.col("problem").isNotNull()),
        "label",
        F.col("problem"),
        F.when(
            F.col("problem") == "label_without_listing",
            F.lit(f"no valid listing with this {locator}"),
        )
        .when(F.col("problem") == "conflicting_labels", F.lit("the product has several codes"))
        .otherwise(F.lit("the product's label appears more than once")),
        F.concat_ws(",", "locator_value", F.col("prdtypecode").cast("string")),
        F.col("locator_value"),
        ingested_at,
    )
    return labels, rejected.unionByName(unmatched)


def new_or_changed(
    incoming: DataFrame, existing: DataFrame, keys: Sequence[str], version_col: str
) -> DataFrame:
    """Incoming rows whose key is new or whose ``version_col`` differs from the stored row."""
    stored = existing.select(*keys, F.col(version_col).alias("_stored_version"))
    return (
        incoming.join(stored, list(keys), "left")
        .filter(
            F.col("_stored_version").isNull() | (F.col("_stored_version") != F.col(version_col))
        )
        .drop("_stored_version")
    )


# --------------------------------------------------------------------------------------------
# Images: enumerating folders and archives (driver, metadata only), reading (executors)


@dataclass(frozen=True)
class ImageEntry:
    source: str  # folder or archive path
    entry: str  # path relative to the folder, or archive member name
    kind: str  # "file" or "zip"
    imageid: int
    productid: int
    size: int
    # Index of the member in the archive's infolist (-1 for a file): a name may occur twice.
    member: int = -1


@dataclass
class Rejection:
    source: str
    locator: str
    reason: str
    detail: str
    kind: str = "image"  # the quarantine's record_kind: "image", or "file" for a whole input


def _unsafe_member_name(name: str) -> str | None:
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "path escapes the archive (..)"
    if "\x00" in name:
        return "NUL byte in name"
    return None


# The compression methods Python's zipfile reads (others raise NotImplementedError on open).
_ZIP_METHODS = frozenset(
    (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
)


def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "non-regular file"


def enumerate_images(
    sources: Sequence[str], cfg: IngestConfig
) -> tuple[list[ImageEntry], list[Rejection]]:
    """List image files in folders and zip archives, checking names and declared sizes.

    Only metadata is read here; bytes are read later, in batches, on the executors.
    """
    pattern = re.compile(cfg.image_name_pattern, re.IGNORECASE)
    entries: list[ImageEntry] = []
    rejected: list[Rejection] = []

    def accept(
        source: str, entry: str, kind: str, size: int, member: int = -1, name: str = ""
    ) -> None:
        # name: the member's own name when entry is a repeated one's "name#2"
        match = pattern.match(PurePosixPath((name or entry).replace("\\", "/")).name)
        bad_id = match and (id_problem(match["imageid"]) or id_problem(match["productid"]))
        if not match:
            rejected.append(
                Rejection(
                    source,
                    entry,
                    "unrecognized_file_name",
                    f"name does not match {cfg.image_name_pattern}",
                )
            )
        elif bad_id:
            rejected.append(Rejection(source, entry, "invalid_id", f"id in the name: {bad_id}"))
        elif size == 0:
            rejected.append(Rejection(source, entry, "empty_file", "zero bytes"))
        elif size > cfg.max_image_bytes:
            rejected.append(
                Rejection(
                    source,
                    entry,
                    "file_too_large",
                    f"{size:,} bytes > max_image_bytes {cfg.max_image_bytes:,}",
                )
            )
        else:
            entries.append(
                ImageEntry(
                    source,
                    entry,
                    kind,
                    int(match["imageid"]),
                    int(match["productid"]),
                    size,
                    member,
                )
            )

    for source in sources:
        path = Path(source)
        if path.is_dir():

            def unreadable_folder(exc: OSError, source: str = source) -> None:
                # os.walk skips a folder it cannot list; it must not vanish uncounted.
                where = os.path.relpath(exc.filename, source) if exc.filename else ""
                rejected.append(
                    Rejection(source, where, "unreadable_folder", f"{type(exc).__name__}: {exc}")
                )

            for dirpath, dirnames, filenames in os.walk(path, onerror=unreadable_folder):
                dirnames.sort()
                for name in sorted(filenames):
                    full = Path(dirpath) / name
                    relative = str(full.relative_to(path))
                    try:
                        info = full.lstat()
                    except OSError as exc:
                        rejected.append(
                            Rejection(
                                source, relative, "unreadable_file", f"{type(exc).__name__}: {exc}"
                            )
                        )
                        continue
                    if stat.S_ISLNK(info.st_mode):
                        rejected.append(
                            Rejection(source, relative, "symlink", "links are not followed")
                        )
                    elif stat.S_ISREG(info.st_mode):
                        accept(source, relative, "file", info.st_size)
                    else:
                        rejected.append(
                            Rejection(
                                source,
                                relative,
                                "not_a_regular_file",
                                f"a {_file_type(info.st_mode)}, not a file: not read",
                            )
                        )
        elif path.is_file() and zipfile.is_zipfile(path):
            try:
                with zipfile.ZipFile(path) as archive:
                    members = archive.infolist()
            except Exception as exc:  # noqa: BLE001 - any archive zipfile cannot open
                rejected.append(
                    Rejection(
                        source, "", "unreadable_archive", f"{type(exc).__name__}: {exc}", "file"
                    )
                )
                continue
            seen: Counter[str] = Counter()
            for index, member in enumerate(members):
                if member.is_dir():
                    continue
                seen[member.filename] += 1
                # A name stored twice: each copy is read by its index and located apart.
                entry = member.filename
                if seen[entry] > 1:
                    entry = f"{entry}#{seen[entry]}"
                unsafe = _unsafe_member_name(member.filename)
                mode = member.external_attr >> 16
                if unsafe:
                    rejected.append(Rejection(source, entry, "unsafe_archive_path", unsafe))
                elif stat.S_ISLNK(mode):
                    rejected.append(
                        Rejection(source, entry, "unsafe_archive_path", "symbolic link")
                    )
                elif member.flag_bits & 0x1:
                    rejected.append(
                        Rejection(source, entry, "encrypted_archive_entry", "password protected")
                    )
                elif member.compress_type not in _ZIP_METHODS:
                    rejected.append(
                        Rejection(
                            source,
                            entry,
                            "unsupported_compression",
                            f"zip compression method {member.compress_type} is not readable here",
                        )
                    )
                elif (
                    member.compress_size > 0
                    and member.file_size / member.compress_size > cfg.max_compression_ratio
                ):
                    rejected.append(
                        Rejection(
                            source,
                            entry,
                            "suspicious_compression_ratio",
                            f"{member.file_size:,} bytes from {member.compress_size:,} compressed "
                            f"(> {cfg.max_compression_ratio:g}:1): possible zip bomb",
                        )
                    )
                else:
                    accept(source, entry, "zip", member.file_size, index, member.filename)
        elif path.exists():
            rejected.append(
                Rejection(source, "", "unreadable_archive", "not a folder or a zip archive", "file")
            )
        else:
            rejected.append(
                Rejection(source, "", "missing_source", "no such file or folder", "file")
            )
    return entries, rejected


def batches_by_imageid(
    entries: Sequence[ImageEntry], batch_size: int
) -> Iterator[list[ImageEntry]]:
    """Batches of about ``batch_size`` entries; all entries of one imageid share a batch."""
    batch: list[ImageEntry] = []
    ordered = sorted(entries, key=lambda e: (e.imageid, e.source, e.entry))
    for i, entry in enumerate(ordered):
        batch.append(entry)
        next_id = ordered[i + 1].imageid if i + 1 < len(ordered) else None
        if len(batch) >= batch_size and next_id != entry.imageid:
            yield batch
            batch = []
    if batch:
        yield batch


IMAGE_READ_SCHEMA = T.StructType(
    [
        T.StructField("source", T.StringType()),
        T.StructField("entry", T.StringType()),
        T.StructField("kind", T.StringType()),
        T.StructField("imageid", T.LongType()),
        T.StructField("productid", T.LongType()),
        T.StructField("content", T.BinaryType()),
        T.StructField("byte_size", T.LongType()),
        T.StructField("sha256", T.StringType()),
        T.StructField("format", T.StringType()),
        T.StructField("width", T.IntegerType()),
        T.StructField("height", T.IntegerType()),
        T.StructField("problem", T.StringType()),
        T.StructField("reject_reason", T.StringType()),
        T.StructField("detail", T.StringType()),
    ]
)


def read_image_entries(
    batches: Iterable[pd.DataFrame], max_bytes: int, max_pixels: int
) -> Iterator[pd.DataFrame]:
    """mapInPandas body: read each entry's bytes (bounded), hash and check them.

    A file that cannot be read gets ``reject_reason``; a readable one that is not a sound JPEG
    keeps its bytes and gets ``problem`` (it is stored, flagged).
    """
    archives: dict[str, zipfile.ZipFile] = {}
    try:
        for batch in batches:
            rows = []
            for entry in batch.itertuples(index=False):
                rows.append(_read_one_image(entry, archives, max_bytes, max_pixels))
            yield pd.DataFrame(rows, columns=IMAGE_READ_SCHEMA.names)
    finally:
        for archive in archives.values():
            archive.close()


def _read_one_image(
    entry: Any, archives: dict[str, zipfile.ZipFile], max_bytes: int, max_pixels: int
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "source": entry.source,
        "entry": entry.entry,
        "kind": entry.kind,
        "imageid": entry.imageid,
        "productid": entry.productid,
        "content": None,
        "byte_size": None,
        "sha256": None,
        "format": None,
        "width": None,
        "height": None,
        "problem": None,
        "reject_reason": None,
        "detail": None,
    }
    try:
        if entry.kind == "zip":
            archive = archives.get(entry.source)
            if archive is None:
                archive = archives[entry.source] = zipfile.ZipFile(entry.source)
            # By index: a name stored twice would always open its last copy. Read at most one
            # byte past the limit, whatever the member's header claims.
            with archive.open(archive.infolist()[entry.member]) as handle:
                data = handle.read(max_bytes + 1)
        else:
            with open(os.path.join(entry.source, entry.entry), "rb") as handle:
                data = handle.read(max_bytes + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        return {
            **row,
            "reject_reason": "corrupt_archive_entry",
            "detail": f"{type(exc).__name__}: {exc}",
        }
    except OSError as exc:
        return {**row, "reject_reason": "unreadable_file", "detail": f"{type(exc).__name__}: {exc}"}
    except Exception as exc:  # noqa: BLE001 - one entry must not fail the batch
        # zipfile raises RuntimeError (encrypted), NotImplementedError (compression method),
        # zlib.error and ValueError for entries it cannot decode.
        return {
            **row,
            "reject_reason": "corrupt_archive_entry" if entry.kind == "zip" else "unreadable_file",
            "detail": f"{type(exc).__name__}: {exc}",
        }
    if len(data) > max_bytes:
        return {
            **row,
            "reject_reason": "file_too_large",
            "detail": f"more than {max_bytes:,} bytes",
        }
    if not data:
        return {**row, "reject_reason": "empty_file", "detail": "zero bytes"}
    check = check_image_bytes(data, max_pixels)
    return {
        **row,
        "content": data,
        "byte_size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "format": check.format,
        "width": check.width,
        "height": check.height,
        "problem": check.problem,
        "detail": check.detail,
    }


def split_image_rows(
    read: DataFrame, listing_keys: DataFrame, ingested_at: datetime
) -> tuple[DataFrame, DataFrame]:
    """Read results -> (image rows in bronze.images' schema, quarantine rows).

    Several files with one imageid: identical bytes keep the first (the others are quarantined
    as ``duplicate_file``); different bytes keep none (``conflicting_duplicate_imageid``).
    """
    located = read.withColumn(
        "located",
        F.when(F.col("kind") == "zip", F.concat_ws("!", "source", "entry")).otherwise(
            F.concat_ws("/", "source", "entry")
        ),
    )
    readable = located.filter(F.col("reject_reason").isNull())
    by_image = Window.partitionBy("imageid")
    ordered = by_image.orderBy("located")
    ranked = (
        readable.withColumn("versions", F.size(F.collect_set("sha256").over(by_image)))
        .withColumn("rank", F.row_number().over(ordered))
        .withColumn("first", F.first("located").over(ordered))
        .withColumn(
            "reject_reason",
            F.when(F.col("versions") > 1, F.lit("conflicting_duplicate_imageid")).when(
                F.col("rank") > 1, F.lit("duplicate_file")
            ),
        )
        .withColumn(
            "detail",
            F.when(F.col("versions") > 1, F.lit("files with this imageid differ; none kept"))
            .when(F.col("rank") > 1, F.concat(F.lit("same bytes as "), F.col("first")))
            .otherwise(F.col("detail")),
        )
    )
    keys = listing_keys.select("imageid", "productid", F.lit(True).alias("_listed")).distinct()
    images = (
        ranked.filter(F.col("reject_reason").isNull())
        .join(keys, ["imageid", "productid"], "left")
        .select(
            "imageid",
            "productid",
            "content",
            "byte_size",
            "sha256",
            "format",
            "width",
            "height",
            "problem",
            F.coalesce("_listed", F.lit(False)).alias("has_listing"),
            F.col("located").alias("source"),
            F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
        )
    )
    rejected = located.filter(F.col("reject_reason").isNotNull()).unionByName(
        ranked.filter(F.col("reject_reason").isNotNull()).drop("versions", "rank", "first")
    )
    quarantine = quarantine_rows(
        rejected.withColumn("source_file", F.col("source")),
        "image",
        F.col("reject_reason"),
        F.col("detail"),
        F.lit(None).cast("string"),
        F.col("entry"),
        ingested_at,
    )
    return images, quarantine


# --------------------------------------------------------------------------------------------
# The job


@dataclass
class TableCounts:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0


@dataclass
class IngestSummary:
    listings: TableCounts = field(default_factory=TableCounts)
    labels: TableCounts = field(default_factory=TableCounts)
    images: TableCounts = field(default_factory=TableCounts)
    quarantine_reasons: Counter[str] = field(default_factory=Counter)
    quarantine_new: int = 0
    image_problems: Counter[str] = field(default_factory=Counter)
    # CSVs that were not UTF-8 and were decoded with ingest.fallback_encoding: path -> codec.
    decoded_files: dict[str, str] = field(default_factory=dict)
    flags_updated: dict[str, int] = field(default_factory=dict)
    listings_without_image: int = 0
    images_without_listing: int = 0
    table_versions: dict[str, int | None] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "listings": vars(self.listings),
            "labels": vars(self.labels),
            "images": vars(self.images),
            "quarantined_by_reason": dict(self.quarantine_reasons),
            "quarantine_rows_new": self.quarantine_new,
            "images_by_problem": dict(self.image_problems),
            "decoded_files": self.decoded_files,
            "flags_updated": self.flags_updated,
            "listings_without_image": self.listings_without_image,
            "images_without_listing": self.images_without_listing,
            "table_versions": self.table_versions,
            "seconds": round(self.seconds, 2),
        }

    def format(self) -> str:
        total = self.listings.read + self.labels.read + self.images.read
        rate = total / max(self.seconds, 1e-9)
        lines = [f"Ingest finished in {self.seconds:.1f} s ({rate:,.0f} records/s)"]
        columns = ("read", "inserted", "updated", "unchanged", "quarantined")
        lines.append(f"  {'':10}" + "".join(f"{c:>12}" for c in columns))
        for name in ("listings", "labels", "images"):
            counts = vars(getattr(self, name))
            lines.append(f"  {name:10}" + "".join(f"{counts[c]:>12,}" for c in columns))
        if self.quarantine_reasons:
            lines.append(
                f"  quarantined by reason ({self.quarantine_new:,} new rows in bronze.quarantine):"
            )
            for reason, count in self.quarantine_reasons.most_common():
                lines.append(f"    {reason:34} {count:>9,}")
        for path, encoding in self.decoded_files.items():
            lines.append(f"  not UTF-8, decoded as {encoding}: {path}")
        if self.image_problems:
            lines.append("  images stored with a problem flag:")
            for problem, count in self.image_problems.most_common():
                lines.append(f"    {problem:34} {count:>9,}")
        lines.append(
            f"  listings without an image: {self.listings_without_image:,}; "
            f"images without a listing: {self.images_without_listing:,}"
        )
        lines.append(
            "  table versions: " + ", ".join(f"{k}={v}" for k, v in self.table_versions.items())
        )
        return "\n".join(lines)


def _rejections_df(
    spark: SparkSession, rejections: Sequence[Rejection], ingested_at: datetime
) -> DataFrame:
    names = ("source_file", "locator", "reason", "detail", "kind")
    schema = T.StructType([T.StructField(n, T.StringType()) for n in names])
    rows = [(r.source, r.locator, r.reason, r.detail, r.kind) for r in rejections]
    df = spark.createDataFrame(rows, schema)
    return quarantine_rows(
        df,
        F.col("kind"),
        F.col("reason"),
        F.col("detail"),
        F.lit(None).cast("string"),
        F.col("locator"),
        ingested_at,
    )


def run_ingest(
    spark: SparkSession,
    lakehouse: Lakehouse,
    config: Config,
    listings: Sequence[str] = (),
    labels: Sequence[str] = (),
    images: Sequence[str] = (),
) -> IngestSummary:
    """Ingest the given files into the bronze tables; return what was done."""
    started = time.monotonic()
    cfg = config.ingest
    now = datetime.now(UTC).replace(microsecond=0)
    summary = IngestSummary()
    if labels and len(labels) not in (1, len(listings)) and listings:
        raise IngestInputError(
            "give one --labels file per --listings file (paired in order), or one"
        )
    for spec in BRONZE_TABLES:
        lakehouse.ensure(spec)
    log.info(
        "ingest inputs: listings=%s labels=%s images=%s; tables at versions %s",
        list(listings),
        list(labels),
        list(images),
        lakehouse.versions(BRONZE_TABLES),
    )
    quarantine_parts: list[DataFrame] = []
    file_rejections: list[Rejection] = []

    # 1. Listings: parse and validate (written after the images, to set has_image).
    listing_frames: list[DataFrame] = []
    row_product_frames: list[DataFrame | None] = []  # None for a file that could not be read
    for path in listings:
        loaded = load_csv(spark, path, "listing", cfg)
        file_rejections.extend(loaded.rejections)
        summary.listings.read += loaded.rows
        if loaded.encoding != "utf-8":
            summary.decoded_files[path] = loaded.encoding
        if loaded.raw is None:
            row_product_frames.append(None)
            continue
        raw = loaded.raw
        valid, rejected, row_products = validate_listings(raw, now, cfg)
        listing_frames.append(valid)
        row_product_frames.append(row_products)
        quarantine_parts.append(rejected)
    incoming_listings = _union(listing_frames)
    if incoming_listings is not None and len(listing_frames) > 1:
        # Across files, too, one productid must not carry two contents.
        incoming_listings, cross_file = _dedupe_across_files(
            incoming_listings,
            "content_sha256",
            "listing",
            ("source_row", "designation", "description", "productid", "imageid"),
            now,
            cfg,
        )
        quarantine_parts.append(cross_file)
    if incoming_listings is not None:
        incoming_listings = incoming_listings.persist(StorageLevel.MEMORY_AND_DISK)

    existing_listings = lakehouse.read(BRONZE_LISTINGS)
    listing_keys = existing_listings.select("imageid", "productid")
    if incoming_listings is not None:
        listing_keys = listing_keys.unionByName(incoming_listings.select("imageid", "productid"))
    listing_keys = listing_keys.distinct().persist(StorageLevel.MEMORY_AND_DISK)

    # 2. Images, batch by batch: each batch is one commit, so memory stays bounded and a crash
    # loses at most the batch in flight (the next run skips what was committed).
    entries, rejections = enumerate_images(images, cfg)
    file_rejections.extend(rejections)
    summary.images.read = len(entries) + sum(r.kind == "image" for r in rejections)
    progress = Progress(log, "images", total=len(entries))
    partitions = cfg.image_partitions or 2 * spark.sparkContext.defaultParallelism
    max_bytes, max_pixels = cfg.max_image_bytes, cfg.max_image_pixels
    for batch in batches_by_imageid(entries, cfg.image_batch_files):
        batch_df = spark.createDataFrame(
            [(e.source, e.entry, e.kind, e.imageid, e.productid, e.member) for e in batch],
            "source string, entry string, kind string, imageid long, productid long, member int",
        ).repartition(min(partitions, len(batch)))
        read = batch_df.mapInPandas(
            lambda it: read_image_entries(it, max_bytes, max_pixels), IMAGE_READ_SCHEMA
        ).persist(StorageLevel.MEMORY_AND_DISK)
        image_rows, image_quarantine = split_image_rows(read, listing_keys, now)
        # Small (no bytes): collected so later batches do not recompute it.
        quarantine_parts.append(
            spark.createDataFrame(image_quarantine.toPandas(), BRONZE_QUARANTINE.spark_schema())
        )
        for row in image_rows.groupBy("problem").count().collect():
            summary.images.unchanged += row["count"]  # corrected below by what the merge wrote
            if row["problem"] is not None:
                summary.image_problems[row["problem"]] += row["count"]
        changed = new_or_changed(image_rows, lakehouse.read(BRONZE_IMAGES), ["imageid"], "sha256")
        result = lakehouse.merge(BRONZE_IMAGES, changed)
        summary.images.inserted += result.inserted
        summary.images.updated += result.updated
        summary.images.unchanged -= result.inserted + result.updated
        read.unpersist()
        progress.update(len(batch))
    if entries:
        progress.finish()
    listing_keys.unpersist()

    # 3. Listings, with has_image from the images table as it now is.
    if incoming_listings is not None:
        image_ids = lakehouse.read(BRONZE_IMAGES).select("imageid", F.lit(True).alias("_img"))
        with_flag = (
            incoming_listings.drop("has_image")
            .join(image_ids.distinct(), "imageid", "left")
            .withColumn("has_image", F.coalesce("_img", F.lit(False)))
            .drop("_img")
        )
        changed = new_or_changed(with_flag, existing_listings, ["productid"], "content_sha256")
        result = lakehouse.merge(BRONZE_LISTINGS, changed)
        summary.listings.inserted, summary.listings.updated = result.inserted, result.updated
        summary.listings.unchanged = incoming_listings.count() - result.inserted - result.updated

    # 4. Labels, paired with their listings file by row index, or by productid.
    known_products = lakehouse.read(BRONZE_LISTINGS).select("productid")
    label_frames = []
    for i, path in enumerate(labels):
        loaded = load_csv(spark, path, "label", cfg)
        file_rejections.extend(loaded.rejections)
        summary.labels.read += loaded.rows
        if loaded.encoding != "utf-8":
            summary.decoded_files[path] = loaded.encoding
        if loaded.raw is None:
            continue
        raw, join_on = loaded.raw, loaded.join_on
        pair = (
            row_product_frames[i if len(labels) == len(listings) else 0]
            if row_product_frames
            else None
        )
        if join_on == "row_index" and pair is None:
            file_rejections.append(
                Rejection(
                    path,
                    "",
                    "labels_without_listings_file",
                    "labels by row index need their listings CSV in the same run",
                    "file",
                )
            )
            continue
        pair = (
            pair
            if pair is not None
            else spark.createDataFrame([], "source_file string, row_index long, productid long")
        )
        valid, rejected = validate_labels(
            raw, join_on, pair, known_products, config.category_codes, now, cfg
        )
        label_frames.append(valid)
        quarantine_parts.append(rejected)
    incoming_labels = _union(label_frames)
    if incoming_labels is not None and len(label_frames) > 1:
        incoming_labels, cross_file = _dedupe_across_files(
            incoming_labels, "prdtypecode", "label", ("productid", "prdtypecode"), now, cfg
        )
        quarantine_parts.append(cross_file)
    if incoming_labels is not None:
        incoming_labels = incoming_labels.persist(StorageLevel.MEMORY_AND_DISK)
        changed = new_or_changed(
            incoming_labels.withColumn("_code", F.col("prdtypecode").cast("string")),
            lakehouse.read(BRONZE_LABELS).withColumn("_code", F.col("prdtypecode").cast("string")),
            ["productid"],
            "_code",
        )
        result = lakehouse.merge(BRONZE_LABELS, changed.drop("_code"))
        summary.labels.inserted, summary.labels.updated = result.inserted, result.updated
        summary.labels.unchanged = incoming_labels.count() - result.inserted - result.updated

    # 5. Flags of rows written earlier whose counterpart arrived (or left) in this run.
    summary.flags_updated = reconcile_flags(lakehouse)

    # 6. Quarantine: insert-only on its content hash, so re-runs add nothing.
    if file_rejections:
        quarantine_parts.append(_rejections_df(spark, file_rejections, now))
    if quarantine_parts:
        parts = _union(quarantine_parts)
        assert parts is not None  # quarantine_parts is not empty
        quarantine = parts.dropDuplicates(["quarantine_id"]).persist(StorageLevel.MEMORY_AND_DISK)
        for row in quarantine.groupBy("record_kind", "reason").count().collect():
            summary.quarantine_reasons[row["reason"]] += row["count"]
            kind_counts = {
                "listing": summary.listings,
                "label": summary.labels,
                "image": summary.images,
            }
            if row["record_kind"] in kind_counts:
                kind_counts[row["record_kind"]].quarantined += row["count"]
        existing_ids = lakehouse.read(BRONZE_QUARANTINE).select("quarantine_id")
        new_rows = quarantine.join(existing_ids, "quarantine_id", "left_anti")
        summary.quarantine_new = lakehouse.merge(BRONZE_QUARANTINE, new_rows, insert=True).rows

    listings_now = lakehouse.read(BRONZE_LISTINGS)
    summary.listings_without_image = listings_now.filter(~F.col("has_image")).count()
    summary.images_without_listing = (
        lakehouse.read(BRONZE_IMAGES).filter(~F.col("has_listing")).count()
    )
    summary.table_versions = lakehouse.versions(BRONZE_TABLES)
    summary.seconds = time.monotonic() - started
    for frame in (incoming_listings, incoming_labels):
        if frame is not None:
            frame.unpersist()
    return summary


def _union(frames: Sequence[DataFrame | None]) -> DataFrame | None:
    present = [f for f in frames if f is not None]
    if not present:
        return None
    out = present[0]
    for frame in present[1:]:
        out = out.unionByName(frame)
    return out


def _dedupe_across_files(
    rows: DataFrame,
    version_col: str,
    record_kind: str,
    raw_fields: Sequence[str],
    ingested_at: datetime,
    cfg: IngestConfig,
) -> tuple[DataFrame, DataFrame]:
    """Rows of several input files: one per productid; repeats and conflicts are quarantined."""
    by_product = Window.partitionBy("productid")
    ordered = by_product.orderBy("source_file", "source_row")
    ranked = (
        rows.withColumn("_versions", F.size(F.collect_set(version_col).over(by_product)))
        .withColumn("_rank", F.row_number().over(ordered))
        .withColumn(
            "_reason",
            F.when(F.col("_versions") > 1, F.lit(f"conflicting_{record_kind}s_across_files")).when(
                F.col("_rank") > 1, F.lit(f"duplicate_{record_kind}")
            ),
        )
    )
    kept = ranked.filter(F.col("_reason").isNull()).drop("_versions", "_rank", "_reason")
    quarantine = quarantine_rows(
        ranked.filter(F.col("_reason").isNotNull()).withColumn(CORRUPT, F.lit(None)),
        record_kind,
        F.col("_reason"),
        F.lit(f"the productid has a {record_kind} in several input files"),
        _raw_text(raw_fields, cfg.quarantine_raw_chars),
        F.coalesce(F.col("source_row").cast("string"), F.col("productid").cast("string")),
        ingested_at,
    )
    return kept, quarantine


def reconcile_flags(lakehouse: Lakehouse) -> dict[str, int]:
    """Set ``listings.has_image`` and ``images.has_listing`` where they no longer hold.

    Only the flag column of rows whose flag changed is written (none on a re-run).
    """
    listings = lakehouse.read(BRONZE_LISTINGS).select("productid", "imageid", "has_image")
    images = lakehouse.read(BRONZE_IMAGES).select("imageid", "productid", "has_listing")
    image_ids = images.select("imageid", F.lit(True).alias("_present")).distinct()
    listing_pairs = listings.select(
        "imageid", "productid", F.lit(True).alias("_present")
    ).distinct()
    stale_listings = (
        listings.join(image_ids, "imageid", "left")
        .withColumn("desired", F.coalesce("_present", F.lit(False)))
        .filter(F.col("desired") != F.col("has_image"))
        .select("productid", F.col("desired").alias("has_image"))
    )
    stale_images = (
        images.join(listing_pairs, ["imageid", "productid"], "left")
        .withColumn("desired", F.coalesce("_present", F.lit(False)))
        .filter(F.col("desired") != F.col("has_listing"))
        .select("imageid", F.col("desired").alias("has_listing"))
    )
    listing_result = lakehouse.merge(
        BRONZE_LISTINGS, stale_listings, update_columns=["has_image"], insert=False
    )
    image_result = lakehouse.merge(
        BRONZE_IMAGES, stale_images, update_columns=["has_listing"], insert=False
    )
    return {"listings.has_image": listing_result.rows, "images.has_listing": image_result.rows}
