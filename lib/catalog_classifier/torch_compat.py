"""Import torch, torchvision and transformers safely on a CPU-only torch.

torchvision 0.28.0 from PyPI is a CUDA build: beside the CPU torch 2.13.0 its import fails with
``operator torchvision::nms does not exist``, and so does transformers, which imports torchvision
when it is installed (STACK.md). Declaring the two missing operator schemas before the first
import makes models and transforms usable; ``torchvision.ops`` and ``torchvision.io`` decoding
still fail, so images are decoded with Pillow. Spark's Python workers are separate processes:
every module that imports torchvision or transformers calls :func:`ensure_torchvision` first.
"""

from __future__ import annotations

import functools


@functools.cache
def ensure_torchvision() -> None:
    """Declare torchvision's missing operators if (and only if) they are missing; idempotent."""
    import torch

    missing = []
    for op in ("nms", "qnms"):
        try:
            torch._C._dispatch_find_schema_or_throw(f"torchvision::{op}", "")
        except RuntimeError:
            missing.append(op)
    if missing:
        lib = torch.library.Library("torchvision", "FRAGMENT")
        schemas = {
            "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
            "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
        }
        for op in missing:
            lib.define(schemas[op])
        # Keep the library object alive for the life of the process.
        ensure_torchvision.library = lib  # type: ignore[attr-defined]
    import torchvision  # noqa: F401


def best_device() -> str:
    """``cuda`` when a GPU is usable, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
