"""Generate the built-in sample catalog (challenge layout: X.csv, Y.csv, images/, images.zip).

./spark-submit.sh generate_sample [--out DIR] [--listings N] [--images M] [--seed S]
"""

from __future__ import annotations

import logging
import sys

from catalog_classifier.cli import job_config, job_parser
from catalog_classifier.sample.job import generate_from_config


def main(argv: list[str] | None = None) -> int:
    parser = job_parser(__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="output folder (default: conf sample.dir)")
    parser.add_argument("--listings", type=int, default=None, help="listings (default: conf)")
    parser.add_argument("--images", type=int, default=None, help="listings with an image")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--image-size", type=int, default=None, help="image side in pixels")
    args = parser.parse_args(argv)
    config = job_config(args)
    summary = generate_from_config(
        config,
        out=args.out,
        listings=args.listings,
        images=args.images,
        seed=args.seed,
        image_size=args.image_size,
    )
    logging.getLogger("catalog_classifier.jobs.generate_sample").info("done: %s", summary)
    print(
        f"Sample catalog in {summary.out_dir}: {summary.n_listings:,} listings, "
        f"{summary.n_images:,} images"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
