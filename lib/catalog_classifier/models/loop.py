"""One device-agnostic training loop for every PyTorch model of the project.

CUDA when present (bf16 autocast, pinned host memory, non-blocking copies), the CPU otherwise;
seeded; AdamW with linear warm-up and cosine decay per step; class-weighted cross-entropy; early
stopping on the validation weighted F1 (the challenge's metric), keeping the best weights; one log
line per epoch (loss, accuracy, weighted F1) and a tqdm bar over the batches of an epoch.
"""

from __future__ import annotations

import copy
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from catalog_classifier.models.heads import ClassifierHead
from catalog_classifier.models.metrics import classification_metrics

log = logging.getLogger(__name__)

Batch = dict[str, Any]
# A function that opens one epoch of batches (a Petastorm feed's epoch, or an in-memory one).
EpochSource = Callable[[int], AbstractContextManager[Iterator[Batch]]]


@dataclass
class EpochStats:
    epoch: int
    train_loss: float
    train_rows: int
    valid_loss: float
    valid_accuracy: float
    valid_weighted_f1: float
    valid_macro_f1: float
    learning_rate: float
    seconds: float


@dataclass
class FitResult:
    history: list[EpochStats] = field(default_factory=list)
    best_epoch: int = -1
    best_weighted_f1: float = -1.0
    stopped_early: bool = False
    seconds: float = 0.0
    device: str = "cpu"
    # The final training objective (fit_logistic); NaN for the epoch loop.
    train_loss: float = float("nan")

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["history"] = [asdict(h) for h in self.history]
        return out


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def to_device(value: Any, device: torch.device) -> Any:
    """Move a tensor, or a dict of tensors, to ``device`` (pinned and non-blocking on CUDA)."""
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, torch.Tensor):
        if device.type == "cuda":
            return value.pin_memory().to(device, non_blocking=True)
        return value.to(device)
    return value


def forward(model: torch.nn.Module, inputs: Any) -> torch.Tensor:
    return model(**inputs) if isinstance(inputs, dict) else model(inputs)


def _autocast(device: torch.device, cpu_bf16: bool = False) -> AbstractContextManager[Any]:
    """bf16 autocast on CUDA; on the CPU only when asked (``cpu_bf16``: fast where the CPU has
    bf16 instructions, see :func:`cpu_has_bf16`)."""
    enabled = device.type == "cuda" or (device.type == "cpu" and cpu_bf16)
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


def cpu_has_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX); elsewhere bf16 is
    emulated and slower than float32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def predict_logits(
    model: torch.nn.Module,
    batches: Iterator[Batch],
    to_xy: Callable[[Batch], tuple[Any, torch.Tensor | None]],
    device: torch.device,
    cpu_bf16: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits (float32, on the CPU) of every batch, and the labels when the batches have them."""
    model.eval()
    logits, labels = [], []
    with torch.inference_mode(), _autocast(device, cpu_bf16):
        for batch in batches:
            inputs, y = to_xy(batch)
            logits.append(forward(model, to_device(inputs, device)).float().cpu())
            if y is not None:
                labels.append(y.long().cpu())
    out = torch.cat(logits) if logits else torch.empty(0)
    return out, (torch.cat(labels) if labels else None)


def warmup_cosine(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def fit(
    model: torch.nn.Module,
    train_epoch: EpochSource,
    valid_epoch: EpochSource,
    to_xy: Callable[[Batch], tuple[Any, torch.Tensor]],
    *,
    train_rows: int,
    batch_size: int,
    epochs: int,
    patience: int,
    learning_rate: float,
    weight_decay: float = 0.01,
    class_weights: Sequence[float] | None = None,
    device: torch.device | None = None,
    seed: int = 0,
    name: str = "model",
    on_epoch: Callable[[EpochStats], None] | None = None,
    cpu_bf16: bool = False,
) -> FitResult:
    """Train ``model`` (its trainable parameters) and leave it holding the best weights.

    ``cpu_bf16``: bf16 autocast on the CPU too (the weights, gradients and AdamW state stay
    float32, as on CUDA)."""
    seed_everything(seed)
    device = device or resolve_device()
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay)
    steps_per_epoch = max(1, math.ceil(train_rows / batch_size))
    total = steps_per_epoch * epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(total, max(1, total // 20))
    )
    weight = (
        torch.tensor(class_weights, dtype=torch.float32, device=device)
        if class_weights is not None
        else None
    )
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    result = FitResult(device=device.type)
    best_state: dict[str, torch.Tensor] | None = None
    since_best = 0
    started = time.monotonic()
    for epoch in range(1, epochs + 1):
        epoch_started = time.monotonic()
        model.train()
        loss_sum, rows = 0.0, 0
        with train_epoch(epoch) as batches:
            bar = tqdm(
                batches,
                total=steps_per_epoch,
                desc=f"{name} epoch {epoch}/{epochs}",
                leave=False,
                disable=None,
            )
            for batch in bar:
                inputs, y = to_xy(batch)
                inputs, y = to_device(inputs, device), to_device(y.long(), device)
                optimizer.zero_grad(set_to_none=True)
                with _autocast(device, cpu_bf16):
                    logits = forward(model, inputs)
                loss = loss_fn(logits.float(), y)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                scheduler.step()
                loss_sum += float(loss.detach()) * len(y)
                rows += len(y)
                bar.set_postfix(loss=f"{loss_sum / rows:.4f}")
        with valid_epoch(epoch) as batches:
            logits, labels = predict_logits(model, batches, to_xy, device, cpu_bf16)
        assert labels is not None
        valid_loss = float(torch.nn.functional.cross_entropy(logits, labels)) if len(labels) else 0
        metrics = classification_metrics(labels.tolist(), logits.argmax(1).tolist())
        stats = EpochStats(
            epoch=epoch,
            train_loss=loss_sum / max(1, rows),
            train_rows=rows,
            valid_loss=valid_loss,
            valid_accuracy=metrics["accuracy"],
            valid_weighted_f1=metrics["weighted_f1"],
            valid_macro_f1=metrics["macro_f1"],
            learning_rate=float(scheduler.get_last_lr()[0]),  # a float lr gives floats
            seconds=time.monotonic() - epoch_started,
        )
        result.history.append(stats)
        log.info(
            "%s epoch %d/%d: train loss %.4f (%d rows), valid loss %.4f, accuracy %.4f, "
            "weighted F1 %.4f, %.1f s (%.0f rows/s)",
            name,
            epoch,
            epochs,
            stats.train_loss,
            rows,
            stats.valid_loss,
            stats.valid_accuracy,
            stats.valid_weighted_f1,
            stats.seconds,
            rows / stats.seconds if stats.seconds else 0.0,
        )
        if on_epoch is not None:
            on_epoch(stats)
        if stats.valid_weighted_f1 > result.best_weighted_f1:
            result.best_weighted_f1 = stats.valid_weighted_f1
            result.best_epoch = epoch
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            since_best = 0
        else:
            since_best += 1
            if since_best >= patience:
                result.stopped_early = True
                log.info("%s: early stop after epoch %d (best %d)", name, epoch, result.best_epoch)
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    result.seconds = time.monotonic() - started
    return result


class TensorEpochs:
    """In-memory epochs over tensors (validation sets, tests): an :data:`EpochSource`."""

    def __init__(
        self, tensors: dict[str, torch.Tensor], batch_size: int, shuffle: bool, seed: int = 0
    ) -> None:
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.rows = len(next(iter(tensors.values())))

    def __call__(self, epoch: int) -> AbstractContextManager[Iterator[Batch]]:
        from contextlib import nullcontext

        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + epoch)
            order = torch.randperm(self.rows, generator=generator)
        else:
            order = torch.arange(self.rows)
        batches = (
            {k: v[order[i : i + self.batch_size]] for k, v in self.tensors.items()}
            for i in range(0, self.rows, self.batch_size)
        )
        return nullcontext(batches)


def copy_model(model: torch.nn.Module) -> torch.nn.Module:
    return copy.deepcopy(model)


def fit_logistic(
    head: ClassifierHead,
    features: torch.Tensor,
    labels: torch.Tensor,
    *,
    l2: float,
    class_weights: Sequence[float] | None = None,
    max_iter: int = 500,
    tolerance: float = 1e-7,
    name: str = "model",
) -> FitResult:
    """Fit a linear head's last layer as a multinomial logistic regression, full batch.

    The objective is the (class-weighted) mean cross-entropy + ``l2`` / 2 * ||W||^2 (bias not
    penalised): the one Spark ML's and the TF-IDF model's regressions minimise, convex, solved
    to convergence by L-BFGS in float64 on the CPU. It needs no validation rows (nothing to stop
    early: the penalty is the regularisation) and no learning rate, and gives the same answer
    whatever the row order. ``head`` is a :class:`~catalog_classifier.models.heads.ClassifierHead`
    without a hidden layer, its standardisation already set; ``features`` are its raw inputs.

    Kept instead of scikit-learn's ``LogisticRegression``: the result must be the torch head
    itself (fine-tuning starts from it, Grad-CAM back-propagates through it, the registry saves
    it as safetensors), and this objective's bias is unpenalised, which sklearn's lbfgs solver
    does not offer.
    """
    started = time.monotonic()
    linear = head.net[-1]
    if not isinstance(linear, torch.nn.Linear) or len(head.net) != 2:
        raise ValueError("fit_logistic needs a linear head (hidden: 0)")
    with torch.no_grad():
        x = ((features.double() - head.feature_mean.double()) * head.feature_scale.double()).cpu()
    y = labels.long().cpu()
    n_classes = linear.out_features
    weight = torch.as_tensor(
        class_weights if class_weights is not None else [1.0] * n_classes, dtype=torch.float64
    )
    row_weight = weight[y]
    row_weight = row_weight / row_weight.sum().clamp(min=1e-12)
    coef = torch.zeros(n_classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [coef, bias],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=tolerance,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )
    evaluations = 0

    def penalised_loss() -> torch.Tensor:
        losses = torch.nn.functional.cross_entropy(x @ coef.T + bias, y, reduction="none")
        return (losses * row_weight).sum() + 0.5 * l2 * (coef * coef).sum()

    def objective() -> torch.Tensor:
        nonlocal evaluations
        evaluations += 1
        optimizer.zero_grad()
        loss = penalised_loss()
        loss.backward()
        return loss

    optimizer.step(objective)
    # step() returns the loss at the start (log 27 = 3.2958 from zero weights): the fitted
    # model's loss is evaluated once more.
    with torch.no_grad():
        loss = float(penalised_loss())
    with torch.no_grad():
        linear.weight.copy_(coef.detach().to(linear.weight.dtype))
        linear.bias.copy_(bias.detach().to(linear.bias.dtype))
    head.eval()
    seconds = time.monotonic() - started
    log.info(
        "%s: logistic regression (L-BFGS, l2 %g) on %d rows x %d features: loss %.4f after "
        "%d evaluations, %.1f s",
        name,
        l2,
        len(y),
        x.shape[1],
        loss,
        evaluations,
        seconds,
    )
    return FitResult(best_epoch=1, seconds=seconds, device="cpu", train_loss=loss)
