"""Shared fixtures: one local Spark session, a fresh lakehouse per test, the real sample."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from catalog_classifier.config import Config, load_config
from catalog_classifier.lakehouse import Lakehouse

REPO = Path(__file__).resolve().parents[1]
# Spark's Python workers import the library too: from this checkout, like the test process.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO / "lib"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)
REAL_DATA = Path(os.environ.get("RAKUTEN_SAMPLE_DIR", REPO.parent / "shared" / "data" / "rakuten"))


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config(
        REPO / "conf" / "local.yaml",
        [
            "spark.master=local[2]",
            "spark.conf.spark.driver.memory=2g",
            "spark.conf.spark.sql.shuffle.partitions=2",
            # Test data is tiny: compiling generated code for each query costs more than it saves.
            "spark.conf.spark.sql.codegen.wholeStage=false",
            "ingest.image_batch_files=250",
        ],
    )


@pytest.fixture(scope="session")
def spark(config: Config):
    from catalog_classifier.spark import build_spark

    session = build_spark(config, "tests")
    yield session
    session.stop()


@pytest.fixture()
def lakehouse(spark, tmp_path: Path) -> Lakehouse:
    return Lakehouse(spark, str(tmp_path / "lakehouse"), "delta-rs")


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real Rakuten sample; missing it fails under CI=true and skips elsewhere."""
    if not (REAL_DATA / "X_train.csv").exists():
        message = f"real Rakuten sample not found at {REAL_DATA}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return REAL_DATA


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory: pytest.TempPathFactory, config: Config):
    """A generated sample catalog small enough for fast tests, with every kind of blemish."""
    from catalog_classifier.sample import generate_sample

    out = tmp_path_factory.mktemp("sample")
    return generate_sample(
        out, n_listings=400, n_images=360, seed=7, image_size=96, priors=config.category_priors
    )
