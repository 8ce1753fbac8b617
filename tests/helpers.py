"""Small builders of input files and table rows for the tests."""

from __future__ import annotations

import csv
import io
import shutil
import socket
import sqlite3
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import TableSpec


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Training settings small enough for tests (the models still learn the generated sample).
SMALL_TRAINING = [
    # The built-in three and the fusion (local.yaml adds `use`: tested in test_use_member)
    "train.models=[tfidf,text,image,fusion]",
    "train.tfidf.max_iter=15",
    "train.tfidf.char_ngrams=[3]",
    "train.text.mode=frozen",
    "train.text.epochs=6",
    "train.image.mode=frozen",
    "train.image.backbone=efficientnet_lite0",  # the default; combined ones: test_image_backbone
    "train.image.epochs=6",
    "train.image.augment_copies=1",
    "train.image.minority_extra_copies=1",
    "train.fusion.min_rows=8",
    "train.fusion.cv_folds=3",
    "evaluation.gradcam_examples=4",
    "evaluation.misclassified_examples=5",
]

LISTINGS_HEADER = ["", "designation", "description", "productid", "imageid"]


def write_listings(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(LISTINGS_HEADER)
        writer.writerows(rows)
    return path


def write_labels(path: Path, rows: list[tuple[object, object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["", "prdtypecode"])
        writer.writerows(rows)
    return path


def jpeg(size: tuple[int, int] = (40, 30), color: tuple[int, int, int] = (10, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, color)
    image.putpixel((1, 1), (255, 255, 255))
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 12), (0, 255, 0)).save(buffer, "PNG")
    return buffer.getvalue()


def image_name(imageid: int, productid: int) -> str:
    return f"image_{imageid}_product_{productid}.jpg"


def write_zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _filler(kind: str, now: datetime) -> Any:
    return {
        "string": "x",
        "long": 0,
        "integer": 0,
        "double": 0.0,
        "float": 0.0,
        "boolean": False,
        "binary": b"",
        "timestamp": now,
    }[kind]


def rows_of(lakehouse: Lakehouse, spec: TableSpec, rows: list[dict[str, Any]]) -> None:
    """Append rows to a table: the given values, a typed filler in every other column."""
    now = datetime.now(UTC)
    values = [tuple(row.get(c.name, _filler(c.type, now)) for c in spec.columns) for row in rows]
    lakehouse.append(spec, lakehouse.spark.createDataFrame(values, spec.spark_schema()))


def featured_lakehouse(spark: Any, config: Any, sample: Any, root: Path) -> Lakehouse:
    """A generated sample ingested (listings, labels, image zip) and featured, on delta-rs,
    in a lakehouse under ``root``."""
    from catalog_classifier.stages.features import run_features
    from catalog_classifier.stages.ingest import run_ingest

    lakehouse = Lakehouse(spark, str(root / "lakehouse"), "delta-rs")
    run_ingest(
        spark,
        lakehouse,
        config,
        [str(sample.listings_csv)],
        [str(sample.labels_csv)],
        [str(sample.images_zip)],
    )
    run_features(lakehouse, config)
    return lakehouse


def copy_lakehouse(source: Lakehouse, target: Path) -> Lakehouse:
    """A copy whose MLflow store points at its own artifacts (the store keeps absolute paths:
    without this, runs logged in the copy would write into the original's folder)."""
    shutil.copytree(source.root, target)
    old, new = str(Path(source.root).absolute()), str(target.absolute())
    with sqlite3.connect(target / "_mlflow" / "mlflow.db") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for _, column, kind, *_ in db.execute(f"PRAGMA table_info('{table}')").fetchall():
                if kind.upper().startswith(("VARCHAR", "TEXT")):
                    db.execute(
                        f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                        f'WHERE "{column}" LIKE ?',
                        (old, new, f"%{old}%"),
                    )
    return Lakehouse(source.spark, str(target), "delta-rs")
