"""Score listings with the fused model into gold.predictions (the nightly job).

./spark-submit.sh score [--full] [--model VERSION]

Scores the listings that have no prediction from the fused model version (by default the
`champion` that promote set; the latest in a project with no champion yet), or whose text or
image changed since; --full rescores everything. Idempotent: a re-run with the same model and
inputs changes nothing; a crash leaves the table at its last chunk's commit and the next run
completes the work.
"""

from __future__ import annotations

import json
import sys

from catalog_classifier.cli import job_failed, job_parser, start_job
from catalog_classifier.stages.score import run_score


def main(argv: list[str] | None = None) -> int:
    parser = job_parser(__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="rescore every listing")
    parser.add_argument("--model", default=None, help="fused model version (default: latest)")
    parser.add_argument("--summary-json", default=None, help="also write the summary as JSON here")
    args = parser.parse_args(argv)
    job = start_job("score", args)
    try:
        summary = run_score(job.lakehouse, job.config, args.model, args.full)
    except Exception as exc:  # noqa: BLE001 - one line for the user, the trace at DEBUG
        return job_failed(job, "score", exc)
    print(summary.format())
    if args.summary_json:
        with open(args.summary_json, "w", encoding="utf-8") as handle:
            json.dump(summary.as_dict(), handle, indent=2)
    job.log.info("job score done: %s", json.dumps(summary.as_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
