"""The frozen text encoders' embeddings of the training-only texts (``bronze.training_texts``),
cached by content in ``silver.training_text_embeddings``, and the training parts that read them.

A training text has no productid (``models/datasets.py``: it is never scored nor evaluated),
so its embedding is keyed by the SHA-256 of the text embedded and the encoder id: the same text
is embedded once, whatever its kind, row, fold or run. A title-only embedding (the ``:title``
encoder ids) of a training text is the embedding of its title column, which is the whole text
(the files merge title and description): the same key, hence the same cached vector.

Whether a training text may train a part is decided before, by ``with_training_texts`` (a
text of a listing held out in a fold is never in that fold's training part); this module only
reads the embeddings of the rows it is given, listings by productid and texts by content.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import reduce

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from catalog_classifier.models.datasets import LISTING, listings_only
from catalog_classifier.models.embedding_heads import side_by_side_frame
from catalog_classifier.models.text_encoder import from_blob
from catalog_classifier.storage.incremental import compute_missing
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import (
    SILVER_TEXT_EMBEDDINGS,
    SILVER_TRAINING_TEXT_EMBEDDINGS,
)

# (productid, content_sha256, text), computed_at -> rows in EMBEDDING_ROW_SCHEMA: the member's
# own embedding of listings, reused on the training texts (productid a placeholder, dropped).
EmbedTexts = Callable[[DataFrame, datetime], DataFrame]


def training_texts_of(rows: DataFrame) -> DataFrame | None:
    """The training texts among ``rows`` (origin other than ``listing``), or None without any
    (one small Spark job)."""
    if "origin" not in rows.columns:
        return None
    texts = rows.filter(F.col("origin") != LISTING)
    return texts if texts.limit(1).count() else None


def _hashed(texts: DataFrame, columns: Sequence[str]) -> DataFrame:
    """The distinct strings of ``columns`` as (content_sha256, text)."""
    strings = reduce(
        DataFrame.unionByName,
        [texts.select(F.col(c).cast("string").alias("text")) for c in columns],
    )
    return (
        strings.filter(F.col("text").isNotNull())
        .select(F.sha2(F.col("text"), 256).alias("content_sha256"), "text")
        .dropDuplicates(["content_sha256"])
    )


def ensure_training_text_embeddings(
    lakehouse: Lakehouse,
    model_id: str,
    rows: DataFrame,
    columns: Sequence[str],
    embed: EmbedTexts,
    what: str,
) -> None:
    """Embed the training texts' strings of ``columns`` among ``rows`` that ``model_id`` has not
    embedded yet (by the text's hash), into ``silver.training_text_embeddings``."""
    texts = training_texts_of(rows)
    if texts is None:
        return
    spec = SILVER_TRAINING_TEXT_EMBEDDINGS
    lakehouse.ensure(spec)
    done = lakehouse.read(spec).filter(F.col("encoder") == model_id).select("content_sha256")
    computed_at = datetime.now(UTC).replace(microsecond=0)

    def compute(todo: DataFrame) -> DataFrame:
        placeholder = todo.select(
            F.lit(0).cast("long").alias("productid"), "content_sha256", "text"
        )
        return embed(placeholder, computed_at).select(*spec.column_names)

    compute_missing(
        lakehouse,
        spec,
        _hashed(texts, columns),
        ["content_sha256"],
        compute,
        f"{what} of training texts ({model_id})",
        done=done,
    )


def training_text_frame(
    lakehouse: Lakehouse, model_id: str, texts: DataFrame, columns: Sequence[str]
) -> pd.DataFrame:
    """label and ``embedding`` of each row of ``texts``: the cached embeddings of its strings
    in ``columns`` side by side, rows in a stable order (origin, then the first string's hash).
    A string not embedded is an error (``ensure_training_text_embeddings`` first)."""
    hashes = [f"_sha{i}" for i in range(len(columns))]
    keyed = texts.select(
        "origin",
        "label",
        *[
            F.sha2(F.col(c).cast("string"), 256).alias(h)
            for c, h in zip(columns, hashes, strict=True)
        ],
    )
    frame = keyed.toPandas().sort_values(["origin", hashes[0]], kind="stable")
    wanted = reduce(
        DataFrame.unionByName, [keyed.select(F.col(h).alias("content_sha256")) for h in hashes]
    ).distinct()
    cached = (
        lakehouse.read(SILVER_TRAINING_TEXT_EMBEDDINGS)
        .filter(F.col("encoder") == model_id)
        .join(wanted, "content_sha256")
        .select("content_sha256", "embedding")
        .toPandas()
    )
    vectors = {
        h: from_blob(b)
        for h, b in zip(cached["content_sha256"], cached["embedding"], strict=True)
    }
    missing = {h for column in hashes for h in frame[column] if h not in vectors}
    if missing:
        raise ValueError(
            f"{len(missing)} training texts have no {model_id} embedding in "
            f"{SILVER_TRAINING_TEXT_EMBEDDINGS.qualified_name} (e.g. sha256 {min(missing)})"
        )
    embeddings = [
        np.concatenate([vectors[row[h]] for h in hashes])
        for row in frame[hashes].to_dict("records")
    ]
    out = frame[["label"]].reset_index(drop=True)
    out["embedding"] = embeddings
    return out


def training_part_frame(
    lakehouse: Lakehouse,
    model_ids: Sequence[str],
    columns: Sequence[str],
    rows: DataFrame,
) -> pd.DataFrame:
    """``embedding`` and label of each row of a training part: a listing's from
    ``silver.text_embeddings`` (the embeddings of ``model_ids`` side by side, by productid), then
    a training text's from ``silver.training_text_embeddings`` (its strings of ``columns``, one
    per id, all under the first id: the encoder's, a ``:title`` id embedding the title column
    with the same encoder)."""
    listings = side_by_side_frame(
        lakehouse,
        SILVER_TEXT_EMBEDDINGS,
        "encoder",
        "productid",
        model_ids,
        listings_only(rows).select("productid", "label"),
    )[["embedding", "label"]]
    texts = training_texts_of(rows)
    if texts is None:
        return listings
    extra = training_text_frame(lakehouse, model_ids[0], texts, columns)
    return pd.concat([listings, extra[["embedding", "label"]]], ignore_index=True)
