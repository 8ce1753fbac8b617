"""The frozen encoders' speed and parity by runtime, on real listings and photos, one thread.

    .venv/bin/python benchmarks/encoders.py                 # the real sample in ../shared
    .venv/bin/python benchmarks/encoders.py --texts 100 --images 32

What ``train.text.quantization`` and ``train.image.quantization`` trade: on the same inputs in one
process on one thread (as each Spark task runs them), the default text encoder in torch float32
and with int8 weights in ONNX Runtime (models/onnx_text.py), and each EfficientNet-Lite backbone
(``--backbones``; the default member uses Lite0 alone) in torch float32, ONNX Runtime float32
and ONNX Runtime int8 (models/onnx_backbone.py): rows/s of each, the speed-up against float32
measured in the same run, and the cosine of each int8 vector to its float32 one (mean and
worst). Texts are designation + description as the text member
reads them; photos are decoded once, before timing (decoding is the same for every runtime).
The int8 graphs are made before timing too (once per machine). ``benchmarks/score.py --images``
measures what this changes end to end.

The figures come last, as one JSON line, and go to ``benchmarks/results/encoders.json`` with the
commit and the load average.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from catalog_classifier.config import TextModelConfig  # noqa: E402
from catalog_classifier.logs import setup_logging  # noqa: E402
from catalog_classifier.models import image_backbone as ib  # noqa: E402
from catalog_classifier.models import onnx_backbone as ob  # noqa: E402
from catalog_classifier.models import text_encoder as te  # noqa: E402
from record import load_average, write_results  # noqa: E402  (this folder: sys.path[0])

SAMPLE = REPO.parent / "shared" / "data" / "rakuten"


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def cosines(got: np.ndarray, expected: np.ndarray) -> dict[str, float]:
    norms = np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1)
    cosine = (got * expected).sum(1) / np.maximum(norms, 1e-12)
    return {"mean": round(float(cosine.mean()), 4), "min": round(float(cosine.min()), 4)}


def text_figures(texts: list[str]) -> dict[str, Any]:
    cfg = TextModelConfig()
    source = te.resolve_encoder_source(cfg)
    float32 = te.TextEncoder(source, cfg.max_length, cfg.prefix)
    int8 = te.get_encoder(source, cfg.max_length, cfg.prefix, "cpu", "int8")  # makes the graph
    float32.embed(texts[:8], cfg.embed_batch_size)  # first calls pay one-off costs
    int8.embed(texts[:8])
    float_seconds, expected = timed(lambda: float32.embed(texts, cfg.embed_batch_size))
    int8_seconds, got = timed(lambda: int8.embed(texts))
    return {
        "texts": len(texts),
        "torch_float32_per_s": round(len(texts) / float_seconds, 1),
        "onnx_int8_per_s": round(len(texts) / int8_seconds, 1),
        "int8_speedup": round(float_seconds / int8_seconds, 2),
        "int8_cosine": cosines(got, expected),
    }


# Each selectable Lite, not only the default's: what choosing another one costs.
LITE_BACKBONES = "efficientnet_lite0+efficientnet_lite1+efficientnet_lite2"


def image_figures(photos: list[bytes], backbones: str, batch_size: int = 16) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name in ib.backbone_members(backbones):
        module, spec = ib.load_backbone(name)
        transform = ib.eval_transform(spec)
        pixels = torch.stack([transform(ib.decode_image(p, spec.input_size)) for p in photos])
        runners = {
            "torch_float32": module,
            "onnx_float32": ob.OnnxFeatures(module),
            "onnx_int8": ob.int8_features(module),
        }
        seconds: dict[str, float] = {}
        features: dict[str, np.ndarray] = {}
        for runtime, runner in runners.items():

            def run(runner: Any = runner, pixels: torch.Tensor = pixels) -> np.ndarray:
                with torch.inference_mode():
                    blocks = [
                        runner(pixels[i : i + batch_size]).float().numpy()
                        for i in range(0, len(pixels), batch_size)
                    ]
                return np.concatenate(blocks)

            run()  # warm-up: the sessions' first runs allocate
            seconds[runtime], features[runtime] = timed(run)
        figures[name] = {
            "input_size": spec.input_size,
            **{f"{k}_per_s": round(len(photos) / v, 1) for k, v in seconds.items()},
            "int8_speedup_over_onnx_float32": round(
                seconds["onnx_float32"] / seconds["onnx_int8"], 2
            ),
            "int8_cosine": cosines(features["onnx_int8"], features["onnx_float32"]),
            "onnx_float32_max_difference": float(
                np.abs(features["onnx_float32"] - features["torch_float32"]).max()
            ),
        }
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", default=str(SAMPLE / "X_train.csv"))
    parser.add_argument("--photos", default=str(SAMPLE / "images"))
    parser.add_argument("--texts", type=int, default=400, help="listings to embed")
    parser.add_argument("--images", type=int, default=96, help="photos to embed")
    parser.add_argument(
        "--backbones",
        default=LITE_BACKBONES,
        help="image backbones to measure, '+'-joined (default: the three selectable Lites)",
    )
    parser.add_argument("--results", default=str(REPO / "benchmarks/results/encoders.json"))
    args = parser.parse_args()
    setup_logging("WARNING")
    listings, photos_dir = Path(args.listings), Path(args.photos)
    if not listings.is_file() or not photos_dir.is_dir():
        print(f"encoders.py: real inputs missing ({listings}, {photos_dir})", file=sys.stderr)
        return 2
    torch.set_num_threads(1)  # ONNX Runtime's sessions take torch's thread count
    frame = pd.read_csv(listings, index_col=0).head(args.texts)
    texts = (frame["designation"].fillna("") + " " + frame["description"].fillna("")).tolist()
    photos = [p.read_bytes() for p in sorted(photos_dir.glob("*.jpg"))[: args.images]]
    started = load_average()
    figures: dict[str, Any] = {
        "benchmark": "encoders",
        "threads": 1,
        "text": text_figures(texts),
        "image": image_figures(photos, args.backbones),
        "photos": len(photos),
        "load_average_start": started,
        "load_average_end": load_average(),
    }
    write_results(args.results, figures, {})
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
