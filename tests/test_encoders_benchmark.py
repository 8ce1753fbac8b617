"""benchmarks/encoders.py runs at a tiny size on the real sample, so it cannot rot; its figures
are the benchmark's business, not the test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_encoders_benchmark_prints_its_figures_last(real_data, tmp_path):
    results = tmp_path / "encoders.json"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "encoders.py"),
            "--listings", str(real_data / "X_train.csv"),
            "--photos", str(real_data / "images"),
            "--texts", "3",
            "--images", "2",
            "--results", str(results),
        ],
        capture_output=True, text=True, timeout=900, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures == {k: v for k, v in json.loads(results.read_text()).items() if k in figures}
    assert figures["text"]["texts"] == 3 and figures["photos"] == 2
    assert figures["text"]["int8_cosine"]["min"] > 0.95
    assert set(figures["image"]) == {f"efficientnet_lite{i}" for i in range(3)}
    for image in figures["image"].values():
        assert image["onnx_float32_max_difference"] < 1e-3
        assert image["int8_cosine"]["min"] > 0.9
        assert min(image[k] for k in image if k.endswith("_per_s")) > 0
