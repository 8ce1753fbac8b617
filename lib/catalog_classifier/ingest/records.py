"""What the ingest modules share: the shape of a rejected input, id validation, the CSV
reader's column names, and the error for a file that cannot be read at all."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F

log = logging.getLogger(__name__)


CORRUPT = "_corrupt_record"


LISTING_FIELDS = ("row_index", "designation", "description", "productid", "imageid")


# Ids are non-negative integers of ASCII digits ([0-9], not \d: Java's and Python's \d may take
# other scripts' digits) that fit a Delta long (signed 64-bit); the range is checked apart.
ID_PATTERN = r"^[0-9]+$"


def trimmed_long(column: str) -> Column:
    """``column`` trimmed and cast to a long, null where out of range: under ANSI mode a plain
    cast of an out-of-range number fails the query. SQL's ``try_cast`` (Column.try_cast exists
    on Spark 4 only)."""
    return F.expr(f"try_cast(trim(`{column}`) as bigint)")


def id_problem_column(column: str) -> Column:
    """The quarantine reason of an id ``column`` (``missing_``, ``non_numeric_`` or
    ``id_out_of_range_`` + its name), null where it is a valid id."""
    value = F.trim(F.col(column))
    return (
        F.when(value.isNull() | (value == ""), F.lit(f"missing_{column}"))
        .when(~value.rlike(ID_PATTERN), F.lit(f"non_numeric_{column}"))
        .when(trimmed_long(column).isNull(), F.lit(f"id_out_of_range_{column}"))
    )


def code_problem_column(codes: Sequence[int]) -> Column:
    """The quarantine reason of a label's ``prdtypecode`` (``non_numeric_prdtypecode``, or
    ``unknown_prdtypecode`` when it is none of ``codes``), null where it is a known code."""
    code = F.trim("prdtypecode")
    return F.when(
        F.col("prdtypecode").isNull() | ~code.rlike(r"^[0-9]{1,9}$"),
        F.lit("non_numeric_prdtypecode"),
    ).when(~code.cast("int").isin(list(codes)), F.lit("unknown_prdtypecode"))


MAX_ID = 2**63 - 1


def id_problem(text: str) -> str | None:
    """Why ``text`` is not an id (ASCII digits, at most ``MAX_ID``), or None when it is one."""
    if not (text.isascii() and text.isdigit()):
        return "not ASCII digits"
    if int(text) > MAX_ID:
        return f"{text} does not fit a signed 64-bit integer"
    return None


# Every reason the ingest can write to bronze.quarantine (docs/operations.md's table lists each;
# a test checks both the table and the code's literals against this set).
_ID_COLUMNS = ("row_index", "productid", "imageid")
QUARANTINE_REASONS = frozenset(
    {
        # listings and labels, row by row
        "unparsable_row",
        *(
            f"{problem}_{column}"
            for problem in ("missing", "non_numeric", "id_out_of_range")
            for column in _ID_COLUMNS
        ),
        "non_numeric_prdtypecode",
        "field_too_large",
        "unclosed_quote",
        "nul_byte",
        "missing_designation",
        "duplicate_listing",
        "conflicting_duplicate_productid",
        "conflicting_listings_across_files",
        "conflicting_labels_across_files",
        "unknown_prdtypecode",
        "label_without_listing",
        "duplicate_label",
        "conflicting_labels",
        "labels_without_listings_file",
        # training texts (bronze.training_texts), row by row and by file
        "empty_text",
        "training_text_without_label",
        "duplicate_training_text",
        "training_texts_without_labels",
        # photo labels (bronze.image_labels), row by row
        "image_label_product_mismatch",
        "duplicate_image_label",
        "conflicting_image_labels",
        # images, entry by entry
        "unsafe_archive_path",
        "symlink",
        "encrypted_archive_entry",
        "unsupported_compression",
        "corrupt_archive_entry",
        "invalid_id",
        "not_a_regular_file",
        "unreadable_file",
        "unreadable_folder",
        "file_too_large",
        "suspicious_compression_ratio",
        "empty_file",
        "unrecognized_file_name",
        "duplicate_file",
        "conflicting_duplicate_imageid",
        # whole inputs
        "unreadable_csv",
        "unreadable_archive",
        "missing_source",
        "undecodable_text",
        "unexpected_header",
    }
)


class IngestInputError(ValueError):
    """An input file that cannot be ingested at all (its records are not read)."""

    def __init__(self, message: str, reason: str = "unreadable_csv") -> None:
        super().__init__(message)
        self.reason = reason  # the quarantine reason of the whole file


@dataclass
class Rejection:
    source: str
    locator: str
    reason: str
    detail: str
    kind: str = "image"  # the quarantine's record_kind: "image", or "file" for a whole input
    raw: str | None = None  # the record's text, for a CSV record set apart while reading
