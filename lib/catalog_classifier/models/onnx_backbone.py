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
does any backbone on a GPU.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from catalog_classifier.config import CpuRuntime
from catalog_classifier.models.image_backbone import BackboneFeatures, CombinedFeatures

log = logging.getLogger(__name__)

OPSET = 17
# Largest absolute difference from torch's features accepted at the export check (features are
# averages of ReLU6 activations, 0-6; float32 reorderings give about 1e-5).
TOLERANCE = 1e-3


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


def export_folder() -> Path:
    return Path(tempfile.gettempdir()) / "catalog-classifier-onnx"


def export_leaf(module: BackboneFeatures, folder: Path | None = None) -> Path:
    """The module's ONNX file (batch size dynamic), exported unless a previous run did.

    Written to a temporary name and renamed, so concurrent workers never read a partial file.
    """
    size = module.spec.input_size
    folder = folder or export_folder()
    folder.mkdir(parents=True, exist_ok=True)
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in module.spec.name)
    path = folder / f"{name}-{weights_fingerprint(module, size)}.onnx"
    if path.exists():
        return path
    partial = path.with_suffix(f".{os.getpid()}.partial")
    # The exporter traces a contiguous (NCHW) copy: channels_last is a layout choice of torch's
    # CPU kernels that means nothing to the graph (and the module itself stays as it is).
    plain = copy.deepcopy(module).to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    plain.eval()
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter's deprecation and tracing notes, once per backbone: they
        # say nothing to a user of the features.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            plain,
            (torch.zeros(1, 3, size, size),),
            str(partial),
            input_names=["pixels"],
            output_names=["features"],
            dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    os.replace(partial, path)
    log.info("image backbone %s exported to ONNX: %s", module.spec.name, path)
    return path


class _LeafSession:
    """One exported backbone in an ONNX Runtime session (threads: torch's, at creation)."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: its graph-optimiser notes are not ours
        self.session = ort.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )

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
        self, module: BackboneFeatures, threads: int = 0, folder: Path | None = None
    ) -> None:
        self.spec = module.spec
        threads = threads or torch.get_num_threads()
        if isinstance(module, CombinedFeatures):
            self._combined: CombinedFeatures | None = module
            leaves = list(module.members)
        else:
            self._combined, leaves = None, [module]
        self._sessions = [
            _LeafSession(export_leaf(cast(BackboneFeatures, m), folder), threads) for m in leaves
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


def cpu_features(
    module: BackboneFeatures, runtime: CpuRuntime, device: str, folder: Path | None = None
) -> Any:
    """The callable that computes ``module``'s features on ``device``: an :class:`OnnxFeatures`
    when :func:`uses_onnxruntime` says so and its export reproduces torch's features on a test
    input, the module itself otherwise."""
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
