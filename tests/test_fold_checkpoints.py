"""Finished cross-validation folds kept on disk (stages/fold_checkpoints.py): a fold is reused
only under the same key and only when it holds exactly the held-out fold; anything else is
ignored with one warning line and the fold trained again."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import REPO

from catalog_classifier.stages.fold_checkpoints import (
    FoldCheckpoints,
    fold_key,
    rows_fingerprint,
)

IDS = [11, 12, 13]
LABELS = [0, 2, 1]


def _probs() -> np.ndarray:
    return np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.6, 0.1]])


def _key(**settings: object) -> dict:
    return fold_key("text", 5, "rows-digest", {"lr": 3e-5, **settings})


def test_a_saved_fold_is_loaded_back_whole(tmp_path: Path) -> None:
    checkpoints = FoldCheckpoints(tmp_path, "text", _key())
    assert checkpoints.load(0, IDS, LABELS, 3) is None  # nothing saved yet
    checkpoints.save(0, IDS, LABELS, _probs())
    # A later run with the same key (a new object, as after a restart) finds it.
    again = FoldCheckpoints(tmp_path, "text", _key()).load(0, IDS, LABELS, 3)
    assert again is not None
    assert again.productids == IDS and again.labels == LABELS
    np.testing.assert_array_equal(again.probabilities, _probs())
    # The listings in another order are the same fold.
    assert checkpoints.load(0, IDS[::-1], LABELS[::-1], 3) is not None
    assert checkpoints.load(1, IDS, LABELS, 3) is None  # another fold: not saved
    assert not list(tmp_path.rglob("*.partial"))


def test_a_changed_key_does_not_reuse_a_fold(tmp_path: Path) -> None:
    FoldCheckpoints(tmp_path, "text", _key()).save(0, IDS, LABELS, _probs())
    for other in (
        _key(lr=5e-5),
        fold_key("text", 4, "rows-digest", {"lr": 3e-5}),
        fold_key("text", 5, "other-rows", {"lr": 3e-5}),
        fold_key("use", 5, "rows-digest", {"lr": 3e-5}),
    ):
        assert other["key"] != _key()["key"]
        assert FoldCheckpoints(tmp_path, "text", other).load(0, IDS, LABELS, 3) is None


def test_a_file_of_another_key_in_the_folder_is_ignored(tmp_path: Path, caplog) -> None:
    old = FoldCheckpoints(tmp_path, "text", _key(lr=5e-5))
    old.save(0, IDS, LABELS, _probs())
    new = FoldCheckpoints(tmp_path, "text", _key())
    new.path(0).write_bytes(old.path(0).read_bytes())
    with caplog.at_level(logging.WARNING):
        assert new.load(0, IDS, LABELS, 3) is None
    assert "key" in caplog.text


@pytest.mark.parametrize(
    "damage",
    ["truncated", "empty", "garbage", "other listings", "other labels", "nan", "classes"],
)
def test_a_corrupt_or_partial_checkpoint_is_ignored_with_one_warning(
    tmp_path: Path, caplog, damage: str
) -> None:
    checkpoints = FoldCheckpoints(tmp_path, "text", _key())
    path = checkpoints.save(0, IDS, LABELS, _probs())
    data = path.read_bytes()
    ids, labels, probs = IDS, LABELS, _probs()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        path.write_bytes(b"not a numpy archive" * 10)
    elif damage == "other listings":
        ids = [11, 12, 14]
    elif damage == "other labels":
        labels = [0, 2, 2]
    elif damage == "nan":
        probs = _probs()
        probs[1, 1] = np.nan
        checkpoints.save(0, IDS, LABELS, probs)
    elif damage == "classes":
        checkpoints.save(0, IDS, LABELS, _probs()[:, :2])
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert checkpoints.load(0, ids, labels, 3) is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "\n" not in message and "fold 1" in message and "training the fold again" in message


def test_a_partial_file_left_by_a_kill_is_not_a_checkpoint(tmp_path: Path) -> None:
    checkpoints = FoldCheckpoints(tmp_path, "text", _key())
    partial = checkpoints.path(0).with_name(".fold1.npz.partial")
    partial.write_bytes(b"half written")
    assert checkpoints.load(0, IDS, LABELS, 3) is None
    checkpoints.save(0, IDS, LABELS, _probs())  # and a later save replaces it
    assert checkpoints.load(0, IDS, LABELS, 3) is not None
    assert not partial.exists()


def test_the_rows_fingerprint_follows_the_fold_assignment_not_the_row_order() -> None:
    rows = pd.DataFrame(
        {
            "productid": [1, 2, 3, 4],
            "fold": [0, 1, 0, 1],
            "split": ["train", "valid", "test", "train"],
            "label": [3, 1, 3, 0],
            "content_sha256": ["a", "b", "c", "d"],
            "text": ["x", "y", "z", "w"],  # not a fingerprint column
        }
    )
    digest = rows_fingerprint(rows)
    assert rows_fingerprint(rows.iloc[::-1]) == digest
    assert rows_fingerprint(rows.assign(text="other")) == digest
    for column, values in (
        ("fold", [1, 1, 0, 1]),
        ("split", ["valid", "valid", "test", "train"]),
        ("label", [3, 1, 3, 1]),
        ("content_sha256", ["a", "b", "c", "e"]),
    ):
        assert rows_fingerprint(rows.assign(**{column: values})) != digest, column
    assert rows_fingerprint(rows.iloc[:3]) != digest


def test_a_members_fold_key_ignores_other_members_settings():
    """Fine-tuning the text member (or running the image backbones in another runtime) keeps
    the other members' finished folds; the member's own settings still change its key."""
    from catalog_classifier.config import load_config
    from catalog_classifier.models.members import get_member

    conf = REPO / "conf" / "local.yaml"
    base = load_config(conf)
    other = load_config(
        conf,
        ["train.text.mode=finetune", "train.image.cpu_runtime=torch", "train.fusion.method=vote"],
    )
    for name in ("tfidf", "image", "use"):
        member = get_member(name)
        assert member.fold_settings(other) == member.fold_settings(base), name
    tfidf = get_member("tfidf")
    changed = load_config(conf, ["train.tfidf.max_iter=7"])
    assert tfidf.fold_settings(changed) != tfidf.fold_settings(base)
    use = get_member("use")
    assert use.fold_settings(load_config(conf, ["members.use.l2=0.3"])) != use.fold_settings(base)
