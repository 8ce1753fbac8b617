"""Training throughput: seconds per epoch and rows/s of each model, and Petastorm's loader
against a plain in-memory loader of the same rows.

    .venv/bin/python benchmarks/train.py [--listings 2000 --images 600] [--real DIR]

Builds a lakehouse from a generated sample (or from the real Rakuten sample with --real), then
  - fits the TF-IDF model (Spark ML) on the train split: seconds and rows/s;
  - trains the text and image heads (frozen encoders; CUDA when present) with the default
    full-batch L-BFGS solver (one fit: seconds and rows/s) and with the mini-batch AdamW loop
    fed by Petastorm (seconds per epoch and rows/s from the loop's own per-epoch figures), plus
    the one-off embedding cost;
  - reads the image training rows once through a Petastorm feed and once from in-memory
    tensors, both as torch batches: rows/s of each.
The figures come last, as one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO / "lib"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)

from pyspark.sql import functions as F  # noqa: E402

from catalog_classifier.config import load_config  # noqa: E402
from catalog_classifier.features.splits import run_splits  # noqa: E402
from catalog_classifier.logs import setup_logging  # noqa: E402
from catalog_classifier.models.datasets import image_rows, text_rows  # noqa: E402
from catalog_classifier.models.loop import TensorEpochs  # noqa: E402
from catalog_classifier.models.members.image import (  # noqa: E402
    ensure_image_embeddings,
    image_embedding_frame,
)
from catalog_classifier.models.members.text import ensure_text_embeddings  # noqa: E402
from catalog_classifier.models.petastorm_feed import PetastormFeed  # noqa: E402
from catalog_classifier.sample.generator import generate_sample  # noqa: E402
from catalog_classifier.stages.features import run_features  # noqa: E402
from catalog_classifier.stages.ingest import run_ingest  # noqa: E402
from catalog_classifier.stages.train import train_member  # noqa: E402
from catalog_classifier.storage.lakehouse import Lakehouse  # noqa: E402
from catalog_classifier.storage.spark import build_spark  # noqa: E402


def with_solver(config, model: str, solver: str):
    """``config`` with ``train.<model>.head_solver`` set."""
    section = getattr(config.train, model)
    return dataclasses.replace(
        config,
        train=dataclasses.replace(
            config.train, **{model: dataclasses.replace(section, head_solver=solver)}
        ),
    )


def epoch_figures(history: list[dict]) -> dict[str, float]:
    seconds = [h["seconds"] for h in history]
    rows = [h["train_rows"] for h in history]
    return {
        "epochs": len(history),
        "seconds_per_epoch": round(float(np.median(seconds)), 3),
        "rows_per_s": round(float(np.median(np.array(rows) / np.array(seconds))), 1),
    }


def loader_rows_per_s(lakehouse, config, rows, bid: str, batch_size: int = 64) -> dict:
    """One epoch of the same (embedding, label) rows: Petastorm feed vs in-memory tensors."""
    frame = image_embedding_frame(lakehouse, bid, rows)
    data = lakehouse.spark.createDataFrame(
        [
            (v.tolist(), int(label))
            for v, label in zip(frame["embedding"], frame["label"], strict=True)
        ],
        "embedding array<float>, label int",
    )
    out = {}
    with PetastormFeed(
        lakehouse.spark, data, f"{lakehouse.root}/_petastorm", "bench", config.train.reader_pool
    ) as feed:
        for name, shuffle in (("petastorm_rows_per_s", True),):
            started = time.monotonic()
            seen = 0
            with feed.epoch(batch_size, shuffle=shuffle, seed=1) as batches:
                for batch in batches:
                    seen += len(batch["label"])
            out[name] = round(seen / (time.monotonic() - started), 1)
    tensors = {
        "embedding": torch.from_numpy(np.stack(frame["embedding"]).astype(np.float32)),
        "label": torch.tensor(frame["label"].to_numpy()),
    }
    started = time.monotonic()
    seen = 0
    with TensorEpochs(tensors, batch_size, shuffle=True)(1) as batches:
        for batch in batches:
            seen += len(batch["label"])
    out["in_memory_rows_per_s"] = round(seen / max(1e-9, time.monotonic() - started), 1)
    out["loader_rows"] = seen
    return out


def head_figures(lakehouse, config, model: str, rows, work: Path) -> dict:
    """The head trained by each solver: L-BFGS (one full-batch fit) and AdamW (epochs)."""
    out = {}
    for solver in ("lbfgs", "adamw"):
        started = time.monotonic()
        outcome = train_member(
            lakehouse, with_solver(config, model, solver), model, work / f"{model}-{solver}", rows
        )
        seconds = time.monotonic() - started
        history = outcome.history
        figures = {
            "train_seconds": round(seconds, 1),
            "valid_weighted_f1": round(outcome.metrics["valid_weighted_f1"], 4),
        }
        if solver == "lbfgs" and history:
            fit = history[0]
            figures["fit_seconds"] = round(fit["seconds"], 3)
            figures["rows_per_s"] = round(fit["train_rows"] / max(fit["seconds"], 1e-9), 1)
        else:
            figures.update(epoch_figures(history))
        out[solver] = figures
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=2000)
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--image-size", type=int, default=500)
    parser.add_argument("--real", default=None, help="the real sample's folder instead")
    parser.add_argument("--encoder", default=None, help="train.text.encoder (default: conf)")
    parser.add_argument("--work", default=None, help="working folder (default: a temp folder)")
    args = parser.parse_args()
    setup_logging("INFO")
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-train-"))
    overrides = [f"train.text.encoder={args.encoder}"] if args.encoder else []
    config = load_config(REPO / "conf" / "local.yaml", overrides, lakehouse=str(work / "lakehouse"))
    config = dataclasses.replace(
        config,
        train=dataclasses.replace(
            config.train,
            text=dataclasses.replace(config.train.text, mode="frozen"),
            image=dataclasses.replace(config.train.image, mode="frozen"),
        ),
    )
    spark = build_spark(config, "bench-train")
    lakehouse = Lakehouse(spark, config.lakehouse, config.delta_engine)
    if args.real:
        real = Path(args.real)
        files = ([str(real / "X_train.csv")], [str(real / "Y_train.csv")], [str(real / "images")])
    else:
        sample = generate_sample(
            work / "sample",
            n_listings=args.listings,
            n_images=args.images,
            seed=11,
            image_size=args.image_size,
            priors=config.category_priors,
            write_folder=False,
        )
        files = ([str(sample.listings_csv)], [str(sample.labels_csv)], [str(sample.images_zip)])
    run_ingest(spark, lakehouse, config, *files)
    run_features(lakehouse, config)
    run_splits(lakehouse, config.splits)
    codes = config.label_codes
    figures: dict = {"device": "cuda" if torch.cuda.is_available() else "cpu"}

    texts = text_rows(lakehouse, codes).cache()
    train_count = texts.filter(F.col("split") == "train").count()
    started = time.monotonic()
    tfidf = train_member(lakehouse, config, "tfidf", work / "tfidf", texts)
    seconds = time.monotonic() - started
    figures["tfidf"] = {
        "fit_seconds": round(seconds, 1),
        "rows_per_s": round(train_count / seconds, 1),
        "valid_weighted_f1": round(tfidf.metrics["valid_weighted_f1"], 4),
    }

    started = time.monotonic()
    ensure_text_embeddings(lakehouse, config, texts)
    embed_seconds = time.monotonic() - started
    figures["text"] = {
        "embedding_rows_per_s": round(texts.count() / embed_seconds, 1),
        **head_figures(lakehouse, config, "text", texts, work),
    }

    images = image_rows(lakehouse, codes).cache()
    started = time.monotonic()
    bid = ensure_image_embeddings(lakehouse, config, images)
    embed_seconds = time.monotonic() - started
    figures["image"] = {
        "backbone": config.train.image.backbone,
        "embedding_rows_per_s": round(images.count() / embed_seconds, 1),
        **head_figures(lakehouse, config, "image", images, work),
    }
    figures["loader"] = loader_rows_per_s(
        lakehouse, config, images.filter(F.col("split") == "train").select("imageid", "label"), bid
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
