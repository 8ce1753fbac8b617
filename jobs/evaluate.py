"""Evaluate the registered models on a split, or by K-fold cross-validation.

./spark-submit.sh evaluate [--split test] [--out report/evaluation]
./spark-submit.sh evaluate --cv 5 [--models tfidf,text,image] [--no-resume]
./spark-submit.sh evaluate --cv 5 --image-only    # the image member over every labelled photo
"""

from __future__ import annotations

import json
import sys

from catalog_classifier.cli import job_failed, job_parser, start_job
from catalog_classifier.stages.evaluate import run_cross_validation, run_evaluate
from catalog_classifier.stages.image_cv import run_image_cv


def main(argv: list[str] | None = None) -> int:
    parser = job_parser(__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["train", "valid", "test"])
    parser.add_argument("--cv", type=int, default=None, metavar="K", help="K-fold cross-validation")
    parser.add_argument("--models", default=None, help="comma-separated (default: all)")
    parser.add_argument("--out", default="report/evaluation", help="folder of the HTML page")
    parser.add_argument("--summary-json", default=None, help="also write the summary as JSON here")
    parser.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        help="--cv: train every fold again, ignoring the folds <out>/checkpoints holds",
    )
    parser.add_argument(
        "--image-only",
        action="store_true",
        help=(
            "--cv: the image member alone, on folds over every labelled photo (those of "
            "labelled listings and those labelled by bronze.image_labels)"
        ),
    )
    args = parser.parse_args(argv)
    if args.cv is not None and args.cv < 2:
        parser.error("--cv needs at least 2 folds")
    if args.image_only and not args.cv:
        parser.error("--image-only needs --cv K")
    job = start_job("evaluate", args)
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    try:
        if args.cv and args.image_only:
            summary = run_image_cv(job.lakehouse, job.config, args.cv, args.out)
        elif args.cv:
            summary = run_cross_validation(
                job.lakehouse, job.config, args.cv, args.out, models, args.resume
            )
        else:
            summary = run_evaluate(job.lakehouse, job.config, args.split, args.out, models)
    except Exception as exc:  # noqa: BLE001 - one line for the user, the trace at DEBUG
        return job_failed(job, "evaluate", exc)
    print(summary.format())
    if args.summary_json:
        with open(args.summary_json, "w", encoding="utf-8") as handle:
            json.dump(summary.as_dict(), handle, indent=2)
    job.log.info("job evaluate done: %s", json.dumps(summary.as_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
