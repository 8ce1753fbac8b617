"""Measure the last scoring run into gold.run_metrics and raise alerts (the nightly's last step).

./spark-submit.sh monitor [--model VERSION] [--report-dir report]

Reads the predictions of the fused version scored last (or VERSION), the listings' text and
image features, the previous run's row and the train split's labels; writes one gold.run_metrics
row (volumes, missing descriptions and images, language mix, category shares, confidence, review
share, text-image agreement, PSI drift against the previous run and the training labels) with
the alerts the conf's `monitoring` thresholds raised. Alerts are logged as warnings; exit code
1 when one is raised and monitoring.fail_on_alert is true (so a scheduler notifies), else 0.
The monitoring page of the last runs is written to REPORT_DIR/monitoring/index.html.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from catalog_classifier.cli import job_failed, job_parser, start_job
from catalog_classifier.stages.monitor import run_monitor


def main(argv: list[str] | None = None) -> int:
    parser = job_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="fused version (default: scored last)")
    parser.add_argument(
        "--report-dir", default="report", help="the page goes to REPORT_DIR/monitoring"
    )
    parser.add_argument("--summary-json", default=None, help="also write the summary as JSON here")
    args = parser.parse_args(argv)
    job = start_job("monitor", args)
    try:
        summary = run_monitor(
            job.lakehouse, job.config, args.model, Path(args.report_dir) / "monitoring"
        )
    except Exception as exc:  # noqa: BLE001 - one line for the user, the trace at DEBUG
        return job_failed(job, "monitor", exc)
    print(summary.format())
    if args.summary_json:
        with open(args.summary_json, "w", encoding="utf-8") as handle:
            json.dump(summary.as_dict(), handle, indent=2)
    job.log.info("job monitor done: %s", json.dumps(summary.as_dict()))
    if summary.alerts and job.config.monitoring.fail_on_alert:
        job.log.error(
            "job monitor: %d alert(s) raised (%s) and monitoring.fail_on_alert is set: exit 1",
            len(summary.alerts),
            ", ".join(a.name for a in summary.alerts),
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
