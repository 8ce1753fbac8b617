"""Compute the silver text and image feature tables from bronze (incrementally by default).

./spark-submit.sh features [--full]
"""

from __future__ import annotations

import json
import sys

from catalog_classifier.cli import job_failed, job_parser, start_job
from catalog_classifier.stages.features import run_features


def main(argv: list[str] | None = None) -> int:
    parser = job_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--full", action="store_true", help="recompute every row, not only new or changed ones"
    )
    parser.add_argument("--summary-json", default=None, help="also write the summary as JSON here")
    args = parser.parse_args(argv)
    job = start_job("features", args)
    try:
        summary = run_features(job.lakehouse, job.config, full=args.full)
    except Exception as exc:  # noqa: BLE001 - one line for the user, the trace at DEBUG
        return job_failed(job, "features", exc)
    print(summary.format())
    if args.summary_json:
        with open(args.summary_json, "w", encoding="utf-8") as handle:
            json.dump(summary.as_dict(), handle, indent=2)
    job.log.info("job features done: %s", json.dumps(summary.as_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
