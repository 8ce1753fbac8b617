"""A lakehouse the Spark 4.0 line wrote (Delta 4.0.1) is read and updated by the default Spark
3.5 line (Delta 3.3.2), and read back by Spark 4 after that.

Run by the Spark 4 pass (`make test-spark4`, in its venv): this process writes with Spark 4,
then the default line's ingest and features jobs run by spark-submit in the venv that
``CATALOG_CLASSIFIER_DEFAULT_VENV`` names (the Makefile sets it). On the Spark 3.5 line the
module is not collected (tests/conftest.py): it needs Spark 4 in this process."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pandas as pd
import pyspark
import pytest

from catalog_classifier.sample.generator import generate_sample
from catalog_classifier.stages.features import run_features
from catalog_classifier.stages.ingest import run_ingest
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import BRONZE_LISTINGS, SILVER_TEXT_FEATURES

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VENV = "CATALOG_CLASSIFIER_DEFAULT_VENV"


def _default_venv() -> Path:
    named = os.environ.get(DEFAULT_VENV)
    if not named or not (Path(named) / "bin" / "spark-submit").exists():
        message = f"{DEFAULT_VENV} must name the default line's venv (make test-spark4 sets it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return Path(named)


def _job(venv: Path, job: str, lakehouse: Path, *args: str) -> None:
    env = {**os.environ, "VENV": str(venv), "DRIVER_MEMORY": "1g"}
    env.pop("PYTHONPATH", None)
    env.pop("PYSPARK_PYTHON", None)
    env.pop("PYSPARK_DRIVER_PYTHON", None)
    completed = subprocess.run(
        [
            str(REPO / "spark-submit.sh"),
            job,
            "--master",
            "local[1]",
            "--lakehouse",
            str(lakehouse),
            "--set",
            "spark.conf.spark.sql.shuffle.partitions=2",
            *args,
        ],
        cwd=lakehouse.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Spark 3.5." in completed.stderr + completed.stdout  # the default line ran it


def test_a_spark4_lakehouse_is_read_and_updated_by_the_default_line(spark, config, tmp_path):
    assert pyspark.__version__.startswith("4.")
    venv = _default_venv()
    sample = generate_sample(
        tmp_path / "sample",
        n_listings=40,
        n_images=0,
        seed=5,
        write_folder=False,
        priors=config.category_priors,
    )
    listings = pd.read_csv(sample.listings_csv, dtype=str, keep_default_na=False)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    listings.iloc[:20].to_csv(first, index=False)
    listings.iloc[20:].to_csv(second, index=False)
    root = tmp_path / "lakehouse"
    written = Lakehouse(spark, str(root), "delta-spark")
    run_ingest(spark, written, config, [str(first)], [str(sample.labels_csv)])
    run_features(written, config)
    assert written.read(BRONZE_LISTINGS).count() == 20
    log = root / "bronze" / "listings" / "_delta_log" / "00000000000000000000.json"
    assert "Delta-Lake/4.0" in log.read_text(encoding="utf-8")

    _job(venv, "ingest", root, "--listings", str(second))
    _job(venv, "features", root)

    # Spark 4 reads what Delta 3.3 added: every listing, its features, and the history.
    again = Lakehouse(spark, str(root), "delta-spark")
    assert again.read(BRONZE_LISTINGS).count() == 40
    assert again.read(SILVER_TEXT_FEATURES).count() == 40
    engines = {
        line.split('"engineInfo":"')[1].split('"')[0]
        for path in (root / "bronze" / "listings" / "_delta_log").glob("*.json")
        for line in path.read_text(encoding="utf-8").splitlines()
        if '"engineInfo"' in line
    }
    assert any("Delta-Lake/3.3" in e for e in engines) and any(
        "Delta-Lake/4.0" in e for e in engines
    )
