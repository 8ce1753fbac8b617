"""Migrations of tables written by earlier versions of the project.

``gold.predictions`` used to hold two columns per member (``tfidf_prdtypecode``,
``tfidf_probability``, the same for ``text`` and ``image``), so a new member meant a schema
change. It now holds one ``members`` JSON column. :func:`migrate_predictions` converts an old
table once: the old table's folder is moved aside to ``<lakehouse>/_migrated/`` (its history and
time travel stay readable there), and a new table with the same rows, their member columns
turned into ``members``, is written in one commit.

``members_scored`` (which members scored each listing: the scoring cascade) came later: a table
without it is rewritten the same way, the column null on its rows (who scored them is not
known), and an old-layout table gets both changes at once.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import Column
from pyspark.sql import functions as F

from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import GOLD_PREDICTIONS
from catalog_classifier.storage.tables import Column as TableColumn

log = logging.getLogger(__name__)

# The members whose columns the old layout had, and that layout (to read the old files).
_OLD_MEMBER_COLUMNS = ("tfidf", "text", "image")
# Columns added after a layout, null on the rows migrated from it.
_ADDED_LATER = ("members_scored",)
# The layout before ``members_scored``.
_BEFORE_MEMBERS_SCORED = dataclasses.replace(
    GOLD_PREDICTIONS,
    columns=tuple(c for c in GOLD_PREDICTIONS.columns if c.name not in _ADDED_LATER),
)
_LEGACY_PREDICTIONS = dataclasses.replace(
    GOLD_PREDICTIONS,
    columns=tuple(
        c for c in GOLD_PREDICTIONS.columns if c.name != "members" and c.name not in _ADDED_LATER
    )
    + tuple(
        column
        for member in _OLD_MEMBER_COLUMNS
        for column in (
            TableColumn(f"{member}_prdtypecode", "integer", True, "old layout"),
            TableColumn(f"{member}_probability", "double", True, "old layout"),
        )
    ),
)


def _opinion(member: str) -> Column:
    code, probability = F.col(f"{member}_prdtypecode"), F.col(f"{member}_probability")
    return F.when(
        code.isNotNull(),
        F.struct(
            code.cast("int").alias("prdtypecode"),
            F.round(probability, 6).alias("probability"),
        ),
    ).alias(member)


def migrate_predictions(lakehouse: Lakehouse) -> bool:
    """Bring ``gold.predictions`` to the current layout in place (per-member columns into
    ``members``; ``members_scored`` added); True when it did. A table already in the current
    layout, or none, is left alone."""
    if not lakehouse.exists(GOLD_PREDICTIONS):
        return False
    path = lakehouse.path(GOLD_PREDICTIONS)
    stored = lakehouse.engine.stored_types(path)
    if "tfidf_prdtypecode" in stored and "members" not in stored:
        old = lakehouse.engine.read(path, _LEGACY_PREDICTIONS, None)
        members = [m for m in _OLD_MEMBER_COLUMNS if f"{m}_prdtypecode" in stored]
        # to_json leaves out null fields: a member without an opinion has no key, as scoring
        # writes.
        converted = old.withColumn("members", F.to_json(F.struct(*[_opinion(m) for m in members])))
        what = "the members JSON column"
    elif "members" in stored and not all(c in stored for c in _ADDED_LATER):
        converted = lakehouse.engine.read(path, _BEFORE_MEMBERS_SCORED, None)
        what = ", ".join(c for c in _ADDED_LATER if c not in stored)
    else:
        return False
    for column in _ADDED_LATER:
        if column not in converted.columns:
            converted = converted.withColumn(column, F.lit(None).cast("string"))
    frame = converted.select(*GOLD_PREDICTIONS.column_names).localCheckpoint(eager=True)
    rows = frame.count()
    source = Path(path)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    aside = Path(lakehouse.root) / "_migrated" / f"{GOLD_PREDICTIONS.name}-{stamp}"
    aside.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(source), str(aside))
    try:
        lakehouse.ensure(GOLD_PREDICTIONS)
        lakehouse.merge(GOLD_PREDICTIONS, frame)
    except Exception:
        # Put the old table back rather than leave a half-made one (the next run retries).
        shutil.rmtree(source, ignore_errors=True)
        shutil.move(str(aside), str(source))
        raise
    log.warning(
        "gold.predictions migrated to %s: %d rows; the old table is kept at %s",
        what,
        rows,
        aside,
    )
    return True
