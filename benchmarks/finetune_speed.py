"""Seconds per epoch of fine-tuning the text encoder on the CPU, with and without what makes a
cross-validation fold cheap: dynamic padding (length-sorted buckets) and the word-embedding
matrix frozen. Times ``--steps`` random training steps (forward, backward, AdamW step) of
``--batch-size`` real listings and extrapolates to an epoch of ``--rows`` listings; the held-out
prediction pass over ``--rows`` / 5 listings is timed whole.

    python benchmarks/finetune_speed.py --lakehouse /tmp/ftcv/lakehouse --padding dynamic \
        --freeze-embeddings   # one variant per process, so its peak memory is its own

Appends one JSON line to --out (benchmarks/out/finetune_speed.jsonl by default).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from catalog_classifier.config import load_config  # noqa: E402
from catalog_classifier.models import text_encoder as text_model  # noqa: E402
from catalog_classifier.models.heads import ClassifierHead  # noqa: E402
from catalog_classifier.models.loop import predict_logits  # noqa: E402
from record import commit, load_average  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lakehouse", required=True)
    parser.add_argument("--rows", type=int, default=1600, help="training rows of an epoch")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--padding", choices=["fixed", "dynamic"], default="dynamic")
    parser.add_argument("--freeze-embeddings", action="store_true")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast on the CPU")
    parser.add_argument("--out", default="benchmarks/out/finetune_speed.jsonl")
    args = parser.parse_args()
    import deltalake

    texts = (
        deltalake.DeltaTable(f"{args.lakehouse}/silver/text_features")
        .to_pandas(columns=["productid", "text"])
        .sort_values("productid")["text"]
        .fillna("")
        .tolist()
    )
    config = load_config("conf/local.yaml")
    cfg = dataclasses.replace(
        config.train.text, finetune_freeze_word_embeddings=args.freeze_embeddings
    )
    source = text_model.resolve_encoder_source(cfg)
    rng = np.random.default_rng(0)
    rows = rng.choice(len(texts), size=min(args.rows, len(texts)), replace=False)
    tokens = text_model.tokenize_unpadded(
        source, [texts[i] for i in rows], cfg.max_length, cfg.prefix
    )
    lengths = np.asarray([len(t) for t in tokens])
    labels = rng.integers(0, 27, size=len(tokens)).tolist()
    pad = text_model.pad_token_id(source)
    epochs = text_model.LengthBuckets(tokens, labels, args.batch_size, pad, True, 0)
    if args.padding == "fixed":
        # What the Petastorm feed gives: every row padded to max_length.
        epochs.lengths = np.full_like(lengths, cfg.max_length)
        epochs.ids = [np.pad(t, (0, cfg.max_length - len(t)), constant_values=pad) for t in tokens]
    torch.manual_seed(0)
    model = text_model.finetune_classifier(source, ClassifierHead(384, 27), cfg, 0)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=3e-5, weight_decay=0.01)
    model.train()
    batches = epochs.batches_of(1)
    times = []
    for step, batch_rows in enumerate(batches[: args.steps + 1]):
        batch = epochs.batch(batch_rows)
        if args.padding == "fixed":
            batch["attention_mask"] = (batch["input_ids"] != pad).long()
            batch["attention_mask"][:, 0] = 1
        started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            logits = model(batch["input_ids"], batch["attention_mask"]).float()
        loss = torch.nn.functional.cross_entropy(logits, batch["label"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        if step:  # the first step allocates AdamW's state
            times.append(time.perf_counter() - started)
    step_seconds = float(np.mean(times))
    held_out = text_model.LengthBuckets(
        tokens[: len(tokens) // 5], labels[: len(tokens) // 5], 64, pad, False
    )
    if args.padding == "fixed":
        held_out.lengths = np.full(held_out.rows, cfg.max_length)
        held_out.ids = [
            np.pad(t, (0, cfg.max_length - len(t)), constant_values=pad) for t in held_out.ids
        ]
    started = time.perf_counter()
    with held_out(0) as test_batches:
        predict_logits(
            model,
            test_batches,
            lambda b: ({"input_ids": b["input_ids"], "attention_mask": b["attention_mask"]}, None),
            torch.device("cpu"),
        )
    predict_seconds = time.perf_counter() - started
    steps_per_epoch = int(np.ceil(len(tokens) / args.batch_size))
    record = {
        "padding": args.padding,
        "freeze_word_embeddings": args.freeze_embeddings,
        "bf16": args.bf16,
        "rows": len(tokens),
        "batch_size": args.batch_size,
        "trainable_parameters": sum(p.numel() for p in params),
        "tokens_mean": round(float(lengths.mean()), 1),
        "tokens_median": float(np.median(lengths)),
        "truncated_share": round(float((lengths >= cfg.max_length).mean()), 3),
        "seconds_per_step": round(step_seconds, 3),
        "steps_timed": len(times),
        "train_seconds_per_epoch": round(step_seconds * steps_per_epoch, 1),
        "predict_seconds_per_fifth": round(predict_seconds, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "torch_threads": torch.get_num_threads(),
        "load_average": load_average(),
        "commit": commit(),
    }
    print(json.dumps(record))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
