"""The review app's reads and writes of the lakehouse, through delta-rs (no Spark, no JVM).

A web process serving analysts should start in a second and answer in milliseconds, so it reads
the few rows a page needs straight from the Delta tables' files (``deltalake`` + Arrow filters)
and records each decision as one insert-only MERGE into ``bronze.review_decisions``, retried
when another analyst's commit lands first: a form submitted twice is stored once (its
decision_id is made with the form), and two analysts deciding at once both land.

The queue (:func:`review_queue`) and the decision rows (:func:`decision_row`) are pure functions
of pandas frames and values, tested without a lakehouse.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from catalog_classifier.config import Config
from catalog_classifier.storage.lakehouse import create_with_delta_rs, table_path
from catalog_classifier.storage.tables import (
    BRONZE_IMAGES,
    BRONZE_LISTINGS,
    BRONZE_REVIEW_DECISIONS,
    GOLD_PREDICTIONS,
    REVIEW_ACCEPTED,
    REVIEW_CORRECTED,
    REVIEW_DECISIONS,
    REVIEW_UNCLASSIFIABLE,
    SILVER_TEXT_FEATURES,
    TableSpec,
)

log = logging.getLogger(__name__)

# A decision's MERGE is retried this many times when other commits land first (each retry
# re-reads the table, so a decision already stored is never stored twice).
COMMIT_ATTEMPTS = 20
QUEUE_COLUMNS = [
    "productid",
    "imageid",
    "model_version",
    "prdtypecode",
    "category",
    "confidence",
    "top3",
    "members",
]


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in(column: str, values: list[int]) -> str:
    return f"{column} IN ({', '.join(str(int(v)) for v in values)})"


class DecisionError(ValueError):
    """A decision the app refuses (unknown listing, code, decision or analyst): its message is
    shown to the analyst as is."""


def review_queue(predictions: pd.DataFrame, decided: set[int]) -> pd.DataFrame:
    """The listings to review: the rows of ``predictions`` flagged needs_review whose listing no
    analyst has decided on yet, by predicted category, least confident first."""
    pending = predictions[predictions["needs_review"].astype(bool)]
    pending = pending[~pending["productid"].isin(decided)]
    return pending.sort_values(["prdtypecode", "confidence", "productid"]).reset_index(drop=True)


def queue_by_category(queue: pd.DataFrame, names: dict[int, str]) -> pd.DataFrame:
    """prdtypecode, category, pending: the queue's size per predicted category, largest first."""
    counts = queue.groupby("prdtypecode").size().rename("pending").reset_index()
    counts["category"] = [names.get(int(c), str(c)) for c in counts["prdtypecode"]]
    return counts.sort_values(["pending", "prdtypecode"], ascending=[False, True])[
        ["prdtypecode", "category", "pending"]
    ].reset_index(drop=True)


def decision_row(
    *,
    decision_id: str,
    productid: int,
    model_version: str,
    predicted_code: int,
    decision: str,
    corrected_code: int | None,
    analyst: str,
    label_codes: list[int],
    at: datetime,
) -> dict[str, Any]:
    """One row of ``bronze.review_decisions``, checked; raises :class:`DecisionError`."""
    analyst = analyst.strip()
    if not analyst:
        raise DecisionError("say who you are: the analyst's name is empty")
    if len(analyst) > 200:
        raise DecisionError("the analyst's name is longer than 200 characters")
    if decision not in REVIEW_DECISIONS:
        raise DecisionError(f"unknown decision {decision!r}: one of {', '.join(REVIEW_DECISIONS)}")
    try:
        uuid.UUID(decision_id)
    except ValueError:
        raise DecisionError(f"malformed decision id {decision_id!r}") from None
    if decision == REVIEW_CORRECTED:
        if corrected_code is None:
            raise DecisionError("a correction needs the right category")
        if corrected_code not in label_codes:
            raise DecisionError(f"{corrected_code} is not a product type code of this catalog")
        code: int | None = corrected_code
    else:
        code = predicted_code if decision == REVIEW_ACCEPTED else None
    return {
        "decision_id": decision_id,
        "productid": int(productid),
        "model_version": str(model_version),
        "predicted_code": int(predicted_code),
        "decision": decision,
        "prdtypecode": code,
        "decided_by": analyst,
        "decided_at": at,
    }


@dataclass(frozen=True)
class Listing:
    """What the listing page shows of one queued listing."""

    productid: int
    imageid: int | None
    model_version: str
    prdtypecode: int
    category: str
    confidence: float
    top3: list[dict[str, Any]]
    members: dict[str, dict[str, Any]]
    designation: str
    description: str | None
    has_image: bool


class ReviewStore:
    """The lakehouse at ``root`` as the review app sees it: the queue of one fused version's
    predictions, the listings' text and images, and the decisions."""

    def __init__(self, root: str, config: Config, model_version: str | None = None) -> None:
        self.root = root
        self.config = config
        self.requested_version = model_version
        self._lock = threading.Lock()
        self._predictions: pd.DataFrame | None = None
        self._version: str | None = None

    # -- reading ---------------------------------------------------------------------------

    def _path(self, spec: TableSpec) -> str:
        return table_path(self.root, spec)

    def _exists(self, spec: TableSpec) -> bool:
        from deltalake import DeltaTable

        return bool(DeltaTable.is_deltatable(self._path(spec)))

    def _read(self, spec: TableSpec, columns: list[str], where: str | None = None) -> pd.DataFrame:
        """``columns`` of the rows matching the SQL ``where``, as pandas."""
        where_sql = f" WHERE {where}" if where else ""
        return self._query(spec, f"SELECT {', '.join(columns)} FROM t{where_sql}", columns)

    def _query(self, spec: TableSpec, sql: str, columns: list[str]) -> pd.DataFrame:
        """The result of ``sql`` over the table (named ``t``) through delta-rs's DataFusion, as
        pandas; an empty frame with ``columns`` when the table does not exist yet."""
        from deltalake import DeltaTable, QueryBuilder

        if not self._exists(spec):
            return pd.DataFrame({name: [] for name in columns})
        table = QueryBuilder().register("t", DeltaTable(self._path(spec))).execute(sql).read_all()
        # Column by column through Python values: delta-rs hands out Arrow string views, which
        # the pinned pyarrow (14) cannot import; a page's rows are few.
        return pd.DataFrame({name: table.column(name).to_pylist() for name in columns})

    def version(self) -> str | None:
        """The fused version reviewed: the one asked for, else the one scored last."""
        if self.requested_version is not None:
            return self.requested_version
        if self._version is None:
            frame = self._query(
                GOLD_PREDICTIONS,
                "SELECT model_version, max(scored_at) AS scored_at FROM t GROUP BY model_version",
                ["model_version", "scored_at"],
            )
            if frame.empty:
                return None
            latest = frame.sort_values(["scored_at", "model_version"]).iloc[-1]
            self._version = str(latest["model_version"])
        return self._version

    def predictions(self) -> pd.DataFrame:
        """The version's predictions flagged needs_review (read once, then kept)."""
        with self._lock:
            if self._predictions is None:
                version = self.version()
                if version is None:
                    frame = pd.DataFrame(columns=[*QUEUE_COLUMNS, "needs_review"])
                else:
                    where = f"model_version = {_sql_string(version)} AND needs_review"
                    frame = self._read(GOLD_PREDICTIONS, [*QUEUE_COLUMNS, "needs_review"], where)
                self._predictions = frame
                log.info(
                    "review: %d listings of fused version %s flagged for review",
                    len(frame),
                    version,
                )
            return self._predictions

    def decided(self) -> set[int]:
        """Listings some analyst has decided on (read at every call: others decide too)."""
        frame = self._read(BRONZE_REVIEW_DECISIONS, ["productid"])
        return {int(p) for p in frame["productid"]}

    def queue(self) -> pd.DataFrame:
        return review_queue(self.predictions(), self.decided())

    def decisions(self) -> pd.DataFrame:
        return self._read(BRONZE_REVIEW_DECISIONS, BRONZE_REVIEW_DECISIONS.column_names)

    def titles(self, productids: list[int]) -> dict[int, str]:
        if not productids:
            return {}
        frame = self._read(
            SILVER_TEXT_FEATURES, ["productid", "designation_clean"], _in("productid", productids)
        )
        pairs = zip(frame["productid"], frame["designation_clean"], strict=True)
        return {int(p): str(t) for p, t in pairs}

    def prediction(self, productid: int) -> pd.Series | None:
        """The reviewed version's flagged prediction of a listing (queued or already decided),
        or None when the listing is not among them."""
        predictions = self.predictions()
        rows = predictions[predictions["productid"] == productid]
        return None if rows.empty else rows.iloc[0]

    def listing(self, productid: int) -> Listing | None:
        """What the listing page shows of a flagged listing (None: not among them)."""
        row = self.prediction(productid)
        if row is None:
            return None
        text = self._read(
            SILVER_TEXT_FEATURES,
            ["designation_clean", "description_clean"],
            f"productid = {int(productid)}",
        ).to_dict("records")
        if not text:  # features not computed for it yet: the raw title
            raw = self._read(
                BRONZE_LISTINGS, ["designation", "description"], f"productid = {int(productid)}"
            ).to_dict("records")
            text = [
                {"designation_clean": r["designation"], "description_clean": r["description"]}
                for r in raw
            ]
        imageid = None if pd.isna(row["imageid"]) else int(row["imageid"])
        return Listing(
            productid=int(row["productid"]),
            imageid=imageid,
            model_version=str(row["model_version"]),
            prdtypecode=int(row["prdtypecode"]),
            category=str(row["category"]),
            confidence=float(row["confidence"]),
            top3=json.loads(row["top3"]),
            members=json.loads(row["members"]),
            designation=text[0]["designation_clean"] if text else "",
            description=text[0]["description_clean"] if text else None,
            has_image=imageid is not None and self._usable_image(imageid, ["imageid"]) is not None,
        )

    def _usable_image(self, imageid: int, columns: list[str]) -> dict[str, Any] | None:
        """``columns`` of a sound image (a JPEG with no problem), or None."""
        rows = self._read(
            BRONZE_IMAGES, columns, f"imageid = {int(imageid)} AND problem IS NULL"
        ).to_dict("records")
        return {str(k): v for k, v in rows[0].items()} if rows else None

    def usable_images(self, imageids: list[int]) -> set[int]:
        """Those of ``imageids`` that are sound images (the rest get a "no photo" placeholder)."""
        if not imageids:
            return set()
        frame = self._read(
            BRONZE_IMAGES, ["imageid"], f"{_in('imageid', imageids)} AND problem IS NULL"
        )
        return {int(i) for i in frame["imageid"]}

    def image(self, imageid: int) -> bytes | None:
        """The bytes of a sound image, or None."""
        row = self._usable_image(imageid, ["content"])
        return None if row is None else bytes(row["content"])

    # -- writing ---------------------------------------------------------------------------

    def record(self, row: dict[str, Any]) -> bool:
        """Store one decision (a :func:`decision_row`); False when that decision_id is already
        stored (the same form submitted again)."""
        from deltalake import DeltaTable
        from deltalake.exceptions import CommitFailedError

        path = self._path(BRONZE_REVIEW_DECISIONS)
        source = pa.Table.from_pylist([row], schema=BRONZE_REVIEW_DECISIONS.arrow_schema())
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                if not DeltaTable.is_deltatable(path):
                    create_with_delta_rs(path, BRONZE_REVIEW_DECISIONS)
                metrics = (
                    DeltaTable(path)
                    .merge(
                        source=source,
                        predicate="t.decision_id = s.decision_id",
                        source_alias="s",
                        target_alias="t",
                    )
                    .when_not_matched_insert_all()
                    .execute()
                )
            except CommitFailedError as exc:
                if attempt == COMMIT_ATTEMPTS:
                    raise
                log.debug("review: decision %s retried (%s)", row["decision_id"], exc)
                time.sleep(random.uniform(0.01, 0.05) * attempt)
                continue
            inserted = int(metrics.get("num_target_rows_inserted", 0)) == 1
            log.info(
                "review: %s %s listing %s (%s) by %s",
                "recorded" if inserted else "already had",
                row["decision"],
                row["productid"],
                row["prdtypecode"],
                row["decided_by"],
            )
            return inserted
        raise AssertionError("unreachable")

    def decide(
        self,
        *,
        decision_id: str,
        productid: int,
        decision: str,
        corrected_code: int | None,
        analyst: str,
    ) -> bool:
        """Check and store an analyst's decision about a listing of the reviewed version."""
        prediction = self.prediction(productid)
        if prediction is None:
            raise DecisionError(f"listing {productid} is not in the review queue")
        row = decision_row(
            decision_id=decision_id,
            productid=productid,
            model_version=str(prediction["model_version"]),
            predicted_code=int(prediction["prdtypecode"]),
            decision=decision,
            corrected_code=corrected_code,
            analyst=analyst,
            label_codes=self.config.label_codes,
            at=datetime.now(UTC),
        )
        return self.record(row)


__all__ = [
    "REVIEW_ACCEPTED",
    "REVIEW_CORRECTED",
    "REVIEW_UNCLASSIFIABLE",
    "DecisionError",
    "Listing",
    "ReviewStore",
    "decision_row",
    "queue_by_category",
    "review_queue",
]
