"""The image model: an ImageNet backbone (EfficientNet-Lite0 by default) and a classification head.

Two modes, as for text:

* ``frozen`` (the CPU default): the backbone embeds each valid image once (eval transform);
  the pooled features are cached in ``silver.image_embeddings``. For training, augmented copies
  (random crop, flip, colour jitter) of the training images are embedded too, decoded and
  augmented in Petastorm's TransformSpec, with extra copies for the classes with fewer images
  than the median. The head trains on the features, fed by Petastorm.
* ``finetune`` (GPU): backbone and head train together on images decoded and augmented in the
  TransformSpec for every epoch.

Blank and invalid images never reach training (see :func:`datasets.image_rows`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from catalog_classifier.config import CpuRuntime
from catalog_classifier.logs import worker_logger
from catalog_classifier.models.text_encoder import to_blob

log = logging.getLogger(__name__)

@functools.cache
def get_backbone(name: str, weights_path: str | None, device: str = "cpu") -> tuple[Any, Any]:
    """The process's backbone (eval mode) and its spec, loaded on first use and then reused."""
    from catalog_classifier.models.image_backbone import load_backbone

    backbone, spec = load_backbone(name, weights_path)
    return backbone.eval().to(device), spec


@functools.cache
def get_features(
    name: str,
    weights_path: str | None,
    device: str = "cpu",
    runtime: CpuRuntime = "auto",
    quantization: str = "none",
) -> tuple[Any, Any]:
    """The process's frozen feature extractor for inference and the backbone's spec: the
    backbone of :func:`get_backbone`, or on a CPU its ONNX Runtime counterpart, or with
    ``quantization`` int8 its int8 counterpart on any device (``models.onnx_backbone``;
    ``runtime``: ``train.image.cpu_runtime``)."""
    from catalog_classifier.models.onnx_backbone import cpu_features

    backbone, spec = get_backbone(name, weights_path, device)
    return cpu_features(backbone, runtime, device, quantization=quantization), spec


def backbone_id(
    name: str, weights_path: str | None, flip_average: bool = False, quantization: str = "none"
) -> str:
    """Backbone name, a fingerprint of its weights file, ``+flip`` for features averaged
    with the mirror image's and ``+int8`` for the int8 backbones': cached features are tied to
    all four."""
    if quantization not in ("none", "int8"):
        raise ValueError(f"image backbone quantization {quantization!r}: none or int8")
    from catalog_classifier.models.image_backbone import backbone_members, weights_file

    members = backbone_members(name)
    if len(members) > 1 and weights_path:
        raise ValueError(f"image backbone {name!r}: weights_path is for a single backbone")
    digest = hashlib.sha256()
    for member in members:  # each member's size and first MB: one member as before
        path = Path(weights_file(member, weights_path))
        digest.update(str(path.stat().st_size).encode())
        with path.open("rb") as handle:
            digest.update(handle.read(1 << 20))
    return (
        f"{name}@{digest.hexdigest()[:12]}"
        + ("+flip" if flip_average else "")
        + ("+int8" if quantization == "int8" else "")
    )


EMBEDDING_ROW_SCHEMA = T.StructType(
    [
        T.StructField("imageid", T.LongType(), False),
        T.StructField("backbone", T.StringType(), False),
        T.StructField("productid", T.LongType(), False),
        T.StructField("sha256", T.StringType(), False),
        T.StructField("dim", T.IntegerType(), False),
        T.StructField("embedding", T.BinaryType(), False),
        T.StructField("computed_at", T.TimestampType(), False),
    ]
)


def embed_images(
    contents: list[bytes],
    name: str,
    weights_path: str | None,
    batch_size: int,
    device: str,
    flip_average: bool = False,
    runtime: CpuRuntime = "auto",
    quantization: str = "none",
) -> np.ndarray:
    """Pooled features (eval transform) of image files; a row of NaN for one that fails."""
    from catalog_classifier.models.image_backbone import extract_features

    backbone, spec = get_features(name, weights_path, device, runtime, quantization)
    return extract_features(
        backbone, spec, contents, batch_size=batch_size, device=device, flip_average=flip_average
    )


def image_embeddings(
    rows: DataFrame,
    backbone: str,
    name: str,
    weights_path: str | None,
    flip_average: bool,
    batch_size: int,
    computed_at: datetime,
    torch_threads: int = 1,
    runtime: CpuRuntime = "auto",
    quantization: str = "none",
) -> DataFrame:
    """(imageid, productid, sha256, content) -> rows of ``silver.image_embeddings``, on the
    executors; each Python worker loads the backbone once. Images that fail to decode are left
    out (the features stage already marks them invalid). ``backbone``: the id of ``name`` with
    these weights (the cache key)."""

    def compute(batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        logger = worker_logger("catalog_classifier.models.image_encoder")
        if torch_threads:
            torch.set_num_threads(torch_threads)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        for batch in batches:
            vectors = embed_images(
                [bytes(c) for c in batch["content"]],
                name,
                weights_path,
                batch_size,
                device,
                flip_average,
                runtime,
                quantization,
            )
            ok = ~np.isnan(vectors).any(axis=1)
            if (~ok).any():
                logger.warning(
                    "image embeddings: %d images failed to decode: imageids %s",
                    int((~ok).sum()),
                    batch["imageid"][~ok].tolist()[:20],
                )
            yield pd.DataFrame(
                {
                    "imageid": batch["imageid"][ok].astype("int64"),
                    "backbone": backbone,
                    "productid": batch["productid"][ok].astype("int64"),
                    "sha256": batch["sha256"][ok],
                    "dim": np.int32(vectors.shape[1]),
                    "embedding": [to_blob(v) for v in vectors[ok]],
                    "computed_at": pd.Timestamp(computed_at),
                }
            )

    return rows.select("imageid", "productid", "sha256", "content").mapInPandas(
        compute, EMBEDDING_ROW_SCHEMA
    )


@dataclass
class DecodeAugment:
    """Petastorm TransformSpec function: JPEG bytes -> a normalised image tensor (C, H, W),
    augmented when ``train`` is true. Picklable for the process pool; the transforms are
    built once per worker."""

    backbone: str
    weights_path: str | None
    train: bool
    seed: int = 0

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        from catalog_classifier.models.image_backbone import decode_image

        transform, size = _transform(self.backbone, self.weights_path, self.train)
        pixels = []
        for content in batch["content"]:
            image = decode_image(bytes(content), size)
            pixels.append(np.ascontiguousarray(transform(image).numpy(), dtype=np.float32))
        out = batch.drop(columns=["content"]).copy()
        # pandas-stubs types a column set from a list as scalars only; arrays make an object column
        out["pixels"] = pixels  # type: ignore[assignment]
        return out

    def edit_fields(self) -> list[tuple[str, Any, tuple[int, ...], bool]]:
        _, size = _transform(self.backbone, self.weights_path, self.train)
        return [("pixels", np.float32, (3, size, size), False)]


@functools.cache
def _transform(name: str, weights_path: str | None, train: bool) -> tuple[Any, int]:
    from catalog_classifier.models.image_backbone import (
        backbone_spec,
        eval_transform,
        train_transform,
    )

    spec = backbone_spec(name)
    transform = train_transform(spec) if train else eval_transform(spec)
    return transform, spec.input_size


def copies_per_class(counts: dict[int, int], base: int, minority_extra: int) -> dict[int, int]:
    """Augmented copies of each training image by class: ``base``, plus ``minority_extra`` for
    classes with fewer images than the median class."""
    if not counts:
        return {}
    median = float(np.median(list(counts.values())))
    return {c: base + (minority_extra if n < median else 0) for c, n in counts.items()}


def save_backbone_reference(
    folder: Path,
    name: str,
    weights_path: str | None,
    bid: str,
    flip_average: bool = False,
    quantization: str = "none",
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    info = {
        "backbone": name,
        "weights_path": weights_path,
        "backbone_id": bid,
        "flip_average": flip_average,
        "quantization": quantization,
    }
    (folder / "backbone.json").write_text(json.dumps(info, indent=2), encoding="utf-8")


class GradCamExplainer:
    """A saved image model (frozen or fine-tuned) that explains its predictions: the Grad-CAM
    heatmap of a class over an image, overlaid on the image as the model saw it."""

    def __init__(self, folder: Path) -> None:
        from catalog_classifier.models.heads import load_head
        from catalog_classifier.models.image_backbone import (
            ImageClassifier,
            eval_transform,
            load_backbone,
        )

        info = json.loads((folder / "backbone.json").read_text(encoding="utf-8"))
        backbone, self.spec = load_backbone(info["backbone"], info["weights_path"])
        if (folder / "backbone.safetensors").exists():  # a fine-tuned backbone
            from safetensors.torch import load_file

            backbone.load_state_dict(load_file(folder / "backbone.safetensors"))
        self.model = ImageClassifier(backbone, load_head(folder)).eval()
        self.transform = eval_transform(self.spec)

    def overlay(self, content: bytes, class_index: int) -> Any:
        """The overlay (a PIL image) of class ``class_index`` on the image ``content``; raises
        ValueError when the bytes do not decode to an image."""
        from catalog_classifier.models.image_backbone import decode_image, grad_cam, overlay_heatmap

        image = decode_image(content, self.spec.input_size)
        heatmap = grad_cam(self.model, self.transform(image), class_index)
        shown = image.resize((self.spec.input_size, self.spec.input_size))
        return overlay_heatmap(shown, heatmap)


def gradcam_overlays(
    lakehouse: Any, folder: Path, imageids: list[int], classes: list[int], out: Path
) -> dict[int, str]:
    """Grad-CAM overlays of a saved image model for ``imageids`` and the given class indices,
    written as ``figures/gradcam_<imageid>.png`` under ``out``; imageid -> path."""
    from pyspark.sql import functions as F

    from catalog_classifier.storage.tables import BRONZE_IMAGES

    explainer = GradCamExplainer(folder)
    rows = (
        lakehouse.read(BRONZE_IMAGES)
        .filter(F.col("imageid").isin(imageids))
        .select("imageid", "content")
        .collect()
    )
    contents = {int(r["imageid"]): bytes(r["content"]) for r in rows}
    written: dict[int, str] = {}
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for imageid, class_index in zip(imageids, classes, strict=True):
        if imageid not in contents:
            continue
        try:
            overlay = explainer.overlay(contents[imageid], class_index)
        except ValueError as exc:
            log.warning("grad-cam: image %d skipped: %s", imageid, exc)
            continue
        name = f"figures/gradcam_{imageid}.png"
        overlay.save(out / name)
        written[imageid] = name
    return written


class ImagePredictor:
    """A saved image model as a function from image bytes to class probabilities.

    Frozen mode: the backbone it references (checked to be the same weights) + its head;
    finetune mode: the fine-tuned backbone saved beside the head. Images that fail to decode
    come back with a false mask (the caller fuses those listings without an image).
    """

    def __init__(
        self, folder: Path | str, device: str = "cpu", runtime: CpuRuntime = "auto"
    ) -> None:
        from safetensors.torch import load_file

        from catalog_classifier.models.heads import load_head
        from catalog_classifier.models.image_backbone import load_backbone

        folder = Path(folder)
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        info = json.loads((folder / "backbone.json").read_text(encoding="utf-8"))
        self.flip_average = bool(info.get("flip_average", False))  # older models: none
        quantization = info.get("quantization", "none")  # older models: float32
        if meta["mode"] == "finetune":
            backbone, spec = load_backbone(info["backbone"], info["weights_path"])
            backbone.load_state_dict(load_file(folder / "backbone.safetensors"))
            self.backbone, self.spec = backbone.eval().to(device), spec
        else:
            found = backbone_id(
                info["backbone"], info["weights_path"], self.flip_average, quantization
            )
            if found != info["backbone_id"]:
                raise ValueError(
                    f"image model {folder}: trained on backbone {info['backbone_id']}, "
                    f"found {found}"
                )
            self.backbone, self.spec = get_features(
                info["backbone"], info["weights_path"], device, runtime, quantization
            )
        self.head = load_head(folder).to(device)
        self.device = device

    def predict(
        self, images: Sequence[bytes], batch_size: int = 32
    ) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities (N, classes), decoded (N,) bool)."""
        from catalog_classifier.models.image_backbone import extract_features

        probs = np.zeros((len(images), self.head.n_classes), dtype=np.float32)
        if not len(images):
            return probs, np.zeros(0, bool)
        features = extract_features(
            self.backbone,
            self.spec,
            images,
            batch_size=batch_size,
            device=self.device,
            flip_average=self.flip_average,
        )
        ok = ~np.isnan(features).any(axis=1)
        if ok.any():
            with torch.inference_mode():
                logits = self.head(torch.from_numpy(features[ok]).to(self.device))
                probs[ok] = torch.softmax(logits, dim=1).float().cpu().numpy()
        return probs, ok
