"""The classification metrics, once: weighted F1 (the challenge's metric), macro F1, accuracy.

Pure scikit-learn on arrays (no torch, no Spark): the fusion, the training loop and the
evaluation stage all score with these.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score


def weighted_f1(labels: Sequence[int] | np.ndarray, predicted: Sequence[int] | np.ndarray) -> float:
    """F1 per class weighted by the class's support in ``labels``."""
    if len(labels) == 0:
        return 0.0
    return float(f1_score(labels, predicted, average="weighted", zero_division=0))


def classification_metrics(
    y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[int] | None = None
) -> dict[str, float]:
    """Weighted F1, macro F1 over the classes present (or ``labels``), accuracy."""
    if len(y_true) == 0:
        return {"weighted_f1": 0.0, "macro_f1": 0.0, "accuracy": 0.0}
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
