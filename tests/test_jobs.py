"""The jobs as users run them: ./spark-submit.sh with the library shipped as a zip, and each
job's main() in this process (its arguments, config and summary files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import image_name, jpeg, write_labels, write_listings, write_zip

from catalog_classifier.sample import generate_sample

REPO = Path(__file__).resolve().parents[1]


def test_spark_submit_runs_the_pipeline_from_the_zipped_library(tmp_path, config):
    sample = generate_sample(
        tmp_path / "sample",
        n_listings=60,
        n_images=50,
        seed=3,
        image_size=64,
        priors=config.category_priors,
        write_folder=False,
    )
    env = {**os.environ, "DRIVER_MEMORY": "1g", "PYTHON": sys.executable}
    # PYTHONPATH is dropped so the job can only import the library from the --py-files zip.
    env.pop("PYTHONPATH", None)
    completed = subprocess.run(
        [
            str(REPO / "spark-submit.sh"),
            "pipeline",
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
            "--report-dir",
            str(tmp_path / "report"),
            "--set",
            "spark.conf.spark.sql.shuffle.partitions=2",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    # spark-submit's PythonRunner merges the Python driver's stderr (the job's log) into stdout.
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-4000:]
    assert "Ingest finished" in output and "Features finished" in output
    assert "job pipeline starting" in output and "job pipeline done" in output
    for table in ("bronze/listings", "bronze/images", "silver/text_features"):
        assert (tmp_path / "lakehouse" / table / "_delta_log").is_dir(), table
    page = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert page.count("<img src='figures/") == 8
    done = next(line for line in output.splitlines() if "job pipeline done" in line)
    summary = json.loads(done.split("job pipeline done: ", 1)[1])
    assert summary["ingest"]["listings"]["read"] == 60
    assert summary["ingest"]["images"]["inserted"] == 50
    assert summary["features"]["text"]["computed"] == summary["ingest"]["listings"]["inserted"]
    assert summary["features"]["images"]["computed"] == 50


def test_ingest_features_and_report_jobs_in_process(spark, tmp_path):
    import jobs.features
    import jobs.ingest
    import jobs.report

    listings = write_listings(
        tmp_path / "X.csv",
        [
            [0, "Stylo &amp;eacute;l&eacute;gant", "<p>Encre</p><p>bleue</p>", 11, 101],
            [1, "Gartenschlauch 20 m", "", 12, 102],
        ],
    )
    labels = write_labels(tmp_path / "Y.csv", [(0, 10), (1, 2583)])
    images = write_zip(
        tmp_path / "images.zip",
        {image_name(101, 11): jpeg(), image_name(102, 12): jpeg(color=(200, 10, 10))},
    )
    common = ["--lakehouse", str(tmp_path / "lakehouse")]
    ingest_json = tmp_path / "ingest.json"
    assert (
        jobs.ingest.main(
            [
                *common,
                "--listings",
                str(listings),
                "--labels",
                str(labels),
                "--images",
                str(images),
                "--summary-json",
                str(ingest_json),
            ]
        )
        == 0
    )
    assert json.loads(ingest_json.read_text())["listings"]["inserted"] == 2
    features_json = tmp_path / "features.json"
    assert jobs.features.main([*common, "--summary-json", str(features_json)]) == 0
    first = json.loads(features_json.read_text())
    assert (first["text"]["computed"], first["images"]["computed"], first["full"]) == (2, 2, False)
    assert jobs.features.main([*common, "--full", "--summary-json", str(features_json)]) == 0
    full = json.loads(features_json.read_text())
    assert (full["text"]["updated"], full["images"]["updated"], full["full"]) == (2, 2, True)
    assert jobs.report.main([*common, "--out", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert "2583 Pool and accessories" in page and "10 Used books" in page


def test_spark_submit_rejects_an_unknown_job():
    completed = subprocess.run(
        [str(REPO / "spark-submit.sh"), "no_such_job"], capture_output=True, text=True
    )
    assert completed.returncode == 2
    assert "no such job" in completed.stderr and "ingest" in completed.stderr
