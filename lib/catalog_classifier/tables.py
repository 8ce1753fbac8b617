"""Every Delta table of the lakehouse: layer, name, keys and schema, defined once.

Columns are declared with Delta's primitive type names; the Spark and Arrow schemas are derived
from them, so the engines, the jobs and the documentation cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from pyspark.sql import types as T

_SPARK_TYPES: dict[str, T.DataType] = {
    "string": T.StringType(),
    "long": T.LongType(),
    "integer": T.IntegerType(),
    "double": T.DoubleType(),
    "float": T.FloatType(),
    "boolean": T.BooleanType(),
    "binary": T.BinaryType(),
    "timestamp": T.TimestampType(),
}
_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "long": pa.int64(),
    "integer": pa.int32(),
    "double": pa.float64(),
    "float": pa.float32(),
    "boolean": pa.bool_(),
    "binary": pa.binary(),
    # Delta's "timestamp" is microseconds, adjusted to UTC.
    "timestamp": pa.timestamp("us", tz="UTC"),
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    doc: str

    def __post_init__(self) -> None:
        if self.type not in _SPARK_TYPES:
            raise ValueError(f"column {self.name}: unsupported type {self.type!r}")


@dataclass(frozen=True)
class TableSpec:
    layer: str
    name: str
    keys: tuple[str, ...]
    columns: tuple[Column, ...]
    doc: str
    writer: str

    @property
    def qualified_name(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def spark_schema(self) -> T.StructType:
        return T.StructType(
            [T.StructField(c.name, _SPARK_TYPES[c.type], c.nullable) for c in self.columns]
        )

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, _ARROW_TYPES[c.type], c.nullable) for c in self.columns])

    def delta_types(self) -> dict[str, str]:
        return {c.name: c.type for c in self.columns}


def spark_type_name(data_type: T.DataType) -> str:
    """Delta's name for a Spark type (``"unsupported:<type>"`` for one no table uses)."""
    for name, spark_type in _SPARK_TYPES.items():
        if data_type == spark_type:
            return name
    return f"unsupported:{data_type.simpleString()}"


_INGESTED_AT = Column(
    "ingested_at", "timestamp", False, "When this row's content was last written."
)

BRONZE_LISTINGS = TableSpec(
    layer="bronze",
    name="listings",
    keys=("productid",),
    doc="One row per product listing, as read from the listings CSVs (text unchanged).",
    writer="ingest",
    columns=(
        Column("productid", "long", False, "Product id (key)."),
        Column("imageid", "long", False, "Id of the listing's photo."),
        Column("designation", "string", False, "Title, exactly as in the CSV."),
        Column("description", "string", True, "Description, exactly as in the CSV; null if empty."),
        Column("content_sha256", "string", False, "Hash of imageid, designation, description."),
        Column("has_image", "boolean", False, "An image with this imageid is in bronze.images."),
        Column("source_file", "string", False, "CSV the current content came from."),
        Column("source_row", "long", False, "Row index (first column) in that CSV."),
        _INGESTED_AT,
    ),
)

BRONZE_LABELS = TableSpec(
    layer="bronze",
    name="labels",
    keys=("productid",),
    doc="Known product type code of a listing (training labels).",
    writer="ingest",
    columns=(
        Column("productid", "long", False, "Product id (key)."),
        Column("prdtypecode", "integer", False, "Product type code, one of conf categories."),
        Column("source_file", "string", False, "Labels CSV the code came from."),
        Column("source_row", "long", True, "Row index in that CSV (null if keyed by productid)."),
        _INGESTED_AT,
    ),
)

BRONZE_IMAGES = TableSpec(
    layer="bronze",
    name="images",
    keys=("imageid",),
    doc="One row per listing photo: the file's bytes unchanged, with cheap integrity checks.",
    writer="ingest",
    columns=(
        Column("imageid", "long", False, "Image id from the file name (key)."),
        Column("productid", "long", False, "Product id from the file name."),
        Column("content", "binary", False, "The file's bytes (JPEG when problem is null)."),
        Column("byte_size", "long", False, "Size of content in bytes."),
        Column("sha256", "string", False, "SHA-256 of content."),
        Column("format", "string", True, "Format Pillow detected from the bytes (not the name)."),
        Column("width", "integer", True, "Width in pixels, from the header."),
        Column("height", "integer", True, "Height in pixels, from the header."),
        Column(
            "problem",
            "string",
            True,
            "Null for a sound JPEG; else not_jpeg, corrupt, truncated or decompression_bomb.",
        ),
        Column(
            "has_listing", "boolean", False, "A listing with this imageid and productid exists."
        ),
        Column("source", "string", False, "File path, or archive path!entry, it was read from."),
        _INGESTED_AT,
    ),
)

BRONZE_QUARANTINE = TableSpec(
    layer="bronze",
    name="quarantine",
    keys=("quarantine_id",),
    doc="Input records that were not written to the other bronze tables, with the reason.",
    writer="ingest",
    columns=(
        Column("quarantine_id", "string", False, "Hash of source, locator, reason, record (key)."),
        Column("source", "string", False, "File or archive the record came from."),
        Column("locator", "string", False, "Where in the source: row index, archive entry, path."),
        Column("record_kind", "string", False, "listing, label, image or file."),
        Column("reason", "string", False, "Machine-readable reason, e.g. non_numeric_productid."),
        Column("detail", "string", True, "Human-readable explanation."),
        Column("raw_record", "string", True, "The raw record as text (truncated), if textual."),
        _INGESTED_AT,
    ),
)

BRONZE_TABLES: tuple[TableSpec, ...] = (
    BRONZE_LISTINGS,
    BRONZE_LABELS,
    BRONZE_IMAGES,
    BRONZE_QUARANTINE,
)
ALL_TABLES: tuple[TableSpec, ...] = BRONZE_TABLES
