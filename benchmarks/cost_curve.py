"""The cost curve: ingest, text features and TF-IDF scoring as the catalog grows, with peak memory.

    .venv/bin/python benchmarks/cost_curve.py --sizes 10000,100000,1000000

A base lakehouse is built once: ``--train-listings`` generated listings (text only, a seed of
their own) ingested, featured, and a TF-IDF member and its fusion trained on them. Then, for
each size N, in a process of its own (so that each size's peak memory is its own), on a copy of
the base:
  - ingest: N generated listings of the catalog's seed and their labels, all new to the copy,
    timed; its limit, parsing the same two CSVs with the csv module in one process (as
    benchmarks/ingest.py);
  - text features of the new listings, timed; its limit, the same pandas function on 20,000
    rows of bronze.listings in one plain process, times the cores;
  - scoring every listing (``run_score --full``: the N and the base's) with the TF-IDF member
    and its fusion, timed;
    its limit, the same batch predictor and fusion on the first 20,000 scoring inputs in one
    plain process on one thread (as a Spark task runs them), times the cores;
  - the peak resident memory of the driver's JVM, the driver's Python and the largest Python
    worker over the whole size's run (VmHWM, sampled every second from /proc).
Each figure is printed beside its limit and the ratio; the rates' growth with the size says
whether the cost is linear (a constant rate) once the fixed costs are paid. The figures come
last as one JSON line and go to ``benchmarks/results/cost-curve.json``. The scoring cascade
with the other members is not on this curve: at the 39 listings/s it reaches here (issue 33),
1,000,000 listings would take about 7 hours on 2 cores.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as Spark's Python workers (see features.py)

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO / "lib"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)

from catalog_classifier.config import load_config  # noqa: E402
from catalog_classifier.logs import setup_logging  # noqa: E402
from catalog_classifier.sample.generator import generate_sample  # noqa: E402
from catalog_classifier.stages.features import run_features  # noqa: E402
from catalog_classifier.stages.ingest import run_ingest  # noqa: E402
from catalog_classifier.stages.score import (  # noqa: E402
    load_scoring_models,
    run_score,
    scoring_inputs,
)
from catalog_classifier.stages.train import run_train  # noqa: E402
from catalog_classifier.storage.lakehouse import Lakehouse  # noqa: E402
from catalog_classifier.storage.registry import Registry  # noqa: E402
from catalog_classifier.storage.spark import build_spark  # noqa: E402
from catalog_classifier.storage.tables import BRONZE_LISTINGS  # noqa: E402
from ingest import plain_csv  # noqa: E402  (this folder: sys.path[0])
from record import load_average, write_results  # noqa: E402
from score import SMALL, PeakMemory, plain_python  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "cost-curve.json"
LIMIT_ROWS = 20_000  # the plain-process limits' rows (a rate: per listing, times the cores)
SEED = 11  # the catalog's listings (a larger sample starts with the smaller one's)
TRAIN_SEED = 7  # the base's training listings: other products than the catalog's


def sample(work: Path, listings: int, config, seed: int = SEED):
    return generate_sample(
        work / f"sample-{seed}-{listings}",
        n_listings=listings,
        n_images=0,
        seed=seed,
        priors=config.category_priors,
        write_folder=False,
    )


def settings(args: argparse.Namespace) -> list[str]:
    return [*SMALL, "train.models=[tfidf,fusion]", *args.set]


def build_base(work: Path, config, train_listings: int) -> Path:
    """The base lakehouse: the first listings ingested, featured, TF-IDF and fusion trained."""
    base = work / "base"
    spark = build_spark(config, "bench-cost-curve-base")
    lakehouse = Lakehouse(spark, str(base))
    data = sample(work, train_listings, config, TRAIN_SEED)
    run_ingest(spark, lakehouse, config, [str(data.listings_csv)], [str(data.labels_csv)])
    run_features(lakehouse, config)
    run_train(lakehouse, config, ["tfidf", "fusion"])
    spark.stop()
    return base


def one_size(work: Path, base: Path, size: int, config) -> dict:
    """The figures of one size (run in a process of its own: its peaks are its own)."""
    from catalog_classifier.features.text import text_features_pandas

    data = sample(work, size, config)
    root = work / f"lakehouse-{size}"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(base, root)
    cores = os.cpu_count() or 1
    out: dict = {"listings": size, "load_average_before": load_average()}
    with PeakMemory() as memory:
        spark = build_spark(config, f"bench-cost-curve-{size}")
        lakehouse = Lakehouse(spark, str(root))
        started = time.monotonic()
        ingested = run_ingest(
            spark, lakehouse, config, [str(data.listings_csv)], [str(data.labels_csv)]
        )
        out["ingest_s"] = round(time.monotonic() - started, 2)
        out["ingest_inserted"] = ingested.listings.inserted
        started = time.monotonic()
        featured = run_features(lakehouse, config)
        out["features_s"] = round(time.monotonic() - started, 2)
        out["features_computed"] = featured.text.computed
        scored = run_score(lakehouse, config, full=True)
        out["score_s"] = round(scored.seconds, 2)
        out["scored"] = scored.scored
        # The limits, Spark idle: the same work in this one process.
        started = time.monotonic()
        plain_csv(data.listings_csv, data.labels_csv)
        out["ingest_limit_per_s"] = round(size / (time.monotonic() - started), 1)
        listings = lakehouse.read(BRONZE_LISTINGS).limit(LIMIT_ROWS).toPandas()
        started = time.monotonic()
        text_features_pandas(listings, datetime.now(UTC), config.features.languages)
        per_process = len(listings) / (time.monotonic() - started)
        out["features_limit_per_s"] = round(per_process * cores, 1)
        models = load_scoring_models(Registry(config, lakehouse.root), config)
        try:
            inputs = scoring_inputs(lakehouse).limit(LIMIT_ROWS).toPandas()
            batches = [inputs[i : i + 2000] for i in range(0, len(inputs), 2000)]
            out["score_limit_per_s"] = round(plain_python(models, config, batches) * cores, 1)
        finally:
            models.remove_downloads()
        spark.stop()
    out["memory"] = memory.figures()
    out["load_average_after"] = load_average()
    done_by_step = (
        ("ingest", size),
        ("features", out["features_computed"]),
        ("score", out["scored"]),
    )
    for step, done in done_by_step:
        rate = done / out[f"{step}_s"] if out[f"{step}_s"] else 0.0
        out[f"{step}_per_s"] = round(rate, 1)
        out[f"{step}_ratio"] = round(rate / out[f"{step}_limit_per_s"], 4)
    shutil.rmtree(root, ignore_errors=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--train-listings", type=int, default=10_000)
    parser.add_argument("--work", default=None, help="working folder (default: a temp folder)")
    parser.add_argument("--set", action="append", default=[], help="config override KEY=VALUE")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # a child
    parser.add_argument("--results", default=str(RESULTS), help="JSON file ('' for none)")
    args = parser.parse_args()
    setup_logging("WARNING")
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-cost-curve-"))
    config = load_config(REPO / "conf" / "local.yaml", settings(args))
    if args.one is not None:
        print(json.dumps(one_size(work, work / "base", args.one, config)))
        return 0
    started, load_start = time.monotonic(), load_average()
    if not (work / "base").exists():
        build_base(work, config, args.train_listings)
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        child = [sys.executable, __file__, "--one", str(size), "--work", str(work)]
        child += [arg for setting in args.set for arg in ("--set", setting)]
        done = subprocess.run(child, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stdout[-2000:], done.stderr[-4000:], file=sys.stderr)
            return done.returncode
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"{size:>9,} listings: ingest {row['ingest_per_s']:,.0f}/s "
            f"(limit {row['ingest_limit_per_s']:,.0f}/s, {row['ingest_ratio']}), features "
            f"{row['features_per_s']:,.0f}/s (limit {row['features_limit_per_s']:,.0f}/s, "
            f"{row['features_ratio']}), TF-IDF scoring {row['score_per_s']:,.0f}/s (limit "
            f"{row['score_limit_per_s']:,.0f}/s, {row['score_ratio']}); peaks "
            f"{json.dumps(row['memory'])}",
            flush=True,
        )
    figures = {
        "sizes": [r["listings"] for r in rows],
        "train_listings": args.train_listings,
        "cores": os.cpu_count(),
        "seconds": round(time.monotonic() - started, 1),
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "rows": rows,
    }
    if args.results:
        write_results(args.results, figures, {})
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
