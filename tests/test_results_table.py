"""benchmarks/results_table.py: docs/results.md's benchmark table is the one the results files
give."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from tests.conftest import REPO

spec = importlib.util.spec_from_file_location(
    "results_table", REPO / "benchmarks" / "results_table.py"
)
assert spec is not None and spec.loader is not None
results_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(results_table)


def test_the_results_table_is_generated_from_the_results_files():
    document = (REPO / "docs" / "results.md").read_text(encoding="utf-8")
    generated = results_table.table()
    assert results_table.with_table(document, generated) == document, (
        "docs/results.md's results table is out of date: run benchmarks/results_table.py"
    )
    assert results_table.RESULTS_DOC == REPO / "docs" / "results.md"
    # The README links to the table rather than holding a copy that could go stale.
    assert results_table.START not in (REPO / "README.md").read_text(encoding="utf-8")
    # one row a results file
    files = sorted((REPO / "benchmarks" / "results").glob("*.json"))
    assert files
    assert generated.count("\n| `") == len(files)


def test_a_row_shows_each_figure_beside_its_limit_and_each_target(tmp_path: Path):
    record = {
        "benchmark": "ingest",
        "engine": "delta-rs",
        "listings_per_s": 1213.15,
        "listings_limit_per_s": 305975.9,
        "listings_ratio": 0.004,
        "images_folder_per_s": 175.7,
        "images_folder_limit_per_s": 13253.9,
        "images_folder_ratio": 0.0133,
        "images_zip_per_s": 1209.1,
        "images_zip_limit_per_s": 10268.9,
        "images_zip_ratio": 0.1177,
        "image_check_one_process_per_s": 890.0,
        "rerun_unchanged_s": 36.62,
        "rerun_rows_written": 0,
        "load_average_start": [9.15, 8.26, 7.83],
        "load_average_end": [8.41, 8.41, 7.99],
        "targets": {"listings_per_s": 10000.0, "images_zip_per_s": 1000.0},
        "targets_met": {"listings_per_s": False, "images_zip_per_s": True},
        "commit": "e991eb7a1a1ff78486b2ab2f9745d61ef3c2d324+dirty",
        "measured_at": "2026-12-01T10:23:43+00:00",
        "command": "ingest.py --engine delta-rs",
    }
    (tmp_path / "ingest-x.json").write_text(json.dumps(record), encoding="utf-8")
    table = results_table.table(tmp_path)
    line = next(line for line in table.splitlines() if line.startswith("| `ingest.py"))
    assert "(delta-rs)" in line
    assert "listings 1,213/s, limit 305,976/s (ratio 0.004)" in line
    assert "images from a zip 1,209/s, limit 10,269/s (ratio 0.1177)" in line
    assert "listings_per_s >= 10,000: missed, images_zip_per_s >= 1,000: met" in line
    assert "| 9.15 -> 8.41 |" in line
    assert line.endswith("| e991eb7+dirty, 2026-12-01 10:23 |")


def test_an_unknown_benchmark_is_refused(tmp_path: Path):
    (tmp_path / "mystery.json").write_text(json.dumps({"command": "x"}), encoding="utf-8")
    with pytest.raises(ValueError, match="no format for benchmark 'mystery'"):
        results_table.table(tmp_path)
