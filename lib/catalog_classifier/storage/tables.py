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
    # The job that writes the table, and how the table grows (for docs/tables.md).
    writer: str
    growth: str

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
    growth=(
        "MERGE on productid at each ingest: a new listing inserts a row, a changed one (new "
        "content hash) updates it in place, an unchanged one is not rewritten; nothing is "
        "deleted. One row per listing ever delivered."
    ),
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
    growth=(
        "MERGE on productid at each ingest that brings labels: new labels insert, a changed code "
        "updates. One row per labelled listing."
    ),
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
    growth=(
        "MERGE on imageid, one commit per batch of ingest.image_batch_files images; unchanged "
        "files are not rewritten. The largest table: the photos' bytes (about 50 KB each)."
    ),
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
            (
                "Null for a sound JPEG; else not_jpeg, not_an_image, corrupt, truncated or "
                "decompression_bomb."
            ),
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
    growth=(
        "Insert-only MERGE on quarantine_id: the same bad record delivered again is stored once. "
        "Grows only with bad input."
    ),
    columns=(
        Column("quarantine_id", "string", False, "Hash of source, locator, reason, record (key)."),
        Column("source", "string", False, "File or archive the record came from."),
        Column("locator", "string", False, "Where in the source: row index, archive entry, path."),
        Column(
            "record_kind",
            "string",
            False,
            "listing, label, image, training_text, image_label or file.",
        ),
        Column("reason", "string", False, "Machine-readable reason, e.g. non_numeric_productid."),
        Column("detail", "string", True, "Human-readable explanation."),
        Column("raw_record", "string", True, "The raw record as text (truncated), if textual."),
        _INGESTED_AT,
    ),
)

BRONZE_TRAINING_TEXTS = TableSpec(
    layer="bronze",
    name="training_texts",
    keys=("kind", "row_index"),
    doc=(
        "Training-only texts: processed copies (translated, merged, folded) of rows of the "
        "original X_train, labelled from the Y_train labels file of the same ingest. Never a "
        "listing: never scored nor evaluated; a text whose row_index is a listing's source_row "
        "trains only where that listing does (models/datasets.py)."
    ),
    writer="ingest",
    growth=(
        "MERGE on (kind, row_index) at each ingest that brings --training-texts: a new text "
        "inserts, a changed one (new content hash) updates, an unchanged one is not rewritten; "
        "nothing is deleted. One row per kind and X_train row."
    ),
    columns=(
        Column(
            "kind",
            "string",
            False,
            "translated_en, merged_fr or folded_fr (conf train.<member>.extra_texts) (key).",
        ),
        Column("row_index", "long", False, "The X_train row it is a copy of (key)."),
        Column("text", "string", False, "The processed text, exactly as in the CSV."),
        Column(
            "prdtypecode",
            "integer",
            False,
            "Code of Y_train at row_index (never the processed file's own column).",
        ),
        Column("content_sha256", "string", False, "Hash of kind, row_index, text, prdtypecode."),
        Column("source_file", "string", False, "CSV the current content came from."),
        Column("source_row", "long", False, "Data row (0-based, header excluded) in that CSV."),
        _INGESTED_AT,
    ),
)

BRONZE_IMAGE_LABELS = TableSpec(
    layer="bronze",
    name="image_labels",
    keys=("productid", "imageid"),
    doc=(
        "Known product type code of a photo (productid, imageid), from a photo labels CSV "
        "(`ingest --image-labels`, e.g. the challenge's image_train_index.csv). Only rows whose "
        "photo is in bronze.images are kept. They label photos that have no labelled listing "
        "for the image member's training (training-only: never a test part, never scored); "
        "never a feature nor a lookup at scoring time."
    ),
    writer="ingest",
    growth=(
        "MERGE on (productid, imageid) at each ingest that brings --image-labels: a new label "
        "inserts, a changed code updates, an unchanged one is not rewritten; nothing is "
        "deleted. At most one row per stored photo (re-run the ingest after new photos land)."
    ),
    columns=(
        Column("productid", "long", False, "Product id of the photo (key)."),
        Column("imageid", "long", False, "Image id of the photo (key)."),
        Column("prdtypecode", "integer", False, "Product type code, one of conf categories."),
        Column("source_file", "string", False, "Photo labels CSV the code came from."),
        _INGESTED_AT,
    ),
)

BRONZE_TABLES: tuple[TableSpec, ...] = (
    BRONZE_LISTINGS,
    BRONZE_LABELS,
    BRONZE_IMAGES,
    BRONZE_QUARANTINE,
    BRONZE_TRAINING_TEXTS,
    BRONZE_IMAGE_LABELS,
)

# What a catalog analyst decided about a listing in the review app (bronze.review_decisions).
REVIEW_ACCEPTED = "accepted"
REVIEW_CORRECTED = "corrected"
REVIEW_UNCLASSIFIABLE = "unclassifiable"
REVIEW_DECISIONS = (REVIEW_ACCEPTED, REVIEW_CORRECTED, REVIEW_UNCLASSIFIABLE)

# Written by the review app, not by ingest (so not in BRONZE_TABLES, which ingest creates): raw
# human input, kept whole, from which the training labels take precedence (features/splits.py).
BRONZE_REVIEW_DECISIONS = TableSpec(
    layer="bronze",
    name="review_decisions",
    keys=("decision_id",),
    doc=(
        "Each decision of a catalog analyst in the review app about a listing flagged "
        "needs_review: the prediction accepted, corrected to another code, or the listing marked "
        "unclassifiable. The latest decision of a listing overrides its supplier label in "
        "training (silver.splits); unclassifiable listings are left out of training; a listing "
        "labelled by an accepted prediction trains but is never evaluated (a model's own "
        "answer is no independent label)."
    ),
    writer="review app",
    growth=(
        "Insert-only MERGE on decision_id, one commit per decision (through delta-rs, retried "
        "on a concurrent commit): a form submitted twice is stored once, two analysts deciding "
        "at once both land. Grows with the analysts' work, never rewritten."
    ),
    columns=(
        Column("decision_id", "string", False, "Id of the decision, made with its form (key)."),
        Column("productid", "long", False, "The listing decided on."),
        Column("model_version", "string", False, "Fused version whose prediction was reviewed."),
        Column("predicted_code", "integer", False, "The prdtypecode that version predicted."),
        Column("decision", "string", False, "accepted, corrected or unclassifiable."),
        Column(
            "prdtypecode",
            "integer",
            True,
            "The label decided: the prediction if accepted, the analyst's code if corrected; "
            "null if unclassifiable.",
        ),
        Column("decided_by", "string", False, "The analyst (Databricks Apps' user, or typed)."),
        Column("decided_at", "timestamp", False, "When the decision was recorded."),
    ),
)

_COMPUTED_AT = Column("computed_at", "timestamp", False, "When this row was computed.")

SILVER_TEXT_FEATURES = TableSpec(
    layer="silver",
    name="text_features",
    keys=("productid",),
    doc="Cleaned text and text measures of each listing in bronze.listings.",
    writer="features",
    growth=(
        "MERGE on productid at each features run: listings whose bronze content hash changed or "
        "that are new are recomputed (all with --full). One row per bronze listing."
    ),
    columns=(
        Column("productid", "long", False, "Product id (key)."),
        Column(
            "content_sha256",
            "string",
            False,
            "bronze.listings.content_sha256 the row was computed from (detects changes).",
        ),
        Column(
            "designation_clean",
            "string",
            False,
            "Title with entities decoded, tags removed, mojibake repaired, NFC, single spaces.",
        ),
        Column("description_clean", "string", True, "Description cleaned alike; null if empty."),
        Column("text", "string", False, "designation_clean . description_clean (original case)."),
        Column("text_lower", "string", False, "text in lowercase."),
        Column("designation_chars", "integer", False, "Characters of designation_clean."),
        Column("designation_words", "integer", False, "Words of designation_clean."),
        Column("description_chars", "integer", False, "Characters of description_clean (0)."),
        Column("description_words", "integer", False, "Words of description_clean (0)."),
        Column("has_description", "boolean", False, "The cleaned description is not empty."),
        Column("language", "string", True, "Detected language (ISO 639-1); null: no letters."),
        Column("language_probability", "double", True, "The detector's probability for it."),
        Column("digit_share", "double", False, "Digits / non-space characters of text."),
        Column("uppercase_share", "double", False, "Uppercase letters / letters of text."),
        Column("problem", "string", True, "Null; else why cleaning failed (measures of raw text)."),
        _COMPUTED_AT,
    ),
)

SILVER_IMAGE_FEATURES = TableSpec(
    layer="silver",
    name="image_features",
    keys=("imageid",),
    doc="Decoded size, sharpness, brightness, blankness and perceptual hash of each image.",
    writer="features",
    growth=(
        "MERGE on imageid at each features run: new or changed images (sha256); the duplicate "
        "groups touched are refreshed. One row per bronze image."
    ),
    columns=(
        Column("imageid", "long", False, "Image id (key)."),
        Column("productid", "long", False, "Product id of the image."),
        Column("sha256", "string", False, "bronze.images.sha256 the row was computed from."),
        Column("is_valid", "boolean", False, "Pillow decoded the whole image."),
        Column(
            "invalid_reason",
            "string",
            True,
            "Null when valid; else not_an_image, corrupt, truncated, decompression_bomb, ...",
        ),
        Column("invalid_detail", "string", True, "The decoder's message, when invalid."),
        Column("format", "string", True, "Format Pillow detected from the bytes."),
        Column("mode", "string", True, "Pillow mode as stored (RGB, L, CMYK, P, ...)."),
        Column("width", "integer", True, "Width in pixels."),
        Column("height", "integer", True, "Height in pixels."),
        Column("byte_size", "long", False, "Size of the file in bytes."),
        Column(
            "sharpness",
            "double",
            True,
            "Variance of the Laplacian (3x3, 64-bit) of the grayscale image.",
        ),
        Column(
            "sharpness_bucket",
            "string",
            True,
            "sharp (>= 200), moderately_sharp (100-199), slightly_blurry (50-99), blurry (< 50).",
        ),
        Column("brightness", "double", True, "Mean gray level, 0-255."),
        Column("contrast", "double", True, "Standard deviation of the gray levels."),
        Column(
            "pixel_spread",
            "double",
            True,
            "Largest per-channel standard deviation of the RGB pixels (0 for a solid image).",
        ),
        Column("is_blank", "boolean", True, "pixel_spread under the conf threshold: solid image."),
        Column("phash", "string", True, "64-bit perceptual hash (DCT), 16 hex digits."),
        Column(
            "duplicate_group",
            "string",
            True,
            "The phash when several images share it (the same photo); else null.",
        ),
        Column("duplicate_count", "integer", True, "Images sharing this phash (1: unique)."),
        _COMPUTED_AT,
    ),
)

SILVER_SPLITS = TableSpec(
    layer="silver",
    name="splits",
    keys=("productid",),
    doc="Train / valid / test split and cross-validation fold of each labelled listing.",
    writer="train",
    growth=(
        "MERGE on productid at each training or evaluation: new labelled listings get a split "
        "from their productid's hash; existing rows keep theirs. One row per labelled listing."
    ),
    columns=(
        Column("productid", "long", False, "Product id (key)."),
        Column("prdtypecode", "integer", False, "The label the split was stratified on."),
        Column(
            "split",
            "string",
            False,
            "train, valid or test: from a salted hash of productid alone (stable as data grows).",
        ),
        Column(
            "fold",
            "integer",
            False,
            "Cross-validation fold (0..K-1), stratified by class; -1 (split train, never held "
            "out) for a listing labelled by an analyst's acceptance of a prediction.",
        ),
        Column("hash_unit", "double", False, "The productid's salted hash mapped to [0, 1)."),
        Column("assigned_at", "timestamp", False, "When the row was last written."),
    ),
)

_EMBEDDING_DOC = "float32 little-endian vector (numpy.frombuffer(..., '<f4'))."

SILVER_TEXT_EMBEDDINGS = TableSpec(
    layer="silver",
    name="text_embeddings",
    keys=("productid", "encoder"),
    doc="Sentence embeddings of each listing's cleaned text by a frozen text encoder (a cache).",
    writer="train, evaluate --cv",
    growth=(
        "MERGE on (productid, encoder) when training or cross-validating with a frozen encoder: "
        "listings not yet embedded, or whose text changed. One row per labelled listing and "
        "encoder."
    ),
    columns=(
        Column("productid", "long", False, "Product id (key)."),
        Column("encoder", "string", False, "Encoder id: name and weights fingerprint (key)."),
        Column("content_sha256", "string", False, "bronze.listings.content_sha256 embedded."),
        Column("dim", "integer", False, "Length of the embedding."),
        Column("embedding", "binary", False, _EMBEDDING_DOC),
        _COMPUTED_AT,
    ),
)

SILVER_TRAINING_TEXT_EMBEDDINGS = TableSpec(
    layer="silver",
    name="training_text_embeddings",
    keys=("content_sha256", "encoder"),
    doc=(
        "Sentence embeddings of the training-only texts (bronze.training_texts, cleaned) by a "
        "frozen text encoder, keyed by the embedded text's hash (a cache)."
    ),
    writer="train, evaluate --cv",
    growth=(
        "MERGE on (content_sha256, encoder) when a text member learning from training texts "
        "trains or cross-validates: texts not yet embedded by that encoder. One row per "
        "distinct text and encoder, whatever its kind or row (a text is embedded once)."
    ),
    columns=(
        Column("content_sha256", "string", False, "SHA-256 of the embedded text (key)."),
        Column("encoder", "string", False, "Encoder id, as in silver.text_embeddings (key)."),
        Column("dim", "integer", False, "Length of the embedding."),
        Column("embedding", "binary", False, _EMBEDDING_DOC),
        _COMPUTED_AT,
    ),
)

SILVER_IMAGE_EMBEDDINGS = TableSpec(
    layer="silver",
    name="image_embeddings",
    keys=("imageid", "backbone"),
    doc="Pooled features of each valid image by a frozen image backbone (a cache).",
    writer="train, evaluate --cv",
    growth=(
        "MERGE on (imageid, backbone) when training or cross-validating with a frozen backbone: "
        "images not yet embedded, or changed. One row per usable labelled image and backbone."
    ),
    columns=(
        Column("imageid", "long", False, "Image id (key)."),
        Column("backbone", "string", False, "Backbone id: name and weights fingerprint (key)."),
        Column("productid", "long", False, "Product id of the image."),
        Column("sha256", "string", False, "bronze.images.sha256 embedded."),
        Column("dim", "integer", False, "Length of the embedding."),
        Column("embedding", "binary", False, _EMBEDDING_DOC),
        _COMPUTED_AT,
    ),
)

SILVER_TABLES: tuple[TableSpec, ...] = (
    SILVER_TEXT_FEATURES,
    SILVER_IMAGE_FEATURES,
    SILVER_SPLITS,
    SILVER_TEXT_EMBEDDINGS,
    SILVER_TRAINING_TEXT_EMBEDDINGS,
    SILVER_IMAGE_EMBEDDINGS,
)
FEATURE_TABLES: tuple[TableSpec, ...] = (SILVER_TEXT_FEATURES, SILVER_IMAGE_FEATURES)

GOLD_EVALUATIONS = TableSpec(
    layer="gold",
    name="evaluations",
    keys=("evaluation_id",),
    doc="Scores of each evaluated model on a split or a cross-validation run.",
    writer="evaluate",
    growth=(
        "MERGE on evaluation_id: one row per model and evaluate run (test split or K-fold CV)."
    ),
    columns=(
        Column("evaluation_id", "string", False, "Run id . model . split (key)."),
        Column("run_id", "string", False, "The evaluate run this row belongs to."),
        Column("model", "string", False, "tfidf, text or image."),
        Column("model_version", "string", True, "Registered model version (null in CV)."),
        Column("split", "string", False, "test, valid, or cv<K> for cross-validation."),
        Column("rows", "long", False, "Listings scored."),
        Column("weighted_f1", "double", False, "F1 weighted by class support (the metric)."),
        Column("macro_f1", "double", False, "Unweighted mean of the per-class F1."),
        Column("accuracy", "double", False, "Share of correct top-1 predictions."),
        Column("weighted_f1_std", "double", True, "Spread over folds (cross-validation only)."),
        Column("per_class", "string", False, "JSON: per class precision, recall, F1, support."),
        Column("confusion", "string", False, "JSON: confusion matrix (rows: true, cols: pred)."),
        Column("input_versions", "string", False, "JSON: Delta versions of the tables read."),
        Column("evaluated_at", "timestamp", False, "When the evaluation ran."),
    ),
)

GOLD_PREDICTIONS = TableSpec(
    layer="gold",
    name="predictions",
    keys=("productid", "model_version"),
    doc=(
        "The fused model's category for each listing, one row per listing and fused model "
        "version; a changed listing's row is updated in place (Delta history keeps the old one)."
    ),
    writer="score",
    growth=(
        "MERGE on (productid, model_version), one commit per chunk of scoring.chunk_rows "
        "listings: each new fused model version adds one row per listing; a listing whose text or "
        "image changed has its row updated. Every scoring run is a Delta version (time travel)."
    ),
    columns=(
        Column("productid", "long", False, "Product id (key)."),
        Column("model_version", "string", False, "Registered fusion model version (key)."),
        Column("prdtypecode", "integer", False, "Predicted product type code."),
        Column("category", "string", False, "Readable name of prdtypecode."),
        Column("confidence", "double", False, "Fused probability of prdtypecode."),
        Column("top3", "string", False, "JSON: the three likeliest [{prdtypecode, probability}]."),
        Column("needs_review", "boolean", False, "confidence under the review threshold."),
        Column("review_threshold", "double", False, "The threshold (chosen on the valid split)."),
        Column("modalities", "string", False, "Members fused: tfidf+text+image, tfidf+text, ..."),
        Column(
            "members",
            "string",
            False,
            "JSON: each member's opinion, {member: {prdtypecode, probability}}, for the members "
            "that could score the listing (none for the text members without text, none for the "
            "image members without a usable image). One key per registered member, so a new "
            "member needs no schema change; query with get_json_object(members, '$.image."
            "prdtypecode').",
        ),
        Column(
            "members_scored",
            "string",
            True,
            "Members that scored the listing, joined by '+' (tfidf+use: the scoring cascade let "
            "it leave after those two; every member of the fused model when it did not). Null on "
            "rows scored before the column existed (migrated).",
        ),
        Column("imageid", "long", True, "The listing's image id."),
        Column("input_hash", "string", False, "sha256 of the inputs scored (text, image)."),
        Column("input_versions", "string", False, "JSON: Delta versions of the tables read."),
        Column("scored_at", "timestamp", False, "When the listing was scored."),
    ),
)

GOLD_MODEL_DECISIONS = TableSpec(
    layer="gold",
    name="model_decisions",
    keys=("decision_id",),
    doc=(
        "Each decision of the champion gate (promote): the newest fused version against the "
        "champion on the same test split, with the figures and thresholds it was decided on."
    ),
    writer="promote",
    growth=(
        "Append, one row per promote run that had a candidate to judge (none when the newest "
        "fused version already is the champion)."
    ),
    columns=(
        Column("decision_id", "string", False, "Unique id of the decision (key)."),
        Column("decided_at", "timestamp", False, "When the decision was made."),
        Column("registered_model", "string", False, "MLflow registered model of the fusion."),
        Column("candidate_version", "string", False, "The fused version judged."),
        Column(
            "champion_version_before",
            "string",
            True,
            "The champion when the gate ran (null for a project's first fused model).",
        ),
        Column("champion_version_after", "string", False, "The champion the gate left."),
        Column("decision", "string", False, "promoted, refused, or first (no champion yet)."),
        Column("reason", "string", False, "Why, in one sentence with the figures."),
        Column("split", "string", False, "The split both versions were scored on (test)."),
        Column("rows", "long", False, "Labelled listings of that split scored."),
        Column("candidate_weighted_f1", "double", False, "The candidate's weighted F1."),
        Column("champion_weighted_f1", "double", True, "The champion's (null when first)."),
        Column(
            "worst_class_recall_drop",
            "double",
            True,
            "Largest recall fall of a class with enough support (champion minus candidate; "
            "negative: every such class gained); null when first or no class has the support.",
        ),
        Column("worst_class", "integer", True, "The prdtypecode of that class."),
        Column("max_f1_drop", "double", False, "Threshold: promotion.max_f1_drop."),
        Column(
            "max_class_recall_drop", "double", False, "Threshold: promotion.max_class_recall_drop."
        ),
        Column("min_class_support", "long", False, "Threshold: promotion.min_class_support."),
        Column(
            "evidence",
            "string",
            False,
            "JSON: per evidence set (test_split; review_corrections: the split's listings an "
            "analyst accepted or corrected, judged from promotion.min_review_rows), its "
            "figures, per-class recalls and verdict.",
        ),
        Column("input_versions", "string", False, "JSON: Delta versions of the tables read."),
    ),
)

GOLD_RUN_METRICS = TableSpec(
    layer="gold",
    name="run_metrics",
    keys=("run_id",),
    doc=(
        "Input and prediction measures of each scoring run (monitor), their drift against the "
        "previous run and the training labels, and the alerts the conf thresholds raised."
    ),
    writer="monitor",
    growth="Append, one row per monitor run (the last step of the nightly, after score).",
    columns=(
        Column("run_id", "string", False, "Unique id of the monitor run (key)."),
        Column("monitored_at", "timestamp", False, "When the measures were taken."),
        Column("model_version", "string", False, "Fused version whose predictions were read."),
        Column("listings_scored", "long", False, "Listings with a prediction of that version."),
        Column("no_description_share", "double", False, "Share without a cleaned description."),
        Column(
            "no_image_share",
            "double",
            False,
            "Share without a usable image (missing, invalid or blank).",
        ),
        Column("language_mix", "string", False, "JSON: {language: share} (unknown: none)."),
        Column("category_shares", "string", False, "JSON: {prdtypecode: share} predicted."),
        Column("mean_confidence", "double", False, "Mean fused confidence."),
        Column("review_share", "double", False, "Share flagged needs_review."),
        Column(
            "agreement",
            "double",
            True,
            "Share, among listings both the text and image members scored, where they agree "
            "(null when none was scored by both).",
        ),
        Column("agreement_listings", "long", False, "Listings scored by both members."),
        Column(
            "category_psi_previous",
            "double",
            True,
            "PSI of category_shares against the previous row (null for the first).",
        ),
        Column(
            "language_psi_previous",
            "double",
            True,
            "PSI of language_mix against the previous row (null for the first).",
        ),
        Column(
            "category_psi_training",
            "double",
            True,
            "PSI of category_shares against the train split's labels (null: no labels).",
        ),
        Column("alerts", "string", False, "JSON: [{name, message}] raised by the thresholds."),
        Column("thresholds", "string", False, "JSON: the conf monitoring section used."),
        Column("input_versions", "string", False, "JSON: Delta versions of the tables read."),
    ),
)

GOLD_TABLES: tuple[TableSpec, ...] = (
    GOLD_EVALUATIONS,
    GOLD_PREDICTIONS,
    GOLD_MODEL_DECISIONS,
    GOLD_RUN_METRICS,
)
ALL_TABLES: tuple[TableSpec, ...] = (
    BRONZE_TABLES + (BRONZE_REVIEW_DECISIONS,) + SILVER_TABLES + GOLD_TABLES
)
