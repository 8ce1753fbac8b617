"""The notebooks: Databricks source format, and each one run top to bottom on the built-in sample
(as plain Python, the way a newcomer runs them locally), in order, on one lakehouse."""

from __future__ import annotations

import ast
import base64
import os
import re
import subprocess
import sys

import pandas as pd
import pytest
from tests.conftest import REPO
from tests.helpers import SMALL_TRAINING

from catalog_classifier.notebook import NOTEBOOK_BANNER, NotebookContext, read_parameters
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import (
    BRONZE_LISTINGS,
    BRONZE_REVIEW_DECISIONS,
    GOLD_EVALUATIONS,
    GOLD_PREDICTIONS,
    SILVER_SPLITS,
)

NOTEBOOKS = [
    "01_explore_catalog",
    "02_train_and_evaluate",
    "03_score_and_review",
    "04_review_and_monitor",
]
HEADER = "# Databricks notebook source"
SEPARATOR = "\n# COMMAND ----------\n"
# Given by Databricks (and Jupyter) only: the notebooks reach them through notebook_context.
HOST_NAMES = {"dbutils", "display", "displayHTML", "spark"}


def cells(name: str) -> list[str]:
    source = (REPO / "notebooks" / f"{name}.py").read_text(encoding="utf-8")
    assert source.startswith(HEADER + "\n"), f"{name}: not in Databricks source format"
    return [c.strip("\n") for c in source[len(HEADER) :].split(SEPARATOR)]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_are_databricks_source_and_need_no_host(name: str) -> None:
    markdown = code = 0
    for number, cell in enumerate(cells(name), 1):
        lines = cell.splitlines()
        assert lines, f"{name} cell {number} is empty"
        if lines[0].startswith("# MAGIC"):
            assert lines[0] == "# MAGIC %md", f"{name} cell {number}: only markdown magics"
            assert all(line == "# MAGIC" or line.startswith("# MAGIC ") for line in lines)
            markdown += 1
            continue
        tree = ast.parse(cell, f"{name} cell {number}")
        used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        assert not used & HOST_NAMES, f"{name} cell {number} uses {used & HOST_NAMES}"
        assert not any(line.startswith("# MAGIC") for line in lines)
        code += 1
    assert markdown >= 4 and code >= 4, (name, markdown, code)


def test_parameters_come_from_widgets_then_environment(monkeypatch) -> None:
    class Widgets:
        def __init__(self) -> None:
            self.values: dict[str, str] = {"split": "valid"}

        def text(self, name: str, default: str) -> None:
            self.values.setdefault(name, default)

        def get(self, name: str) -> str:
            return self.values[name]

    class DbUtils:
        widgets = Widgets()

    defaults = {"split": "test", "models": ""}
    assert read_parameters({"dbutils": DbUtils()}, defaults) == {"split": "valid", "models": ""}
    monkeypatch.setenv("CATALOG_CLASSIFIER_MODELS", "tfidf,text")
    assert read_parameters({}, defaults) == {"split": "test", "models": "tfidf,text"}


def test_show_uses_the_host_display_when_there_is_one(spark, config, tmp_path, capsys) -> None:
    figure = tmp_path / "figure.png"
    figure.write_bytes(b"\x89PNG\r\n\x1a\n-not-really")
    shown: list[object] = []
    html: list[str] = []
    lakehouse = Lakehouse(spark, str(tmp_path / "lakehouse"), "delta-rs")
    hosted = NotebookContext("t", config, spark, lakehouse, {}, REPO, shown.append, html.append)
    hosted.show(pd.DataFrame({"a": range(30)}), "frame", rows=5)
    hosted.show_image(figure, "a caption")
    assert len(shown[0]) == 5
    assert base64.b64encode(figure.read_bytes()).decode() in html[0] and "a caption" in html[0]
    terminal = NotebookContext("t", config, spark, lakehouse, {}, REPO)
    terminal.show(spark.range(3).toDF("n"), "spark frame")
    terminal.show_image(figure, "a caption")
    out = capsys.readouterr().out
    assert "## spark frame" in out and f"[figure] {figure}: a caption" in out
    with pytest.raises(FileNotFoundError):
        terminal.show_image(tmp_path / "missing.png")


def test_notebooks_run_top_to_bottom_on_the_built_in_sample(e5_encoder, spark, tmp_path) -> None:
    overrides = [
        f"sample.dir={tmp_path / 'sample'}",
        "sample.listings=300",
        "sample.images=200",
        "sample.image_size=96",
        "spark.master=local[2]",
        "spark.conf.spark.driver.memory=2g",
        "spark.conf.spark.sql.shuffle.partitions=2",
        *SMALL_TRAINING,
        f"train.text.encoder={e5_encoder}",
    ]
    env = {
        **os.environ,
        "CATALOG_CLASSIFIER_CONF": "conf/demo.yaml",
        "CATALOG_CLASSIFIER_LAKEHOUSE": str(tmp_path / "lakehouse"),
        "CATALOG_CLASSIFIER_OVERRIDES": ";".join(overrides),
        "CATALOG_CLASSIFIER_REPORT_DIR": str(tmp_path / "report"),
        "CATALOG_CLASSIFIER_EVALUATION_DIR": str(tmp_path / "report" / "evaluation"),
        "CATALOG_CLASSIFIER_NEW_LISTINGS": "30",
        "MPLBACKEND": "Agg",
    }
    # All four in one interpreter, in order, sharing one Spark session (as on one cluster).
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "catalog_classifier.notebook",
            *[str(REPO / "notebooks" / f"{name}.py") for name in NOTEBOOKS],
        ],
        cwd=tmp_path,  # the notebook finds the project root itself
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, f"a notebook failed:\n{done.stderr[-6000:]}"
    _, *parts = done.stdout.split(NOTEBOOK_BANNER)
    outputs = dict(part.split("\n", 1) for part in parts)
    assert list(outputs) == NOTEBOOKS

    assert "Ingest finished" in outputs["01_explore_catalog"]
    assert (tmp_path / "report" / "index.html").is_file()
    assert outputs["01_explore_catalog"].count("[figure] ") >= 8
    assert "## Quarantined records by reason" in outputs["01_explore_catalog"]

    assert "## Models on the test split" in outputs["02_train_and_evaluate"]
    assert (tmp_path / "report" / "evaluation" / "figures" / "confusion_fusion.png").is_file()
    lakehouse = Lakehouse(spark, str(tmp_path / "lakehouse"), "delta-rs")
    evaluated = {r["model"] for r in lakehouse.read(GOLD_EVALUATIONS).collect()}
    assert evaluated == {"tfidf", "text", "image", "fusion"}

    # Every listing scored once by the fused model, the delivery and the edit included; the
    # edited listing has two predictions in the table's history.
    scoring = outputs["03_score_and_review"]
    predictions = lakehouse.read(GOLD_PREDICTIONS)
    assert predictions.count() == lakehouse.read(BRONZE_LISTINGS).count() > 300
    assert "scored 31 listings" in scoring and "30 new, 1 updated" in scoring
    edited = int(re.search(r"Edited listing: productid (\d+)", scoring).group(1))
    first_run = lakehouse.read(GOLD_PREDICTIONS, 1).where(f"productid = {edited}").first()
    now = predictions.where(f"productid = {edited}").first()
    assert first_run["input_hash"] != now["input_hash"]
    assert f"Product {edited}: its predictions through the table's versions" in scoring

    # Review, labels, gate and monitoring: the queue's two least confident listings decided (one
    # accepted, one corrected), their labels now the analysts' codes, a monitoring page drawn.
    review = outputs["04_review_and_monitor"]
    queued = int(re.search(r"Review queue: (\d+) listings", review).group(1))
    decided = min(2, queued)
    assert f"{decided} decisions recorded; {queued - decided} listings left" in review
    decisions = lakehouse.read(BRONZE_REVIEW_DECISIONS).collect()
    assert sorted(d["decision"] for d in decisions) == ["accepted", "corrected"][:decided]
    labels = {r["productid"]: r["prdtypecode"] for r in lakehouse.read(SILVER_SPLITS).collect()}
    assert all(labels[d["productid"]] == d["prdtypecode"] for d in decisions)
    assert "Champion gate:" in review and "Monitor: " in review
    assert (tmp_path / "report" / "monitoring" / "index.html").is_file()
