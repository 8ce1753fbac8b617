"""benchmarks/gpu_check.sh at a tiny size on the CPU, so the GPU check cannot rot between the
sessions that are lent an accelerator (the real sample: missing, it fails under CI=true)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """e5-small's real tokenizer with a 2-layer, 64-wide config: the same code path as the
    check's weightless encoder (random init from config.json), small enough for 2 cores."""
    from catalog_classifier.models.e5_weights import write_architecture

    folder = write_architecture(tmp_path_factory.mktemp("encoder") / "e5-small-2x64")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config.update(num_hidden_layers=2, hidden_size=64, num_attention_heads=2, intermediate_size=128)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def test_gpu_check_runs_tiny_on_cpu(real_data: Path, small_encoder: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "RAKUTEN_SAMPLE_DIR": str(real_data),
        "GPU_CHECK_ENCODER": str(small_encoder),
        # No bundle: a developer's .gpucheck/ must not change what the test runs.
        "GPU_CHECK_BUNDLE": str(tmp_path / "no-bundle"),
        "GPU_CHECK_ROWS": "32",
        "GPU_CHECK_LISTINGS": "64",
        "GPU_CHECK_TIMEOUT_S": "300",
    }
    started = time.monotonic()
    result = subprocess.run(
        [
            "bash",
            str(REPO / "benchmarks" / "gpu_check.sh"),
            "--device",
            "cpu",
            "--images",
            "12",
            "--image-size",
            "96",
            "--work",
            str(tmp_path / "work"),
            # Several batches, so the loop over them and the per-member times add up.
            "--set",
            "scoring.arrow_batch_rows=16",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=360,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])

    assert report["check"] == "gpu_check"
    assert report["device"] == "cpu"
    assert report["peak_gpu_memory_gib"] is None and report["bf16"] == {
        "fine_tune": False,
        "scoring": False,
    }
    assert report["torch"] and report["device_name"].startswith("cpu")
    assert report["fine_tune_rows"] == 32 and report["fine_tune_sample_rows"] > 2000
    assert report["fine_tune_rows_per_s"] > 0
    assert report["text_encoder"]["weights"] == "random-init"
    assert report["text_encoder"]["architecture"]["layers"] == 2
    assert report["score_listings"] == report["score_listings_requested"] == 64
    assert not report["score_stopped_at_time_budget"]
    assert report["score_listings_per_s"] > 0
    assert report["members"] == ["text", "image"]
    assert set(report["members_skipped"]) == {"tfidf", "use"}
    shares = report["member_share_of_scoring_time"]
    assert set(shares) == {"text", "image", "fusion"}
    assert 0.5 < sum(shares.values()) <= 1.0001
    assert sum(report["groups_used"].values()) == 64
    assert report["image_backbone"]["name"] == "efficientnet_lite0"
    for key, target in (("fine_tune_rows_per_s", 500.0), ("score_listings_per_s", 5000.0)):
        entry = report["targets"][key]
        assert entry["target"] == target and entry["value"] == report[key]
        assert entry["met"] is (entry["value"] >= target)
    # Well inside the suite's budget on 2 cores (the script itself says how long it took).
    assert time.monotonic() - started < 300
