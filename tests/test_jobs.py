"""The jobs as users run them: ./spark-submit.sh with the library shipped as a zip, on a Spark
standalone cluster (tests/cluster.py: a master and two workers, each with its own folders), and
each job's main() in this process (its arguments, config and summary files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.cluster import standalone_cluster
from tests.helpers import SMALL_TRAINING

from catalog_classifier.sample.generator import generate_sample

REPO = Path(__file__).resolve().parents[1]


def test_the_pipeline_by_spark_submit_on_a_cluster_then_each_job_in_process(
    spark, tmp_path, e5_encoder, config
):
    """Ingest, features, train, evaluate, the gate and scoring by spark-submit --master
    spark://...: the executors are processes of the workers, not threads of the driver. What they
    read is shipped (storage.shipping: the models, the text encoder's folder) and the scoring
    removes its registry downloads once shipped, so a step reading a driver path would fail."""
    sample = generate_sample(
        tmp_path / "sample",
        n_listings=60,
        n_images=50,
        seed=3,
        image_size=64,
        priors=config.category_priors,
        write_folder=False,
    )
    env = {**os.environ, "PYTHON": sys.executable}
    # PYTHONPATH is dropped so the job (driver and executors) can only import the library from
    # the --py-files zip.
    env.pop("PYTHONPATH", None)
    with standalone_cluster(tmp_path / "cluster") as master:
        completed = _pipeline(master, tmp_path, sample, e5_encoder, env)
    # spark-submit's PythonRunner merges the Python driver's stderr (the job's log) into stdout.
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-4000:]
    # The executors ran in the workers' processes and scored there, from the shipped copies.
    executor_logs = list((tmp_path / "cluster").glob("worker*/work/app-*/*/stderr"))
    assert {log.parts[-5] for log in executor_logs} == {"worker0", "worker1"}
    assert any("score: " in log.read_text(errors="replace") for log in executor_logs)
    shipped = [line for line in output.splitlines() if "to the executors as" in line]
    assert any("multilingual-e5-small" in line for line in shipped), output[-4000:]
    assert any("/model to the executors" in line for line in shipped), output[-4000:]
    assert list((tmp_path / "cluster").glob("worker*/work/app-*/*/multilingual-e5-small-*.tar"))
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
    # Trained, registered and evaluated: each model's version 1 scored on the test split.
    members = {"tfidf", "text", "image", "fusion"}
    assert set(summary["train"]) == set(summary["evaluate"]) == members
    assert all(model["version"] == "1" for model in summary["train"].values())
    assert (tmp_path / "report" / "evaluation" / "index.html").is_file()
    assert (tmp_path / "lakehouse" / "_mlflow" / "mlflow.db").is_file()
    # The champion gate ran after the evaluation: the project's first fused model is champion.
    assert summary["promote"]["decision"] == "first"
    assert summary["promote"]["champion_after"] == "1"
    assert (tmp_path / "lakehouse" / "gold" / "model_decisions" / "_delta_log").is_dir()
    # Scored: every listing has a fused prediction, from the champion.
    assert summary["score"]["scored"] == summary["ingest"]["listings"]["inserted"]
    assert summary["score"]["model_version"] == "1"

    # The same jobs' main() in this process, on that lakehouse: their flags and summary files.
    import jobs.features
    import jobs.ingest
    import jobs.promote
    import jobs.report

    common = ["--lakehouse", str(tmp_path / "lakehouse")]
    ingest_json, features_json = tmp_path / "ingest.json", tmp_path / "features.json"
    # Labels by row index need their listings CSV in the same run (alone they are quarantined).
    csvs = ["--listings", str(sample.listings_csv), "--labels", str(sample.labels_csv)]
    assert jobs.ingest.main([*common, *csvs, "--summary-json", str(ingest_json)]) == 0
    again = json.loads(ingest_json.read_text())
    for table in ("listings", "labels"):
        assert (again[table]["inserted"], again[table]["updated"]) == (0, 0)
        assert again[table]["unchanged"] == summary["ingest"][table]["inserted"]
    assert jobs.features.main([*common, "--full", "--summary-json", str(features_json)]) == 0
    full = json.loads(features_json.read_text())
    assert full["full"] is True
    assert full["text"]["updated"] == summary["features"]["text"]["computed"]
    assert full["images"]["updated"] == 50
    assert jobs.report.main([*common, "--out", str(tmp_path / "report2")]) == 0
    # The gate again with nothing new: the champion stays, no decision is written.
    promote_json = tmp_path / "promote.json"
    assert jobs.promote.main([*common, "--summary-json", str(promote_json)]) == 0
    gate = json.loads(promote_json.read_text())
    assert (gate["decision"], gate["champion_after"]) == ("unchanged", "1")
    assert (tmp_path / "report2" / "figures" / "word_cloud.png").is_file()


def test_spark_submit_rejects_an_unknown_job():
    completed = subprocess.run(
        [str(REPO / "spark-submit.sh"), "no_such_job"], capture_output=True, text=True
    )
    assert completed.returncode == 2
    assert "no such job" in completed.stderr and "ingest" in completed.stderr


def _pipeline(
    master: str, tmp_path: Path, sample, e5_encoder: Path, env: dict[str, str]
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(REPO / "spark-submit.sh"),
            "pipeline",
            "--conf",
            str(REPO / "conf" / "local.yaml"),
            "--master",
            master,
            "--driver-memory",
            "1g",
            "--executor-memory",
            "1g",
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
            *[arg for setting in SMALL_TRAINING for arg in ("--set", setting)],
            "--set",
            f"train.text.encoder={e5_encoder}",
            # Every member scores every listing, so each member's shipped folder is read.
            "--set",
            "scoring.cascade=false",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
