"""Softmax and temperature scaling, once (numpy and scipy only: usable in the Spark workers'
pandas UDFs and in the fusion, which imports nothing heavier).

A temperature ``T`` turns logits ``z`` into ``softmax(z / T)``; :func:`fit_temperature` picks
the ``T`` that minimises the (optionally weighted) log-loss of the labels, by a bounded 1-D
search on ``log T``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by each row's maximum for stability."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    return probs


def tempered(logits: np.ndarray, temperature: float) -> np.ndarray:
    return softmax(logits / temperature)


def fit_temperature(
    logits: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray | None = None,
    log_bounds: tuple[float, float] = (-3.0, 3.0),
) -> float:
    """The temperature minimising the weighted log-loss of ``softmax(logits / T)``."""
    labels = np.asarray(labels, int)
    rows = np.arange(len(labels))
    w = np.ones(len(labels)) if weights is None else np.asarray(weights, float)

    def loss(log_t: float) -> float:
        z = logits / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        log_probs = z[rows, labels] - np.log(np.exp(z).sum(axis=1))
        return float(-(w * log_probs).sum() / w.sum())

    return float(np.exp(minimize_scalar(loss, bounds=log_bounds, method="bounded").x))
