"""Frozen image backbones on the CPU through ONNX Runtime: the same features, about 4x faster.

Measured on this project's 2-core machines (64 real photos, one thread, as a Spark task has;
``benchmarks/score.py --images`` measures the whole scorer): EfficientNet-Lite0 17.5 -> 69.6
images/s, Lite1 13.0 -> 48.4, Lite2 8.8 -> 34.9, features equal to torch's to within 1e-5 (float32
rounding, as ``channels_last`` already gives). torch's CPU kernels for the depthwise convolutions
these networks are made of are the slow part; ONNX Runtime fuses them.

Each leaf backbone is exported once (torch's TorchScript exporter, under a second) to a file named
by a fingerprint of its weights, its input size and the torch version, in a folder of the local
temporary directory (each executor exports its own), and checked against torch on one input
before it is used: a backbone whose export does not reproduce torch's features stays on torch,
with a warning. A combined backbone (``a+b+...``) runs its members' sessions and resizes its input
for each in torch, as the module does. Training and Grad-CAM need gradients and stay in torch; so
does any float32 backbone on a GPU.

``train.image.quantization: int8`` quantises each exported leaf statically (QDQ, int8 weights per
output channel, uint8 activations with ranges calibrated once): ``benchmarks/encoders.py`` (96
real photos, one thread, 2026-12-01) Lite0 101 -> 197 images/s, Lite1 66 -> 150, Lite2 44 -> 106
(1.9-2.4x ONNX Runtime float32), features at cosine 0.990-0.994 of float32's (mean; 0.95-0.96
at worst). The calibration set is 64 drawn product pictures (``pictures.calibration_pictures``,
fixed seed), so the int8 graph is a function of the weights alone, like the float one, and its
features can be cached under one id (``<backbone id>+int8``); calibrated on them, the features
on real photos are as close to float32's as when calibrated on 64 real photos. Static ranges
make an image's features independent of its batch. The int8 features differ from float32's: a model
trained on them is scored with them, on the CPU whatever the device.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import logging
import warnings
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from catalog_classifier.config import CpuRuntime
from catalog_classifier.models.image_backbone import (
    BackboneFeatures,
    BackboneSpec,
    CombinedFeatures,
    decode_image,
    eval_transform,
)
from catalog_classifier.models.onnx_files import (
    INT8,
    OPSET,
    cpu_session,
    export_folder,
    made_once,
    quiet_quantizer,
)

log = logging.getLogger(__name__)

# Largest absolute difference from torch's features accepted at the export check (features are
# averages of ReLU6 activations, 0-6; float32 reorderings give about 1e-5).
TOLERANCE = 1e-3
CALIBRATION_PICTURES = 64
# The int8 check: the features of 8 calibration pictures at this mean cosine of torch's at
# least. Measured: 0.967 for Lite0+1+2 (flat drawn pictures, resized from the largest input
# size as the combined backbone does; real photos give 0.99); a broken graph gives far less.
INT8_MIN_COSINE = 0.9


@functools.cache
def onnxruntime_available() -> bool:
    """Whether ONNX Runtime and the exporter's ``onnx`` package import in this process."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def uses_onnxruntime(runtime: CpuRuntime, device: str) -> bool:
    """``auto``: ONNX Runtime for a CPU backbone when it is installed; ``onnxruntime``: required
    (a clear error without it); ``torch``: never. A GPU always runs torch."""
    if device != "cpu" or runtime == "torch":
        return False
    if runtime == "onnxruntime" and not onnxruntime_available():
        raise RuntimeError(
            "train.image.cpu_runtime is onnxruntime, but onnxruntime or onnx is not installed"
        )
    return onnxruntime_available()


def weights_fingerprint(module: torch.nn.Module, input_size: int) -> str:
    """What the exported graph depends on: the module's class, its tensors, the input size and
    the torch version (a new exporter may write another graph)."""
    digest = hashlib.sha256(
        f"{type(module).__qualname__}|{input_size}|{torch.__version__}|{OPSET}".encode()
    )
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


def export_leaf(module: BackboneFeatures, folder: Path | None = None) -> Path:
    """The module's ONNX file (batch size dynamic), exported unless a previous run did (one
    worker exports, the others wait: ``onnx_files.made_once``)."""
    size = module.spec.input_size
    folder = folder or export_folder()
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in module.spec.name)
    path = folder / f"{name}-{weights_fingerprint(module, size)}.onnx"

    def make(target: Path) -> None:
        # The exporter traces a contiguous (NCHW) copy: channels_last is a layout choice of
        # torch's CPU kernels that means nothing to the graph (the module stays as it is).
        plain = copy.deepcopy(module).to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
        plain.eval()
        with warnings.catch_warnings(), torch.no_grad():
            # The TorchScript exporter's deprecation and tracing notes, once per backbone: they
            # say nothing to a user of the features.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                plain,
                (torch.zeros(1, 3, size, size),),
                str(target),
                input_names=["pixels"],
                output_names=["features"],
                dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )

    if made_once(path, make):
        log.info("image backbone %s exported to ONNX: %s", module.spec.name, path)
    return path


def calibration_pixels(spec: BackboneSpec, count: int = CALIBRATION_PICTURES) -> np.ndarray:
    """The calibration pictures as the backbone receives them: JPEG (quality 90, as product
    photos are stored), decoded at the input size and normalised by the eval transform."""
    from catalog_classifier.pictures import calibration_pictures, jpeg

    transform = eval_transform(spec)
    pictures = calibration_pictures(count, side=256)
    return torch.stack(
        [transform(decode_image(jpeg(p, 90), spec.input_size)) for p in pictures]
    ).numpy()


def quantize_leaf(module: BackboneFeatures, folder: Path | None = None) -> Path:
    """The module's int8 ONNX file (see the module's docstring), made from its float export
    unless a previous run did; one worker makes it under a lock while the others wait."""
    import onnxruntime

    source = export_leaf(module, folder)
    # The quantiser's output may change with its version.
    path = source.with_name(f"{source.stem}-ort{onnxruntime.__version__}-int8.onnx")

    def make(target: Path) -> None:
        prepared = target.with_name(target.name + ".prepared.onnx")
        try:
            _quantize_static(source, prepared, target, calibration_pixels(module.spec))
        finally:
            prepared.unlink(missing_ok=True)

    if made_once(path, make):
        log.info("image backbone %s quantised to int8: %s", module.spec.name, path)
    return path


def _quantize_static(source: Path, prepared: Path, target: Path, pixels: np.ndarray) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(
                [{"pixels": pixels[i : i + 8]} for i in range(0, len(pixels), 8)]
            )

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    with quiet_quantizer():
        quant_pre_process(str(source), str(prepared))  # shape inference, folded constants
        quantize_static(
            str(prepared),
            str(target),
            Batches(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )


class _LeafSession:
    """One exported backbone in an ONNX Runtime session (threads: torch's, at creation)."""

    def __init__(self, path: Path, threads: int) -> None:
        self.session = cpu_session(path, threads)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        pixels = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        (features,) = self.session.run(["features"], {"pixels": pixels})
        return torch.from_numpy(features)


class OnnxFeatures:
    """A frozen backbone's forward pass (normalised batch -> pooled features) in ONNX Runtime.

    Called like the module it replaces (a float tensor in, a float tensor out); it has no
    training mode and no gradients.
    """

    def __init__(
        self,
        module: BackboneFeatures,
        threads: int = 0,
        folder: Path | None = None,
        quantization: str = "none",
    ) -> None:
        self.spec = module.spec
        threads = threads or torch.get_num_threads()
        if isinstance(module, CombinedFeatures):
            self._combined: CombinedFeatures | None = module
            leaves = list(module.members)
        else:
            self._combined, leaves = None, [module]
        graph = quantize_leaf if quantization == INT8 else export_leaf
        self._sessions = [
            _LeafSession(graph(cast(BackboneFeatures, m), folder), threads) for m in leaves
        ]
        self._leaves = [cast(BackboneFeatures, m) for m in leaves]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self._combined is None:
            return self._sessions[0](x)
        with torch.inference_mode():
            return torch.cat(
                [
                    session(self._combined.sized(x, leaf))
                    for session, leaf in zip(self._sessions, self._leaves, strict=True)
                ],
                dim=1,
            )


def int8_features(module: BackboneFeatures, folder: Path | None = None) -> OnnxFeatures:
    """``module``'s int8 features in ONNX Runtime, on the CPU whatever the device; checked
    against torch's on the calibration pictures (an error, not a fallback: cached int8
    features must come from the int8 graph)."""
    if not onnxruntime_available():
        raise RuntimeError(
            "train.image.quantization is int8, but onnxruntime or onnx is not installed"
        )
    runner = OnnxFeatures(module, folder=folder, quantization=INT8)
    probe = torch.from_numpy(calibration_pixels(module.spec, 8))
    parameter = next(module.parameters())
    with torch.inference_mode():
        expected = module(probe.to(parameter.device)).float().cpu()
    got = runner(probe)
    cosine = float(torch.nn.functional.cosine_similarity(got, expected, dim=1).mean())
    if not cosine >= INT8_MIN_COSINE:  # NaN too
        raise RuntimeError(
            f"image backbone {module.spec.name}: its int8 features are at cosine {cosine:.3f} "
            f"of torch's (under {INT8_MIN_COSINE})"
        )
    return runner


def cpu_features(
    module: BackboneFeatures,
    runtime: CpuRuntime,
    device: str,
    folder: Path | None = None,
    quantization: str = "none",
) -> Any:
    """The callable that computes ``module``'s features on ``device``: with ``quantization``
    int8, :func:`int8_features`; an :class:`OnnxFeatures` when :func:`uses_onnxruntime` says
    so and its export reproduces torch's features on a test input, the module itself
    otherwise."""
    if quantization == INT8:
        return int8_features(module, folder)
    if not uses_onnxruntime(runtime, device):
        return module
    runner = OnnxFeatures(module, folder=folder)
    size = module.spec.input_size
    probe = torch.linspace(-1.0, 1.0, 2 * 3 * size * size).reshape(2, 3, size, size)
    with torch.inference_mode():
        expected = module(probe)
    difference = float((runner(probe) - expected).abs().max())
    if not difference <= TOLERANCE:  # NaN too
        if runtime == "onnxruntime":
            raise RuntimeError(
                f"image backbone {module.spec.name}: ONNX Runtime's features differ from torch's "
                f"by {difference:.2e} (over {TOLERANCE:g})"
            )
        log.warning(
            "image backbone %s: ONNX Runtime's features differ from torch's by %.2e: "
            "computing them in torch",
            module.spec.name,
            difference,
        )
        return module
    return runner
