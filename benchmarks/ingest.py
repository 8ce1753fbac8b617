"""Ingest throughput: listings/s and images/s for N generated listings with images.

    .venv/bin/python benchmarks/ingest.py --listings 20000 [--images 5000] [--image-size 500]

Generates the sample (not timed in the figures), then ingests the listings and labels alone,
then the image archive alone, each into a fresh delta-rs lakehouse on a local Spark session
(local[*], 4g driver). Prints the figures, the last line as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))

from catalog_classifier.config import load_config  # noqa: E402
from catalog_classifier.logs import setup_logging  # noqa: E402
from catalog_classifier.sample.generator import generate_sample  # noqa: E402
from catalog_classifier.stages.ingest import run_ingest  # noqa: E402
from catalog_classifier.storage.lakehouse import Lakehouse  # noqa: E402
from catalog_classifier.storage.spark import build_spark  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=20_000)
    parser.add_argument("--images", type=int, default=None, help="default: min(listings, 5000)")
    parser.add_argument("--image-size", type=int, default=500)
    parser.add_argument("--batch-files", type=int, default=2000, help="images per commit")
    parser.add_argument("--workdir", default=None, help="keep files here (default: a temp dir)")
    args = parser.parse_args()
    n_images = args.images if args.images is not None else min(args.listings, 5000)
    setup_logging("WARNING")
    config = load_config(
        REPO / "conf" / "local.yaml", [f"ingest.image_batch_files={args.batch_files}"]
    )
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        started = time.monotonic()
        sample = generate_sample(
            work / "sample",
            n_listings=args.listings,
            n_images=n_images,
            seed=1,
            image_size=args.image_size,
            priors=config.category_priors,
            write_folder=False,
        )
        generate_s = time.monotonic() - started
        zip_bytes = sample.images_zip.stat().st_size
        spark = build_spark(config, "benchmark-ingest")
        lakehouse = Lakehouse(spark, str(work / "lakehouse"), config.delta_engine)
        lakehouse_warm = Lakehouse(spark, str(work / "warmup"), config.delta_engine)
        # Warm-up: JVM, Python workers and delta-rs on a few rows, not counted.
        run_ingest(spark, lakehouse_warm, config, [str(sample.listings_csv)], [], [])

        started = time.monotonic()
        text = run_ingest(
            spark, lakehouse, config, [str(sample.listings_csv)], [str(sample.labels_csv)], []
        )
        listings_s = time.monotonic() - started
        started = time.monotonic()
        images = run_ingest(spark, lakehouse, config, [], [], [str(sample.images_zip)])
        images_s = time.monotonic() - started
        started = time.monotonic()
        rerun = run_ingest(
            spark,
            lakehouse,
            config,
            [str(sample.listings_csv)],
            [str(sample.labels_csv)],
            [str(sample.images_zip)],
        )
        rerun_s = time.monotonic() - started
        cores = os.cpu_count()
        spark.stop()

    figures = {
        "benchmark": "ingest",
        "listings": args.listings,
        "images": n_images,
        "image_size": args.image_size,
        "cores": cores,
        "engine": lakehouse.engine.name,
        "generate_s": round(generate_s, 2),
        "listings_s": round(listings_s, 2),
        "listings_per_s": round(text.listings.read / listings_s, 1),
        "images_s": round(images_s, 2),
        "images_per_s": round(images.images.read / images_s, 1),
        "image_mb_per_s": round(zip_bytes / 1e6 / images_s, 2),
        "rerun_unchanged_s": round(rerun_s, 2),
        "rerun_rows_written": rerun.listings.inserted
        + rerun.listings.updated
        + rerun.images.inserted,
    }
    print(
        f"listings: {text.listings.read:,} in {listings_s:.1f} s = {figures['listings_per_s']:,} /s"
    )
    print(f"images:   {images.images.read:,} in {images_s:.1f} s = {figures['images_per_s']:,} /s")
    print(f"re-run of everything, unchanged: {rerun_s:.1f} s")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
