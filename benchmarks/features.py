"""Features throughput: listings/s and images/s through Spark into Delta, against one process.

    .venv/bin/python benchmarks/features.py --listings 20000 --images 2000 [--image-size 500]

Generates a sample catalog and writes it straight into the bronze tables (not timed: the ingest
has its own benchmark), warms Spark up on a few rows, then times
  - the text and the image features through Spark (local[*]) into Delta, each alone, and
  - the same pandas functions in this one plain Python process on the same rows,
and prints the parallel efficiency: Spark's rows/s / (the single process's rows/s x cores).
The figures come last, as one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))
# Spark's Python workers import the library from this checkout too.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO / "lib"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)

from catalog_classifier.config import load_config  # noqa: E402
from catalog_classifier.features.image import image_features_pandas  # noqa: E402
from catalog_classifier.features.text import text_features_pandas  # noqa: E402
from catalog_classifier.logs import setup_logging  # noqa: E402
from catalog_classifier.sample.generator import generate_sample  # noqa: E402
from catalog_classifier.stages.features import (  # noqa: E402
    ARROW_BATCH_CONF,
    run_image_features,
    run_text_features,
)
from catalog_classifier.storage.lakehouse import Lakehouse  # noqa: E402
from catalog_classifier.storage.spark import build_spark  # noqa: E402
from catalog_classifier.storage.tables import BRONZE_IMAGES, BRONZE_LISTINGS  # noqa: E402

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def bronze_frames(sample_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The generated sample as rows of bronze.listings and bronze.images."""
    x = pd.read_csv(sample_dir / "X.csv", index_col=0, keep_default_na=False, na_values=[""])
    x = x[pd.to_numeric(x["productid"], errors="coerce").notna()]
    x = x[pd.to_numeric(x["imageid"], errors="coerce").notna()]
    x = x.drop_duplicates("productid")
    listings = pd.DataFrame(
        {
            "productid": x["productid"].astype("int64"),
            "imageid": x["imageid"].astype("int64"),
            "designation": x["designation"].fillna("").astype(str),
            "description": x["description"].astype(object).where(x["description"].notna(), None),
        }
    )
    listings["content_sha256"] = [
        hashlib.sha256(f"{d}|{e}".encode()).hexdigest()
        for d, e in zip(listings["designation"], listings["description"], strict=True)
    ]
    listings = listings.assign(
        has_image=True, source_file="X.csv", source_row=x.index.astype("int64"), ingested_at=NOW
    )
    rows = []
    with zipfile.ZipFile(sample_dir / "images.zip") as archive:
        for name in archive.namelist():
            parts = Path(name).stem.split("_")
            if len(parts) != 4 or not name.endswith(".jpg"):
                continue
            data = archive.read(name)
            rows.append(
                {
                    "imageid": int(parts[1]),
                    "productid": int(parts[3]),
                    "content": data,
                    "byte_size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "format": "JPEG",
                    "width": None,
                    "height": None,
                    "problem": None,
                    "has_listing": True,
                    "source": name,
                    "ingested_at": NOW,
                }
            )
    images = pd.DataFrame(rows).drop_duplicates("imageid")
    return listings, images


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=20_000)
    parser.add_argument("--images", type=int, default=2_000)
    parser.add_argument("--image-size", type=int, default=500)
    parser.add_argument("--workdir", default=None, help="keep files here (default: a temp dir)")
    args = parser.parse_args()
    setup_logging("WARNING")
    config = load_config(REPO / "conf" / "local.yaml")
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        generate_sample(
            work / "sample",
            n_listings=args.listings,
            n_images=args.images,
            seed=5,
            image_size=args.image_size,
            priors=config.category_priors,
            write_folder=False,
        )
        listings, images = bronze_frames(work / "sample")

        spark = build_spark(config, "benchmark-features")
        spark.conf.set(ARROW_BATCH_CONF, str(config.features.image_batch_rows))
        lakehouse = Lakehouse(spark, str(work / "lakehouse"), config.delta_engine)
        warm = Lakehouse(spark, str(work / "warmup"), config.delta_engine)
        for house, n_listings, n_images in ((warm, 200, 40), (lakehouse, None, None)):
            house.merge(
                BRONZE_LISTINGS,
                spark.createDataFrame(
                    listings.head(n_listings) if n_listings else listings,
                    BRONZE_LISTINGS.spark_schema(),
                ),
            )
            house.merge(
                BRONZE_IMAGES,
                spark.createDataFrame(
                    images.head(n_images) if n_images else images, BRONZE_IMAGES.spark_schema()
                ),
            )
        # Warm-up: JVM, Python workers, the language model and delta-rs, not counted.
        run_text_features(warm, config, NOW, full=True)
        run_image_features(warm, config, NOW, full=True)

        text_spark = run_text_features(lakehouse, config, NOW, full=True)
        image_spark = run_image_features(lakehouse, config, NOW, full=True)
        spark.stop()

    started = time.monotonic()
    text_single = text_features_pandas(listings, NOW, config.features.languages)
    text_single_s = time.monotonic() - started
    started = time.monotonic()
    image_single = image_features_pandas(
        images, NOW, config.ingest.max_image_pixels, config.features.blank_max_spread
    )
    image_single_s = time.monotonic() - started
    assert len(text_single) == text_spark.computed == len(listings)
    assert len(image_single) == image_spark.computed == len(images)

    text_single_rate = len(listings) / text_single_s
    image_single_rate = len(images) / image_single_s
    figures = {
        "benchmark": "features",
        "listings": len(listings),
        "images": len(images),
        "image_size": args.image_size,
        "cores": cores,
        "text_spark_s": round(text_spark.seconds, 2),
        "text_spark_per_s": round(text_spark.rows_per_s, 1),
        "text_single_process_per_s": round(text_single_rate, 1),
        "text_parallel_efficiency": round(text_spark.rows_per_s / (text_single_rate * cores), 3),
        "images_spark_s": round(image_spark.seconds, 2),
        "images_spark_per_s": round(image_spark.rows_per_s, 1),
        "images_single_process_per_s": round(image_single_rate, 1),
        "images_parallel_efficiency": round(
            image_spark.rows_per_s / (image_single_rate * cores), 3
        ),
    }
    print(
        f"text:   Spark {figures['text_spark_per_s']:,} listings/s, one process "
        f"{figures['text_single_process_per_s']:,}/s, efficiency "
        f"{figures['text_parallel_efficiency']}"
    )
    print(
        f"images: Spark {figures['images_spark_per_s']:,} images/s, one process "
        f"{figures['images_single_process_per_s']:,}/s, efficiency "
        f"{figures['images_parallel_efficiency']}"
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
