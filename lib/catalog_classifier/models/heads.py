"""The classification head shared by the text and image models, and its safe serialisation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file


class ClassifierHead(torch.nn.Module):
    """Standardisation of the input features, dropout, an optional hidden layer (GELU), and a
    linear layer to the classes.

    Frozen embeddings are L2-normalised and anisotropic (all close to one direction): scaling
    each feature by the training set's mean and spread, as a logistic regression on standardised
    features does, lets the head train in a few epochs. The statistics are buffers, saved with
    the weights.
    """

    # buffers (register_buffer), declared so the checker knows them as tensors
    feature_mean: torch.Tensor
    feature_scale: torch.Tensor

    def __init__(self, in_dim: int, n_classes: int, hidden: int = 0, dropout: float = 0.1) -> None:
        super().__init__()
        self.in_dim, self.n_classes, self.hidden, self.dropout_p = (
            in_dim,
            n_classes,
            hidden,
            dropout,
        )
        layers: list[torch.nn.Module] = [torch.nn.Dropout(dropout)]
        if hidden:
            layers += [torch.nn.Linear(in_dim, hidden), torch.nn.GELU(), torch.nn.Dropout(dropout)]
            in_dim = hidden
        layers.append(torch.nn.Linear(in_dim, n_classes))
        self.net = torch.nn.Sequential(*layers)
        self.register_buffer("feature_mean", torch.zeros(self.in_dim))
        self.register_buffer("feature_scale", torch.ones(self.in_dim))

    def set_standardization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.feature_mean.copy_(mean)
        self.feature_scale.copy_(1.0 / std.clamp(min=1e-6))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net((features - self.feature_mean) * self.feature_scale)

    def spec(self) -> dict[str, Any]:
        return {
            "in_dim": self.in_dim,
            "n_classes": self.n_classes,
            "hidden": self.hidden,
            "dropout": self.dropout_p,
        }


def save_head(head: ClassifierHead, folder: Path) -> None:
    """``head.safetensors`` (weights) and ``head.json`` (shape): loading runs no code."""
    folder.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.contiguous() for k, v in head.state_dict().items()}, folder / "head.safetensors"
    )
    (folder / "head.json").write_text(json.dumps(head.spec()), encoding="utf-8")


def load_head(folder: Path) -> ClassifierHead:
    spec = json.loads((folder / "head.json").read_text(encoding="utf-8"))
    head = ClassifierHead(**spec)
    head.load_state_dict(load_file(folder / "head.safetensors"))
    head.eval()
    return head
