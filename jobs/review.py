"""Start the review app on a lakehouse: catalog analysts review the listings flagged needs_review.

python jobs/review.py [--conf conf/demo.yaml] [--lakehouse DIR] [--model VERSION] [--port 8501]
make review                      # on the demo's lakehouse

Not a Spark job: the app reads and writes the Delta tables through delta-rs (no JVM), so it
starts in seconds. On Databricks Apps, the platform's port (DATABRICKS_APP_PORT) is used and the
signed-in user is the analyst (see docs/operations.md, Reviewing).

It listens on 127.0.0.1 unless --host, REVIEW_HOST or the conf's review.host say otherwise; any
other address is refused at start unless review.trusted_identity_header names the header of the
authenticating proxy in front (the app has no login of its own).
"""

from __future__ import annotations

import logging
import os
import sys

from catalog_classifier.cli import job_config, job_parser


def main(argv: list[str] | None = None) -> int:
    parser = job_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="fused version (default: scored last)")
    parser.add_argument(
        "--host", default=None, help="address to listen on (REVIEW_HOST; default review.host)"
    )
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("DATABRICKS_APP_PORT", "8501"))
    )
    parser.add_argument(
        "--no-gradcam", action="store_true", help="no Grad-CAM overlays (no image model loaded)"
    )
    args = parser.parse_args(argv)
    config = job_config(args)
    log = logging.getLogger("catalog_classifier.jobs.review")
    from catalog_classifier.review.bind import unauthenticated_bind

    host = args.host or os.environ.get("REVIEW_HOST") or config.review.host
    refusal = unauthenticated_bind(host, config.review)
    if refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    root = config.lakehouse
    if "://" not in root and not os.path.isdir(root):
        print(
            f"error: no lakehouse at {root}: run `make demo` or give --lakehouse", file=sys.stderr
        )
        return 2

    import uvicorn

    from catalog_classifier.review.app import create_app
    from catalog_classifier.review.explain import Explanations
    from catalog_classifier.review.store import ReviewStore

    store = ReviewStore(root, config, args.model)
    explanations = None if args.no_gradcam else Explanations(root, config)
    app = create_app(store, explanations)
    log.info("review app on http://%s:%d (lakehouse %s)", host, args.port, root)
    print(f"Review app: http://{host}:{args.port}  (Ctrl-C to stop)", flush=True)
    uvicorn.run(app, host=host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
