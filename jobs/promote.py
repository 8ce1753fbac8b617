"""Champion gate: promote the newest fused version if it is not worse than the champion.

./spark-submit.sh promote [--candidate VERSION] [--split test]

Scores the candidate (the newest registered fused version by default) and the current champion
on the same labelled listings; moves the MLflow alias `champion` to the candidate only within
the conf's `promotion` tolerances (else marks it `challenger`), and writes the decision to
gold.model_decisions. A project's first fused model becomes champion. Exit code 0 either way:
a refusal is a normal outcome, logged as a warning and in the table.
"""

from __future__ import annotations

import json
import sys

from catalog_classifier.cli import job_failed, job_parser, start_job
from catalog_classifier.stages.promote import run_promote


def main(argv: list[str] | None = None) -> int:
    parser = job_parser(__doc__.splitlines()[0])
    parser.add_argument("--candidate", default=None, help="fused version (default: the newest)")
    parser.add_argument("--split", default="test", choices=["valid", "test"])
    parser.add_argument("--summary-json", default=None, help="also write the summary as JSON here")
    args = parser.parse_args(argv)
    job = start_job("promote", args)
    try:
        summary = run_promote(job.lakehouse, job.config, args.candidate, args.split)
    except Exception as exc:  # noqa: BLE001 - one line for the user, the trace at DEBUG
        return job_failed(job, "promote", exc)
    print(summary.format())
    if args.summary_json:
        with open(args.summary_json, "w", encoding="utf-8") as handle:
            json.dump(summary.as_dict(), handle, indent=2)
    job.log.info("job promote done: %s", json.dumps(summary.as_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
