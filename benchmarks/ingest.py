"""Ingest throughput: listings/s and images/s (from a folder and from a zip), each beside its limit.

    .venv/bin/python benchmarks/ingest.py --listings 20000 --images 5000 [--image-size 500]
        [--photos ../shared/data/rakuten/images] [--engine delta-rs] [--repeat 1] [--set K=V]

Generates a sample catalog with its images both as a folder and as a zip (500x500 JPEGs;
``--photos`` puts real photos' bytes in their place, cycled), not timed. Spark (local[*]) is
warmed up on a few rows, then each round times, on a fresh lakehouse per image source: the
listings and labels CSVs, then the images from the folder (or the zip); last, the whole input
again, unchanged (nothing may be written). With Spark stopped, the same run measures the plain
limit of each figure in this one Python process on the same files:
  - images: reading and SHA-256-hashing every file of the folder, every member of the zip;
  - listings: parsing the listings and labels CSVs with the csv module;
and the JPEG check the ingest makes on every image (``check_image_bytes``), which costs far
more than reading and hashing, in one process and in one process per core: the images' compute
bound (``images_*_check_ratio``; issue 33's targets: listings >= 0.05 of their limit, images
>= 0.8 of the check on every core). Each figure is printed with its limit and the
ratio; figures are medians over the rounds; every round, the load average, the commit and the
command go to ``benchmarks/results/ingest.json``, and the figures come last as one JSON line.
Targets (issue 15): >= 1,000 images/s from a folder and from a zip, >= 10,000 listings/s.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import multiprocessing
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))
# Spark's Python workers import the library from this checkout too.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO / "lib"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)

from catalog_classifier.config import load_config  # noqa: E402
from catalog_classifier.features.imaging import check_image_bytes  # noqa: E402
from catalog_classifier.logs import setup_logging  # noqa: E402
from catalog_classifier.sample.generator import generate_sample  # noqa: E402
from catalog_classifier.stages.ingest import IngestSummary, run_ingest  # noqa: E402
from catalog_classifier.storage.lakehouse import Lakehouse  # noqa: E402
from catalog_classifier.storage.spark import build_spark  # noqa: E402
from record import load_average, write_results  # noqa: E402  (this folder: sys.path[0])

RESULTS = REPO / "benchmarks" / "results" / "ingest.json"
TARGETS = {
    "listings_per_s": 10_000.0,
    "images_folder_per_s": 1_000.0,
    "images_zip_per_s": 1_000.0,
}




def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def put_photos(folder: Path, archive: Path, photos: Path) -> None:
    """Replace every image of the sample (folder and zip, same names) with a real photo's bytes,
    taken in turn."""
    sources = [path.read_bytes() for path in sorted(photos.glob("*.jpg"))]
    if not sources:
        raise SystemExit(f"--photos {photos}: no .jpg file there")
    names = sorted(path.name for path in folder.iterdir())
    for index, name in enumerate(names):
        (folder / name).write_bytes(sources[index % len(sources)])
    rebuilt = archive.with_suffix(".new")
    with zipfile.ZipFile(archive) as old, zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_STORED) as new:
        for info in old.infolist():
            new.writestr(info, (folder / Path(info.filename).name).read_bytes())
    rebuilt.replace(archive)


def plain_images_folder(folder: Path) -> int:
    """Read and hash every file of the folder: what the ingest's image path cannot beat."""
    count = 0
    for path in sorted(folder.iterdir()):
        with open(path, "rb") as handle:
            hashlib.sha256(handle.read()).hexdigest()
        count += 1
    return count


def plain_images_zip(archive: Path) -> int:
    count = 0
    with zipfile.ZipFile(archive) as opened:
        for info in opened.infolist():
            with opened.open(info) as handle:
                hashlib.sha256(handle.read()).hexdigest()
            count += 1
    return count


def plain_csv(listings: Path, labels: Path) -> int:
    """Parse both CSVs with the csv module (quoted fields across lines included), as the ingest
    reads both for its listings figure: the listings file's rows."""
    rows = {}
    for path in (listings, labels):
        with open(path, encoding="utf-8", newline="") as handle:
            rows[path] = sum(1 for _ in csv.reader(handle)) - 1  # less the header
    return rows[listings]


def check_all(folder: Path, max_pixels: int) -> int:
    count = 0
    for path in sorted(folder.iterdir()):
        check_image_bytes(path.read_bytes(), max_pixels)
        count += 1
    return count


def _check_files(paths: list[Path], max_pixels: int) -> int:
    for path in paths:
        check_image_bytes(path.read_bytes(), max_pixels)
    return len(paths)


def check_all_cores(folder: Path, max_pixels: int, processes: int) -> int:
    """The JPEG check (read, check) of every file in ``processes`` processes, one slice each:
    the bound of the ingest's image figures on this many cores (hashing and storing the bytes
    come on top)."""
    paths = sorted(folder.iterdir())
    slices = [paths[i::processes] for i in range(processes)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return sum(pool.starmap(_check_files, [(part, max_pixels) for part in slices]))


def spark_rounds(
    config: Any, engine: str, work: Path, sample: Any, rounds: int
) -> tuple[str, list[dict[str, Any]]]:
    """Each round, per image source: a fresh lakehouse, the CSVs, then the images; then the
    whole input again on the folder's lakehouse."""
    spark = build_spark(config, "benchmark-ingest")
    listings_csv, labels_csv = str(sample.listings_csv), str(sample.labels_csv)
    try:
        # Warm-up: JVM, Python workers and the Delta engine on a few rows of each kind.
        warm_images = work / "warm_images"
        warm_images.mkdir()
        for path in sorted(sample.images_dir.iterdir())[:20]:
            shutil.copy(path, warm_images / path.name)
        warm = Lakehouse(spark, str(work / "warmup"), engine)
        run_ingest(spark, warm, config, [listings_csv], [labels_csv], [str(warm_images)])
        out = []
        for index in range(rounds):
            figures: dict[str, Any] = {"load_average_before": load_average()}
            lakehouses: dict[str, Lakehouse] = {}
            for source_name, source in (("folder", sample.images_dir), ("zip", sample.images_zip)):
                lakehouse = Lakehouse(spark, str(work / f"round{index}_{source_name}"), engine)
                lakehouses[source_name] = lakehouse
                listings_s, text = timed(
                    lambda lakehouse=lakehouse: run_ingest(
                        spark, lakehouse, config, [listings_csv], [labels_csv], []
                    )
                )
                images_s, images = timed(
                    lambda lakehouse=lakehouse, source=source: run_ingest(
                        spark, lakehouse, config, [], [], [str(source)]
                    )
                )
                assert isinstance(text, IngestSummary) and isinstance(images, IngestSummary)
                figures[f"listings_{source_name}_lakehouse_per_s"] = round(
                    text.listings.read / listings_s, 1
                )
                figures[f"listings_{source_name}_lakehouse_s"] = round(listings_s, 2)
                figures[f"images_{source_name}_s"] = round(images_s, 2)
                figures[f"images_{source_name}_per_s"] = round(images.images.read / images_s, 1)
                figures["listings_read"] = text.listings.read
                figures["images_read"] = images.images.read
            rerun_s, rerun = timed(
                lambda lakehouses=lakehouses: run_ingest(
                    spark,
                    lakehouses["folder"],
                    config,
                    [listings_csv],
                    [labels_csv],
                    [str(sample.images_dir)],
                )
            )
            figures["rerun_unchanged_s"] = round(rerun_s, 2)
            figures["rerun_rows_written"] = (
                rerun.listings.inserted
                + rerun.listings.updated
                + rerun.labels.inserted
                + rerun.labels.updated
                + rerun.images.inserted
                + rerun.images.updated
                + rerun.quarantine_new
                + sum(rerun.flags_updated.values())
            )
            figures["listings_per_s"] = round(
                statistics.median(
                    figures[f"listings_{name}_lakehouse_per_s"] for name in lakehouses
                ),
                1,
            )
            figures["load_average_after"] = load_average()
            out.append(figures)
            print(f"spark round {index + 1}: {figures}", flush=True)
        return warm.engine.name, out
    finally:
        spark.stop()


def plain_rounds(sample: Any, max_pixels: int, rounds: int) -> list[dict[str, Any]]:
    """The same files read in this one process: the limits of the Spark figures."""
    out = []
    for index in range(rounds):
        load_before = load_average()
        folder_s, folder_n = timed(lambda: plain_images_folder(sample.images_dir))
        zip_s, zip_n = timed(lambda: plain_images_zip(sample.images_zip))
        csv_s, csv_rows = timed(lambda: plain_csv(sample.listings_csv, sample.labels_csv))
        check_s, check_n = timed(lambda: check_all(sample.images_dir, max_pixels))
        cores = os.cpu_count() or 1
        cores_s, cores_n = timed(
            lambda cores=cores: check_all_cores(sample.images_dir, max_pixels, cores)
        )
        out.append(
            {
                "images_folder_per_s": round(folder_n / folder_s, 1),
                "images_zip_per_s": round(zip_n / zip_s, 1),
                "listings_per_s": round(csv_rows / csv_s, 1),
                "image_check_per_s": round(check_n / check_s, 1),
                "image_check_all_cores_per_s": round(cores_n / cores_s, 1),
                "load_average_before": load_before,
                "load_average_after": load_average(),
            }
        )
        print(f"one-process round {index + 1}: {out[-1]}", flush=True)
    return out


def median(rounds: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=20_000)
    parser.add_argument("--images", type=int, default=5_000)
    parser.add_argument("--image-size", type=int, default=500)
    parser.add_argument(
        "--photos",
        default=None,
        help="a folder of real JPEGs (e.g. ../shared/data/rakuten/images) whose bytes replace "
        "the generated images, cycled",
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds of each measurement")
    parser.add_argument("--engine", default=None, help="Delta engine (default: the config's)")
    parser.add_argument("--set", action="append", default=[], help="config override KEY=VALUE")
    parser.add_argument("--workdir", default=None, help="keep files here (default: a temp dir)")
    parser.add_argument(
        "--results", default=str(RESULTS), help="JSON file for the figures ('' for none)"
    )
    args = parser.parse_args()
    setup_logging("WARNING")
    config = load_config(REPO / "conf" / "local.yaml", args.set)
    engine = args.engine or config.delta_engine
    cores = os.cpu_count() or 1
    load_start = load_average()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        sample = generate_sample(
            work / "sample",
            n_listings=args.listings,
            n_images=args.images,
            seed=1,
            image_size=args.image_size,
            priors=config.category_priors,
        )
        assert sample.images_dir is not None and sample.images_zip is not None
        if args.photos:
            put_photos(sample.images_dir, sample.images_zip, Path(args.photos))
        image_bytes = sum(path.stat().st_size for path in sample.images_dir.iterdir())
        engine_name, spark = spark_rounds(config, engine, work, sample, args.repeat)
        plain = plain_rounds(sample, config.ingest.max_image_pixels, args.repeat)

    figures: dict[str, Any] = {
        "benchmark": "ingest",
        "listings": spark[0]["listings_read"],
        "images": spark[0]["images_read"],
        "image_size": args.image_size,
        "image_mb": round(image_bytes / 1e6, 1),
        "photos": args.photos,
        "cores": cores,
        "engine": engine_name,
        "rounds": args.repeat,
    }
    for key in ("listings_per_s", "images_folder_per_s", "images_zip_per_s"):
        figures[key] = round(median(spark, key), 1)
        figures[f"{key.removesuffix('_per_s')}_limit_per_s"] = round(median(plain, key), 1)
        figures[f"{key.removesuffix('_per_s')}_ratio"] = round(
            figures[key] / figures[f"{key.removesuffix('_per_s')}_limit_per_s"], 4
        )
    figures["image_check_one_process_per_s"] = median(plain, "image_check_per_s")
    # The images' compute bound: the JPEG check the ingest makes on every image, on every core
    # (reading and hashing alone are 20-30x faster, the limits above).
    figures["image_check_all_cores_per_s"] = median(plain, "image_check_all_cores_per_s")
    for key in ("images_folder", "images_zip"):
        figures[f"{key}_check_ratio"] = round(
            figures[f"{key}_per_s"] / figures["image_check_all_cores_per_s"], 4
        )
    figures["listings_ratio_target"] = 0.05
    figures["images_check_ratio_target"] = 0.8
    figures["rerun_unchanged_s"] = median(spark, "rerun_unchanged_s")
    figures["rerun_rows_written"] = max(r["rerun_rows_written"] for r in spark)
    # The driver's own peak memory (the JVM and the Python workers are other processes).
    figures["driver_python_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    figures["load_average_start"] = load_start
    figures["load_average_end"] = load_average()
    figures["targets_met"] = {key: figures[key] >= target for key, target in TARGETS.items()}
    if args.results:
        write_results(
            args.results, figures, TARGETS, spark_rounds=spark, one_process_rounds=plain
        )
    for key, what in (
        ("listings", "listings"),
        ("images_folder", "images from a folder"),
        ("images_zip", "images from a zip"),
    ):
        print(
            f"{what}: {figures[f'{key}_per_s']:,}/s (target {TARGETS[f'{key}_per_s']:,.0f}); "
            f"limit, one process reading "
            f"{'and parsing' if key == 'listings' else 'and hashing'} the same files: "
            f"{figures[f'{key}_limit_per_s']:,}/s; ratio {figures[f'{key}_ratio']}"
        )
    print(
        f"the ingest's JPEG check alone, one process: {figures['image_check_one_process_per_s']:,}"
        f" images/s, on {cores} cores {figures['image_check_all_cores_per_s']:,} images/s "
        f"(ratio: folder {figures['images_folder_check_ratio']}, zip "
        f"{figures['images_zip_check_ratio']}); "
        f"re-run of everything unchanged: {figures['rerun_unchanged_s']} s, "
        f"{figures['rerun_rows_written']} rows written"
    )
    print(f"load average: start {load_start}, end {figures['load_average_end']}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
