"""Run the whole pipeline, on given files or on the built-in sample (the demo).

./spark-submit.sh pipeline --sample                       # generate the sample if missing, run all
./spark-submit.sh pipeline --listings X.csv --labels Y.csv --images images.zip

Steps: [generate sample] -> ingest -> features -> report -> train -> evaluate -> promote -> score
-> monitor. --no-train stops after the report; --no-score after the champion gate (promote).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from catalog_classifier.cli import JobContext, job_failed, job_parser, start_job
from catalog_classifier.models.members import FUSION
from catalog_classifier.reports.quality import build_report
from catalog_classifier.sample.job import generate_from_config
from catalog_classifier.stages.evaluate import run_evaluate
from catalog_classifier.stages.features import run_features
from catalog_classifier.stages.ingest import run_ingest
from catalog_classifier.stages.monitor import run_monitor
from catalog_classifier.stages.promote import run_promote
from catalog_classifier.stages.score import run_score
from catalog_classifier.stages.train import run_train
from catalog_classifier.storage.registry import Registry
from catalog_classifier.storage.spark import job_step
from catalog_classifier.storage.tables import ALL_TABLES


def main(argv: list[str] | None = None) -> int:
    parser = job_parser(__doc__.splitlines()[0])
    parser.add_argument("--sample", action="store_true", help="use the built-in sample catalog")
    parser.add_argument("--regenerate", action="store_true", help="regenerate the sample first")
    parser.add_argument("--listings", action="append", default=[])
    parser.add_argument("--labels", action="append", default=[])
    parser.add_argument("--images", action="append", default=[])
    parser.add_argument(
        "--training-texts",
        action="append",
        default=[],
        metavar="[KIND=]CSV",
        help="training-only texts labelled by --labels by row index (see the ingest job)",
    )
    parser.add_argument(
        "--image-labels",
        action="append",
        default=[],
        metavar="CSV",
        help="photo labels (productid, imageid, prdtypecode) for the image member's training",
    )
    parser.add_argument(
        "--report-dir", default="report", help="where to write the report (default: ./report)"
    )
    parser.add_argument("--no-train", action="store_true", help="stop after the report")
    parser.add_argument("--no-score", action="store_true", help="stop after the champion gate")
    parser.add_argument(
        "--models", default=None, help="models to train, comma-separated (default from conf)"
    )
    args = parser.parse_args(argv)
    if not args.sample and not args.listings and not args.images:
        parser.error("give --sample, or the files to ingest")
    if args.listings and len(args.labels) not in (0, 1, len(args.listings)):
        parser.error("give one --labels file per --listings file (paired in order), or one")
    job = start_job("pipeline", args)
    try:
        return run_steps(job, args)
    except Exception as exc:  # noqa: BLE001 - one line for the user, the trace at DEBUG
        return job_failed(job, "pipeline", exc)


def run_steps(job: JobContext, args: argparse.Namespace) -> int:
    """Every step in order; the job's exit code (1 when monitoring raised alerts that fail)."""
    listings, labels, images = args.listings, args.labels, args.images
    if args.sample:
        sample_dir = Path(job.config.sample.dir)
        if args.regenerate or not (sample_dir / "X.csv").exists():
            job.log.info("step 1/9: generating the built-in sample in %s", sample_dir)
            generate_from_config(job.config)
        else:
            job.log.info("step 1/9: built-in sample already in %s", sample_dir)
        listings = [str(sample_dir / "X.csv")]
        labels = [str(sample_dir / "Y.csv")]
        images = [str(sample_dir / "images.zip")]
    with job_step(job.spark, "pipeline 2/9: ingest"):
        summary = run_ingest(
            job.spark,
            job.lakehouse,
            job.config,
            listings,
            labels,
            images,
            args.training_texts,
            args.image_labels,
        )
    print(summary.format())
    with job_step(job.spark, "pipeline 3/9: features"):
        features = run_features(job.lakehouse, job.config)
    print(features.format())
    with job_step(job.spark, "pipeline 4/9: report"):
        report = build_report(job.lakehouse, job.config, args.report_dir)
    print(f"Report: {report.html_path} ({len(report.figures)} figures)")
    trained: dict = {}
    evaluated: dict = {}
    promoted: dict = {}
    if not args.no_train:
        models = [m for m in args.models.split(",") if m] if args.models else None
        with job_step(job.spark, "pipeline 5/9: train"):
            training = run_train(job.lakehouse, job.config, models)
        print(training.format())
        trained = training.models
        with job_step(job.spark, "pipeline 6/9: evaluate on the test split"):
            evaluation = run_evaluate(
                job.lakehouse, job.config, "test", str(Path(args.report_dir) / "evaluation"), models
            )
        print(evaluation.format())
        evaluated = evaluation.as_dict()["models"]
        # A run that trained members only (--models) may have no fused version to judge yet.
        if Registry(job.config, job.lakehouse.root).latest_version(FUSION) is not None:
            with job_step(job.spark, "pipeline 7/9: champion gate"):
                promotion = run_promote(job.lakehouse, job.config)
            print(promotion.format())
            promoted = promotion.as_dict()
    scored: dict = {}
    monitored: dict = {}
    if not args.no_train and not args.no_score:
        with job_step(job.spark, "pipeline 8/9: score every listing with the fused model"):
            scoring = run_score(job.lakehouse, job.config)
        print(scoring.format())
        scored = scoring.as_dict()
        with job_step(job.spark, "pipeline 9/9: monitor the scoring run"):
            monitoring = run_monitor(
                job.lakehouse, job.config, page_dir=Path(args.report_dir) / "monitoring"
            )
        print(monitoring.format())
        monitored = monitoring.as_dict()
    print(f"\nDelta tables under {job.lakehouse.root} (engine {job.lakehouse.engine.name}):")
    for spec in ALL_TABLES:
        if job.lakehouse.exists(spec):
            count = job.lakehouse.read(spec).count()
            version = job.lakehouse.version(spec)
            print(
                f"  {spec.qualified_name:20} {count:>9,} rows  version {version}  "
                f"{job.lakehouse.path(spec)}"
            )
    job.log.info(
        "job pipeline done: %s",
        json.dumps(
            {
                "ingest": summary.as_dict(),
                "features": features.as_dict(),
                "train": trained,
                "evaluate": evaluated,
                "promote": promoted,
                "score": scored,
                "monitor": monitored,
            }
        ),
    )
    if monitored.get("alerts") and job.config.monitoring.fail_on_alert:
        job.log.error("job pipeline: monitoring raised alerts and monitoring.fail_on_alert is set")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
