"""databricks.yml, checked without a workspace: its structure and references, and every task's
arguments parsed by the job it runs, with its conf and overrides loaded."""

from __future__ import annotations

import argparse
import importlib.util
import re
from typing import Any

import pytest
import yaml
from tests.conftest import REPO

from catalog_classifier.config import load_config

BUNDLE: dict[str, Any] = yaml.safe_load((REPO / "databricks.yml").read_text(encoding="utf-8"))
# The top-level mappings of a bundle configuration (Databricks Asset Bundles reference).
TOP_LEVEL = {
    "bundle", "variables", "artifacts", "resources", "targets", "workspace", "include", "sync",
    "permissions", "run_as", "presets", "experimental",
}  # fmt: skip
JOB_KEYS = {
    "name", "description", "schedule", "max_concurrent_runs", "timeout_seconds",
    "email_notifications", "job_clusters", "tasks", "tags", "parameters", "health",
}  # fmt: skip
TASK_KEYS = {"task_key", "depends_on", "job_cluster_key", "libraries", "spark_python_task"}
EXPECTED_TASKS = {
    "nightly_scoring": ["ingest", "features", "score", "monitor"],
    "weekly_retraining": ["train", "evaluate", "promote"],
}


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def substitute(text: str) -> str:
    """The bundle's ${...} references and the job's {{...}} dynamic values, as a deploy and a
    run would resolve them (the workspace's file path is this checkout)."""
    variables = {name: spec["default"] for name, spec in BUNDLE["variables"].items()}
    text = re.sub(r"\$\{var\.(\w+)\}", lambda m: str(variables[m.group(1)]), text)
    text = text.replace("${workspace.file_path}", str(REPO))
    text = text.replace("{{job.start_time.iso_date}}", "2026-11-26")
    assert "${" not in text and "{{" not in text, text
    return text


def quartz_is_valid(expression: str) -> bool:
    fields = expression.split()
    if len(fields) not in (6, 7):
        return False
    seconds, minutes, hours, day_of_month, _, day_of_week = fields[:6]
    in_range = [(seconds, 59), (minutes, 59), (hours, 23)]
    numeric = all(v.isdigit() and int(v) <= top for v, top in in_range)
    # Quartz: exactly one of day-of-month and day-of-week is "?".
    return numeric and (day_of_month == "?") != (day_of_week == "?")


def test_bundle_structure_and_references() -> None:
    assert set(BUNDLE) <= TOP_LEVEL
    assert BUNDLE["bundle"]["name"] == "catalog-classifier"
    (artifact,) = BUNDLE["artifacts"].values()
    assert artifact["type"] == "whl" and "build" in artifact["build"]
    used = {m for s in _strings(BUNDLE) for m in re.findall(r"\$\{var\.(\w+)\}", s)}
    assert used == set(BUNDLE["variables"]), "every variable used, every use defined"
    assert sum(bool(t.get("default")) for t in BUNDLE["targets"].values()) == 1
    assert BUNDLE["targets"]["prod"]["mode"] == "production"
    assert set(BUNDLE["resources"]["jobs"]) == set(EXPECTED_TASKS)


@pytest.mark.parametrize("job_name", sorted(EXPECTED_TASKS))
def test_job_definition(job_name: str) -> None:
    job = BUNDLE["resources"]["jobs"][job_name]
    assert set(job) <= JOB_KEYS, set(job) - JOB_KEYS
    assert quartz_is_valid(job["schedule"]["quartz_cron_expression"])
    assert job["max_concurrent_runs"] == 1  # a nightly run never overlaps the previous one
    clusters = {c["job_cluster_key"]: c["new_cluster"] for c in job["job_clusters"]}
    assert len(clusters) == len(job["job_clusters"])
    for key, cluster in clusters.items():
        runtime = substitute(cluster["spark_version"])
        # The default line: a Spark 3.5 LTS ML runtime (Scala 2.12), as pom.xml's spark35 profile.
        kind = re.fullmatch(r"1[456]\.\d+\.x-(cpu|gpu)-ml-scala2\.12", runtime)
        assert kind and kind.group(1) == key, (key, cluster["spark_version"])
        assert cluster["node_type_id"] and ("num_workers" in cluster or "autoscale" in cluster)
    tasks = job["tasks"]
    assert [t["task_key"] for t in tasks] == EXPECTED_TASKS[job_name]
    seen: set[str] = set()
    for task in tasks:
        assert set(task) <= TASK_KEYS, set(task) - TASK_KEYS
        # A chain in order: each task depends on tasks defined before it (no cycle).
        assert {d["task_key"] for d in task.get("depends_on", [])} <= seen
        assert task["job_cluster_key"] in clusters
        assert task["libraries"] == [
            {"whl": "./dist/*.whl"},
            {"pypi": {"package": "spark-nlp==5.5.3"}},
            {"maven": {"coordinates": "com.johnsnowlabs.nlp:spark-nlp_2.12:5.5.3"}},
        ]
        seen.add(task["task_key"])


class _Parsed(Exception):
    def __init__(self, args: argparse.Namespace) -> None:
        self.args_ = args


def _load_job(path):
    spec = importlib.util.spec_from_file_location(f"bundle_job_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "job_name, task_key",
    [(job, task) for job, tasks in sorted(EXPECTED_TASKS.items()) for task in tasks],
)
def test_task_arguments_parse_and_its_conf_loads(monkeypatch, job_name, task_key) -> None:
    (task,) = [
        t for t in BUNDLE["resources"]["jobs"][job_name]["tasks"] if t["task_key"] == task_key
    ]
    python_file = REPO / task["spark_python_task"]["python_file"]
    assert python_file.is_file() and python_file.stem == task_key
    module = _load_job(python_file)

    def parsed(name: str, args: argparse.Namespace) -> None:
        raise _Parsed(args)

    monkeypatch.setattr(module, "start_job", parsed)
    argv = [substitute(p) for p in task["spark_python_task"]["parameters"]]
    with pytest.raises(_Parsed) as caught:
        module.main(argv)  # argparse exits (SystemExit) on an unknown or malformed argument
    args = caught.value.args_
    config = load_config(args.config, args.overrides, lakehouse=args.lakehouse)
    assert config.delta_engine == "delta-spark"
    assert config.lakehouse == BUNDLE["variables"]["lakehouse"]["default"]
    if task_key == "ingest":
        assert args.listings and args.images and not args.labels
