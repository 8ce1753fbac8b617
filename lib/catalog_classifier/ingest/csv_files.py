"""Reading the listings and labels CSVs: encoding checked in one streamed pass (strict UTF-8,
then the declared fallback), Spark's CSV reader for the common case, and a Python reader for
the files Spark would corrupt or give up on (records over the column limit, carriage returns,
non-UTF-8 text). :func:`load_csv` never raises: a file it cannot read comes back as one
rejection naming the file and the reason."""

from __future__ import annotations

import codecs
import csv
import io
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from catalog_classifier.config import IngestConfig
from catalog_classifier.ingest.records import (
    CORRUPT,
    LISTING_FIELDS,
    IngestInputError,
    Rejection,
)
from catalog_classifier.ingest.training_texts import raw_schema as training_text_schema
from catalog_classifier.logs import describe_error

log = logging.getLogger(__name__)


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
    """The raw schema of a listings, labels or training texts CSV from its header, and how
    labels join."""
    if record_kind == "training_text":
        return training_text_schema(path, header), "row_index"
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
