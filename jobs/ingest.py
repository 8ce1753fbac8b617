"""Ingest listings and labels CSVs and image folders or zip archives into the bronze tables.

./spark-submit.sh ingest --listings X.csv [--labels Y.csv] --images DIR_OR_ZIP [--images ...]
./spark-submit.sh ingest --labels Y_train.csv --training-texts [KIND=]X_train_en_translated.csv
./spark-submit.sh ingest --image-labels image_train_index.csv   # labels of the stored photos
"""

from __future__ import annotations

import json
import sys

from catalog_classifier.cli import job_failed, job_parser, start_job
from catalog_classifier.config import TRAINING_TEXT_KINDS
from catalog_classifier.ingest.records import IngestInputError
from catalog_classifier.ingest.training_texts import training_text_source
from catalog_classifier.stages.ingest import run_ingest


def main(argv: list[str] | None = None) -> int:
    parser = job_parser(__doc__.splitlines()[0])
    parser.add_argument("--listings", action="append", default=[], help="listings CSV (repeatable)")
    parser.add_argument(
        "--labels",
        action="append",
        default=[],
        help="labels CSV, paired in order with --listings (repeatable)",
    )
    parser.add_argument(
        "--images", action="append", default=[], help="image folder or zip (repeatable)"
    )
    parser.add_argument(
        "--training-texts",
        action="append",
        default=[],
        metavar="[KIND=]CSV",
        help=(
            "training-only texts (row_index, text), labelled by the --labels CSV by row index; "
            f"KIND ({', '.join(TRAINING_TEXT_KINDS)}) or a file name naming it (repeatable)"
        ),
    )
    parser.add_argument(
        "--image-labels",
        action="append",
        default=[],
        metavar="CSV",
        help=(
            "photo labels (productid, imageid, prdtypecode) of photos in bronze.images, for the "
            "image member's training only (repeatable)"
        ),
    )
    parser.add_argument("--summary-json", default=None, help="also write the summary as JSON here")
    args = parser.parse_args(argv)
    if not (
        args.listings or args.labels or args.images or args.training_texts or args.image_labels
    ):
        parser.error(
            "nothing to ingest: give --listings, --labels, --images, --training-texts and/or "
            "--image-labels"
        )
    if args.training_texts and not args.labels:
        parser.error("--training-texts need the --labels CSV by row index (Y_train.csv)")
    for value in args.training_texts:
        try:
            training_text_source(value)
        except IngestInputError as exc:
            parser.error(str(exc))
    if args.listings and len(args.labels) not in (0, 1, len(args.listings)):
        parser.error("give one --labels file per --listings file (paired in order), or one")
    job = start_job("ingest", args)
    try:
        summary = run_ingest(
            job.spark,
            job.lakehouse,
            job.config,
            args.listings,
            args.labels,
            args.images,
            args.training_texts,
            args.image_labels,
        )
    except Exception as exc:  # noqa: BLE001 - bad input is quarantined: this is the run failing
        return job_failed(job, "ingest", exc)
    print(summary.format())
    if args.summary_json:
        with open(args.summary_json, "w", encoding="utf-8") as handle:
            json.dump(summary.as_dict(), handle, indent=2)
    job.log.info("job ingest done: %s", json.dumps(summary.as_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
