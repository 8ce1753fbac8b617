"""The classification metrics, once: weighted F1 (the challenge's metric), macro F1, accuracy.

Pure scikit-learn on arrays (no torch, no Spark): the fusion, the training loop and the
evaluation stage all score with these. scikit-learn is imported where a metric is computed, not
with the module: the scoring workers import this module (through the fusion) and never compute
a metric, and scikit-learn with SciPy costs each of them 1.5-2 s to import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def weighted_f1(labels: Sequence[int] | np.ndarray, predicted: Sequence[int] | np.ndarray) -> float:
    """F1 per class weighted by the class's support in ``labels``."""
    if len(labels) == 0:
        return 0.0
    from sklearn.metrics import f1_score

    return float(f1_score(labels, predicted, average="weighted", zero_division=0))


def classification_metrics(
    y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[int] | None = None
) -> dict[str, float]:
    """Weighted F1, macro F1 over the classes present (or ``labels``), accuracy."""
    if len(y_true) == 0:
        return {"weighted_f1": 0.0, "macro_f1": 0.0, "accuracy": 0.0}
    from sklearn.metrics import accuracy_score, f1_score

    present = sorted(set(y_true)) if labels is None else list(labels)
    return {
        "weighted_f1": float(
            f1_score(y_true, y_pred, labels=present, average="weighted", zero_division=0)
        ),
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
        ),
        "accuracy": float(accuracy_score(y_true, y_pred)),
    }


@dataclass(frozen=True)
class GainInterval:
    """Weighted F1 of one set of predictions minus another's on the same rows, with a paired
    bootstrap interval (the rows resampled together for both)."""

    gain: float
    low: float
    high: float
    confidence: float
    samples: int

    @property
    def above_zero(self) -> bool:
        return self.low > 0

    def as_dict(self) -> dict[str, float]:
        return {
            "gain": self.gain,
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
            "samples": self.samples,
        }


def _weighted_f1_of_counts(
    labels: np.ndarray, predicted: np.ndarray, rows: np.ndarray, n_classes: int
) -> np.ndarray:
    """Weighted F1 of each bootstrap sample (a row of ``rows``: indices into the arrays), from
    per-class counts: sklearn's weighted F1 (zero_division=0), vectorised over the samples."""
    n_samples, n = rows.shape
    offset = (np.arange(n_samples) * n_classes)[:, None]
    y, p = labels[rows], predicted[rows]
    size = n_samples * n_classes
    support = np.bincount((y + offset).ravel(), minlength=size).reshape(n_samples, n_classes)
    chosen = np.bincount((p + offset).ravel(), minlength=size).reshape(n_samples, n_classes)
    hit = (y == p).ravel()
    tp = np.bincount((y + offset).ravel()[hit], minlength=size).reshape(n_samples, n_classes)
    denominator = support + chosen
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denominator > 0, 2 * tp / denominator, 0.0)
    return (f1 * support).sum(1) / n


def weighted_f1_of_counts(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> float:
    """:func:`weighted_f1` from per-class counts, for searches that score thousands of
    candidates (the scoring cascade's thresholds): ``labels`` and ``predicted`` class indices
    under ``n_classes``."""
    if not len(labels):
        return 0.0
    rows = np.arange(len(labels))[None, :]
    return float(_weighted_f1_of_counts(labels, predicted, rows, n_classes)[0])


def paired_bootstrap_gain(
    labels: Sequence[int] | np.ndarray,
    predicted: Sequence[int] | np.ndarray,
    baseline: Sequence[int] | np.ndarray,
    samples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> GainInterval:
    """Weighted F1 of ``predicted`` minus that of ``baseline`` over the same rows, and its
    percentile bootstrap interval: each sample draws the rows with replacement, the same rows
    for both, so what the two share (hard and easy rows) cancels out of the interval."""
    y = np.asarray(labels, int)
    a, b = np.asarray(predicted, int), np.asarray(baseline, int)
    gain = weighted_f1(y, a) - weighted_f1(y, b)
    if len(y) == 0:
        return GainInterval(0.0, 0.0, 0.0, confidence, 0)
    n_classes = int(max(y.max(), a.max(), b.max())) + 1
    rng = np.random.default_rng(seed)
    gains = []
    for start in range(0, samples, 200):  # bounded memory: 200 samples at a time
        rows = rng.integers(0, len(y), size=(min(200, samples - start), len(y)))
        gains.append(
            _weighted_f1_of_counts(y, a, rows, n_classes)
            - _weighted_f1_of_counts(y, b, rows, n_classes)
        )
    spread = np.concatenate(gains)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(spread, [tail, 100 - tail])
    return GainInterval(float(gain), float(low), float(high), confidence, samples)
