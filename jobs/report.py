"""Write the data-quality and exploration report (HTML with PNG figures) about the lakehouse.

./spark-submit.sh report --out DIR
"""

from __future__ import annotations

import sys

from catalog_classifier.cli import job_parser, start_job
from catalog_classifier.reports.quality import build_report


def main(argv: list[str] | None = None) -> int:
    parser = job_parser(__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for index.html and figures/")
    args = parser.parse_args(argv)
    job = start_job("report", args)
    report = build_report(job.lakehouse, job.config, args.out)
    print(f"Report written to {report.html_path} ({len(report.figures)} figures)")
    job.log.info("job report done in %.1f s: %s", report.seconds, report.html_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
