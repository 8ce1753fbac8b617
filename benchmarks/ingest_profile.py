"""Where a listings ingest's time goes: each step's wall time and Spark jobs, the Delta commits.

    .venv/bin/python benchmarks/ingest_profile.py [LISTINGS] [--rounds N]

Generates a sample of LISTINGS listings (default 100,000; kept in /tmp/ingest-profile between
runs), warms Spark up with one whole ingest, then times the ingest of the listings and labels
CSVs into a fresh lakehouse, as benchmarks/ingest.py's listings figure does, with the ingest's
steps wrapped: each step's seconds and Spark jobs (AQE's stages are jobs too), the table
versions written, and the driver's Python profile (what the driver itself spends, beside the
time it waits for the JVM in ``recv_into``). A tool to find what to change; the figures and
their limits are benchmarks/ingest.py's. Prints each round, then one JSON line.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import os
import pstats
import shutil
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO / "lib"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)

import catalog_classifier.ingest.csv_files as csv_files  # noqa: E402
import catalog_classifier.stages.ingest as ingest  # noqa: E402
from catalog_classifier.config import load_config  # noqa: E402
from catalog_classifier.logs import setup_logging  # noqa: E402
from catalog_classifier.sample.generator import generate_sample  # noqa: E402
from catalog_classifier.storage.lakehouse import Lakehouse  # noqa: E402
from catalog_classifier.storage.spark import build_spark  # noqa: E402
from record import commit, load_average  # noqa: E402  (this folder: sys.path[0])

STEPS = (
    "_read_listings",
    "load_csv",
    "validate_listings",
    "_ingest_images",
    "_write_listings",
    "_ingest_labels",
    "_merge_new_or_changed",
    "reconcile_flags",
    "_write_quarantine",
    "_count_by_table",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listings", type=int, nargs="?", default=100_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--work", default="/tmp/ingest-profile")
    args = parser.parse_args()
    setup_logging("WARNING")
    config = load_config(REPO / "conf" / "local.yaml", [])
    work = Path(args.work)
    sample_dir = work / f"sample{args.listings}"
    if not (sample_dir / "done").exists():
        shutil.rmtree(sample_dir, ignore_errors=True)
        made = generate_sample(
            sample_dir,
            n_listings=args.listings,
            n_images=20,
            seed=1,
            image_size=64,
            priors=config.category_priors,
        )
        (sample_dir / "done").write_text(
            f"{made.listings_csv}\n{made.labels_csv}\n{made.images_dir}"
        )
    listings_csv, labels_csv, images_dir = (sample_dir / "done").read_text().split("\n")
    spark = build_spark(config, "profile-ingest")
    tracker = spark.sparkContext.statusTracker()

    def jobs() -> int:
        return len(tracker.getJobIdsForGroup(None))

    steps: dict[str, list[Any]] = {}

    def wrap(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*a: Any, **k: Any) -> Any:
            jobs_before, started = jobs(), time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                step = steps.setdefault(label, [0, 0.0, 0])
                step[0] += jobs() - jobs_before
                step[1] += time.perf_counter() - started
                step[2] += 1

        setattr(owner, name, timed)

    for name in STEPS:
        wrap(ingest, name, name)
    wrap(csv_files, "scan_text", "scan_text")
    wrap(Lakehouse, "merge", "Lakehouse.merge")
    warm = Lakehouse(spark, str(work / f"warm{time.time_ns()}"), config.delta_engine)
    ingest.run_ingest(spark, warm, config, [listings_csv], [labels_csv], [images_dir])
    rounds = []
    for index in range(args.rounds):
        steps.clear()
        lakehouse = Lakehouse(spark, str(work / f"lake{time.time_ns()}"), config.delta_engine)
        load_before = load_average()
        jobs_before, started = jobs(), time.perf_counter()
        profile = cProfile.Profile()
        profile.enable()
        summary = ingest.run_ingest(spark, lakehouse, config, [listings_csv], [labels_csv], [])
        profile.disable()
        seconds = time.perf_counter() - started
        out = {
            "seconds": round(seconds, 2),
            "spark_jobs": jobs() - jobs_before,
            "listings_per_s": round(args.listings / seconds, 1),
            "table_versions": summary.table_versions,
            "steps": {
                k: {"s": round(v[1], 2), "jobs": v[0], "calls": v[2]} for k, v in steps.items()
            },
            "load_average_before": load_before,
            "load_average_after": load_average(),
        }
        rounds.append(out)
        print(
            f"round {index + 1}: {seconds:.2f} s, {out['spark_jobs']} Spark jobs, "
            f"{out['listings_per_s']:,} listings/s; load {load_before} -> {load_average()}"
        )
        for name, (n_jobs, step_s, calls) in sorted(steps.items(), key=lambda kv: -kv[1][1]):
            print(f"  {name:24} {step_s:8.2f} s {n_jobs:4} jobs {calls} calls")
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(10)
        print(text.getvalue()[:2500])
    spark.stop()
    print(
        json.dumps(
            {
                "benchmark": "ingest_profile",
                "listings": args.listings,
                "engine": warm.engine.name,
                "commit": commit(),
                "rounds": rounds,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
