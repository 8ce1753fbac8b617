"""The frozen text encoder in ONNX Runtime with int8 weights (``train.text.quantization: int8``).

multilingual-e5-small on one thread of this project's 2-core machines (400 real listings, title +
description, 128 tokens at most; ``benchmarks/encoders.py``, 2026-12-01): torch float32 19.7
texts/s, ONNX Runtime with dynamic int8 quantisation 52.9/s, 2.7x; embeddings at cosine 0.997 of
torch's (mean; 0.993 at worst). In first trials: ONNX Runtime in float32 alone no faster than
torch (17.8/s against 18.2/s); weights quantised per tensor rather than per output channel,
cosine 0.988 and no faster; ONNX Runtime's transformer graph optimiser, no faster; weight-only
8-bit blocks (``MatMulNBits``, blocks of 128, int8 compute), cosine 0.9997 but 33 texts/s
against 48/s for this, and the ``onnx_ir`` package needed. None of them is used.

5-fold CV on the real sample (``evaluate --cv 5``, the same folds as docs/results.md's): the
text member alone 0.681 +- 0.010 against 0.690 +- 0.012 in float32; the fusion of the default
members 0.753 +- 0.012 against 0.754 +- 0.016.

Each text runs alone, unpadded. Dynamic quantisation scales a batch's activations by the batch's
own range, padding included, so a padded batch makes a text's embedding depend on its
neighbours (cosine 0.997 between a text embedded alone and in a batch of 32). One text a run
makes the embedding a function of the text only, and costs nothing: 41.4 texts/s one at a time
against 34.8/s in length-sorted batches of 32 (no padding to compute).

The graph is exported (torch's TorchScript exporter) and quantised once per machine (10-30 s)
into a file of the local temporary folder named by the encoder's weights and the versions that
shape the result; one worker makes it under a lock while the others wait, and it is written
under a temporary name and renamed, so no worker reads a partial file. The embeddings differ
from torch's, so they are cached under their own encoder id (``<id>+int8``) and a model
trained on them is scored with them, on any device. Measured on AVX512-VNNI CPUs only: ONNX
Runtime's int8 kernels for CPUs without VNNI may round differently (its documentation advises
``reduce_range`` there), so executors of a mixed cluster could compute slightly different int8
embeddings of the same text; ``quantization: none`` avoids the question.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from catalog_classifier.models.onnx_files import (
    OPSET,
    cpu_session,
    export_folder,
    made_once,
    quiet_quantizer,
)

log = logging.getLogger(__name__)


def quantized_file(
    build: Callable[[], torch.nn.Module], fingerprint: str, folder: Path | None = None
) -> Path:
    """The int8 ONNX file of the pooled encoder that ``build`` loads ((input_ids,
    attention_mask) -> embedding), whose weights id is ``fingerprint``: exported and quantised
    unless an earlier run on this machine did."""
    import onnxruntime
    import transformers

    folder = folder or export_folder()
    key = hashlib.sha256(
        "|".join(
            [fingerprint, torch.__version__, transformers.__version__, onnxruntime.__version__]
        ).encode()
    ).hexdigest()[:24]
    path = folder / f"text-encoder-{key}.int8.onnx"

    def make(target: Path) -> None:
        float_file = target.with_name(target.name + ".float.onnx")
        try:
            _export_float(build, float_file)
            _quantize(float_file, target)
        finally:
            float_file.unlink(missing_ok=True)

    if made_once(path, make):
        log.info("text encoder %s exported to ONNX with int8 weights: %s", fingerprint, path)
    return path


def _export_float(build: Callable[[], torch.nn.Module], path: Path) -> None:
    module = build().eval()
    ids = torch.ones(1, 8, dtype=torch.int64)
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter's deprecation and tracing notes, once a machine: they say
        # nothing to a user of the embeddings.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (ids, torch.ones_like(ids)),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "embedding": {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )


def _quantize(source: Path, target: Path) -> None:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Its "consider pre-processing" advice: pre-processing (shape inference, graph
    # optimisation) made no difference here.
    with quiet_quantizer():
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            # The exported graph's shape inference leaves some MatMul outputs untyped.
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )


class Int8TextEncoder:
    """The pooled encoder that ``build`` loads, with int8 weights in ONNX Runtime, and the
    tokenizer of ``source``: the embeddings of the float32 encoder (mean-pooled, L2-normalised,
    ``pooled_layers`` layers side by side) to within int8 rounding, one text a run."""

    def __init__(
        self,
        source: str,
        build: Callable[[], torch.nn.Module],
        fingerprint: str,
        max_length: int,
        prefix: str,
        threads: int = 0,
        folder: Path | None = None,
        pooled_layers: int = 1,
    ) -> None:
        from transformers import AutoConfig, AutoTokenizer

        self.max_length, self.prefix = max_length, prefix
        self.tokenizer = AutoTokenizer.from_pretrained(source)
        self.session = cpu_session(
            quantized_file(build, fingerprint, folder), threads or torch.get_num_threads()
        )
        # ``build``'s pooling puts this many layers' means side by side.
        self.dim = int(AutoConfig.from_pretrained(source).hidden_size) * pooled_layers

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """``batch_size`` is accepted for the encoders' common signature and not used: each text
        runs alone (see the module's docstring)."""
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        encoded = self.tokenizer(
            [self.prefix + (t or "") for t in texts], max_length=self.max_length, truncation=True
        )
        vectors = []
        for ids in encoded["input_ids"]:
            row = np.asarray(ids, dtype=np.int64)[None, :]
            (vector,) = self.session.run(
                ["embedding"], {"input_ids": row, "attention_mask": np.ones_like(row)}
            )
            vectors.append(vector[0])
        return np.stack(vectors).astype(np.float32, copy=False)
