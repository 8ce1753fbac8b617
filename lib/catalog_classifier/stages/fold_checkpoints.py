"""Finished cross-validation folds kept on disk, so that an interrupted ``evaluate --cv``
resumes where it stopped instead of training every fold again (a fine-tuned fold takes tens of
minutes on a CPU).

Each member's folds live in ``<out>/checkpoints/<member>-<key>/fold<N>.npz`` (productids,
labels, class probabilities of the held-out fold, and the key). The key is a hash of
everything a fold's result depends on besides the code: the member, the number of folds, the
rows (productid, fold, hash split, label and the content hash the member reads: a changed text
or image, a moved listing, a new label all change it) and the member's settings
(:meth:`~catalog_classifier.models.member.Member.fold_settings`: for the text member its
settings, resolved mode and device, encoder weights id, seed and label map). A run with another
key trains afresh in its own folder; a checkpoint that cannot be read, or that does not hold
exactly the held-out fold's listings and labels, is ignored with a warning and the fold
trained again. A checkpoint is written to a temporary file and renamed into place, so a kill
leaves either the whole file or none.

Code changes do not change the key: after changing a member's code, run with ``--no-resume``
(or another ``--out``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
# Bumped when the file's layout changes: older checkpoints then no longer match any key.
FORMAT = 1
# The rows' columns that determine a fold (those the member's rows have).
FINGERPRINT_COLUMNS = ("productid", "fold", "split", "label", "content_sha256", "imageid", "sha256")


def fingerprint_columns(columns: Sequence[str]) -> list[str]:
    return [c for c in FINGERPRINT_COLUMNS if c in columns]


def rows_fingerprint(frame: pd.DataFrame) -> str:
    """A hash of the rows (any order) over their :data:`FINGERPRINT_COLUMNS`."""
    columns = fingerprint_columns(list(frame.columns))
    ordered = frame[columns].sort_values(columns).reset_index(drop=True)
    digest = hashlib.sha256(json.dumps(columns).encode())
    for column in columns:
        digest.update(column.encode())
        digest.update(json.dumps(ordered[column].astype(str).tolist()).encode())
    return digest.hexdigest()


def fold_key(member: str, folds: int, rows: str, settings: dict[str, Any]) -> dict[str, Any]:
    """What a member's folds depend on, and its hash under ``key``."""
    described: dict[str, Any] = {
        "format": FORMAT,
        "member": member,
        "folds": folds,
        "rows": rows,
        "settings": settings,
    }
    text = json.dumps(described, sort_keys=True, default=str)
    return {"key": hashlib.sha256(text.encode()).hexdigest()[:16], **described}


@dataclass(frozen=True)
class FoldResult:
    productids: list[int]
    labels: list[int]
    probabilities: np.ndarray


class FoldCheckpoints:
    """The finished folds of one member under one key."""

    def __init__(self, root: Path, member: str, key: dict[str, Any]) -> None:
        self.member, self.key = member, str(key["key"])
        self.folder = Path(root) / f"{member}-{self.key}"
        self.folder.mkdir(parents=True, exist_ok=True)
        # What the key is made of, for a person looking at the folder.
        (self.folder / "key.json").write_text(
            json.dumps(key, indent=2, sort_keys=True, default=str), encoding="utf-8"
        )

    def path(self, fold: int) -> Path:
        return self.folder / f"fold{fold + 1}.npz"

    def load(
        self, fold: int, productids: Sequence[int], labels: Sequence[int], n_classes: int
    ) -> FoldResult | None:
        """The fold's saved result if there is one, holding exactly these held-out listings
        with these labels; None (with a one-line warning for a bad file) otherwise."""
        path = self.path(fold)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                key = str(data["key"])
                ids = data["productid"].astype(np.int64)
                saved_labels = data["label"].astype(np.int64)
                probs = data["probabilities"].astype(np.float64)
            problem = _mismatch(key, self.key, ids, saved_labels, probs, productids, labels)
            if probs.ndim != 2 or probs.shape[1] != n_classes:
                problem = problem or f"probabilities of shape {probs.shape}"
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            problem = f"unreadable ({type(exc).__name__}: {exc})"
        if problem:
            log.warning(
                "cv %s fold %d: ignoring checkpoint %s (%s); training the fold again",
                self.member,
                fold + 1,
                path,
                problem,
            )
            return None
        return FoldResult(ids.tolist(), saved_labels.tolist(), probs)

    def save(
        self, fold: int, productids: Sequence[int], labels: Sequence[int], probs: np.ndarray
    ) -> Path:
        """Write the fold's result whole, or not at all (temporary file, fsync, rename)."""
        path = self.path(fold)
        partial = path.with_name(f".{path.name}.partial")
        with partial.open("wb") as handle:
            np.savez(
                handle,
                key=np.asarray(self.key),
                productid=np.asarray(productids, dtype=np.int64),
                label=np.asarray(labels, dtype=np.int64),
                probabilities=np.asarray(probs, dtype=np.float64),
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
        return path


def _mismatch(
    key: str,
    wanted_key: str,
    ids: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray,
    expected_ids: Sequence[int],
    expected_labels: Sequence[int],
) -> str:
    """Why a saved fold is not the fold asked for ("" when it is)."""
    if key != wanted_key:
        return f"key {key}, not {wanted_key}"
    if not (len(ids) == len(labels) == len(probs)):
        return f"{len(ids)} productids, {len(labels)} labels, {len(probs)} probability rows"
    saved = dict(zip(ids.tolist(), labels.tolist(), strict=True))
    expected = dict(zip((int(i) for i in expected_ids), (int(v) for v in expected_labels),
                        strict=True))
    if saved != expected:
        return f"{len(saved)} listings saved, not the held-out fold's {len(expected)}"
    if not np.isfinite(probs).all():
        return "non-finite probabilities"
    return ""
