"""Train the models on the train split, select on valid, and register them with their metrics.

./spark-submit.sh train [--models tfidf,text,image]
"""

from __future__ import annotations

import json
import sys

from catalog_classifier.cli import job_failed, job_parser, start_job
from catalog_classifier.stages.train import run_train


def main(argv: list[str] | None = None) -> int:
    parser = job_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--models", default=None, help="comma-separated: tfidf,text,image (default from conf)"
    )
    parser.add_argument("--summary-json", default=None, help="also write the summary as JSON here")
    args = parser.parse_args(argv)
    job = start_job("train", args)
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    try:
        summary = run_train(job.lakehouse, job.config, models)
    except Exception as exc:  # noqa: BLE001 - one line for the user, the trace at DEBUG
        return job_failed(job, "train", exc)
    print(summary.format())
    if args.summary_json:
        with open(args.summary_json, "w", encoding="utf-8") as handle:
            json.dump({"models": summary.models, "splits": summary.splits}, handle, indent=2)
    job.log.info("job train done: %s", json.dumps(summary.models))
    return 0


if __name__ == "__main__":
    sys.exit(main())
