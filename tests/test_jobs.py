"""The jobs as users run them: ./spark-submit.sh with the library shipped as a zip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from catalog_classifier.sample import generate_sample

REPO = Path(__file__).resolve().parents[1]


def test_spark_submit_runs_the_ingest_job_from_the_zipped_library(tmp_path, config):
    sample = generate_sample(
        tmp_path / "sample",
        n_listings=60,
        n_images=50,
        seed=3,
        image_size=64,
        priors=config.category_priors,
        write_folder=False,
    )
    summary_json = tmp_path / "summary.json"
    env = {**os.environ, "DRIVER_MEMORY": "1g", "PYTHON": sys.executable}
    # PYTHONPATH is dropped so the job can only import the library from the --py-files zip.
    env.pop("PYTHONPATH", None)
    completed = subprocess.run(
        [
            str(REPO / "spark-submit.sh"),
            "ingest",
            "--conf",
            str(REPO / "conf" / "local.yaml"),
            "--master",
            "local[2]",
            "--lakehouse",
            str(tmp_path / "lakehouse"),
            "--listings",
            str(sample.listings_csv),
            "--labels",
            str(sample.labels_csv),
            "--images",
            str(sample.images_zip),
            "--summary-json",
            str(summary_json),
            "--set",
            "spark.conf.spark.sql.shuffle.partitions=2",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "Ingest finished" in completed.stdout
    summary = json.loads(summary_json.read_text())
    assert summary["listings"]["read"] == 60
    assert summary["images"]["inserted"] == 50
    assert (tmp_path / "lakehouse" / "bronze" / "listings" / "_delta_log").is_dir()
    assert "job ingest starting" in completed.stderr and "job ingest done" in completed.stderr


def test_spark_submit_rejects_an_unknown_job():
    completed = subprocess.run(
        [str(REPO / "spark-submit.sh"), "no_such_job"], capture_output=True, text=True
    )
    assert completed.returncode == 2
    assert "no such job" in completed.stderr and "ingest" in completed.stderr
