"""Generating the built-in sample from the configuration (shared by the jobs and benchmarks)."""

from __future__ import annotations

import logging
from pathlib import Path

from catalog_classifier.config import Config
from catalog_classifier.logs import Progress
from catalog_classifier.sample.generator import SampleSummary, generate_sample

log = logging.getLogger(__name__)


def generate_from_config(
    config: Config,
    out: str | None = None,
    listings: int | None = None,
    images: int | None = None,
    seed: int | None = None,
    image_size: int | None = None,
) -> SampleSummary:
    """Write the sample catalog the conf describes; arguments that are given override it."""
    sample = config.sample
    n_listings = listings if listings is not None else sample.listings
    progress = Progress(log, "sample listings", total=n_listings)

    def report(done: int, total: int) -> None:
        progress.update(done - progress.done)

    summary = generate_sample(
        Path(out or sample.dir),
        n_listings=n_listings,
        n_images=images if images is not None else sample.images,
        seed=seed if seed is not None else sample.seed,
        image_size=image_size or sample.image_size,
        priors=config.category_priors,
        progress=report,
    )
    progress.finish()
    return summary
