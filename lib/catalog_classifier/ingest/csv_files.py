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

import numpy as np
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

# Byte order marks of the UTF-16 and UTF-32 text Excel and Windows tools write ("Unicode text"):
# the mark names the codec. UTF-32 LE's begins with UTF-16 LE's, so it is looked for first.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


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
    longest_record_lines: int = 0  # lines of the longest record (0 when not UTF-8)
    unclosed_quote: bool = False  # the file ends inside quotes: a stray quote somewhere
    nul_bytes: int = 0  # a few NUL bytes in a text file: their records are set apart


# A file is binary (a gzip'd or zip'd CSV...), not text with a stray NUL or two, when more than
# this share of its bytes are NUL: archives' headers are full of them, a text holds none.
_BINARY_NUL_SHARE = 0.01


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
    marked = _marked_encoding(path)
    if marked:
        return _scan_marked_text(path, marked)
    decoder: codecs.IncrementalDecoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset, bad = 0, None
    records = _RecordSizes()
    nuls = _NulCount()
    # In chunks, not line by line: a Python step per line cost more than parsing the file
    # (1.3 s for a 100,000-line labels CSV on 2 loaded cores); each chunk's decoding, counts and
    # record ends are C and numpy loops.
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            nuls.add(chunk, offset)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = offset - pending + exc.start
                break
            records.add(chunk)
            offset += len(chunk)
        else:
            try:
                decoder.decode(b"", final=True)
                nuls.check(path, offset)
                longest, longest_lines = records.finish()
                return TextScan(
                    "utf-8",
                    longest,
                    records.carriage_returns,
                    longest_record_lines=longest_lines,
                    unclosed_quote=records.quotes % 2 == 1,
                    nul_bytes=nuls.count,
                )
            except UnicodeDecodeError:
                bad = offset - len(decoder.getstate()[0])  # a sequence cut by the file's end
    not_utf8 = f"not UTF-8 (byte {bad:,})"
    if not fallback:
        raise IngestInputError(
            f"{path}: {not_utf8}; no ingest.fallback_encoding", "undecodable_text"
        )
    decoder = codecs.getincrementaldecoder(fallback)("strict")
    offset, high_bytes, utf8_bytes = 0, 0, 0
    nuls = _NulCount()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            nuls.add(chunk, offset)
            high_bytes += len(chunk) - len(chunk.translate(None, bytes(range(128, 256))))
            utf8_bytes += sum(len(m) for m in _UTF8_SEQUENCE.findall(chunk))
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                nuls.check(path, offset + len(chunk))  # binary is the better word for it
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
    nuls.check(path, offset)
    return TextScan(codecs.lookup(fallback).name, nul_bytes=nuls.count)


class _RecordSizes:
    """The longest CSV record of a text streamed in chunks, in bytes and in lines.

    Quotes are doubled inside quoted fields, so a record ends at a line end (LF) after an
    even number of quotes since the file's start; no field is longer than its record. A record
    counts its bytes up to and including its line end; the last one, without a line end, counts
    one line more than its line ends."""

    def __init__(self) -> None:
        self.quotes = 0  # quotes seen so far
        self.carriage_returns = False
        self.longest = 0
        self.longest_lines = 0
        self.record = 0  # bytes of the record still open at the chunk's end
        self.lines = 0  # its line ends

    def add(self, chunk: bytes) -> None:
        self.carriage_returns = self.carriage_returns or b"\r" in chunk
        data = np.frombuffer(chunk, dtype=np.uint8)
        newlines = np.flatnonzero(data == 0x0A)
        if not newlines.size:
            self.record += len(chunk)
            self.quotes += chunk.count(b'"')
            return
        # The quotes before each line end, from the (few) quotes' positions.
        quotes = np.flatnonzero(data == 0x22)
        closed = ((np.searchsorted(quotes, newlines) + self.quotes) % 2) == 0
        self.quotes += quotes.size
        ends = newlines[closed]  # the line ends that end a record
        if not ends.size:
            self.record += len(chunk)
            self.lines += newlines.size
            return
        sizes = np.diff(ends)  # records wholly inside the chunk
        first = self.record + int(ends[0]) + 1
        self.longest = max(self.longest, first, int(sizes.max()) if sizes.size else 0)
        which = np.flatnonzero(closed)  # each record end's index among the line ends
        lines = np.diff(which)
        self.longest_lines = max(
            self.longest_lines,
            self.lines + int(which[0]) + 1,
            int(lines.max()) if lines.size else 0,
        )
        self.record = len(chunk) - int(ends[-1]) - 1
        self.lines = newlines.size - int(which[-1]) - 1

    def finish(self) -> tuple[int, int]:
        """(longest record in bytes, longest record in lines), the open record's included."""
        return max(self.longest, self.record), max(
            self.longest_lines, self.lines + (self.record > 0)
        )


@dataclass
class _NulCount:
    """NUL bytes seen by a scan: a few are records to set apart, many a binary file."""

    count: int = 0
    first: int = -1  # offset of the first one

    def add(self, data: bytes, offset: int) -> None:
        found = data.count(0)
        if found and self.first < 0:
            self.first = offset + data.index(0)
        self.count += found

    def check(self, path: str, size: int) -> None:
        if self.count > _BINARY_NUL_SHARE * size:
            raise IngestInputError(
                f"{path}: NUL byte at offset {self.first:,} ({self.count:,} in {size:,} bytes): "
                "binary, not CSV text",
                "undecodable_text",
            )


def _marked_encoding(path: str) -> str | None:
    """The UTF-16 or UTF-32 codec the file's byte order mark names, or None."""
    with open(path, "rb") as handle:
        start = handle.read(4)
    return next((codec for mark, codec in _BYTE_ORDER_MARKS if start.startswith(mark)), None)


def _scan_marked_text(path: str, encoding: str) -> TextScan:
    """Check that a file with a UTF-16/32 byte order mark decodes strictly with that codec and
    holds no NUL character (binary data behind a stray mark); one streamed pass. The mark
    decodes to U+FEFF, which the header reader drops like UTF-8's."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            try:
                # The empty read at the end flushes the decoder: a code unit cut by the end fails.
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                raise IngestInputError(
                    f"{path}: starts with a {encoding} byte order mark but is not {encoding} "
                    f"(near byte {offset + exc.start:,})",
                    "undecodable_text",
                ) from None
            if "\x00" in text:
                raise IngestInputError(
                    f"{path}: NUL character in {encoding} text: binary, not CSV text",
                    "undecodable_text",
                )
            if not chunk:
                break
            offset += len(chunk)
    return TextScan(encoding)


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


@dataclass
class CsvRecord:
    """One record of a CSV text as :func:`_csv_records` cuts it."""

    text: str  # its text; when oversized its first characters, when unclosed its first line
    first_line: int  # 1-based lines of the file (the header is line 1)
    last_line: int
    oversized: bool = False  # longer than the cap: its text was not held
    unclosed: bool = False  # a quoted field still open after the line bound or at the end

    @property
    def lines(self) -> str:
        if self.first_line == self.last_line:
            return f"line {self.first_line}"
        return f"lines {self.first_line}-{self.last_line}"


def _csv_records(handle: Any, cap: int, keep: int, max_lines: int) -> Iterator[CsvRecord]:
    """The records of a CSV text stream (a quoted field may span lines).

    Quotes are doubled inside quoted fields, so a record ends at the first line end after an
    even number of quotes. A record over ``cap`` characters is not held: its first ``keep``
    characters come back with ``oversized`` set (memory stays at one record of ``cap``).

    A stray quote would otherwise make the rest of the file one record: a quote still open
    after ``max_lines`` lines, or at the end of the file, comes back as its record's first line
    alone with ``unclosed`` set, and reading resumes on the line after it (the stream is sought
    back there), so every later record is read.
    """
    line = 0
    while True:
        parts: list[str] = []
        size, quotes, oversized, first = 0, 0, False, line + 1
        first_text, resume = "", -1
        inside, line_start = False, 0  # in a quoted field at the current line's start
        while piece := handle.readline(_CHUNK):
            quotes += piece.count('"')
            if not oversized:
                parts.append(piece)
                size += len(piece)
                if size > cap:
                    oversized = True
                    parts = ["".join(parts)[:keep]]
            if not piece.endswith(("\n", "\r")):
                continue  # a line longer than a chunk: its next piece follows
            line += 1
            if oversized:
                inside = quotes % 2 == 1  # its text is not held: the quotes' parity decides
            else:
                text = "".join(parts)
                state = _quote_state_at_end(text, line_start, inside)
                inside, line_start = state != "closed", len(text)
                if state == "broken" and resume >= 0:
                    # Closed by a quote no field ends at: a stray quote met a later field's.
                    yield CsvRecord(first_text, first, first, unclosed=True)
                    handle.seek(resume)
                    line = first
                    break
            if not inside:
                yield CsvRecord("".join(parts), first, line, oversized)
                break
            if line == first:
                # Where reading resumes if this quote never closes (tell() is cheap enough: only
                # records that span lines get here).
                first_text, resume = "".join(parts)[: cap + 1], handle.tell()
            elif line - first >= max_lines:
                yield CsvRecord(first_text, first, first, unclosed=True)
                handle.seek(resume)
                line = first
                break
        else:
            if not parts:
                return
            if resume < 0:
                # The last line, with no line end: whole, or open on its own.
                text = "".join(parts)
                still_open = (
                    quotes % 2 == 1
                    if oversized
                    else _quote_state_at_end(text, line_start, inside) != "closed"
                )
                yield CsvRecord(text, first, line + 1, oversized, still_open)
                return
            yield CsvRecord(first_text, first, first, unclosed=True)
            handle.seek(resume)
            line = first


def _quote_state_at_end(text: str, start: int, inside: bool) -> str:
    """How ``text`` (a record's lines so far) ends, its last line starting at ``start`` inside a
    quoted field or not: "open" (inside one), "closed", or "broken" (a field opened on an
    earlier line closed by a quote no comma or line end follows: a stray quote that met the
    quote opening a later field). Quotes as the csv module and Spark read them: a quote opens a
    quoted field only at a field's start, a doubled quote inside one is a quote, and after the
    closing quote the field runs on as plain text to the next comma."""
    i, continued = start, inside
    while True:
        if inside:
            j = text.find('"', i)
            while j != -1 and text.startswith('""', j):
                j = text.find('"', j + 2)
            if j == -1:
                return "open"
            if continued and text[j + 1 : j + 2] not in ("", ",", "\r", "\n"):
                return "broken"
            inside, continued, i = False, False, text.find(",", j + 1)
        elif text.startswith('"', i):
            inside, i = True, i + 1
            continue
        else:
            i = text.find(",", i)
        if i == -1:
            return "closed"
        i += 1


def _whole_record(text: str, fields: int) -> list[str] | None:
    """The values of ``text`` when it is one complete record of ``fields`` fields by itself (a
    quote inside an unquoted field is a literal character, as Spark and the csv module read
    it), else None."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error:
        return None
    return rows[0] if len(rows) == 1 and len(rows[0]) == fields else None


def parse_csv_in_python(
    path: str, encoding: str, schema: T.StructType, cfg: IngestConfig, record_kind: str
) -> tuple[pd.DataFrame, list[Rejection]]:
    """Raw rows of a CSV Spark cannot read: not UTF-8 (Spark 4 decodes few charsets), with a
    record longer than ``csv_max_chars_per_column`` (Spark's parser gives up on the whole file
    at such a field), with a stray quote or NUL bytes. The same columns as Spark's reader, read
    with Python's csv module record by record; each record Spark could not have read right is
    set apart as a rejection naming its lines: ``field_too_large``, ``unclosed_quote`` (a
    quoted field still open after ``csv_max_field_lines`` lines or at the end of the file:
    reading resumes on its next line) and ``nul_byte``.

    Only for those rare files: it runs on the driver and holds the file's rows in memory.
    """
    names = [f.name for f in schema.fields if f.name != CORRUPT]
    limit = cfg.csv_max_chars_per_column
    max_lines = cfg.csv_max_field_lines
    raw_chars = cfg.quarantine_raw_chars
    # A record's text is at most its fields (quotes doubled), their quotes and separators.
    cap = len(names) * (2 * limit + 3)
    csv.field_size_limit(max(csv.field_size_limit(), cap))
    rows: list[dict[str, str | None]] = []
    rejected: list[Rejection] = []

    def reject(record: CsvRecord, reason: str, detail: str) -> None:
        row = record.text.split(",", 1)[0][:40]
        rejected.append(
            Rejection(
                path,
                record.lines,
                reason,
                f"row {row!r} ({record.lines}): {detail}",
                record_kind,
                # The record as written, without its line end (the raw text of the record).
                record.text.rstrip("\r\n")[:raw_chars] if raw_chars else None,
            )
        )
        log.warning("%s, %s: %s (%s)", path, record.lines, reason, detail)

    with open(path, encoding=encoding, newline="") as handle:
        for record in _csv_records(handle, cap, 200, max_lines):
            text = record.text
            if record.first_line == 1 or not text.strip():
                continue  # the header; blank lines, as Spark's parser skips them
            values: list[str] | None = None
            if record.unclosed:
                values = _whole_record(text, len(names))
                if values is None:
                    reject(
                        record,
                        "unclosed_quote",
                        "a quote opened on this line closes neither where a field ends nor "
                        f"within {max_lines:,} lines (ingest.csv_max_field_lines): a stray "
                        "quote; reading resumed on the next line",
                    )
                    continue
            if "\x00" in text:
                reject(record, "nul_byte", "a NUL byte: binary data in a text field")
                continue
            fields = None if record.oversized else list(csv.reader(io.StringIO(text, newline="")))
            if record.oversized or any(len(v) > limit for row in fields or [] for v in row):
                rejected.append(
                    Rejection(
                        path,
                        text.split(",", 1)[0][:40],
                        "field_too_large",
                        f"a field longer than ingest.csv_max_chars_per_column ({limit:,} chars)"
                        f" ({record.lines})",
                        record_kind,
                    )
                )
                continue
            if values is None:
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
            else "an unbalanced quote"
            if scan.unclosed_quote or scan.longest_record_lines > cfg.csv_max_field_lines
            else f"{scan.nul_bytes:,} NUL bytes"
            if scan.nul_bytes
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
